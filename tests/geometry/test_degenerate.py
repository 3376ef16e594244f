"""Data with no variance, exactly or up to rounding: every measure gives its documented answer
with one DegenerateInputWarning, and ordinary small variance is measured as before."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from repscope import DegenerateInputWarning
from repscope import geometry as g

N, D = 50, 16
LABELS = np.arange(N) % 2

#: Every measure of one matrix, as a function of the data and the compute dtype.
MEASURES = {
    "effective_rank": lambda x, dt: g.effective_rank(x, dtype=dt),
    "participation_ratio": lambda x, dt: g.participation_ratio(x, dtype=dt),
    "stable_rank": lambda x, dt: g.stable_rank(x, dtype=dt),
    "numerical_rank": lambda x, dt: g.numerical_rank(x, dtype=dt),
    "alpha_req": lambda x, dt: g.alpha_req(x, fit_range=(2, 8), dtype=dt).alpha,
    "dse": lambda x, dt: g.dse(x, dtype=dt),
    "dse median": lambda x, dt: g.dse(x, sigma="median", dtype=dt),
    "dsmi": lambda x, dt: g.dsmi(x, LABELS, dtype=dt),
    "linear_cka": lambda x, dt: g.linear_cka(
        x, np.random.default_rng(1).normal(size=(N, 3)), dtype=dt
    ),
    "spectral_summary": lambda x, dt: g.spectral_summary(x, fit_range=(2, 8), dtype=dt).as_dict(),
}
#: The documented answers for data with no variance.
ANSWERS = {
    "effective_rank": 0.0,
    "participation_ratio": 0.0,
    "stable_rank": 0.0,
    "numerical_rank": 0,
    "alpha_req": np.nan,
    "dse": 0.0,
    "dse median": 0.0,
    "dsmi": 0.0,
    "linear_cka": 0.0,
}


def _ulps(value: float, dtype, seed: int = 0) -> np.ndarray:
    """``N × D`` entries of ``value``, about half of them one unit in the last place above: no
    variance beyond rounding (the spread is 1 ulp; the bound is N ulps of the mean)."""
    x = np.full((N, D), value, dtype=dtype)
    up = np.nextafter(x, np.asarray(np.inf, dtype=dtype))
    return np.where(np.random.default_rng(seed).random((N, D)) < 0.5, up, x)


#: name → (data, compute dtype). The first is the issue's: np.full((50, 16), 0.1) gave RankMe
#: 1.00002 with no warning in float64 (and in float32 with dtype=torch.float32).
ROUNDING_LEVEL = {
    "full 0.1, float64": (np.full((N, D), 0.1), torch.float64),
    "full 0.1, float32": (np.full((N, D), 0.1, dtype=np.float32), torch.float32),
    "full 1/3 + 7, float64": (np.full((N, D), 7 + 1 / 3), torch.float64),
    "one ulp, float64": (_ulps(0.1, np.float64), torch.float64),
    "one ulp, float32": (_ulps(0.1, np.float32), torch.float32),
    "one ulp of 1e6, float64": (_ulps(1e6, np.float64), torch.float64),
}


def _call(name: str, x, dtype):
    """The value and the warnings' messages (each a DegenerateInputWarning)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = MEASURES[name](x, dtype)
    assert all(issubclass(w.category, DegenerateInputWarning) for w in caught), [
        str(w.message) for w in caught
    ]
    return value, [str(w.message) for w in caught]


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(np.isnan(a) and np.isnan(b)) or a == b


@pytest.mark.parametrize("name", sorted(MEASURES))
@pytest.mark.parametrize("case", sorted(ROUNDING_LEVEL))
def test_rounding_level_data_get_the_answer_and_warning_of_exact_constants(case, name):
    x, dtype = ROUNDING_LEVEL[case]
    value, said = _call(name, x, dtype)
    exact, exact_said = _call(name, np.zeros_like(x), dtype)  # no variance, exactly
    assert _same(value, exact), (value, exact)
    if name in ANSWERS:
        assert _same(value, ANSWERS[name])
    assert len(said) == 1 and "no variance" in said[0], said
    assert said == exact_said


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_every_measure_of_a_batch_flags_only_the_matrices_with_no_variance(dtype):
    rng = np.random.default_rng(0)
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    batch = np.stack([rng.normal(size=(N, D)), np.full((N, D), 0.1)]).astype(np_dtype)
    with pytest.warns(DegenerateInputWarning, match=r"no variance \(1 of the 2 matrices\)"):
        ranks = g.effective_rank(batch, dtype=dtype)
    with pytest.warns(DegenerateInputWarning, match=r"no variance \(1 of the 2 matrices\)"):
        dses = g.dse(batch, dtype=dtype)
    assert ranks[1] == 0.0 and ranks[0] == pytest.approx(g.effective_rank(batch[0], dtype=dtype))
    assert dses[1] == 0.0 and dses[0] == pytest.approx(g.dse(batch[0], dtype=dtype))


#: name → (offset, scale, data dtype, compute dtype) of ``offset + scale * z``: small variance,
#: far above rounding. Not flagged, and measured as ``z`` is.
SMALL_VARIANCE = {
    "0.1 + 1e-9 z, float64": (0.1, 1e-9, np.float64, torch.float64),
    "1e6 + 1e-6 z, float64": (1e6, 1e-6, np.float64, torch.float64),
    "1e-30 z, float64": (0.0, 1e-30, np.float64, torch.float64),
    "0.1 + 1e-4 z, float32": (0.1, 1e-4, np.float32, torch.float32),
    "0.1 + 1e-5 z, float32 data in float64": (0.1, 1e-5, np.float32, torch.float64),
}


@pytest.mark.parametrize("case", sorted(SMALL_VARIANCE))
def test_ordinary_small_variance_is_measured_not_flagged(case):
    offset, spread, np_dtype, dtype = SMALL_VARIANCE[case]
    z = np.random.default_rng(2).normal(size=(N, D))
    x = (offset + spread * z).astype(np_dtype)
    rel = 1e-6 if np_dtype == np.float64 else 1e-2  # float32 holds ~7 digits of 0.1 + 1e-4 z
    # no DegenerateInputWarning: the package's warnings are errors in its tests
    assert g.effective_rank(x, dtype=dtype) == pytest.approx(g.effective_rank(z), rel=rel)
    assert g.participation_ratio(x, dtype=dtype) == pytest.approx(g.participation_ratio(z), rel=rel)
    assert g.numerical_rank(x, dtype=dtype) == D
    assert g.linear_cka(x, z, dtype=dtype) == pytest.approx(1.0, rel=rel)
    assert g.dse(x, sigma="median", dtype=dtype) == pytest.approx(
        g.dse(z, sigma="median"), rel=max(rel, 1e-5)
    )


def test_the_bound_is_the_rounding_of_the_mean():
    """A column of 1.0 with entries k units in the last place above: within N ulps of its mean
    (the rounding the mean can carry) it has no variance; far beyond, it is measured."""
    ulp = np.spacing(1.0)
    z = np.random.default_rng(3).normal(size=(N, D))
    for k, flagged in ((N // 4, True), (50 * N, False)):
        x = 1.0 + k * ulp * np.round(np.clip(z, -1, 1))  # spread 2k ulps; bound N ulps of 1.0
        if flagged:
            with pytest.warns(DegenerateInputWarning):
                assert g.effective_rank(x) == 0.0
        else:
            assert g.effective_rank(x) > 1.0


def test_a_scanned_layer_with_no_variance_is_measured_once_with_a_note():
    """A dead layer in a scan: its measures are the documented answers, the record says why,
    and no measure warns on its own (the record is the one place it is said)."""
    from repscope.config import MeasureConfig
    from repscope.probe import Probe
    from repscope.scan import layer_record

    probe = Probe(torch.randn(N, 3), layers=["dead"], labels=LABELS)
    config = MeasureConfig(fit_range=(2, 8), dse=True, sigma="median")
    base = dict(run="r", checkpoint="c", probe="p", params=config.key(), step=0)
    record = layer_record("dead", torch.full((N, D), 0.1), probe, config, None, base)
    assert record.status == "ok", record.error
    assert record.measures["effective_rank"] == 0.0 and record.measures["dse"] == 0.0
    assert record.measures["dsmi"] == 0.0 and np.isnan(record.measures["alpha"])
    assert "no variance" in record.error
