"""The scrubber: a step slider with play/pause, a layer and a measure picker, and four figures
(an overview of every layer, the measure curves, the eigenspectrum and the probe points).

Everything a step needs is read from the store once (:class:`~repscope.widgets.data.RunData`),
so moving the slider only sends new ``x``/``y`` arrays for a few traces and a few layout
properties, in one ``Plotly.update`` message. Slider events are coalesced
(:class:`~repscope.widgets.coalesce.Coalescer`): a fast drag never queues a backlog.

The widget state a notebook saves holds the figures of *one* step (the one shown), never the
whole series, so a saved notebook does not grow with the number of checkpoints.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Sequence
from typing import Any

import ipywidgets as W
import numpy as np
import traitlets

from .._validation import fail
from .coalesce import Coalescer
from .data import RunData, as_runs, curve_names, default_curves, display_name, escape
from .keys import ShortcutGuard
from .overview import click_point
from .panels import MAX_POINTS, Panels


class Scrubber(W.VBox):
    """Scrub through checkpoints and see the geometry move.

    Parameters
    ----------
    trajectory : Trajectory, LiveRun, a store's path, or a list / dict of them
        One run, or several to compare on the same axes (one colour each, one shared slider;
        a run with no checkpoint at the slider's step shows its latest one before it). A path
        (``"run.sqlite"``) opens the store with :func:`repscope.open` and shows every run in
        it: nothing else is needed.
    layer : str, optional
        The layer shown first (default: the last one).
    measures : sequence of str, optional
        The measure curves shown (default: RankMe, α-ReQ and DSE, those that are stored).
    watch : bool, optional
        Keep reading the store for new results (a trajectory being filled in the background, or a
        live run) and add them as they arrive. Default: on when the trajectory is being filled by
        :meth:`~repscope.trajectory.Trajectory.compute_in_background` or by a
        :class:`~repscope.live.LiveRun`.
    poll : float, default 1.0
        Seconds between looks at the store while watching.
    interval : float, default 0.15
        While the slider moves, the figure is redrawn at most once per ``interval`` seconds
        (always the newest step; a lone step is drawn at once). plotly.js takes 0.1–0.25 s to
        redraw a figure with 2000 points on a laptop, so sending more often would only queue
        redraws in the browser.
    max_points : int or None, default 20000
        Draw at most this many probe points in the 2-D panel (a fixed random subset, the same at
        every step, stated on the plot); ``None`` draws all of them. Points are drawn in WebGL.

    Attributes
    ----------
    figures : dict of str to plotly.graph_objects.FigureWidget
        ``"overview"`` (layers × log-step heatmap; a click on a cell goes there), ``"curves"``,
        ``"spectrum"`` and ``"points"`` (lasso or box select there).
    selected : list of int
        The probe indices selected in the points panel (a lasso or a box; empty: none). An
        observable trait (``scrubber.observe(callback, "selected")``); setting it highlights
        those inputs. The selection stays highlighted at every step.

    Examples
    --------
    >>> from repscope.synthetic import synthetic_trajectory
    >>> from repscope.widgets import Scrubber
    >>> traj = synthetic_trajectory(n_steps=6, layers=("h.0", "h.1"), n_points=50)
    >>> s = Scrubber(traj, interval=0)
    >>> s.figure.layout.title.text
    'step 0 · layer h.1'
    >>> s.slider.value = 13
    >>> s.figure.layout.title.text
    'step 13 · layer h.1'
    >>> s.selected = [3, 7]  # or a lasso in the points panel
    >>> s.selection_label.value
    '2 probe input(s) selected'
    """

    selected = traitlets.List(traitlets.Int(), help="probe indices selected in the points panel")

    def __init__(
        self,
        trajectory: Any,
        *,
        layer: str | None = None,
        measures: Sequence[str] | None = None,
        watch: bool | None = None,
        poll: float = 1.0,
        interval: float = 0.15,
        max_points: int | None = MAX_POINTS,
    ):
        self._pairs = as_runs(trajectory)
        self._live = any(getattr(t, "live", False) for t, _ in self._pairs)
        self._wanted_layer, self._wanted_measures = layer, measures
        self.runs = [RunData(t, n) for t, n in self._pairs]
        self._check_wanted(layer, measures)
        self.poll = float(poll)
        self.max_points = max_points
        self._following = self._being_filled()  # live: start at, and follow, the newest step
        self.panels: Panels | None = None
        self.figures: dict[str, Any] = {}
        self._selection_parts: dict[int, np.ndarray] = {}
        self._coalescer = Coalescer(self._render_step, interval=interval)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._building = False  # controls being set by code: ignore their events

        self.message = W.HTML()
        self.progress = W.IntProgress(min=0, max=1, value=0, layout=W.Layout(width="220px"))
        self.progress_label = W.HTML()
        self.selection_label = W.HTML()
        self.selection_label.add_class("repscope-selection")
        self.slider = W.SelectionSlider(
            options=[0], description="step", continuous_update=True, layout=W.Layout(width="55%")
        )
        self.play = W.Play(min=0, max=0, step=1, interval=250, description="play")
        self._link = W.jslink((self.play, "value"), (self.slider, "index"))
        self.layer = W.Dropdown(options=[], description="layer", layout=W.Layout(width="240px"))
        self.measure = W.SelectMultiple(
            options=[], rows=3, description="measures", layout=W.Layout(width="300px")
        )
        controls = W.HBox([self.play, self.slider, self.layer])
        status = W.HBox([self.progress, self.progress_label, self.selection_label])
        self._plot = W.VBox(layout=W.Layout(width="100%"))
        super().__init__(
            [
                W.HBox([controls]),
                W.HBox([self.measure, status]),
                self.message,
                self._plot,
                ShortcutGuard(),
            ],
            layout=W.Layout(width="100%"),
        )
        self._build()
        self.slider.observe(self._on_step, "value")
        self.layer.observe(self._on_layer, "value")
        self.measure.observe(self._on_measures, "value")
        self.observe(self._on_selected, "selected")
        if watch if watch is not None else self._being_filled():
            self.start_watching()

    def _check_wanted(self, layer: str | None, measures: Sequence[str] | None) -> None:
        """A layer or measure that the stored results do not have is an error (unless nothing is
        stored yet: a live run's first results may bring it)."""
        layers = sorted({name for r in self.runs for name in r.layers})
        stored = curve_names(self.runs)
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
            unknown = [m for m in measures if m not in stored]
            if stored and unknown:
                fail(
                    "measures",
                    "Scrubber",
                    f"stored measures or training scalars, from {stored}",
                    repr(unknown),
                )

    def __repr__(self) -> str:  # the default repr lists every child widget's state
        return f"<Scrubber of {', '.join(r.name for r in self.runs)}: {len(self.steps)} steps>"

    # -- building -------------------------------------------------------------------------------
    @property
    def steps(self) -> list[int]:
        """Every step of every run, in order (the slider's options)."""
        return sorted({int(s) for run in self.runs for s in run.steps})

    @property
    def layers(self) -> list[str]:
        out: list[str] = []
        for run in self.runs:
            out += [name for name in run.layers if name not in out]
        return out

    def _build(self) -> None:
        """(Re)build controls and figure from ``self.runs`` (on creation, and when a live run
        gains its first layers or measures)."""
        steps, layers = self.steps, self.layers
        available = curve_names(self.runs)
        self._update_progress()
        if not steps or not layers:
            self._show_empty(steps)
            return
        self._building = True
        try:
            self._set_controls(steps, layers, available)
        finally:
            self._building = False
        self._new_figure()

    def _set_controls(self, steps: list[int], layers: list[str], available: list[str]) -> None:
        self._set_options(steps)
        layer = (
            self.layer.value
            if self.layer.value in layers
            else (self._wanted_layer if self._wanted_layer in layers else layers[-1])
        )
        self.layer.options, self.layer.value = layers, layer
        self.layer.disabled = len(layers) == 1
        chosen = [
            m
            for m in (self.measure.value or self._wanted_measures or default_curves(available))
            if m in available
        ] or available[:2]
        self.measure.options = [(display_name(m), m) for m in available]
        self.measure.value = tuple(chosen)

    def _set_options(self, steps: list[int]) -> None:
        current = self.slider.value if self.slider.options != (0,) or steps == [0] else None
        self.slider.options = steps
        if self._following:
            self.slider.value = steps[-1]
        elif current in steps:
            self.slider.value = current
        else:
            self.slider.value = steps[0]
        self.play.max = len(steps) - 1
        self.slider.disabled = len(steps) == 1

    @property
    def figure(self) -> Any:
        """The points figure, whose title names the step and the layer shown (``None`` when
        nothing is drawn)."""
        return self.figures.get("points")

    def _new_figure(self) -> None:
        self.panels = Panels(self.runs, list(self.measure.value), max_points=self.max_points)
        old = self.figures
        self.figures = self.panels.figures(
            self.layer.value, self.slider.value, widget=True, selected=self._selected_array()
        )
        for fig in self.figures.values():
            fig._config = {**(fig._config or {}), "responsive": True, "displaylogo": False}
        for i, _ in (g for groups in self.panels.points.traces.values() for g in groups):
            trace = self.figures["points"].data[i]
            trace.on_selection(self._on_selection)
            trace.on_deselect(self._on_deselect)
        if "overview" in self.figures:
            self.figures["overview"].data[0].on_click(self._on_overview_click)
        boxes = {
            name: W.VBox([fig], layout=W.Layout(width="100%")) for name, fig in self.figures.items()
        }
        for name, box in boxes.items():
            box.add_class(f"repscope-{name}")
        boxes["spectrum"].layout.width, boxes["points"].layout.width = "40%", "60%"
        rows = [boxes[n] for n in ("overview", "curves") if n in boxes]
        self._plot.children = (
            *rows,
            W.HBox([boxes["spectrum"], boxes["points"]], layout=W.Layout(width="100%")),
        )
        for fig in old.values():
            fig.close()  # else the kernel (and a saved notebook's widget state) keeps it
        self._show_notes()

    # -- selection and overview clicks -------------------------------------------------------
    def _selected_array(self) -> np.ndarray | None:
        return np.asarray(self.selected, dtype=np.int64) if self.selected else None

    def _on_selection(self, trace: Any, points: Any, selector: Any) -> None:
        """A lasso or box selection: called once per points trace, in trace order."""
        if self.panels is None:
            return
        index = points.trace_index
        self._selection_parts[index] = self.panels.points.probe_indices(index, points.point_inds)
        last = max(i for groups in self.panels.points.traces.values() for i, _ in groups)
        if index == last:
            parts = [p for p in self._selection_parts.values() if len(p)]
            self._selection_parts = {}
            self.selected = sorted({int(i) for i in np.concatenate(parts)}) if parts else []

    def _on_deselect(self, trace: Any, points: Any) -> None:
        self._selection_parts = {}
        self.selected = []

    def _on_selected(self, change: dict) -> None:
        n = len(change["new"])
        self.selection_label.value = f"{n} probe input(s) selected" if n else ""
        self._render_step(self.slider.value)

    def _on_overview_click(self, trace: Any, points: Any, state: Any) -> None:
        where = click_point(points)
        if where is None or self.panels is None or self.panels.overview is None:
            return
        layer, step = self.panels.overview.cell(*where)
        if layer != self.layer.value:
            self.layer.value = layer
        if step != self.slider.value:
            self.slider.value = step
            self.flush()

    def _show_notes(self) -> None:
        """Failed checkpoints, and why no phases are shaded on this layer (if so)."""
        failed = sorted({s for r in self.runs for s in r.failed})
        notes = []
        if failed:
            shown = ", ".join(map(str, failed[:10])) + (" …" if len(failed) > 10 else "")
            notes.append(
                f"{len(failed)} checkpoint(s) failed (steps {shown}); gaps are left "
                "in the curves. <code>trajectory.failures</code> says why."
            )
        for r in self.runs:
            same = ", ".join(f"{step} = {first}" for step, first in r.duplicates.items())
            if same:
                prefix = f"{escape(r.name)}: " if len(self.runs) > 1 else ""
                notes.append(
                    f"{prefix}identical weights at steps {same} (the same checkpoint "
                    "under two step names): their points coincide."
                )
        layer = self.layer.value
        notes += [
            f"no phases shaded for {escape(r.name)}: {escape(r.phase_errors[layer])}"
            for r in self.runs
            if layer in r.phase_errors
        ]
        self.message.value = "<br>".join(notes)

    def _show_empty(self, steps: list[int]) -> None:
        names = ", ".join(escape(r.name) for r in self.runs)
        if steps:
            errors = sorted({e for r in self.runs for e in r.failed.values()})[:3]
            text = (
                f"Every checkpoint of {names} failed, so there is nothing to draw. "
                "First errors: " + "; ".join(escape(e) for e in errors)
            )
        else:
            text = (
                f"No results stored yet for {names}. Compute them with "
                "<code>trajectory.compute()</code> (or <code>compute_in_background()</code>, "
                "and this view fills in as they arrive)."
            )
        self.message.value = text
        self.slider.disabled = self.layer.disabled = True
        self._plot.children = ()
        for fig in self.figures.values():
            fig.close()
        self.figures = {}

    # -- events ---------------------------------------------------------------------------------
    def _on_step(self, change: dict) -> None:
        if self._building:
            return
        steps = self.steps
        self._following = bool(steps) and change["new"] == steps[-1]
        self._coalescer.request(change["new"])

    def _on_layer(self, change: dict) -> None:
        if self.panels is None or change["new"] is None or self._building:
            return
        self._safely(
            lambda: (
                self.panels.layer_patch(change["new"])
                .update_with(
                    self.panels.step_patch(change["new"], self.slider.value, self._selected_array())
                )
                .apply(self.figures)
            )
        )
        self._show_notes()

    def _on_measures(self, change: dict) -> None:
        if self.panels is not None and change["new"] and not self._building:
            self._safely(self._new_figure)

    def _render_step(self, step: int) -> None:
        if self.panels is None or not self.figures:
            return
        self._safely(
            lambda: self.panels.step_patch(self.layer.value, step, self._selected_array()).apply(
                self.figures
            )
        )

    def _safely(self, draw) -> None:
        """Draw, or say what went wrong in the widget (never a traceback in the notebook)."""
        try:
            draw()
        except Exception as err:  # shown to the user in the widget
            self.message.value = (
                f"<b>repscope could not draw this view</b>: "
                f"{escape(type(err).__name__)}: {escape(err)}<!-- "
                f"{escape(traceback.format_exc()[-2000:])} -->"
            )

    def flush(self) -> None:
        """Draw a step still waiting in the coalescer now (for scripts and tests)."""
        self._coalescer.flush()

    # -- live -----------------------------------------------------------------------------------
    def _being_filled(self) -> bool:
        for traj, _ in self._pairs:
            if getattr(traj, "live", False):
                return True
            future = getattr(traj, "filling", None)
            if future is not None and not future.done():
                return True
        return False

    @property
    def _watching(self) -> bool:
        return self._watcher is not None and self._watcher.is_alive()

    def start_watching(self) -> None:
        """Look at the store every ``poll`` seconds and draw new results (a background thread;
        it stops by itself once a background fill has finished, or with :meth:`stop`)."""
        if self._watching:
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
            if not self._being_filled():
                self.refresh()  # the last results, written just before the fill ended
                break

    def refresh(self) -> bool:
        """Read results stored since the last look and redraw. Returns whether any arrived."""
        if not any(run.stale() for run in self.runs):
            return False
        old_layers, old_curves = self.layers, curve_names(self.runs)
        self.runs = [RunData(t, n) for t, n in self._pairs]
        if self.panels is None or self.layers != old_layers or curve_names(self.runs) != old_curves:
            self._safely(self._build)
            return True
        self._safely(self._extend)
        return True

    def _extend(self) -> None:
        """New steps of the same layers and measures: patch the curves and move the slider."""
        assert self.panels is not None  # the caller builds the panels first
        self.panels.use_runs(self.runs)
        self._building = True
        try:
            self._set_options(self.steps)
        finally:
            self._building = False
        self._update_progress()
        self.panels.refresh_patch(
            self.layer.value, self.slider.value, self._selected_array()
        ).apply(self.figures)

    def _update_progress(self) -> None:
        done = len(self.steps)
        totals = [
            t.expected or len(t.source)
            for t, _ in self._pairs
            if t.expected or (t.source is not None and hasattr(t.source, "__len__"))
        ]
        if totals and len(totals) == len(self._pairs):
            total = sum(totals)
            self.progress.max, self.progress.value = max(total, 1), min(done, total)
            self.progress_label.value = f"{done} of {total} checkpoints"
            self.progress.layout.visibility = "visible"
        else:
            self.progress.layout.visibility = "hidden"
            self.progress_label.value = f"{done} checkpoints" + (" (live)" if self._live else "")

    # -- export ---------------------------------------------------------------------------------
    def export_html(self, path: Any, **options: Any) -> Any:
        """:func:`repscope.widgets.export_html` of what is shown (runs, layer, measures)."""
        from .export import export_html

        options.setdefault("max_points", self.max_points)
        return export_html(
            {r.name: r.trajectory for r in self.runs},
            path,
            layer=self.layer.value,
            measures=list(self.measure.value),
            **options,
        )
