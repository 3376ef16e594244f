"""The phases of training, read off RankMe and α-ReQ over (log-spaced) checkpoints.

Li et al. 2025 ("Tracing the representation geometry of language models") name three phases by
the directions RankMe and α move in:

================== ==================== ========================================
phase              RankMe               α-ReQ
================== ==================== ========================================
warmup collapse    falls                rises          (before any entropy-seeking)
entropy-seeking    rises                falls
compression-seeking falls               rises          (after entropy-seeking)
================== ==================== ========================================

Detection: the curves are taken against ``log(step + 1)``; ``log RankMe`` and α are scaled by a
robust estimate of their checkpoint-to-checkpoint noise; ``ruptures`` finds the change points of a
piecewise-linear fit (a custom cost: least squares of a line in log-step, per segment, penalised
like BIC); each segment's change in RankMe and α is then tested against its noise-derived standard
error, and segments that move significantly in a phase's directions are labelled. Adjacent
segments with one label merge. On a flat or noisy curve nothing is labelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import ruptures as rpt
from ruptures.base import BaseCost

from ._validation import _describe, check_real, fail

WARMUP = "warmup collapse"
ENTROPY = "entropy-seeking"
COMPRESSION = "compression-seeking"
PHASES = (WARMUP, ENTROPY, COMPRESSION)


@dataclass(frozen=True)
class Phase:
    """A labelled segment of training, with the evidence for its label.

    ``start_step`` and ``end_step`` are checkpoints (inclusive). ``evidence`` holds the relative
    change of RankMe over the segment, the change of α, their slopes per unit of ``log(step+1)``
    and their z-scores (change divided by its standard error).
    """

    name: str
    start_step: int
    end_step: int
    evidence: dict[str, float] = field(default_factory=dict)


class _CostLogLinear(BaseCost):
    """Residual sum of squares of a least-squares line in ``x`` (log-step), summed over columns."""

    model = "loglinear"
    min_size = 3

    def __init__(self, x: np.ndarray):
        self.x = x

    def fit(self, signal: np.ndarray) -> _CostLogLinear:
        self.signal = signal if signal.ndim == 2 else signal[:, None]
        return self

    def error(self, start: int, end: int) -> float:
        x = self.x[start:end]
        y = self.signal[start:end]
        design = np.stack([np.ones_like(x), x], axis=1)
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        return float(np.sum((y - design @ coef) ** 2))


def _noise(y: np.ndarray) -> float:
    """Checkpoint-to-checkpoint noise: MAD of second differences (immune to trends)."""
    d2 = np.diff(y, n=2)
    if d2.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d2 - np.median(d2))) / np.sqrt(6))


def _segment_change(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope of a least-squares line and the change it implies over the segment."""
    slope = float(np.polyfit(x, y, 1)[0]) if len(x) >= 2 and np.ptp(x) > 0 else 0.0
    return slope, slope * float(x[-1] - x[0])


def _label(after_entropy: bool, z_rank: float, z_alpha: float, z_min: float) -> str | None:
    """A collapse before any entropy-seeking is still the warmup; after it, compression."""
    if z_rank <= -z_min and z_alpha > 0:
        return COMPRESSION if after_entropy else WARMUP
    if z_rank >= z_min and z_alpha < 0:
        return ENTROPY
    return None


def detect_phases(
    steps: Any,
    rankme: Any,
    alpha: Any,
    *,
    z_min: float = 4.0,
    min_change: float = 0.02,
    penalty: float = 3.0,
    min_size: int = 3,
) -> list[Phase]:
    """Find warmup collapse, entropy-seeking and compression-seeking segments.

    Parameters
    ----------
    steps : array of shape (n_checkpoints,)
        Training steps (non-negative), increasing.
    rankme, alpha : array of shape (n_checkpoints,)
        Effective rank (> 0) and α-ReQ at those steps. NaN entries (failed checkpoints) are
        dropped before the search.
    z_min : float, default 4
        How many standard errors a segment's change in log RankMe must exceed to be labelled.
    min_change : float, default 0.02
        Smallest relative change of RankMe over a segment that counts (2 %).
    penalty : float, default 3
        Multiplies the BIC penalty ``2 · n_signals · log(n)`` of the change-point search;
        larger finds fewer segments.
    min_size : int, default 3
        Fewest checkpoints in a segment.

    Returns
    -------
    list of Phase
        In step order; an empty list when no segment moves significantly.

    Examples
    --------
    >>> import numpy as np
    >>> steps = np.unique(np.geomspace(1, 4000, 40).astype(int))
    >>> x = np.log(steps + 1)
    >>> rank = np.interp(x, [0, 4, 5.5, 8.3], [14, 7, 13, 11])
    >>> alpha = np.interp(x, [0, 4, 5.5, 8.3], [0.5, 1.2, 0.6, 0.8])
    >>> [p.name for p in detect_phases(steps, rank, alpha)]
    ['warmup collapse', 'entropy-seeking', 'compression-seeking']
    """
    func = "detect_phases"
    s, r, a = _check_curves(steps, rankme, alpha, func=func)
    z_min = check_real(z_min, name="z_min", func=func, low=0.0)
    min_change = check_real(min_change, name="min_change", func=func, low=0.0)
    penalty = check_real(penalty, name="penalty", func=func, low=0.0)
    keep = np.isfinite(r) & np.isfinite(a) & (r > 0)
    s, r, a = s[keep], r[keep], a[keep]
    if len(s) < 2 * min_size:
        return []
    x, log_r = np.log1p(s), np.log(r)
    noise_r = max(_noise(log_r), 1e-3 * max(np.ptp(log_r), 1e-12), 1e-9)
    noise_a = max(_noise(a), 1e-3 * max(np.ptp(a), 1e-12), 1e-9)
    signal = np.stack([log_r / noise_r, a / noise_a], axis=1)
    algo = rpt.Pelt(custom_cost=_CostLogLinear(x), min_size=min_size, jump=1).fit(signal)
    ends = algo.predict(pen=penalty * 2 * signal.shape[1] * np.log(len(s)))
    return _merge(_labelled_segments(s, x, log_r, a, ends, noise_r, noise_a, z_min, min_change))


def _labelled_segments(s, x, log_r, a, ends, noise_r, noise_a, z_min, min_change):
    segments, start, seen_entropy = [], 0, False
    for end in ends:
        idx = slice(start, end)
        m = end - start
        slope_r, change_r = _segment_change(x[idx], log_r[idx])
        slope_a, change_a = _segment_change(x[idx], a[idx])
        se = np.sqrt(12.0 / max(m, 1))  # standard error of a line's total change, in noise units
        z_r, z_a = change_r / noise_r / se, change_a / noise_a / se
        name = _label(seen_entropy, z_r, z_a, z_min)
        if name is not None and abs(np.expm1(change_r)) < min_change:
            name = None
        seen_entropy |= name == ENTROPY
        evidence = {
            "rankme_change": float(np.expm1(change_r)),
            "alpha_change": float(change_a),
            "rankme_slope": slope_r,
            "alpha_slope": slope_a,
            "rankme_z": float(z_r),
            "alpha_z": float(z_a),
        }
        segments.append((name, int(s[start]), int(s[end - 1]), evidence))
        start = end
    return segments


def _merge(segments) -> list[Phase]:
    phases: list[Phase] = []
    for name, first, last, evidence in segments:
        if name is None:
            continue
        if phases and phases[-1].name == name and _adjacent(phases[-1], first, segments):
            prev = phases.pop()
            merged = {k: prev.evidence[k] for k in prev.evidence}
            merged["rankme_change"] = (1 + prev.evidence["rankme_change"]) * (
                1 + evidence["rankme_change"]) - 1
            merged["alpha_change"] = prev.evidence["alpha_change"] + evidence["alpha_change"]
            phases.append(Phase(name, prev.start_step, last, merged))
        else:
            phases.append(Phase(name, first, last, evidence))
    return phases


def _adjacent(prev: Phase, first: int, segments) -> bool:
    starts = [seg[1] for seg in segments]
    ends = [seg[2] for seg in segments]
    i = starts.index(first)
    return i > 0 and ends[i - 1] == prev.end_step


def _check_curves(steps, rankme, alpha, *, func):
    arrays = []
    for name, value in (("steps", steps), ("rankme", rankme), ("alpha", alpha)):
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            fail(name, func, "a 1-D array of numbers", _describe(value), error=TypeError)
        if arr.ndim != 1:
            fail(name, func, "a 1-D array of shape (n_checkpoints,)", f"shape {arr.shape}")
        arrays.append(arr)
    s, r, a = arrays
    if not (len(s) == len(r) == len(a)):
        fail("rankme", func, f"arrays as long as 'steps' ({len(s)})",
             f"lengths {len(r)} (rankme) and {len(a)} (alpha)")
    if len(s) and (np.any(np.diff(s) <= 0) or s[0] < 0 or not np.all(np.isfinite(s))):
        fail("steps", func, "finite, non-negative and strictly increasing", _describe(steps))
    return s, r, a
