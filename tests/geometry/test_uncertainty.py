"""Jackknife error bars over the probe inputs: the leave-one-group-out spectra equal a naive
recomputation, the standard error is the jackknife's, and the intervals cover the population
value as often as they say."""

import warnings

import numpy as np
import pytest
import torch

from repscope import geometry
from repscope.geometry.measures import effective_rank
from repscope.geometry.powerlaw import fit_power_law
from repscope.geometry.spectrum import Spectrum
from repscope.geometry.uncertainty import groups_of, jackknife_interval, leave_out_spectra


def naive_spectrum(x, centre=True):
    """numpy: the normalised eigenvalues of the covariance (or uncentred XᵀX), descending."""
    x = x - x.mean(axis=0) if centre else x
    ev = np.linalg.eigvalsh(x.T @ x)[::-1].clip(0)
    return ev / ev.sum()


@pytest.mark.parametrize("kind", ["covariance", "singular"])
@pytest.mark.parametrize("shape", [(120, 7), (30, 50)])  # the covariance and the Gram route
def test_leave_out_spectra_equal_a_naive_recomputation(kind, shape):
    x = np.random.default_rng(1).normal(size=shape) * np.linspace(3, 0.2, shape[1])
    spec = leave_out_spectra(x, groups=6, seed=3, kind=kind)
    centre = kind == "covariance"
    for g, part in enumerate(groups_of(shape[0], 6, 3)):
        kept = np.delete(x, part, axis=0)
        expected = naive_spectrum(kept, centre)
        k = min(len(expected), spec.values.shape[1])
        got = spec.values[g].numpy()
        np.testing.assert_allclose(got[:k], expected[:k], atol=1e-10)
        assert np.allclose(got[k:], 0)


def test_groups_cover_every_input_once_and_depend_only_on_the_seed():
    parts = groups_of(103, 10, seed=7)
    assert sorted(np.concatenate(parts).tolist()) == list(range(103))
    assert {len(p) for p in parts} == {10, 11}
    assert all((a == b).all() for a, b in zip(parts, groups_of(103, 10, seed=7), strict=True))


def test_jackknife_of_the_mean_is_the_standard_error_of_the_group_means():
    x = np.random.default_rng(0).normal(size=60)
    parts = np.array_split(np.arange(60), 12)
    left_out = [np.delete(x, p).mean() for p in parts]
    iv = jackknife_interval(x.mean(), left_out, level=0.9)
    # delete-a-group jackknife of a mean with equal groups: the standard error of the mean
    # read off the group means, s_means / sqrt(G), exactly
    means = np.array([x[p].mean() for p in parts])
    assert iv.se == pytest.approx(means.std(ddof=1) / np.sqrt(12), rel=1e-12)
    assert iv.corrected == pytest.approx(x.mean())  # the mean is unbiased: no correction
    from scipy.stats import t

    assert iv.upper - iv.corrected == pytest.approx(t.ppf(0.95, 11) * iv.se)


def test_dse_interval_is_centred_on_the_estimate():
    x = np.random.default_rng(0).normal(size=(150, 4))
    iv = geometry.dse_interval(x, sigma=1.0, groups=5)
    assert iv.estimate == pytest.approx(geometry.dse(x, sigma=1.0))
    assert iv.corrected == iv.estimate and iv.lower < iv.estimate < iv.upper


def _population(decay, d, fit_range):
    lam = np.arange(1, d + 1, dtype=float) ** -decay
    lam /= lam.sum()
    spec = Spectrum(
        values=torch.as_tensor(lam[None]),
        kind="covariance",
        total=torch.ones(1),
        n_samples=10**9,
        n_features=d,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(effective_rank(spec, eps=1e-7)), float(fit_power_law(spec, fit_range).alpha)


REPEATS = 300  # seeded Gaussian samples per case; a binomial count of 300 has s.d. ~1.7 %


@pytest.mark.parametrize(
    ("n", "d", "decay"),
    [(2000, 16, 1.0), pytest.param(2000, 64, 1.5, marks=pytest.mark.slow)],
)
def test_90_percent_intervals_cover_the_population_value_85_to_95_percent_of_the_time(n, d, decay):
    """Gaussian data whose covariance spectrum is λ_i ∝ i^-decay: the population RankMe and
    α (α = decay: a pure power law over any fit range) are known; the jackknife's 90 % interval
    must cover them in 85-95 % of REPEATS seeded samples."""
    fit_range = (2, 8) if d < 24 else (12, 100)
    rank_pop, alpha_pop = _population(decay, d, fit_range)
    assert alpha_pop == pytest.approx(decay)
    rng = np.random.default_rng(2026)
    scale = np.sqrt(np.arange(1, d + 1, dtype=float) ** -decay)
    covered = {"effective_rank": 0, "alpha": 0}
    for _ in range(REPEATS):
        x = rng.normal(size=(n, d)) * scale
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            intervals = geometry.spectral_intervals(
                x, fit_range=fit_range, seed=int(rng.integers(1e9))
            )
        for name, pop in (("effective_rank", rank_pop), ("alpha", alpha_pop)):
            covered[name] += intervals[name].lower <= pop <= intervals[name].upper
    for name, count in covered.items():
        assert 0.85 <= count / REPEATS <= 0.95, (name, count / REPEATS)
