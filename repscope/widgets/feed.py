"""The scrubber's data, as the front end asks for it: one feed for the widget and the page.

The front end asks for three things, and a :class:`Feed` answers each with one message
(:mod:`.protocol`: JSON with float32 buffers beside it):

``{"type": "hello"}``
    ``runs``: per run its steps, layers, the table of measures (measures × layers × steps), the
    curves it can draw with their display names, failed checkpoints, notes, and each panel's
    :meth:`~.panels.Panel.run_data`; and the panels to lay out.
``{"type": "layer", "run": r, "layer": name}``
    ``layer``: each panel's :meth:`~.panels.Panel.layer_data` (axis ranges, phases), the notes
    that go with the layer, and how its steps are cut into blocks.
``{"type": "block", "run": r, "layer": name, "block": b}``
    ``block``: each panel's :meth:`~.panels.Panel.step_data` for the steps of block ``b``
    (spectra, points): at most :data:`BLOCK_BYTES` a block, so that a run of 1000 steps × 100k
    points (800 MB) arrives a few MB at a time, the steps near the one shown first.

The widget sends these answers over its comm; :func:`~repscope.widgets.export_html` records
every answer in the page. Requests from the front end are checked: a bad one gets an ``error``
message, never an exception in the kernel.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..measure_registry import MEASURES
from .data import SCALAR_NAMES, RunData, curve_names, display_name
from .protocol import Message, pack

#: Bytes of per-step data in one block (a block holds at least one step).
BLOCK_BYTES = 4 * 2**20
#: Probe points drawn by default; above that, a stated subset.
MAX_POINTS = 20_000


def shown(n: int, max_points: int | None) -> np.ndarray:
    """The probe indices drawn: all, or a fixed random subset of ``max_points`` (sorted, the
    same at every step, so that each dot follows one input)."""
    if max_points is None or n <= max_points:
        return np.arange(n, dtype=np.int32)
    pick = np.random.default_rng(0).choice(n, max_points, replace=False)
    return np.sort(pick).astype(np.int32)


class Feed:
    """What the front end is sent, for a list of runs.

    Parameters
    ----------
    runs : list of RunData
    panels : list of Panel
        What is shown (:func:`~.panels.panels_for` gives the registered panels that apply).
    max_points : int or None, default 20000
        Probe points drawn per run (a fixed subset above it; ``None``: all).
    live : bool
        The runs are still being filled (the front end follows the newest step).
    block_bytes : int
        Bytes of per-step data per block.

    Examples
    --------
    >>> from repscope.synthetic import synthetic_trajectory
    >>> from repscope.widgets.panels import panels_for
    >>> from repscope.widgets.protocol import unpack
    >>> runs = [RunData(synthetic_trajectory(n_steps=5, layers=("a", "b"), n_points=30))]
    >>> feed = Feed(runs, panels_for(runs))
    >>> runs = unpack(*feed.answer({"type": "hello"})[0])["runs"]
    >>> runs[0]["layers"], runs[0]["measures"]["values"].shape[1:]
    (['a', 'b'], (2, 5))
    >>> block = unpack(*feed.answer({"type": "block", "run": 0, "layer": "b", "block": 0})[0])
    >>> block["panels"]["points"]["xy"].shape
    (5, 30, 2)
    """

    def __init__(
        self,
        runs: list[RunData],
        panels: Sequence[Any],  # Panels (repscope.widgets.panels imports this module)
        *,
        max_points: int | None = MAX_POINTS,
        live: bool = False,
        block_bytes: int = BLOCK_BYTES,
    ):
        self.runs = runs
        self.panels = list(panels)
        self.max_points = max_points
        self.live = live
        self.block_bytes = int(block_bytes)
        #: While set, layer messages leave out what is slow to compute (the phases) and say so.
        self.quick = False
        self._shown: dict[int, np.ndarray] = {}

    # -- helpers ------------------------------------------------------------------------------
    def shown(self, run: RunData) -> np.ndarray:
        """The probe indices drawn for ``run`` (cached)."""
        key = id(run)
        if key not in self._shown:
            self._shown[key] = shown(run.n_points, self.max_points)
        return self._shown[key]

    def blocks(self, r: int, layer: str) -> tuple[int, int]:
        """``(steps per block, number of blocks)`` of run ``r`` at ``layer``."""
        run = self.runs[r]
        per_step = sum(p.step_bytes(run, layer, self) for p in self.panels)
        size = max(1, self.block_bytes // max(per_step, 1))
        return size, max(1, math.ceil(len(run.steps) / size))

    def curves(self, run: RunData) -> list[dict[str, str]]:
        """What ``run`` can draw over steps: name, display name, axis title, kind, and what its
        error band is an interval over (``band``, measures only)."""
        out = []
        for name in curve_names([run]):
            measure = MEASURES.get(name)
            kind = "measure" if name in run.measures else "scalar"
            axis = measure.axis_title(run.config) if measure is not None else display_name(name)
            curve = {"name": name, "label": display_name(name), "axis": axis, "kind": kind}
            if kind == "measure":
                curve["band"] = measure.interval if measure is not None else "90 % interval"
            out.append(curve)
        return out

    def notes(self, run: RunData) -> list[str]:
        """Sentences about the run as a whole: failed checkpoints, duplicated weights."""
        who = f"{run.name}: " if len(self.runs) > 1 else ""
        out = []
        if run.failed:
            failed = sorted(run.failed)
            listed = ", ".join(map(str, failed[:10])) + (" …" if len(failed) > 10 else "")
            out.append(
                f"{who}{len(failed)} checkpoint(s) failed (steps {listed}); the curves have gaps "
                "there. trajectory.failures says why."
            )
        same = ", ".join(f"{step} = {first}" for step, first in run.duplicates.items())
        if same:
            out.append(
                f"{who}identical weights at steps {same} (the same checkpoint under two step "
                "names): their points coincide."
            )
        return out

    def empty_text(self) -> str:
        names = ", ".join(r.name for r in self.runs)
        if self.live:
            return f"Waiting for the first checkpoint of {names}: the view fills in as they arrive."
        if any(r.failed for r in self.runs):
            errors = sorted({e for r in self.runs for e in r.failed.values()})[:3]
            return f"Every checkpoint of {names} failed. First errors: " + "; ".join(errors)
        return (
            f"No results stored yet for {names}. Compute them with trajectory.compute() (or "
            "compute_in_background(): this view then fills in as they arrive)."
        )

    # -- messages -----------------------------------------------------------------------------
    def runs_message(self) -> Message:
        runs = []
        for run in self.runs:
            names = list(run.measures)
            shape = (len(names), len(run.layers), len(run.steps))
            values = np.full(shape, np.nan, np.float32)
            lower, upper = np.full(shape, np.nan, np.float32), np.full(shape, np.nan, np.float32)
            for m, name in enumerate(names):
                for row, layer in enumerate(run.layers):
                    values[m, row] = run.curve(layer, name)
                    lower[m, row] = run.curve(layer, f"{name}_lo")
                    upper[m, row] = run.curve(layer, f"{name}_hi")
            table: dict[str, Any] = {"names": names, "values": values}
            if np.isfinite(lower).any():  # error bars: a band around each curve
                table.update(lower=lower, upper=upper)
            panels = {}
            for p in self.panels:
                data = p.run_data(run, self)
                if data is not None:
                    panels[p.name] = data
            runs.append(
                {
                    "name": run.name,
                    "version": repr(run.version),
                    "steps": run.steps.astype(np.float64),
                    "layers": list(run.layers),
                    "expected": run.expected,
                    "live": run.live,
                    "curves": self.curves(run),
                    "measures": table,
                    "failed": {str(k): v for k, v in run.failed.items()},
                    "notes": self.notes(run),
                    "panels": panels,
                }
            )
        return pack(
            {
                "type": "runs",
                "live": self.live,
                "empty": self.empty_text(),
                "panels": [p.spec() for p in self.panels],
                "runs": runs,
            }
        )

    def layer_message(self, r: int, layer: str) -> Message:
        run = self.runs[r]
        size, count = self.blocks(r, layer)
        panels, notes = {}, []
        for p in self.panels:
            data = p.layer_data(run, layer, self)
            if data is not None:
                panels[p.name] = data
            notes += p.notes(run, layer, self)
        return pack(
            {
                "type": "layer",
                "run": r,
                "layer": layer,
                "version": repr(run.version),
                "blocks": {"size": size, "count": count},
                "panels": panels,
                "notes": notes,
            }
        )

    def block_message(self, r: int, layer: str, b: int) -> Message:
        run = self.runs[r]
        size, _ = self.blocks(r, layer)
        positions = np.arange(b * size, min((b + 1) * size, len(run.steps)))
        panels = {}
        for p in self.panels:
            data = p.step_data(run, layer, positions, self)
            if data is not None:
                panels[p.name] = data
        return pack(
            {
                "type": "block",
                "run": r,
                "layer": layer,
                "block": b,
                "start": int(b * size),
                "count": len(positions),
                "panels": panels,
            }
        )

    def answer(self, request: Any) -> list[Message]:
        """The messages answering a front-end request (an ``error`` message for a bad one)."""
        if not isinstance(request, dict):
            return [_error(f"a request is a JSON object; got {type(request).__name__}")]
        kind = request.get("type")
        if kind == "hello":
            return [self.runs_message()]
        if kind not in ("layer", "block"):
            return [_error(f"unknown request type {kind!r}")]
        r, layer = request.get("run"), request.get("layer")
        if not isinstance(r, int) or not 0 <= r < len(self.runs):
            return [_error(f"no run number {r!r}")]
        if layer not in self.runs[r].layers:
            return [_error(f"run {self.runs[r].name} has no layer {layer!r}")]
        if kind == "layer":
            return [self.layer_message(r, layer)]
        b = request.get("block")
        _, count = self.blocks(r, layer)
        if not isinstance(b, int) or not 0 <= b < count:
            return [_error(f"no block {b!r} of layer {layer!r} (it has {count})")]
        return [self.block_message(r, layer, b)]

    def around(self, layer: str, step: int) -> Iterator[Message]:
        """For every run with ``layer``: its layer message and the block holding ``step`` (what
        a first display needs; sent with the runs so that it draws without asking again).

        A layer whose phases are not detected yet is sent first without them, then again with
        them once they are: the view draws before the detection has run.
        """
        later = []
        for r, run in enumerate(self.runs):
            if layer not in run.layers or not len(run.steps):
                continue
            if not run.has_phases(layer):
                later.append(r)
            self.quick = True
            try:
                yield self.layer_message(r, layer)
            finally:
                self.quick = False
            i = max(int(np.searchsorted(run.steps, step, side="right")) - 1, 0)
            size, _ = self.blocks(r, layer)
            yield self.block_message(r, layer, i // size)
        for r in later:
            yield self.layer_message(r, layer)


def _error(text: str) -> Message:
    return pack({"type": "error", "text": f"repscope: {text}"})


__all__ = ["BLOCK_BYTES", "MAX_POINTS", "SCALAR_NAMES", "Feed", "shown"]
