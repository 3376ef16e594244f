"""Phase detection on synthetic trajectories with known boundaries, and on pure noise."""

import numpy as np
import pytest

from repscope.phases import (
    COLLAPSE,
    COMPRESSION,
    ENTROPY,
    EXPANSION,
    WARMUP,
    detect_phases,
)

STEPS = np.unique(np.r_[0, np.geomspace(1, 4000, 48).astype(int)])


def three_phase_curves(steps, knots, noise, seed):
    """RankMe and α piecewise linear in log(step+1), meeting at the given knot steps."""
    rng = np.random.default_rng(seed)
    x = np.log1p(steps)
    kx = np.log1p([0, *knots, steps[-1]])
    rank = np.interp(x, kx, [14, 7.5, 12.9, 11.0]) * np.exp(noise * rng.normal(size=len(x)))
    alpha = np.interp(x, kx, [0.5, 1.3, 0.6, 0.9]) + noise * rng.normal(size=len(x))
    return rank, alpha


def nearest_index(step):
    return int(np.argmin(np.abs(STEPS - step)))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("knots", [(50, 256), (30, 600), (100, 1000)])
def test_recovers_known_boundaries_within_one_checkpoint(seed, knots):
    rank, alpha = three_phase_curves(STEPS, knots, noise=0.01, seed=seed)
    phases = detect_phases(STEPS, rank, alpha)
    assert [p.name for p in phases] == [WARMUP, ENTROPY, COMPRESSION]
    for phase, knot in zip(phases[:2], knots, strict=True):
        # the segment ends at the last checkpoint before the knot or the first after it
        assert abs(np.searchsorted(STEPS, phase.end_step) - nearest_index(knot)) <= 1
    assert phases[0].evidence["rankme_change"] < 0 < phases[0].evidence["alpha_change"]
    assert phases[1].evidence["rankme_change"] > 0 > phases[1].evidence["alpha_change"]


@pytest.mark.parametrize("seed", range(10))
def test_noise_alone_invents_no_phase(seed):
    rng = np.random.default_rng(seed)
    rank = 10 * np.exp(0.05 * rng.normal(size=len(STEPS)))
    alpha = 0.8 + 0.05 * rng.normal(size=len(STEPS))
    assert detect_phases(STEPS, rank, alpha) == []


def test_a_slow_drift_without_the_alpha_signature_is_not_a_phase():
    x = np.log1p(STEPS)
    rank = 10 + 0.5 * x  # RankMe rises, but α rises too: not entropy-seeking
    alpha = 0.5 + 0.05 * x
    assert all(p.name != ENTROPY for p in detect_phases(STEPS, rank, alpha))


@pytest.mark.parametrize("seed", range(4))
def test_the_warmup_collapse_runs_through_its_trough_and_bands_meet(seed):
    rank, alpha = three_phase_curves(STEPS, (50, 256), noise=0.01, seed=seed)
    phases = detect_phases(STEPS, rank, alpha)
    trough = int(STEPS[np.argmin(rank[: nearest_index(256)])])
    assert phases[0].end_step == trough == phases[1].start_step
    peak = int(STEPS[np.argmax(rank[nearest_index(50) :]) + nearest_index(50)])
    assert phases[1].end_step == peak == phases[2].start_step
    for phase in phases:  # the evidence is the change between the phase's own end points
        i, j = (int(np.searchsorted(STEPS, s)) for s in (phase.start_step, phase.end_step))
        assert phase.evidence["rankme_change"] == pytest.approx(rank[j] / rank[i] - 1)
        assert phase.evidence["alpha_change"] == pytest.approx(alpha[j] - alpha[i])
    assert phases[0].evidence["rankme_change"] < -0.4  # 14 → 7.5, measured through the trough


def test_alpha_must_move_beyond_its_noise():
    x = np.log1p(STEPS)
    rng = np.random.default_rng(0)
    rank = np.interp(x, [0, 4, 8.3], [14, 7, 7]) * np.exp(0.01 * rng.normal(size=len(x)))
    flat = 0.8 + 0.05 * rng.normal(size=len(x))  # α: noise only
    assert detect_phases(STEPS, rank, flat) == []
    rising = flat + np.interp(x, [0, 4, 8.3], [0, 1, 1])  # the same noise and a real rise
    assert [p.name for p in detect_phases(STEPS, rank, rising)] == [WARMUP]
    # the α z-score the detector reports is what decides
    assert detect_phases(STEPS, rank, rising, z_alpha=1e6) == []


def test_runs_not_from_initialisation_are_named_by_what_they_show():
    rank, alpha = three_phase_curves(STEPS, (50, 256), noise=0.01, seed=0)
    late = STEPS >= 10  # a fine-tuning run: no step 0
    names = [p.name for p in detect_phases(STEPS[late], rank[late], alpha[late])]
    assert names == [COLLAPSE, EXPANSION, COLLAPSE]
    forced = detect_phases(STEPS, rank, alpha, from_init=False)
    assert [p.kind for p in forced] == ["collapse", "expansion", "collapse"]
    assert [p.name for p in forced] == [COLLAPSE, EXPANSION, COLLAPSE]


def test_a_run_whose_first_phase_is_an_expansion_gets_descriptive_names():
    x = np.log1p(STEPS)
    rank = np.interp(x, [0, 4, 8.3], [7, 14, 11])
    alpha = np.interp(x, [0, 4, 8.3], [1.2, 0.5, 0.8])
    names = [p.name for p in detect_phases(STEPS, rank, alpha)]
    assert names == [EXPANSION, COLLAPSE]


def test_failed_checkpoints_are_skipped():
    rank, alpha = three_phase_curves(STEPS, (50, 256), noise=0.01, seed=0)
    rank[[5, 20]] = np.nan
    assert [p.name for p in detect_phases(STEPS, rank, alpha)] == [WARMUP, ENTROPY, COMPRESSION]


def test_too_short_a_trajectory_gives_no_phase():
    assert detect_phases([1, 2, 3], [3, 2, 1], [1, 2, 3]) == []


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        (dict(steps=[3, 2, 1], rankme=[1, 2, 3], alpha=[1, 2, 3]), "steps"),
        (dict(steps=[1, 2, 3], rankme=[1, 2], alpha=[1, 2, 3]), "rankme"),
        (dict(steps=[[1, 2]], rankme=[1, 2], alpha=[1, 2]), "steps"),
    ],
)
def test_bad_curves_raise_in_the_grammar(kwargs, arg):
    with pytest.raises(ValueError, match=rf"^The '{arg}' argument of detect_phases must be"):
        detect_phases(**kwargs)


def test_the_segment_cost_is_the_least_squares_residual():
    from repscope.phases import _cost_class

    rng = np.random.default_rng(0)
    x, y = np.log1p(STEPS), rng.normal(size=(len(STEPS), 2))
    cost = _cost_class()(x).fit(y)
    for start, end in [(0, len(x)), (3, 10), (10, 13), (20, len(x) - 1)]:
        design = np.stack([np.ones(end - start), x[start:end]], axis=1)
        coef, *_ = np.linalg.lstsq(design, y[start:end], rcond=None)
        naive = float(np.sum((y[start:end] - design @ coef) ** 2))
        assert cost.error(start, end) == pytest.approx(naive, rel=1e-9, abs=1e-12)
