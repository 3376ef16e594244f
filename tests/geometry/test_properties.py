"""Properties that must hold for any data, checked on generated data (hypothesis): the measures
are scale-free (1e-150 … 1e150), blind to the order of the samples and to rotations of the
features, and DSE moves its scale into sigma: ``dse(c·x, sigma=s) == dse(x, sigma=s/c)``."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repscope import geometry

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(min_value=0, max_value=2**32 - 1)
exponents = st.integers(min_value=-150, max_value=150)


def data(seed: int, n: int = 40, d: int = 10) -> np.ndarray:
    """Gaussian data with decaying column scales (a spectrum worth fitting)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * np.arange(1, d + 1) ** -0.7


def rotation(seed: int, d: int = 10) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed + 1).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


MEASURES = {
    "effective_rank": geometry.effective_rank,
    "alpha": lambda x: geometry.alpha_req(x, fit_range=(1, 8)).alpha,
    "participation_ratio": geometry.participation_ratio,
    "stable_rank": geometry.stable_rank,
}


@pytest.mark.parametrize("name", sorted(MEASURES))
@SETTINGS
@given(seed=seeds, exponent=exponents)
def test_spectral_measures_do_not_change_with_scale(name, seed, exponent):
    x, f = data(seed), MEASURES[name]
    assert f(x * 10.0**exponent) == pytest.approx(f(x), rel=1e-9)


@SETTINGS
@given(seed=seeds, ex=exponents, ey=exponents)
def test_cka_does_not_change_with_either_scale(seed, ex, ey):
    x = data(seed)
    y = x @ rotation(seed) + 0.3 * data(seed + 7)
    assert geometry.linear_cka(x * 10.0**ex, y * 10.0**ey) == pytest.approx(
        geometry.linear_cka(x, y), rel=1e-9
    )
    assert geometry.linear_cka(x * 10.0**ex, x * 10.0**ey) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("name", sorted(MEASURES))
@SETTINGS
@given(seed=seeds)
def test_spectral_measures_ignore_sample_order_and_feature_rotations(name, seed):
    x, f = data(seed), MEASURES[name]
    order = np.random.default_rng(seed + 2).permutation(len(x))
    assert f(x[order]) == pytest.approx(f(x), rel=1e-9)
    assert f(x @ rotation(seed)) == pytest.approx(f(x), rel=1e-7)


@SETTINGS
@given(seed=seeds)
def test_cka_ignores_sample_order_and_rotations(seed):
    x, y = data(seed), data(seed + 3, d=6)
    order = np.random.default_rng(seed).permutation(len(x))
    base = geometry.linear_cka(x, y)
    assert geometry.linear_cka(x[order], y[order]) == pytest.approx(base, rel=1e-9)
    assert geometry.linear_cka(x @ rotation(seed), y) == pytest.approx(base, rel=1e-9)


@SETTINGS
@given(
    seed=seeds,
    exponent=st.integers(min_value=-100, max_value=100),
    s=st.floats(min_value=0.2, max_value=20.0),
)
def test_dse_moves_the_scale_into_sigma(seed, exponent, s):
    x, c = data(seed, n=30), 10.0**exponent
    assert geometry.dse(c * x, sigma=s * c) == pytest.approx(
        geometry.dse(x, sigma=s), rel=1e-7, abs=1e-9
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert geometry.dse(c * x, sigma="median") == pytest.approx(
            geometry.dse(x, sigma="median"), rel=1e-7, abs=1e-9
        )


@SETTINGS
@given(seed=seeds)
def test_dse_ignores_sample_order_and_rotations(seed):
    x = data(seed, n=30)
    order = np.random.default_rng(seed).permutation(len(x))
    base = geometry.dse(x, sigma=1.0, t=2.0)
    assert geometry.dse(x[order], sigma=1.0, t=2.0) == pytest.approx(base, rel=1e-9)
    assert geometry.dse(x @ rotation(seed), sigma=1.0, t=2.0) == pytest.approx(base, rel=1e-7)


def test_dse_at_extreme_bandwidths_reaches_its_limits():
    x = data(0, n=30)
    assert geometry.dse(x, sigma=1e-300) == pytest.approx(math.log2(30))  # M = I
    assert geometry.dse(x, sigma=1e300) == pytest.approx(0.0, abs=1e-9)  # K all ones
    assert geometry.dse(x * 1e200, sigma="median") == pytest.approx(
        geometry.dse(x, sigma="median"), rel=1e-9
    )
    assert geometry.resolve_sigma(x * 1e200) == pytest.approx(
        1e200 * geometry.resolve_sigma(x), rel=1e-12
    )
