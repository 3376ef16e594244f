"""The spectrum and its measures, against the naive definitions and known answers."""

import numpy as np
import pytest
import torch

from repscope import DegenerateInputWarning
from repscope.geometry import (
    Spectrum,
    effective_rank,
    numerical_rank,
    participation_ratio,
    spectral_summary,
    spectrum,
    stable_rank,
)
from repscope.synthetic import exact_spectrum_data

from . import naive


@pytest.mark.parametrize("shape", [(300, 20), (20, 300), (50, 50)])
def test_spectrum_matches_naive_definition(rng, shape):
    x = rng.normal(size=shape) @ np.diag(rng.uniform(0.1, 3, size=shape[1])) + 5.0
    got = spectrum(x).eigenvalues()
    want = naive.covariance_spectrum(x)
    assert got.shape == (min(shape),)
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-14)
    assert np.all(np.diff(got) <= 0)


def test_singular_kind_is_squared_singular_values_of_uncentred_data(rng):
    x = rng.normal(size=(40, 90)) + 2.0
    s = naive.singular_values(x)
    np.testing.assert_allclose(
        spectrum(x, kind="singular").eigenvalues(), s**2 / np.sum(s**2), rtol=1e-8, atol=1e-14
    )


def test_max_components_keeps_the_largest_and_renormalises(rng):
    x = rng.normal(size=(200, 30)) * np.linspace(3, 0.1, 30)
    full = naive.covariance_spectrum(x)
    capped = spectrum(x, max_components=10).eigenvalues()
    np.testing.assert_allclose(capped, full[:10] / full[:10].sum(), rtol=1e-8)


def test_total_is_the_total_variance(rng):
    x = rng.normal(size=(100, 7)) * 3
    assert float(spectrum(x).total) == pytest.approx(np.var(x, axis=0, ddof=1).sum(), rel=1e-10)


@pytest.mark.parametrize("shape", [(300, 20), (15, 80)])
def test_rankme_both_conventions_match_naive(rng, shape):
    x = rng.normal(size=shape) * rng.uniform(0.1, 2, size=shape[1]) + 1.0
    assert effective_rank(x) == pytest.approx(naive.rankme_covariance(x), rel=1e-8)
    assert effective_rank(x, convention="singular") == pytest.approx(
        naive.rankme_singular(x), rel=1e-8
    )
    assert effective_rank(x, eps=0.0) == pytest.approx(naive.rankme_covariance(x, eps=0), rel=1e-8)


def test_rankme_isotropic_gives_dimension(rng):
    x = rng.normal(size=(20000, 16))
    assert effective_rank(x) == pytest.approx(16, rel=0.01)


def test_rankme_of_rank_k_data_is_k(rng):
    """Exactly equal variance in k directions: entropy log k, so RankMe = k (up to eps)."""
    variances = np.r_[np.ones(5), np.zeros(15)]
    x = exact_spectrum_data(variances)
    assert effective_rank(x, eps=0.0) == pytest.approx(5, rel=1e-9)
    assert numerical_rank(x) == 5
    assert participation_ratio(x) == pytest.approx(5, rel=1e-9)
    assert stable_rank(x) == pytest.approx(5, rel=1e-9)


def test_rankme_analytic_on_power_law_spectrum():
    """p_i ∝ i^-1.5: RankMe = exp(H(p)), computed here in closed form from the spectrum."""
    lam = np.arange(1, 65, dtype=float) ** -1.5
    x = exact_spectrum_data(lam)
    p = lam / lam.sum()
    assert effective_rank(x, eps=0.0) == pytest.approx(np.exp(-np.sum(p * np.log(p))), rel=1e-8)


def test_participation_and_stable_rank_match_naive(rng):
    x = rng.normal(size=(150, 12)) * np.linspace(1, 4, 12)
    assert participation_ratio(x) == pytest.approx(naive.participation_ratio(x), rel=1e-8)
    assert stable_rank(x) == pytest.approx(naive.stable_rank(x), rel=1e-8)


def test_numerical_rank_agrees_with_numpy_matrix_rank(rng):
    for k in (1, 4, 9):
        x = rng.normal(size=(80, k)) @ rng.normal(size=(k, 25))
        assert numerical_rank(x, convention="singular") == np.linalg.matrix_rank(x) == k
    x = rng.normal(size=(80, 3)) @ np.diag([1, 1e-3, 1e-9]) @ rng.normal(size=(3, 10))
    assert numerical_rank(x, rtol=1e-6) == 2


def test_measures_accept_a_precomputed_spectrum(rng):
    x = rng.normal(size=(100, 10)) * np.arange(1, 11)
    spec = spectrum(x)
    assert isinstance(spec, Spectrum)
    assert effective_rank(spec) == effective_rank(x)
    assert participation_ratio(spec) == participation_ratio(x)
    with pytest.raises(ValueError, match="'convention' argument of effective_rank"):
        effective_rank(spec, convention="singular")


@pytest.mark.parametrize(
    "measure", [effective_rank, participation_ratio, stable_rank, numerical_rank]
)
def test_invariant_to_rotation_translation_scale_and_order(rng, measure):
    x = rng.normal(size=(120, 9)) * np.linspace(0.5, 3, 9)
    q, _ = np.linalg.qr(rng.normal(size=(9, 9)))
    moved = 7.5 * x[rng.permutation(120)] @ q + rng.normal(size=9) * 100
    assert measure(moved) == pytest.approx(measure(x), rel=1e-8)


def test_singular_convention_is_not_translation_invariant(rng):
    x = rng.normal(size=(120, 9))
    assert effective_rank(x + 50, convention="singular") < 0.5 * effective_rank(
        x, convention="singular"
    )


def test_constant_data_has_documented_zero_ranks():
    x = np.ones((10, 4)) * 3.0
    for measure in (effective_rank, participation_ratio, stable_rank, numerical_rank):
        with pytest.warns(DegenerateInputWarning, match="no variance"):
            assert measure(x) == 0
    s = spectrum(x)
    assert np.all(s.eigenvalues() == 0) and float(s.total) == 0.0


def test_duplicated_points_change_nothing_but_weights(rng):
    x = rng.normal(size=(50, 6))
    doubled = np.concatenate([x, x])
    np.testing.assert_allclose(
        spectrum(doubled).eigenvalues(), naive.covariance_spectrum(doubled), rtol=1e-8
    )


def test_summary_is_consistent_with_the_single_measures(rng):
    x = naive.data_with_spectrum(np.arange(1, 301, dtype=float) ** -1.1, n=1000)
    s = spectral_summary(x)
    assert s.effective_rank == effective_rank(x)
    assert s.participation_ratio == participation_ratio(x)
    assert s.numerical_rank == numerical_rank(x)
    d = s.as_dict()
    assert set(d) == {
        "effective_rank",
        "alpha",
        "alpha_r2",
        "participation_ratio",
        "stable_rank",
        "numerical_rank",
    }
    alpha, r2 = naive.powerlaw_fit(naive.covariance_spectrum(x), 12, 100)
    assert d["alpha"] == pytest.approx(alpha, rel=1e-8)
    assert d["alpha_r2"] == pytest.approx(r2, rel=1e-8)


def test_torch_input_gives_the_same_numbers(rng):
    x = rng.normal(size=(64, 8))
    assert effective_rank(torch.from_numpy(x)) == pytest.approx(effective_rank(x), rel=1e-12)


# -- the fast path: one copy of the data, one thread for a small eigvalsh -----------------------


def test_centred_scaling_is_exactly_unit_scale_of_the_centred_data(rng):
    import importlib

    from repscope.geometry._arrays import unit_scale

    module = importlib.import_module("repscope.geometry.spectrum")
    scales = np.array([1e-3, 1.0, 1e5, 0.0])[:, None, None]
    x = torch.from_numpy(rng.normal(size=(4, 30, 7)) * scales)
    x[1, 3, 2] = -40.0  # the largest magnitude is negative
    for center in (True, False):
        got, scale = module._centred_unit_scaled(x.clone(), center=center)
        want, want_scale = unit_scale(x - x.mean(dim=-2, keepdim=True) if center else x)
        assert torch.equal(got, want) and torch.equal(scale, want_scale)
        assert scale[3].item() == 1.0  # all-zero data: scale 1, values 0
    original = x.clone()
    module._centred_unit_scaled(x, center=False)
    assert torch.equal(x, original)  # the caller's data is never divided in place


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_any_non_finite_value_is_caught(bad, dtype):
    x = np.random.default_rng(0).normal(size=(3, 40, 5)).astype(dtype)
    x[2, 39, 4] = bad  # the last value of the last batch element
    with pytest.raises(
        ValueError,
        match=r"^The 'x' argument of spectral_summary must be finite "
        r"\(no NaN or Inf\); got 1 non-finite value\(s\)\.",
    ):
        spectral_summary(x)


def test_spectrum_leaves_the_thread_count_as_it_was(rng):
    before = torch.get_num_threads()
    x = rng.normal(size=(200, 60))
    want = naive.covariance_spectrum(x)
    for threads in {1, 2, before}:
        torch.set_num_threads(threads)
        try:
            np.testing.assert_allclose(spectrum(x).eigenvalues(), want, rtol=1e-8, atol=1e-14)
            assert torch.get_num_threads() == threads
        finally:
            torch.set_num_threads(before)
