"""The phases of training, read off RankMe and α-ReQ over checkpoints.

Li et al. 2025 ("Tracing the representation geometry of language models") name three phases of
pre-training by the directions RankMe and α move in:

==================== ========== ========= ==============================================
phase                RankMe     α-ReQ     when
==================== ========== ========= ==============================================
warmup collapse      falls      rises     first, from initialisation
entropy-seeking      rises      falls
compression-seeking  falls      rises     after entropy-seeking
==================== ========== ========= ==============================================

**A phase is a monotone change of RankMe.** The turning points of ``log RankMe`` are its peaks
and troughs whose prominence (``scipy.signal.find_peaks``) exceeds ``z_min`` noise levels; a
phase runs from one turning point (or the first checkpoint) to the next (or the last), so it
covers the whole fall or rise, wherever the checkpoints lie (log-spaced or a Trainer's
``save_steps``). A change smaller than ``z_min`` noise levels or ``min_change`` (relative) is no
phase. Adding or removing one checkpoint at either end moves no turning point inside.

**Noise.** Per curve, the larger of the measure's own standard error over the probe inputs (a
scan's jackknife intervals, when stored: ``rankme_se``, ``alpha_se``) and its
checkpoint-to-checkpoint jitter (the MAD of second differences, immune to trends). With few
checkpoints the jitter is poorly known; the standard errors are not: a fall of half the RankMe
over five checkpoints is found either way.

**Labels say what the numbers did.** Over each phase, RankMe fell or rose (by construction), and
α rose (↑), fell (↓) or stayed within ``z_flat`` of its noise (flat): the label states both. A
phase where RankMe falls while α rises is a *collapse*, the reverse an *expansion*.

**Names.** The paper's names describe pre-training from scratch, so they are given only to runs
known to start at initialisation (``from_init=True``; a run records where it starts): the first
phase, if it is a collapse from the first checkpoint, is the *warmup collapse* (at most one), an
expansion after it the *entropy-seeking* phase, a collapse after that the *compression-seeking*
phase. Every other phase is named by what it shows, ``"collapse: RankMe ↓, α ↑"``,
``"RankMe ↓, α flat"`` …
"""

from __future__ import annotations

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
#: The names of a collapse and an expansion where the paper's names do not apply.
COLLAPSE = "collapse: RankMe ↓, α ↑"
EXPANSION = "expansion: RankMe ↑, α ↓"
ARROWS = {1: "↑", -1: "↓", 0: "flat"}


@dataclass(frozen=True)
class Phase:
    """A monotone change of RankMe between two checkpoints, with the evidence for its label.

    ``start_step`` and ``end_step`` are checkpoints (inclusive; neighbouring phases share their
    turning point). ``kind`` is ``"collapse"`` (RankMe ↓, α ↑), ``"expansion"`` (RankMe ↑, α ↓)
    or ``"other"``. ``evidence`` holds the changes from the first to the last checkpoint —
    ``rankme_rel_change`` (relative), ``rankme_abs_change``, ``alpha_abs_change``,
    ``alpha_rel_change`` — the changes in noise units (``rankme_z``, ``alpha_z``), the slopes
    per unit of ``log(step + 1)`` and the directions (``rankme_dir``, ``alpha_dir``: +1, -1 or
    0 for flat).
    """

    name: str
    start_step: int
    end_step: int
    evidence: dict[str, float] = field(default_factory=dict)
    kind: str = ""
    #: The two curves read: the one whose turning points make the phases, and its companion.
    names: tuple[str, str] = ("RankMe", "α")

    @property
    def label(self) -> str:
        """What the numbers did: ``"RankMe ↓, α ↑"``."""
        return _label(int(self.evidence["rankme_dir"]), int(self.evidence["alpha_dir"]), self.names)


def _label(rank_dir: int, alpha_dir: int, names: tuple[str, str] = ("RankMe", "α")) -> str:
    first, second = names
    companion = f"{second} flat" if alpha_dir == 0 else f"{second} {ARROWS[alpha_dir]}"
    return f"{first} {ARROWS[rank_dir]}, {companion}"


def jitter(y: np.ndarray) -> float:
    """Checkpoint-to-checkpoint noise of a curve: the MAD of its second differences, scaled to
    one checkpoint's standard deviation (immune to trends; 0 with fewer than 3 points)."""
    d2 = np.diff(y, n=2)
    if d2.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d2 - np.median(d2))) / np.sqrt(6))


def turning_points(y: np.ndarray, threshold: float) -> list[int]:
    """Indices of the significant peaks and troughs of ``y`` (prominence >= ``threshold``),
    alternating, in order; where two of a kind meet, the more extreme is kept."""
    from scipy.signal import find_peaks

    if len(y) < 3:
        return []
    # a pad at each end lets an extreme at the first or last checkpoint count as one
    padded = np.r_[y[0], y, y[-1]]
    found = [(int(i) - 1, 1) for i in find_peaks(padded, prominence=threshold)[0]]
    found += [(int(i) - 1, -1) for i in find_peaks(-padded, prominence=threshold)[0]]
    found = sorted((i, s) for i, s in found if 0 < i < len(y) - 1)
    out: list[tuple[int, int]] = []
    for i, sign in found:
        if out and out[-1][1] == sign:
            if sign * y[i] > sign * y[out[-1][0]]:
                out[-1] = (i, sign)
            continue
        out.append((i, sign))
    return [i for i, _ in out]


def detect_phases(
    steps: Any,
    rankme: Any,
    alpha: Any,
    *,
    rankme_se: Any = None,
    alpha_se: Any = None,
    from_init: bool = False,
    z_min: float = 3.0,
    z_flat: float = 2.0,
    min_change: float = 0.02,
    names: tuple[str, str] = ("RankMe", "α"),
    log: bool = True,
) -> list[Phase]:
    """Find the monotone changes of RankMe and label each by what RankMe and α did.

    Parameters
    ----------
    steps : array of shape (n_checkpoints,)
        Training steps (non-negative), increasing; log-spaced or not.
    rankme, alpha : array of shape (n_checkpoints,)
        Effective rank (> 0) and α-ReQ at those steps. NaN entries (failed checkpoints) are
        dropped first.
    rankme_se, alpha_se : array of shape (n_checkpoints,), optional
        Standard errors over the probe inputs (a scan's jackknife); the noise is at least
        their median.
    from_init : bool, default False
        Whether the run is known to start at initialisation: only then are the paper's names
        given (see the module's docstring).
    z_min : float, default 3
        A change of RankMe (a turning point's prominence, a phase's change) must exceed this
        many noise levels (``√2`` noise: a difference of two checkpoints).
    z_flat : float, default 2
        α moved over a phase when its change exceeds this many noise levels; otherwise flat.
    min_change : float, default 0.02
        Smallest relative change of RankMe that makes a phase.
    names : (str, str), default ("RankMe", "α")
        What the two curves are, in labels: the detector reads any pair of measures (the
        turning points of the first make the phases, the second is read over each). The
        evidence keeps its keys: ``rankme_*`` describe the first curve, ``alpha_*`` the second.
        The paper's names are given only to RankMe and α.
    log : bool, default True
        Find the turning points of the first curve's logarithm (its values must be > 0; others
        are dropped) or, for a curve that may be 0 or negative, of the values themselves
        (relative changes are then taken against the first value's magnitude).

    Returns
    -------
    list of Phase
        In step order; empty when RankMe never moves beyond its noise, or with fewer than 3
        checkpoints.

    Examples
    --------
    >>> import numpy as np
    >>> steps = np.r_[0, np.unique(np.geomspace(1, 4000, 40).astype(int))]
    >>> x = np.log(steps + 1)
    >>> rank = np.interp(x, [0, 4, 5.5, 8.3], [14, 7, 13, 11])
    >>> alpha = np.interp(x, [0, 4, 5.5, 8.3], [0.5, 1.2, 0.6, 0.8])
    >>> [p.name for p in detect_phases(steps, rank, alpha, from_init=True)]
    ['warmup collapse', 'entropy-seeking', 'compression-seeking']
    >>> [p.name for p in detect_phases(steps, rank, alpha)]  # not known to start at init
    ['collapse: RankMe ↓, α ↑', 'expansion: RankMe ↑, α ↓', 'collapse: RankMe ↓, α ↑']
    >>> falls_both = detect_phases(steps, rank, 2 - alpha)  # RankMe falls while α falls
    >>> falls_both[0].name, falls_both[0].kind
    ('RankMe ↓, α ↓', 'other')
    """
    func = "detect_phases"
    s, r, a = _check_curves(steps, rankme, alpha, func=func)
    se_r = _optional(rankme_se, len(s), "rankme_se", func)
    se_a = _optional(alpha_se, len(s), "alpha_se", func)
    z_min = check_real(z_min, name="z_min", func=func, low=0.0)
    z_flat = check_real(z_flat, name="z_flat", func=func, low=0.0)
    min_change = check_real(min_change, name="min_change", func=func, low=0.0)
    names = _check_names(names, func)
    if not isinstance(log, (bool, np.bool_)):
        fail("log", func, "True or False", describe(log), error=TypeError)
    keep = np.isfinite(r) & np.isfinite(a) & ((r > 0) if log else True)
    s, r, a, se_r, se_a = s[keep], r[keep], a[keep], se_r[keep], se_a[keep]
    if len(s) < 3:
        return []
    log_r = np.log(r) if log else r
    noise_r = _noise(log_r, se_r / r if log else se_r)
    noise_a = _noise(a, se_a)
    x = np.log1p(s)
    bounds = [0, *turning_points(log_r, z_min * noise_r * np.sqrt(2)), len(s) - 1]
    found = []
    for first, last in itertools.pairwise(bounds):
        change = log_r[last] - log_r[first]
        relative = np.expm1(change) if log else change / max(abs(r[first]), 1e-300)
        if abs(change) < z_min * noise_r * np.sqrt(2) or abs(relative) < min_change:
            continue  # the curve did not move beyond its noise: no phase
        found.append(_evidence(s, x, r, log_r, a, first, last, noise_r, noise_a, z_flat, log))
    paper = from_init and names == ("RankMe", "α")
    return _name(found, paper, names)


def _check_names(names: Any, func: str) -> tuple[str, str]:
    if (
        not isinstance(names, (tuple, list))
        or len(names) != 2
        or not all(isinstance(n, str) and n for n in names)
    ):
        fail(
            "names",
            func,
            "two non-empty strings (the two curves)",
            describe(names),
            error=TypeError,
        )
    return (names[0], names[1])


def _noise(y: np.ndarray, se: np.ndarray) -> float:
    """The larger of the median standard error and the jitter, with a floor at rounding."""
    measured = float(np.nanmedian(se)) if np.isfinite(se).any() else 0.0
    floor = 1e-6 * max(float(np.ptp(y)), 1e-12)
    return max(measured, jitter(y), floor)


def _evidence(s, x, r, log_r, a, first, last, noise_r, noise_a, z_flat, log=True) -> tuple:
    span = slice(first, last + 1)
    d_log_r = float(log_r[last] - log_r[first])
    d_a = float(a[last] - a[first])
    z_a = d_a / (noise_a * np.sqrt(2))
    rank_dir = 1 if d_log_r > 0 else -1
    alpha_dir = 0 if abs(z_a) < z_flat else (1 if d_a > 0 else -1)
    slope = lambda y: float(np.polyfit(x[span], y[span], 1)[0]) if last > first else 0.0  # noqa: E731
    evidence = {
        "rankme_rel_change": float(
            np.expm1(d_log_r) if log else d_log_r / max(abs(float(r[first])), 1e-300)
        ),
        "rankme_abs_change": float(r[last] - r[first]),
        "alpha_abs_change": d_a,
        "alpha_rel_change": d_a / abs(float(a[first])) if a[first] != 0 else float("nan"),
        "rankme_z": d_log_r / (noise_r * np.sqrt(2)),
        "alpha_z": z_a,
        "rankme_slope": slope(log_r),
        "alpha_slope": slope(a),
        "rankme_dir": float(rank_dir),
        "alpha_dir": float(alpha_dir),
    }
    kind = {(-1, 1): "collapse", (1, -1): "expansion"}.get((rank_dir, alpha_dir), "other")
    return kind, int(s[first]), int(s[last]), first, evidence


def _name(
    found: list[tuple], from_init: bool, names: tuple[str, str] = ("RankMe", "α")
) -> list[Phase]:
    """The paper's names in the paper's order for runs from initialisation; what the numbers
    show otherwise."""
    phases = []
    expected = 0  # the paper's phase that may come next: 0 warmup, 1 entropy, 2 compression
    for kind, start, end, first, evidence in found:
        name = None
        if from_init and expected == 0:
            if kind == "collapse" and first == 0:
                name, expected = WARMUP, 1
            else:
                expected = 1  # no warmup collapse: the paper's order goes on from the next
        if from_init and name is None:
            if expected == 1 and kind == "expansion":
                name, expected = ENTROPY, 2
            elif expected == 2 and kind == "collapse":
                name, expected = COMPRESSION, 3
        if name is None:
            label = _label(int(evidence["rankme_dir"]), int(evidence["alpha_dir"]), names)
            named = (
                {"collapse": COLLAPSE, "expansion": EXPANSION} if names == ("RankMe", "α") else {}
            )
            name = named.get(kind, label)
        phases.append(Phase(name, start, end, evidence, kind, names))
    return phases


def _optional(value: Any, n: int, name: str, func: str) -> np.ndarray:
    if value is None:
        return np.full(n, np.nan)
    arr = np.asarray(value, dtype=float)
    if arr.shape != (n,):
        fail(name, func, f"an array of shape ({n},), one per checkpoint", f"shape {arr.shape}")
    return arr


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
