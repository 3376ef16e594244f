"""What the widgets draw, read once from a trajectory's store into arrays indexed by step.

A :class:`RunData` is a snapshot: curves as ``(n_steps,)`` arrays with NaN where a checkpoint is
missing or failed, spectra and 2-D points per (step, layer), the detected phases per layer, and
the probe's labels. Drawing a step then touches no database and no model, so a slider stays
fast; :meth:`RunData.stale` tells cheaply whether the store has grown since.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .._validation import describe, fail
from ..filling import Filling
from ..geometry.projection import align_sequence
from ..measure_registry import MEASURES, hidden_values
from ..phases import Phase
from ..reading import RunReader, layer_order
from ..store import WHOLE_CHECKPOINT, Record

#: (The measures' display names and order are the registry's: repscope.measure_registry.)
#: Display names of common training scalars (others are shown by their own name).
SCALAR_NAMES = {
    "loss": "training loss",
    "train_loss": "training loss",
    "eval_loss": "eval loss",
    "heldout_loss": "held-out loss",
    "kl_unigram": "KL(unigram ‖ model)",
    "kl_true": "KL(true law ‖ model)",
    "lr": "learning rate",
    "learning_rate": "learning rate",
    "grad_norm": "gradient norm",
}
#: Curves shown when the user picks none: those of the three phases, DSE, and the loss, when
#: stored.
DEFAULT_MEASURES = ("effective_rank", "alpha", "dse", "loss", "train_loss", "eval_loss")
#: The measures whose curves make the phases shaded, unless the user picks two others: the
#: turning points of the first make the phases, the second is read over each
#: (:meth:`RunReader.phases <repscope.reading.RunReader.phases>`).
PHASE_MEASURES = ("effective_rank", "alpha")


@dataclass(frozen=True)
class SpectrumView:
    """The eigenspectrum of one (step, layer) and its fitted power law."""

    values: np.ndarray  # (K,) normalised eigenvalues, descending
    alpha: float
    r2: float
    fit_range: tuple[int, int] | None
    intercept: float

    def fit_line(self) -> tuple[np.ndarray, np.ndarray]:
        """Ranks and fitted values ``exp(c) · i^-α`` over the fit range (empty if no fit)."""
        if self.fit_range is None or not math.isfinite(self.alpha):
            return np.empty(0), np.empty(0)
        ranks = np.arange(self.fit_range[0], self.fit_range[1] + 1, dtype=float)
        return ranks, np.exp(self.intercept - self.alpha * np.log(ranks))


class RunData:
    """A snapshot of one trajectory for drawing.

    Parameters
    ----------
    trajectory : RunReader
        A :class:`~repscope.trajectory.Trajectory`, or a run read back from a store
        (``repscope.open(path).trajectory()``).
    name : str, optional
        The run's name in legends (default ``trajectory.run``).
    phase_measures : (str, str), default ("effective_rank", "alpha")
        The two measures the shaded phases are read from (:data:`PHASE_MEASURES`); checked by
        :func:`check_phase_measures`.

    Examples
    --------
    >>> from repscope.synthetic import synthetic_trajectory
    >>> data = RunData(synthetic_trajectory(n_steps=6, layers=("a", "b"), n_points=40))
    >>> data.steps.tolist(), data.layers
    ([0, 1, 2, 6, 13, 32], ['a', 'b'])
    >>> data.curve("a", "effective_rank").shape
    (6,)
    """

    def __init__(
        self,
        trajectory: Any,
        name: str | None = None,
        *,
        phase_measures: tuple[str, str] = PHASE_MEASURES,
    ):
        if not isinstance(trajectory, RunReader):
            fail(
                "trajectory",
                "RunData",
                "a repscope Trajectory (or LiveRun.trajectory, or a run read from a store)",
                describe(trajectory),
                error=TypeError,
            )
        self.trajectory = trajectory
        self.name = str(name if name is not None else trajectory.run)
        self.phase_measures = (str(phase_measures[0]), str(phase_measures[1]))
        self.version = _version(trajectory)
        records = trajectory.records()
        self.steps = np.array(sorted({r.step for r in records}), dtype=np.int64)
        self._index = {int(s): i for i, s in enumerate(self.steps)}
        self.ok: dict[tuple[int, str], Record] = {}
        self.failed: dict[int, str] = {}
        for r in records:
            if r.status == "ok" and r.layer != WHOLE_CHECKPOINT:
                self.ok[(r.step, r.layer)] = r
            elif r.status == "failed":
                self.failed.setdefault(r.step, r.error or "failed")
        self.layers = layer_order({layer for _, layer in self.ok}, trajectory.probe.layers)
        seen = {m for r in self.ok.values() for m in r.measures}
        self.measures = [m for m in MEASURES if m in seen] + sorted(
            seen - set(MEASURES) - hidden_values()
        )
        self.scalars = _scalars(trajectory, exclude=set(self.measures))
        probe = trajectory.probe
        self.labels = None if probe.labels is None else np.asarray(probe.labels)
        self.texts = getattr(probe, "texts", None)
        self.n_points = probe.n_samples
        self.duplicates = trajectory.duplicates()
        self.config = trajectory.config
        self.live = being_filled(trajectory)
        fill = _filling(trajectory)
        source = fill.source if fill is not None else None
        self.expected: int | None = (fill.expected if fill is not None else None) or (
            len(source) if source is not None else None
        )
        self._points: dict[str, list[np.ndarray | None]] = {}
        self._phases: dict[str, list[Phase]] = {}
        self.phase_errors: dict[str, str] = {}

    @property
    def curves(self) -> list[str]:
        """Everything that can be drawn over steps: the measures, then the training scalars."""
        return self.measures + list(self.scalars)

    def series(self, layer: str, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of a measure of ``layer`` (at the run's checkpoints) or of a
        training scalar (at the steps it was logged)."""
        if name in self.scalars:
            return self.scalars[name]
        return self.steps, self.curve(layer, name)

    # -- per layer ------------------------------------------------------------------------------
    def curve(self, layer: str, measure: str) -> np.ndarray:
        """``measure`` of ``layer`` at every step, NaN where it is missing, shape ``(n_steps,)``."""
        out = np.full(len(self.steps), np.nan)
        for i, step in enumerate(self.steps):
            r = self.ok.get((int(step), layer))
            if r is not None and measure in r.measures:
                out[i] = r.measures[measure]
        return out

    def points(self, layer: str) -> list[np.ndarray | None]:
        """The probe points of ``layer`` at every step, each aligned to the next (Procrustes)."""
        if layer not in self._points:
            stored = self.trajectory.points(layer)
            raw = [stored.get(int(s)) for s in self.steps]
            self._points[layer] = [
                None if p is None else p.astype(np.float32) for p in align_sequence(raw)
            ]
        return self._points[layer]

    def has_phases(self, layer: str) -> bool:
        """Whether the phases of ``layer`` were detected already (detecting is not free: its
        first call imports the change-point library)."""
        return layer in self._phases

    def phases(self, layer: str) -> list[Phase]:
        """The trajectory's phases of ``layer`` from :attr:`phase_measures` (:meth:`RunReader.phases
        <repscope.reading.RunReader.phases>`: its error bars, where the run starts), as they
        were when this snapshot was taken."""
        if layer not in self._phases:
            try:
                self._phases[layer] = self.trajectory.phases(layer, measures=self.phase_measures)
            except ValueError as err:  # curves the detector refuses
                self._phases[layer], self.phase_errors[layer] = [], str(err)
        return self._phases[layer]

    # -- per step --------------------------------------------------------------------------------
    def index(self, step: int) -> int | None:
        return self._index.get(int(step))

    def spectrum(self, step: int, layer: str) -> SpectrumView | None:
        r = self.ok.get((int(step), layer))
        if r is None or r.spectrum is None:
            return None
        m = r.measures
        alpha, r2 = m.get("alpha", math.nan), m.get("alpha_r2", math.nan)
        fit = None
        if "alpha_fit_first" in m and math.isfinite(alpha):
            fit = (int(m["alpha_fit_first"]), int(m["alpha_fit_last"]))
        return SpectrumView(r.spectrum, alpha, r2, fit, _intercept(r.spectrum, alpha, fit))

    def failure(self, step: int) -> str | None:
        return self.failed.get(int(step))

    @cached_property
    def label_codes(self) -> tuple[np.ndarray, list[str]] | None:
        """Integer code per point and the label names, for colouring (or ``None``). Labels
        that are numbers are ordered as numbers (2 before 10)."""
        if self.labels is None:
            return None
        labels = self.labels
        if labels.dtype.kind in "biuf":
            values, codes = np.unique(labels, return_inverse=True)
            names = [f"{v:g}" if labels.dtype.kind == "f" else str(v) for v in values]
        else:
            values, codes = np.unique(labels.astype(str), return_inverse=True)
            names = [str(v) for v in values]
        return codes.astype(np.int32), names

    def stale(self) -> bool:
        """Whether the store holds results this snapshot does not (a fill still running)."""
        return _version(self.trajectory) != self.version


def being_filled(trajectory: Any) -> bool:
    """Whether a trajectory is still being filled: by a LiveRun, or a background compute."""
    fill = _filling(trajectory)
    return fill is not None and fill.running


def _filling(trajectory: Any) -> Filling | None:
    """A Trajectory's filling side; a run read back from a store has none."""
    fill = getattr(trajectory, "fill", None)
    return fill if isinstance(fill, Filling) else None


def curve_names(runs: list[RunData]) -> list[str]:
    """What the runs can draw over steps, in picker order: measures, then training scalars."""
    measures = {m for run in runs for m in run.measures}
    scalars = {m for run in runs for m in run.scalars} - measures
    order = [m for m in MEASURES if m in measures] + sorted(measures - set(MEASURES))
    return order + [m for m in SCALAR_NAMES if m in scalars] + sorted(scalars - set(SCALAR_NAMES))


def check_phase_measures(
    value: Any, runs: list[RunData], func: str = "Scrubber", name: str = "phase_measures"
) -> tuple[str, str]:
    """``value`` checked as the pair of measures the phases are read from: two different names
    of measures the runs store (training scalars have no per-layer curve to read). Nothing is
    checked against the runs while they store nothing (a live run's first results may bring
    the measures).

    Examples
    --------
    >>> from repscope.synthetic import synthetic_trajectory
    >>> runs = [RunData(synthetic_trajectory(n_steps=4, n_points=30))]
    >>> check_phase_measures(["participation_ratio", "effective_rank"], runs)
    ('participation_ratio', 'effective_rank')
    """
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or len(value) != 2
        or not all(isinstance(m, str) for m in value)
    ):
        fail(
            name,
            func,
            "two measure names: the first's turning points make the phases, the second is read "
            "over each (default ('effective_rank', 'alpha'))",
            describe(value),
            error=TypeError,
        )
    first, second = value[0], value[1]
    if first == second:
        fail(name, func, "two different measures", repr(tuple(value)))
    stored = [m for m in curve_names(runs) if any(m in run.measures for run in runs)]
    unknown = [m for m in (first, second) if m not in stored]
    if stored and unknown:
        fail(name, func, f"two stored measures, from {stored}", repr(unknown))
    return first, second


def default_curves(available: list[str]) -> list[str]:
    """The curves shown when none are asked for (:data:`DEFAULT_MEASURES` that are there, else
    the first two)."""
    return [m for m in DEFAULT_MEASURES if m in available] or available[:2]


def display_name(name: str) -> str:
    """How a measure or training scalar is named in the picker and on the curves."""
    measure = MEASURES.get(name)  # read when called: a measure registered later is known too
    return measure.display if measure is not None else SCALAR_NAMES.get(name) or name


def is_timing(name: str) -> bool:
    """A Trainer's timing log (``train_runtime``, ``eval_samples_per_second``, ``total_flos``):
    not a training scalar to draw (older stores kept some)."""
    return "runtime" in name or "per_second" in name or name == "total_flos"


def _scalars(trajectory: Any, exclude: set[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The run's training scalars by name: ``(steps, values)``, finite values only, timing
    left out."""
    table: dict[str, list[tuple[int, float]]] = {}
    for step, name, value in trajectory.store.scalars(trajectory.run):
        if name not in exclude and not is_timing(name) and np.isfinite(value):
            table.setdefault(name, []).append((step, value))
    known = [n for n in SCALAR_NAMES if n in table]
    return {
        name: (
            np.array([s for s, _ in table[name]], dtype=np.int64),
            np.array([v for _, v in table[name]], dtype=float),
        )
        for name in known + sorted(set(table) - set(known))
    }


def _version(trajectory: Any) -> tuple:
    return trajectory.store.version(run=trajectory.run, **trajectory.key())


def _intercept(values: np.ndarray, alpha: float, fit: tuple[int, int] | None) -> float:
    """The weighted least-squares intercept of ``log λ_i = c − α log i`` (weights ``1/i``) over
    the fit range, given the fitted slope: ``c = Σ w (log λ + α log i) / Σ w``."""
    if fit is None:
        return math.nan
    ranks = np.arange(1, len(values) + 1, dtype=float)
    keep = (ranks >= fit[0]) & (ranks <= fit[1]) & (values > 0)
    if not keep.any():
        return math.nan
    w = 1.0 / ranks[keep]
    return float(np.sum(w * (np.log(values[keep]) + alpha * np.log(ranks[keep]))) / np.sum(w))


def as_runs(source: Any, func: str = "Scrubber") -> list[tuple[Any, str | None]]:
    """``(trajectory, name)`` pairs from a Trajectory, a LiveRun, a store's path, a list or a
    ``{name: run}``."""
    from pathlib import Path

    from ..catalog import StoreCatalog
    from ..catalog import open as open_store
    from ..live import LiveRun

    if isinstance(source, (str, Path)):  # a store: every run in it
        source = open_store(source)
    if isinstance(source, StoreCatalog):
        source = source.trajectories()

    def one(item: Any, name: str | None) -> tuple[Any, str | None]:
        if isinstance(item, LiveRun):
            item = item.trajectory
        if not isinstance(item, RunReader):
            fail(
                "trajectory",
                func,
                "a Trajectory, a LiveRun, a store's path, or a list or dict of them",
                describe(item),
                error=TypeError,
            )
        return item, name

    if isinstance(source, Mapping):
        pairs = [one(t, str(k)) for k, t in source.items()]
    elif isinstance(source, Sequence) and not isinstance(source, str):
        pairs = [one(t, None) for t in source]
    else:
        pairs = [one(source, None)]
    if not pairs:
        fail("trajectory", func, "at least one trajectory", "an empty collection")
    names = [n or t.run for t, n in pairs]
    if len(set(names)) < len(names):  # two runs of the same name: number them
        pairs = [
            (t, f"{n} ({i + 1})") for i, ((t, _), n) in enumerate(zip(pairs, names, strict=True))
        ]
    return pairs
