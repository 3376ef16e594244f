"""The phases of training, read off RankMe and α-ReQ over (log-spaced) checkpoints.

Li et al. 2025 ("Tracing the representation geometry of language models") name three phases of
pre-training by the directions RankMe and α move in:

==================== ========== ========= ==============================================
phase                RankMe     α-ReQ     when
==================== ========== ========= ==============================================
warmup collapse      falls      rises     first, from initialisation
entropy-seeking      rises      falls
compression-seeking  falls      rises     after entropy-seeking
==================== ========== ========= ==============================================

**Detection.** The curves are taken against ``log(step + 1)``; ``log RankMe`` and α are each
scaled by a robust estimate of their checkpoint-to-checkpoint noise (the MAD of second
differences, immune to trends); ``ruptures`` (PELT) finds the change points of a piecewise-linear
fit (least squares of a line in log-step per segment, penalised like BIC). Each segment is then
tested: the change of log RankMe that its line implies must exceed ``z_min`` standard errors
*and* the change of α must exceed ``z_alpha`` standard errors in the opposite direction (both
standard errors derived from the noise estimates), and RankMe must change by at least
``min_change``. A segment that passes is a **collapse** (RankMe ↓, α ↑) or an **expansion**
(RankMe ↑, α ↓); adjacent segments of one kind merge; anything else is left unlabelled. On a
flat or noisy curve nothing is labelled.

**Boundaries.** Neighbouring phases share their boundary checkpoint, so their bands meet. Between
a collapse and an expansion the boundary is the RankMe trough (between an expansion and a collapse,
the peak) among the checkpoints next to the change point: a warmup collapse is reported through
its trough. Each phase's ``rankme_change`` and ``alpha_change`` are the changes between its first
and last checkpoint.

**Names.** The paper's names describe pre-training from scratch. They are used when the run
starts at initialisation (its first checkpoint is step 0; ``from_init`` overrides) and its first
phase is a collapse: that collapse, and any collapse before the first expansion, is the *warmup
collapse*; an expansion is *entropy-seeking*; a collapse after an expansion is
*compression-seeking*. Otherwise (a fine-tuning run that starts from a trained model, or a run
whose first phase is an expansion) the phases are named by what they show:
``"collapse: RankMe ↓, α ↑"`` and ``"expansion: RankMe ↑, α ↓"``.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import check_real, describe, fail

WARMUP = "warmup collapse"
ENTROPY = "entropy-seeking"
COMPRESSION = "compression-seeking"
#: The tracing paper's names, in the order they appear in pre-training.
PHASES = (WARMUP, ENTROPY, COMPRESSION)
#: The names of what a segment shows, where the paper's names do not apply.
COLLAPSE = "collapse: RankMe ↓, α ↑"
EXPANSION = "expansion: RankMe ↑, α ↓"


@dataclass(frozen=True)
class Phase:
    """A labelled segment of training, with the evidence for its label.

    ``start_step`` and ``end_step`` are checkpoints (inclusive; neighbouring phases share their
    boundary checkpoint). ``kind`` is ``"collapse"`` (RankMe ↓, α ↑) or ``"expansion"``
    (RankMe ↑, α ↓). ``evidence`` holds the relative change of RankMe from the first to the
    last checkpoint, the change of α, the slopes of their fitted lines per unit of
    ``log(step + 1)``, and their z-scores (the fitted change divided by its standard error).
    """

    name: str
    start_step: int
    end_step: int
    evidence: dict[str, float] = field(default_factory=dict)
    kind: str = ""


@functools.cache
def _cost_class() -> type:
    """The change-point cost, defined on first use: ``ruptures`` imports scipy.stats (1.7 s),
    which opening a widget or a store does not need."""
    from ruptures.base import BaseCost

    class _CostLogLinear(BaseCost):
        """Residual sum of squares of a least-squares line in ``x`` (log-step), summed over columns.

        Computed for every segment at once from prefix sums of ``1, x, x², y, xy, y²`` (the
        change-point search asks for O(n²) segments; one lookup each).
        """

        model = "loglinear"
        min_size = 3

        def __init__(self, x: np.ndarray):
            self.x = np.asarray(x, dtype=float)

        def fit(self, signal: np.ndarray) -> Any:
            y = signal if signal.ndim == 2 else signal[:, None]
            x = self.x[:, None]
            parts = [np.ones_like(x), x, x * x, y, x * y, y * y]
            sums = [
                np.concatenate([np.zeros((1, p.shape[1])), np.cumsum(p, axis=0)]) for p in parts
            ]
            # every segment's cost at once: table[start, end] (a few MB for 1000 checkpoints)
            n, sx, sxx, sy, sxy, syy = (c[None, :, :] - c[:, None, :] for c in sums)
            with np.errstate(divide="ignore", invalid="ignore"):
                vx = sxx - sx * sx / n
                cov = sxy - sx * sy / n
                fitted = np.where(vx > 1e-12, cov * cov / vx, 0.0)
                rss = syy - sy * sy / n - fitted
            self.table = np.nan_to_num(np.maximum(rss, 0.0)).sum(axis=-1)
            self.signal = y
            return self

        def error(self, start: int, end: int) -> float:
            return float(self.table[start, end])

    return _CostLogLinear


def _noise(y: np.ndarray) -> float:
    """Checkpoint-to-checkpoint noise: MAD of second differences (immune to trends)."""
    d2 = np.diff(y, n=2)
    if d2.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d2 - np.median(d2))) / np.sqrt(6))


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope of a least-squares line and the change it implies over ``x``."""
    slope = float(np.polyfit(x, y, 1)[0]) if len(x) >= 2 and np.ptp(x) > 0 else 0.0
    return slope, slope * float(x[-1] - x[0])


@dataclass(frozen=True)
class _Curves:
    """The checked curves and their noise levels."""

    steps: np.ndarray
    x: np.ndarray  # log(step + 1)
    log_r: np.ndarray
    alpha: np.ndarray
    noise_r: float
    noise_a: float

    def test(self, first: int, last: int) -> dict[str, float]:
        """The evidence of checkpoints ``first … last`` (inclusive); ``fitted_change`` is the
        relative change of RankMe along the fitted line (private: dropped from phases)."""
        idx = slice(first, last + 1)
        slope_r, fit_r = _line(self.x[idx], self.log_r[idx])
        slope_a, fit_a = _line(self.x[idx], self.alpha[idx])
        se = np.sqrt(12.0 / max(last - first + 1, 1))  # s.e. of a line's change, noise units
        return {
            "rankme_change": float(np.expm1(self.log_r[last] - self.log_r[first])),
            "alpha_change": float(self.alpha[last] - self.alpha[first]),
            "rankme_slope": slope_r,
            "alpha_slope": slope_a,
            "rankme_z": float(fit_r / self.noise_r / se),
            "alpha_z": float(fit_a / self.noise_a / se),
            "fitted_change": float(np.expm1(fit_r)),
        }


def detect_phases(
    steps: Any,
    rankme: Any,
    alpha: Any,
    *,
    z_min: float = 4.0,
    z_alpha: float = 2.0,
    min_change: float = 0.02,
    penalty: float = 3.0,
    min_size: int = 3,
    from_init: bool | None = None,
) -> list[Phase]:
    """Find collapses and expansions of the representation, named as the tracing paper does.

    Parameters
    ----------
    steps : array of shape (n_checkpoints,)
        Training steps (non-negative), increasing.
    rankme, alpha : array of shape (n_checkpoints,)
        Effective rank (> 0) and α-ReQ at those steps. NaN entries (failed checkpoints) are
        dropped before the search.
    z_min : float, default 4
        How many standard errors a segment's change in log RankMe must exceed.
    z_alpha : float, default 2
        How many standard errors its change in α must exceed, in the opposite direction.
    min_change : float, default 0.02
        Smallest relative change of RankMe over a segment that counts (2 %).
    penalty : float, default 3
        Multiplies the BIC penalty ``2 · n_signals · log(n)`` of the change-point search;
        larger finds fewer segments.
    min_size : int, default 3
        Fewest checkpoints in a segment.
    from_init : bool, optional
        Whether the first checkpoint is the model at initialisation. Default: whether the first
        step is 0. The paper's names are used only for runs from initialisation whose first
        phase is a collapse (see the module's docstring).

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
    >>> [p.name for p in detect_phases(np.r_[0, steps], np.r_[14, rank], np.r_[0.5, alpha])]
    ['warmup collapse', 'entropy-seeking', 'compression-seeking']
    >>> late = steps > 60  # a run that starts from a trained model: names say what they show
    >>> [p.name for p in detect_phases(steps[late], rank[late], alpha[late])]
    ['expansion: RankMe ↑, α ↓', 'collapse: RankMe ↓, α ↑']
    """
    func = "detect_phases"
    s, r, a = _check_curves(steps, rankme, alpha, func=func)
    z_min = check_real(z_min, name="z_min", func=func, low=0.0)
    z_alpha = check_real(z_alpha, name="z_alpha", func=func, low=0.0)
    min_change = check_real(min_change, name="min_change", func=func, low=0.0)
    penalty = check_real(penalty, name="penalty", func=func, low=0.0)
    keep = np.isfinite(r) & np.isfinite(a) & (r > 0)
    if from_init is None:
        from_init = bool(len(s)) and s[0] == 0
    s, r, a = s[keep], r[keep], a[keep]
    if len(s) < 2 * min_size:
        return []
    x, log_r = np.log1p(s), np.log(r)
    noise_r = max(_noise(log_r), 1e-3 * max(np.ptp(log_r), 1e-12), 1e-9)
    noise_a = max(_noise(a), 1e-3 * max(np.ptp(a), 1e-12), 1e-9)
    curves = _Curves(s, x, log_r, a, noise_r, noise_a)
    signal = np.stack([log_r / noise_r, a / noise_a], axis=1)
    import ruptures as rpt

    algo = rpt.Pelt(custom_cost=_cost_class()(x), min_size=min_size, jump=1).fit(signal)
    ends = algo.predict(pen=penalty * 2 * signal.shape[1] * np.log(len(s)))
    starts = [0, *ends[:-1]]
    kinds = [
        _kind(curves.test(b, e - 1), z_min, z_alpha, min_change)
        for b, e in zip(starts, ends, strict=True)
    ]
    segments = _merge(starts, ends, kinds)
    return _name(_with_boundaries(segments, curves), curves, bool(from_init))


def _kind(
    evidence: dict[str, float], z_min: float, z_alpha: float, min_change: float
) -> str | None:
    """``"collapse"``, ``"expansion"`` or ``None``: one segment's test."""
    z_r, z_a = evidence["rankme_z"], evidence["alpha_z"]
    if abs(evidence["fitted_change"]) < min_change:
        return None
    if z_r <= -z_min and z_a >= z_alpha:
        return "collapse"
    if z_r >= z_min and z_a <= -z_alpha:
        return "expansion"
    return None


def _merge(
    starts: list[int], ends: list[int], kinds: list[str | None]
) -> list[tuple[int, int, str | None]]:
    """``(start, end, kind)`` segments (``end`` exclusive) with neighbours of one kind merged."""
    out: list[tuple[int, int, str | None]] = []
    for b, e, kind in zip(starts, ends, kinds, strict=True):
        if out and kind is not None and out[-1][2] == kind:
            out[-1] = (out[-1][0], e, kind)
        else:
            out.append((b, e, kind))
    return out


def _with_boundaries(
    segments: list[tuple[int, int, str | None]], curves: _Curves
) -> list[tuple[str, int, int]]:
    """``(kind, first, last)`` of the labelled segments, neighbours sharing a boundary
    checkpoint: the RankMe trough (or peak) next to a change point between a collapse and an
    expansion, otherwise the last checkpoint before the change point."""
    n, bounds = len(curves.steps), [0]
    for (b, e, kind), (_, e_next, kind_next) in itertools.pairwise(segments):
        j = e - 1
        if {kind, kind_next} == {"collapse", "expansion"}:
            low, high = max(b + 1, e - 2, bounds[-1] + 1), min(e_next - 2, e + 1)
            if high >= low:
                window = curves.log_r[low : high + 1]
                j = low + int(np.argmin(window) if kind == "collapse" else np.argmax(window))
        bounds.append(max(j, bounds[-1] + 1))
    bounds.append(n - 1)
    return [
        (kind, bounds[k], bounds[k + 1])
        for k, (_, _, kind) in enumerate(segments)
        if kind is not None
    ]


def _name(found: list[tuple[str, int, int]], curves: _Curves, from_init: bool) -> list[Phase]:
    """Phases with the paper's names where they apply (see the module's docstring)."""
    paper = from_init and bool(found) and found[0][0] == "collapse"
    phases, expanded = [], False
    for kind, first, last in found:
        if not paper:
            name = COLLAPSE if kind == "collapse" else EXPANSION
        elif kind == "expansion":
            name, expanded = ENTROPY, True
        else:
            name = COMPRESSION if expanded else WARMUP
        evidence = curves.test(first, last)
        del evidence["fitted_change"]
        phases.append(
            Phase(name, int(curves.steps[first]), int(curves.steps[last]), evidence, kind)
        )
    return phases


def _check_curves(steps, rankme, alpha, *, func):
    arrays = []
    for name, value in (("steps", steps), ("rankme", rankme), ("alpha", alpha)):
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            fail(name, func, "a 1-D array of numbers", describe(value), error=TypeError)
        if arr.ndim != 1:
            fail(name, func, "a 1-D array of shape (n_checkpoints,)", f"shape {arr.shape}")
        arrays.append(arr)
    s, r, a = arrays
    if not (len(s) == len(r) == len(a)):
        fail(
            "rankme",
            func,
            f"arrays as long as 'steps' ({len(s)})",
            f"lengths {len(r)} (rankme) and {len(a)} (alpha)",
        )
    if len(s) and (np.any(np.diff(s) <= 0) or s[0] < 0 or not np.all(np.isfinite(s))):
        fail("steps", func, "finite, non-negative and strictly increasing", describe(steps))
    return s, r, a
