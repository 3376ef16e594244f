"""α-ReQ: recovery of known exponents, the naive WLS, short spectra, and no mutation."""

import warnings

import numpy as np
import pytest

from repscope import DegenerateInputWarning
from repscope.geometry import FitRangeWarning, alpha_req, spectrum
from repscope.synthetic import exact_spectrum_data

from . import naive


@pytest.mark.parametrize("alpha", [0.8, 1.0, 1.5, 2.2])
def test_recovers_the_exponent_of_an_exact_power_law(alpha):
    lam = np.arange(1, 201, dtype=float) ** -alpha
    fit = alpha_req(exact_spectrum_data(lam))
    assert fit.alpha == pytest.approx(alpha, rel=1e-6)
    assert fit.r2 == pytest.approx(1.0, abs=1e-9)
    assert fit.fit_range == (12, 100)


@pytest.mark.parametrize("alpha", [1.0, 1.5])
def test_recovers_the_exponent_from_samples_within_two_percent(alpha):
    lam = np.arange(1, 257, dtype=float) ** -alpha
    x = naive.data_with_spectrum(lam, n=50_000, seed=1)
    assert alpha_req(x).alpha == pytest.approx(alpha, rel=0.02)


def test_matches_naive_weighted_least_squares(rng):
    x = rng.normal(size=(500, 150)) * np.arange(1, 151) ** -0.7 + rng.normal(size=(500, 150)) * 0.01
    for first, last in [(12, 100), (4, 100), (2, 40)]:
        fit = alpha_req(x, fit_range=(first, last))
        alpha, r2 = naive.powerlaw_fit(naive.covariance_spectrum(x), first, last)
        assert fit.alpha == pytest.approx(alpha, rel=1e-8)
        assert fit.r2 == pytest.approx(r2, rel=1e-8)


def test_prediction_is_the_fitted_line():
    lam = np.arange(1, 151, dtype=float) ** -1.3
    x = exact_spectrum_data(lam)
    fit = alpha_req(x)
    p = lam / lam.sum()
    np.testing.assert_allclose(fit.predict([12, 50, 100]).numpy(), p[[11, 49, 99]], rtol=1e-6)


def test_fit_range_is_not_mutated(rng):
    x = rng.normal(size=(400, 150))
    fr = [12, 100]
    alpha_req(x, fit_range=fr)
    alpha_req(x, fit_range=fr)
    assert fr == [12, 100]


def test_short_spectrum_cuts_the_range_and_warns():
    lam = np.arange(1, 41, dtype=float) ** -1.2
    x = exact_spectrum_data(lam)
    with pytest.warns(FitRangeWarning, match=r"fitted ranks \(12, 40\)"):
        fit = alpha_req(x)
    assert fit.fit_range == (12, 40)
    assert fit.alpha == pytest.approx(1.2, rel=1e-6)


def test_very_short_spectrum_falls_back_to_two_to_half():
    lam = np.arange(1, 17, dtype=float) ** -0.9
    with pytest.warns(FitRangeWarning, match=r"\(2, 8\)"):
        fit = alpha_req(exact_spectrum_data(lam))
    assert fit.fit_range == (2, 8)
    assert fit.alpha == pytest.approx(0.9, rel=1e-6)


def test_too_few_eigenvalues_is_a_clear_error(rng):
    with pytest.raises(ValueError, match="'x' argument of alpha_req must have at least 8"):
        alpha_req(rng.normal(size=(100, 5)))


def test_rank_deficient_data_fits_only_nonzero_eigenvalues(rng):
    x = rng.normal(size=(300, 30)) @ rng.normal(size=(30, 200))
    with pytest.warns(FitRangeWarning, match="only 30 non-zero"):
        fit = alpha_req(x)
    assert fit.fit_range == (12, 30) and np.isfinite(fit.alpha)


def test_constant_data_gives_nan_with_a_warning():
    with pytest.warns(DegenerateInputWarning, match="no variance"):
        fit = alpha_req(np.zeros((20, 30)))
    assert np.isnan(fit.alpha)


def test_alpha_is_scale_and_rotation_invariant(rng):
    x = rng.normal(size=(800, 120)) * np.arange(1, 121) ** -0.6
    q, _ = np.linalg.qr(rng.normal(size=(120, 120)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = alpha_req(x).alpha
        b = alpha_req(3.0 * x @ q + 1.0).alpha
    assert a == pytest.approx(b, rel=1e-8)


def test_accepts_a_spectrum(rng):
    x = rng.normal(size=(300, 150))
    assert alpha_req(spectrum(x)).alpha == alpha_req(x).alpha


def test_a_short_requested_range_that_exists_is_used_as_is():
    lam = np.arange(1, 25, dtype=float) ** -0.7
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = alpha_req(exact_spectrum_data(lam), fit_range=(2, 6))
    assert fit.fit_range == (2, 6)
    assert fit.alpha == pytest.approx(0.7, rel=1e-6)


def test_predict_follows_the_fit_in_a_batch_and_on_its_device():
    """A batched fit predicts one row per matrix; the ranks go to the fit's device (they were
    built on the CPU, so a fit on CUDA mixed devices; the ``meta`` device shows it here)."""
    import torch

    from repscope.geometry.powerlaw import PowerLawFit

    alpha, intercept = np.array([0.5, 1.0, 2.0]), np.array([0.0, -1.0, 0.3])
    fit = PowerLawFit(
        alpha=torch.tensor(alpha), r2=None, intercept=torch.tensor(intercept), fit_range=(1, 5)
    )
    ranks = np.arange(1, 6, dtype=float)
    expected = np.exp(intercept[:, None]) * ranks[None, :] ** -alpha[:, None]
    np.testing.assert_allclose(fit.predict(ranks).numpy(), expected, rtol=1e-12)
    meta = PowerLawFit(
        alpha=torch.tensor(alpha, device="meta"),
        r2=None,
        intercept=torch.tensor(intercept, device="meta"),
        fit_range=(1, 5),
    )
    out = meta.predict(ranks)
    assert out.device.type == "meta" and tuple(out.shape) == (3, 5)
