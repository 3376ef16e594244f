"""WeightWatcher's ESD α: agreement with ``weightwatcher`` 0.7.x, known answers, and relations.

The reference values come from ``weightwatcher`` itself, run here (``pip install
weightwatcher==0.7.7``; the tests that need it skip without it): ``WeightWatcher().analyze()`` on
a one-layer ``torch.nn.Linear`` model, with its defaults, and its fit ``WW_powerlaw.WWFit`` on
the same eigenvalues.

Tolerance. ``xmin`` is chosen from a discrete set (the eigenvalues), so the first check is that
the same one is chosen: ``n_tail`` equals ``num_pl_spikes`` exactly. Then α, ``xmin`` and ``D``
are smooth functions of the tail eigenvalues, which WeightWatcher gets from a float64 SVD
(scipy) and repscope from ``eigvalsh`` of the smaller Gram matrix: they agree to ~1e-15
relative for the tail, and α agreed to < 1e-13 on every seeded case; ``rtol=1e-10`` leaves
room for other BLAS builds and still catches any change of formula (a wrong normalisation, the
small-sample ``n - 1``, another KS convention: each moves α or D by far more).
"""

import logging
import math
import warnings

import numpy as np
import pytest
import torch

from repscope import DegenerateInputWarning
from repscope.geometry import spectrum
from repscope.geometry.esd import ESDFit, esd_alpha, esd_fit, fit_sorted_eigenvalues

from ..conftest import DEVICES

RTOL = 1e-10


@pytest.fixture(scope="module")
def ww():
    """The ``weightwatcher`` package, imported once; its import calls
    ``warnings.simplefilter("ignore")``, which is undone here."""
    with warnings.catch_warnings():
        module = pytest.importorskip("weightwatcher", minversion="0.7")
        from weightwatcher.WW_powerlaw import WWFit  # noqa: F401  (imported under the guard)
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    return module


def ww_analyze(ww, w: np.ndarray) -> dict:
    """``analyze()`` with its defaults on a model of one Linear layer whose weight is ``w``."""
    out_features, in_features = w.shape
    layer = torch.nn.Linear(in_features, out_features, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
    with warnings.catch_warnings():  # its DataFrame.from_records(dict): pandas 3 deprecates it
        warnings.filterwarnings("ignore", message="Passing a dict to DataFrame.from_records")
        details = ww.WeightWatcher(model=torch.nn.Sequential(layer)).analyze()
    assert len(details) == 1
    return details.iloc[0].to_dict()


def ww_fit(eigenvalues: np.ndarray):
    from weightwatcher.WW_powerlaw import WWFit

    with np.errstate(divide="ignore", invalid="ignore"):
        return WWFit(eigenvalues)


def weights(kind: str, shape: tuple[int, int], seed: int) -> np.ndarray:
    """Seeded float32 weights (a Linear layer's dtype), heavy-tailed or not."""
    rng = np.random.default_rng(seed)
    if kind == "student_t":  # ν = 3: a heavy-tailed ESD
        w = rng.standard_t(3.0, size=shape)
    elif kind == "pareto":  # symmetric Pareto entries, tail index 2
        w = rng.pareto(2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    elif kind == "gaussian":  # Marchenko–Pastur bulk, no heavy tail
        w = rng.normal(size=shape) / math.sqrt(shape[1])
    elif kind == "low_rank":  # rank min(shape)/2: half of the eigenvalues are 0
        r = min(shape) // 2
        w = rng.normal(size=(shape[0], r)) @ rng.normal(size=(r, shape[1])) / 10
    else:
        raise AssertionError(kind)
    return w.astype(np.float32)


def pareto_quantile_matrix(alpha: float, k: int, n: int = 0, seed: int = 0) -> np.ndarray:
    """A ``(k + n) × k`` matrix whose ``WᵀW`` has the ``k`` mid-quantiles of a Pareto law
    ``p(λ) ∝ λ^-alpha`` on ``[1, ∞)`` as eigenvalues."""
    q = (np.arange(k) + 0.5) / k
    lam = (1.0 - q) ** (-1.0 / (alpha - 1.0))
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.normal(size=(k + n, k)))
    v, _ = np.linalg.qr(rng.normal(size=(k, k)))
    return (u * np.sqrt(lam)) @ v.T


# -- agreement with weightwatcher -----------------------------------------------------------------
@pytest.mark.parametrize("kind", ["student_t", "pareto", "gaussian", "low_rank"])
@pytest.mark.parametrize("shape", [(256, 128), (512, 512), (300, 1000)])
def test_equals_weightwatcher_analyze(ww, kind, shape):
    w = weights(kind, shape, seed=sum(shape) + len(kind))
    ref = ww_analyze(ww, w)
    fit = esd_fit(w)
    assert fit.n_tail == ref["num_pl_spikes"]  # the same xmin was chosen
    assert fit.xmin == pytest.approx(ref["xmin"], rel=RTOL)
    assert fit.alpha == pytest.approx(ref["alpha"], rel=RTOL)
    assert fit.ks_distance == pytest.approx(ref["D"], rel=RTOL)
    assert esd_alpha(w) == fit.alpha


@pytest.mark.parametrize(
    ("kind", "shape"),
    [
        ("student_t", (64, 12)),  # 12 eigenvalues: the small-sample fit (n < 20)
        ("gaussian", (40, 16)),
        ("low_rank", (64, 12)),  # 6 above the threshold: no tail of 8, the whole set is fitted
        ("pareto", (30, 40)),  # 30 eigenvalues, W wider than tall
    ],
)
def test_equals_weightwatcher_analyze_on_small_layers(ww, kind, shape):
    w = weights(kind, shape, seed=7)
    ref = ww_analyze(ww, w)
    fit = esd_fit(w)
    assert fit.n_tail == ref["num_pl_spikes"]
    assert fit.xmin == pytest.approx(ref["xmin"], rel=RTOL)
    assert fit.alpha == pytest.approx(ref["alpha"], rel=RTOL)
    assert fit.ks_distance == pytest.approx(ref["D"], rel=RTOL)


@pytest.mark.parametrize("n", [2, 3, 7, 8, 9, 15, 19, 20, 21, 60, 400])
@pytest.mark.parametrize("decimals", [None, 1])
def test_fit_equals_wwfit_on_the_same_eigenvalues(ww, n, decimals):
    """The fit alone, on both of WeightWatcher's paths (fewer than 20 values, or not), with
    repeated values when rounded to one decimal."""
    rng = np.random.default_rng(n)
    lam = np.sort(1.0 + rng.pareto(1.5, size=n))
    if decimals is not None:
        lam = np.round(lam, decimals)
    ref = ww_fit(lam)
    alpha, xmin, ks, n_tail = fit_sorted_eigenvalues(torch.from_numpy(lam)[None], 1e-5)
    assert float(xmin[0]) == ref.xmin
    assert int(n_tail[0]) == int((lam >= ref.xmin).sum())
    assert float(alpha[0]) == pytest.approx(ref.alpha, rel=1e-12)
    assert float(ks[0]) == pytest.approx(ref.D, rel=1e-12, abs=1e-15)


def test_fit_of_a_batch_with_different_thresholds_equals_wwfit(ww):
    rng = np.random.default_rng(5)
    lam = np.sort(rng.pareto(1.2, size=(3, 80)) + 1e-3, axis=-1)
    thresholds = np.array([1e-5, lam[1, 70], lam[2, 30]])  # 80, 9 and 49 values fitted
    alpha, xmin, _, n_tail = fit_sorted_eigenvalues(
        torch.from_numpy(lam), torch.from_numpy(thresholds)
    )
    for b in range(3):
        ref = ww_fit(lam[b][lam[b] > thresholds[b]])
        assert float(xmin[b]) == ref.xmin
        assert float(alpha[b]) == pytest.approx(ref.alpha, rel=1e-12)
        assert int(n_tail[b]) == int((lam[b] >= ref.xmin).sum())


# -- known answers ------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [2.0, 2.5, 4.0])
def test_recovers_the_exponent_of_pareto_quantile_eigenvalues(alpha):
    fit = esd_fit(pareto_quantile_matrix(alpha, k=200))
    assert fit.alpha == pytest.approx(alpha, rel=0.01)  # 0.3 % seen: the MLE's O(1/k) bias
    assert fit.n_tail > 100


def test_three_eigenvalues_by_hand():
    """Fewer than 8: the whole set is the tail, with the small-sample MLE 1 + (n - 1) / Σ log."""
    lam = torch.tensor([[1.0, 2.0, 4.0]], dtype=torch.float64)
    alpha, xmin, ks, n_tail = fit_sorted_eigenvalues(lam, 1e-5)
    a = 1 + 2 / (math.log(2) + math.log(4))
    d = max(abs(1 - x ** (1 - a) - k / 3) for k, x in enumerate([1.0, 2.0, 4.0]))
    assert float(alpha[0]) == pytest.approx(a, rel=1e-14)
    assert float(ks[0]) == pytest.approx(d, rel=1e-14)
    assert float(xmin[0]) == 1.0 and int(n_tail[0]) == 3


def test_thirty_eigenvalues_by_hand():
    """20 or more: the plain MLE 1 + n / Σ log(λ/xmin) at the xmin of least KS distance."""
    lam = np.sort(1.0 + np.random.default_rng(2).pareto(2.0, size=30))
    best = None
    for i in range(len(lam) - 1):
        tail = lam[i:]
        n = len(tail)
        a = 1 + n / np.log(tail / tail[0]).sum()
        d = np.max(np.abs(1 - (tail / tail[0]) ** (1 - a) - np.arange(n) / n))
        if best is None or d < best[1]:
            best = (a, d, tail[0], n)
    fit = fit_sorted_eigenvalues(torch.from_numpy(lam)[None], 1e-5)
    assert float(fit[0][0]) == pytest.approx(best[0], rel=1e-12)
    assert float(fit[1][0]) == best[2] and int(fit[3][0]) == best[3]


# -- relations ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def heavy():
    return weights("student_t", (256, 128), seed=11).astype(np.float64)


@pytest.mark.parametrize("c", [1e-2, 0.5, 3.0, 1e3])
def test_invariant_to_scale_while_no_eigenvalue_crosses_the_threshold(heavy, c):
    base, scaled = esd_fit(heavy), esd_fit(c * heavy)
    assert scaled.alpha == pytest.approx(base.alpha, rel=1e-12)
    assert scaled.ks_distance == pytest.approx(base.ks_distance, rel=1e-10)
    assert scaled.xmin == pytest.approx(c**2 * base.xmin, rel=1e-12)
    assert scaled.n_tail == base.n_tail


@pytest.mark.parametrize("c", [1e-100, 1e100])
def test_invariant_to_extreme_scales_without_a_threshold(heavy, c):
    base, scaled = esd_fit(heavy, threshold=0), esd_fit(c * heavy, threshold=0)
    assert scaled.alpha == pytest.approx(base.alpha, rel=1e-12)
    assert scaled.xmin == pytest.approx(c**2 * base.xmin, rel=1e-12)
    assert scaled.n_tail == base.n_tail


def test_the_threshold_is_absolute(heavy):
    """As in WeightWatcher: scaled far enough down, eigenvalues drop below 1e-5 and leave the
    fit, which then changes (here all of them do, and nothing is left to fit)."""
    with pytest.warns(DegenerateInputWarning, match="fewer than 2 eigenvalues above"):
        assert math.isnan(esd_alpha(1e-6 * heavy))


def test_invariant_to_transposition(heavy):
    a, b = esd_fit(heavy), esd_fit(heavy.T.copy())
    assert b.alpha == pytest.approx(a.alpha, rel=1e-12)
    assert b.xmin == pytest.approx(a.xmin, rel=1e-12)
    assert b.n_tail == a.n_tail


@pytest.mark.parametrize("kind", ["student_t", "pareto", "gaussian"])
@pytest.mark.parametrize("shape", [(256, 128), (512, 512), (300, 1000)])
def test_float32_agrees_with_float64(kind, shape):
    """float32 eigenvalues move α by < 1e-5 relative (≤ 6e-6 seen) when the same xmin wins."""
    w = weights(kind, shape, seed=3)
    f64, f32 = esd_fit(w), esd_fit(w, dtype=torch.float32)
    assert f32.n_tail == f64.n_tail
    assert f32.alpha == pytest.approx(f64.alpha, rel=2e-5)
    assert f32.xmin == pytest.approx(f64.xmin, rel=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_torch_on_any_device_equals_numpy(heavy, device):
    x = torch.from_numpy(heavy).to(device)
    fit, ref = esd_fit(x), esd_fit(heavy)
    assert isinstance(fit.alpha, float) and isinstance(fit.n_tail, int)
    assert fit.alpha == pytest.approx(ref.alpha, rel=1e-10)
    assert fit.n_tail == ref.n_tail
    batched = esd_fit(torch.stack([x, 2 * x]))
    assert isinstance(batched.alpha, torch.Tensor) and batched.alpha.device.type == device
    np.testing.assert_allclose(batched.alpha.cpu().numpy(), [ref.alpha] * 2, rtol=1e-10)


def test_batched_equals_looped():
    stack = np.stack(
        [
            weights("student_t", (120, 60), seed=1),
            weights("gaussian", (120, 60), seed=2),
            weights("low_rank", (120, 60), seed=3),  # 30 eigenvalues above the threshold
            weights("student_t", (120, 60), seed=4) * np.r_[np.ones(15), np.zeros(45)],  # 15
        ]
    ).astype(np.float64)
    fit = esd_fit(stack)
    assert isinstance(fit, ESDFit) and isinstance(fit.alpha, np.ndarray)
    assert fit.alpha.shape == fit.n_tail.shape == (4,)
    for b, w in enumerate(stack):
        one = esd_fit(w)
        assert fit.alpha[b] == pytest.approx(one.alpha, rel=1e-10)
        assert fit.xmin[b] == pytest.approx(one.xmin, rel=1e-10)
        assert fit.n_tail[b] == one.n_tail


def test_a_singular_spectrum_gives_the_same_fit(heavy):
    ref = esd_fit(heavy)
    fit = esd_fit(spectrum(heavy, kind="singular"))
    assert fit.alpha == pytest.approx(ref.alpha, rel=1e-12)
    assert fit.xmin == pytest.approx(ref.xmin, rel=1e-12)
    assert fit.n_tail == ref.n_tail


# -- degenerate input and bad arguments ---------------------------------------------------------
def test_nothing_to_fit_is_nan_with_one_warning():
    with pytest.warns(DegenerateInputWarning, match="no tail to fit") as record:
        fit = esd_fit(np.zeros((20, 10)))
    assert len(record) == 1
    assert math.isnan(fit.alpha) and math.isnan(fit.xmin) and math.isnan(fit.ks_distance)
    assert fit.n_tail == 0
    rank_one = np.outer(np.arange(1.0, 21.0), np.ones(10))  # one eigenvalue above 1e-5
    with pytest.warns(DegenerateInputWarning, match=r"\(1 of the 2 matrices\)"):
        both = esd_alpha(np.stack([rank_one, weights("gaussian", (20, 10), 0)]))
    assert math.isnan(both[0]) and both[1] > 1


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: esd_fit(np.ones(5)), ValueError, r"The 'x' argument of esd_fit must be a 2-D"),
        (
            lambda: esd_fit(np.eye(3), threshold=-1.0),
            ValueError,
            r"'threshold' argument of esd_fit",
        ),
        (
            lambda: esd_alpha(np.eye(3), threshold="1"),
            TypeError,
            r"'threshold' argument of esd_alpha",
        ),
        (
            lambda: esd_alpha(np.eye(3), dtype=torch.int64),
            ValueError,
            r"'dtype' argument of esd_alpha",
        ),
        (
            lambda: esd_fit(spectrum(np.eye(3))),
            ValueError,
            r'of kind "singular" .*; got a Spectrum of kind "covariance"',
        ),
        (
            lambda: esd_fit(spectrum(np.eye(4), kind="singular", max_components=2)),
            ValueError,
            r"every eigenvalue \(4; .*got a Spectrum of 2 eigenvalues",
        ),
    ],
)
def test_bad_arguments_are_refused_in_the_grammar(call, error, message):
    with pytest.raises(error, match=message):
        call()
