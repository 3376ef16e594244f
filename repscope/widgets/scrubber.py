"""The scrubber: a Jupyter widget to scrub through checkpoints and watch the geometry move.

A thin `anywidget <https://anywidget.dev>`_: the widget holds the synchronised *state* (``step``,
``layer``, ``measures``, ``selected``, ``playing``) and answers the front end's requests for data
from a :class:`~repscope.widgets.feed.Feed` (binary float32 buffers, never JSON lists). The front
end (``static/scrubber.js``, built from ``js/src``) holds what it was sent and draws a step
without asking the kernel again, so the slider, the arrow keys and play stay smooth however busy
the kernel is. :func:`~repscope.widgets.export_html` runs the same module on the same data
in a page.

The widget state a notebook saves holds only the state and the front-end module (about 80 KB),
never the data: a saved notebook does not grow with the run.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .._validation import describe, fail
from .data import (
    PHASE_MEASURES,
    RunData,
    as_runs,
    being_filled,
    check_phase_measures,
    curve_names,
    default_curves,
)
from .feed import MAX_POINTS, Feed
from .panels import Panel, panels_for
from .protocol import ESM, Message


class Scrubber(anywidget.AnyWidget):
    """Scrub through checkpoints and see the geometry move.

    Parameters
    ----------
    trajectory : Trajectory, LiveRun, a store's path, or a list / dict of them
        One run, or several to compare (one colour each, one shared slider; a run with no
        checkpoint at the slider's step shows its latest one before it; their points side by
        side). A path (``"run.sqlite"``) opens the store with :func:`repscope.open` and shows
        every run in it.
    layer : str, optional
        The layer shown first (default: the last one).
    measures : sequence of str, optional
        The curves shown (measures and training scalars; default: RankMe, α-ReQ, DSE and the
        loss, those that are stored). Every stored one can be picked in the widget.
    watch : bool, optional
        Keep reading the store for new results (a trajectory filled in the background, or a
        live run) and send them as they arrive. Default: on while the trajectory is being filled.
    poll : float, default 1.0
        Seconds between looks at the store while watching.
    max_points : int or None, default 20000
        Draw at most this many probe points per run (a fixed random subset, the same at every
        step, stated on the plot); ``None`` draws all of them.
    panels : sequence of Panel, optional
        The panels shown, in order (default: every registered panel that applies;
        :mod:`repscope.widgets.panels`).
    phase_measures : (str, str), default ("effective_rank", "alpha")
        The two stored measures the shaded phases are read from: the turning points of the
        first make the phases, the second is read over each (``("llc", "effective_rank")``,
        ``("intrinsic_dimension", "alpha")``; :meth:`RunReader.phases
        <repscope.reading.RunReader.phases>`). The paper's names go to the default pair only;
        other phases are named by what the two curves did.

    Attributes
    ----------
    step, layer, measures, selected, playing
        The synchronised state: set them from Python (``s.step = 100``) or observe them
        (``s.observe(callback, "selected")``). ``selected`` holds the probe indices picked with
        the lasso in the points panel; they stay highlighted at every step.

    Examples
    --------
    >>> from repscope.synthetic import synthetic_trajectory
    >>> from repscope.widgets import Scrubber
    >>> traj = synthetic_trajectory(n_steps=6, layers=("h.0", "h.1"), n_points=50)
    >>> s = Scrubber(traj)
    >>> s.steps, s.step, s.layer
    ([0, 1, 2, 6, 13, 32], 0, 'h.1')
    >>> s.step = 13
    >>> s.selected = [3, 7]  # or a lasso in the points panel
    """

    _esm = ESM
    step = traitlets.Int(0, help="the step shown").tag(sync=True)
    layer = traitlets.Unicode("", help="the layer shown").tag(sync=True)
    measures = traitlets.List(traitlets.Unicode(), help="the curves shown").tag(sync=True)
    selected = traitlets.List(traitlets.Int(), help="probe indices selected").tag(sync=True)
    playing = traitlets.Bool(False, help="playing through the steps").tag(sync=True)

    def __init__(
        self,
        trajectory: Any,
        *,
        layer: str | None = None,
        measures: Sequence[str] | None = None,
        watch: bool | None = None,
        poll: float = 1.0,
        max_points: int | None = MAX_POINTS,
        panels: Sequence[Panel] | None = None,
        phase_measures: Sequence[str] = PHASE_MEASURES,
    ):
        self._lock = threading.RLock()
        self._pairs = as_runs(trajectory)
        self._panels = panels
        self.max_points = max_points
        self.poll = float(poll)
        self.runs = [RunData(t, n) for t, n in self._pairs]
        self.phase_measures = check_phase_measures(phase_measures, self.runs)
        if self.phase_measures != PHASE_MEASURES:
            self.runs = self._snapshot()
        self.feed = self._feed()
        self._check_wanted(layer, measures)
        layers, steps = self.layers, self.steps
        available = curve_names(self.runs)
        chosen = list(measures) if measures is not None else default_curves(available)
        first = (steps[-1] if self.feed.live else steps[0]) if steps else 0
        super().__init__(
            step=first,
            layer=layer if layer is not None else (layers[-1] if layers else ""),
            measures=chosen,
        )
        self.on_msg(self._on_msg)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        if watch if watch is not None else self.feed.live:
            self.start_watching()

    def _snapshot(self) -> list[RunData]:
        return [RunData(t, n, phase_measures=self.phase_measures) for t, n in self._pairs]

    def _feed(self) -> Feed:
        live = any(being_filled(t) for t, _ in self._pairs)
        panels = panels_for(self.runs) if self._panels is None else list(self._panels)
        return Feed(self.runs, panels, max_points=self.max_points, live=live)

    def _check_wanted(self, layer: str | None, measures: Sequence[str] | None) -> None:
        """A layer or measure the stored results do not have is an error (unless nothing is
        stored yet: a live run's first results may bring it)."""
        layers, stored = self.layers, curve_names(self.runs)
        if layer is not None and layers and layer not in layers:
            fail("layer", "Scrubber", f"one of the measured layers {layers}", repr(layer))
        if measures is not None:
            if isinstance(measures, str):
                fail(
                    "measures",
                    "Scrubber",
                    "a list of measure names",
                    repr(measures),
                    error=TypeError,
                )
            self._check_measures(measures, stored, ValueError)

    @staticmethod
    def _check_measures(measures: Sequence[str], stored: list[str], error: type) -> None:
        unknown = [m for m in measures if m not in stored]
        if stored and unknown:
            fail(
                "measures",
                "Scrubber",
                f"stored measures or training scalars, from {stored}",
                repr(unknown),
                error=error,
            )

    # -- state -----------------------------------------------------------------------------------
    @traitlets.validate("step")
    def _valid_step(self, proposal: Any) -> int:
        step, steps = proposal["value"], self.steps
        if steps and step not in steps:
            shown = steps if len(steps) <= 12 else [*steps[:6], "…", *steps[-3:]]
            fail(
                "step",
                "Scrubber",
                f"one of the run's steps {shown}",
                repr(step),
                error=traitlets.TraitError,
            )
        return int(step)

    @traitlets.validate("layer")
    def _valid_layer(self, proposal: Any) -> str:
        layer, layers = proposal["value"], self.layers
        if layers and layer not in layers:
            fail(
                "layer",
                "Scrubber",
                f"one of the measured layers {layers}",
                repr(layer),
                error=traitlets.TraitError,
            )
        return layer

    @traitlets.validate("measures")
    def _valid_measures(self, proposal: Any) -> list[str]:
        self._check_measures(proposal["value"], curve_names(self.runs), traitlets.TraitError)
        return list(proposal["value"])

    @traitlets.validate("selected")
    def _valid_selected(self, proposal: Any) -> list[int]:
        n = max((r.n_points for r in self.runs), default=0)
        bad = [i for i in proposal["value"] if not 0 <= i < n]
        if bad:
            fail(
                "selected",
                "Scrubber",
                f"probe indices in [0, {n})",
                describe(bad[:5]),
                error=traitlets.TraitError,
            )
        return sorted(set(proposal["value"]))

    @property
    def steps(self) -> list[int]:
        """Every step of every run, in order (what the slider runs over)."""
        return sorted({int(s) for run in self.runs for s in run.steps})

    @property
    def layers(self) -> list[str]:
        """Every measured layer of every run, in the probe's order."""
        out: list[str] = []
        for run in self.runs:
            out += [name for name in run.layers if name not in out]
        return out

    @property
    def notes(self) -> list[str]:
        """What the view says above its panels: failed checkpoints, duplicated weights, and
        why a panel has nothing to show at the current layer."""
        out = [n for run in self.runs for n in self.feed.notes(run)]
        for run in self.runs:
            if self.layer in run.layers:
                out += [n for p in self.feed.panels for n in p.notes(run, self.layer, self.feed)]
        return out

    def __repr__(self) -> str:
        names = ", ".join(r.name for r in self.runs)
        return f"<Scrubber of {names}: {len(self.steps)} steps, layer {self.layer!r}>"

    # -- the front end's requests ------------------------------------------------------------
    def _on_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        with self._lock:
            messages: Iterable[Message] = self.feed.answer(content)
            if isinstance(content, dict) and content.get("type") == "hello":
                messages = itertools.chain(messages, self.feed.around(self.layer, self.step))
            for message, data in messages:  # each sent as soon as it is made
                self.send(message, data)

    # -- live --------------------------------------------------------------------------------------
    @property
    def watching(self) -> bool:
        """Whether a thread is reading the store for new results."""
        return self._watcher is not None and self._watcher.is_alive()

    def start_watching(self) -> None:
        """Look at the store every ``poll`` seconds and send new results (a background thread;
        it stops by itself once the run is no longer being filled, or with :meth:`stop`)."""
        if self.watching:
            return
        self._stop.clear()
        self._watcher = threading.Thread(target=self._watch, name="repscope-scrubber", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """Stop watching the store."""
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            self.refresh()
            if not any(being_filled(t) for t, _ in self._pairs):
                self.refresh()  # the last results, written just before the fill ended
                break

    def refresh(self) -> bool:
        """Read what was stored since the last look and send it. Returns whether anything came.

        The front end keeps its layout and draws the new steps; a layer's phases are replaced.
        """
        with self._lock:
            if not any(run.stale() for run in self.runs) and self.feed.live == any(
                being_filled(t) for t, _ in self._pairs
            ):
                return False
            self.runs = self._snapshot()
            self.feed = self._feed()
            layers = self.layers
            if layers and self.layer not in layers:
                self.layer = layers[-1]
            if not self.measures:
                self.measures = default_curves(curve_names(self.runs))
            steps = self.steps
            messages: Iterable[Message] = [self.feed.runs_message()]
            if steps:
                messages = itertools.chain(messages, self.feed.around(self.layer, steps[-1]))
            for message, data in messages:
                self.send(message, data)
            return True

    # -- export ----------------------------------------------------------------------------------
    def export_html(self, path: Any, **options: Any) -> Path:
        """:func:`repscope.widgets.export_html` of what is shown (runs, layer, measures, the
        phases' pair of measures)."""
        from .export import export_html

        options.setdefault("max_points", self.max_points)
        options.setdefault("panels", self._panels)
        options.setdefault("phase_measures", self.phase_measures)
        return export_html(
            {r.name: r.trajectory for r in self.runs},
            path,
            layer=self.layer or None,
            measures=list(self.measures),
            **options,
        )
