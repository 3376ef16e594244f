"""Phase detection on synthetic trajectories with known boundaries, and on pure noise."""

import numpy as np
import pytest

from repscope.phases import COMPRESSION, ENTROPY, WARMUP, detect_phases

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
