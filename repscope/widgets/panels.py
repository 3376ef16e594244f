"""The scrubber's four figures and what each step, layer or refresh changes in them.

- ``curves`` (:mod:`.curves`): measure curves over log-step, the step cursor, shaded phases;
- ``overview`` (:mod:`.overview`): layers × log-step heatmap of one measure;
- ``spectrum`` (:mod:`.spectrum_panel`): eigenspectrum and power-law fit at the step;
- ``points`` (:mod:`.points`): the probe inputs in 2-D, in WebGL, titled with step and layer.

Each figure is its own plotly figure, so that a step redraws only what it changes: the spectrum
and the points get new data; the curves and the overview get a relayout of their cursor. Every
user string (run, layer, label, text, error) is escaped before it reaches a figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from .curves import CurvesPanel
from .data import RunData
from .overview import OverviewPanel, overview_measure
from .patch import Patches
from .points import MAX_POINTS, PointsPanel
from .spectrum_panel import SpectrumPanel

__all__ = ["FIGURES", "MAX_POINTS", "Panels"]

#: The figures' names, in the order the scrubber stacks them.
FIGURES = ("overview", "curves", "spectrum", "points")


class Panels:
    """Layout and patches of the scrubber's figures.

    Parameters
    ----------
    runs : list of RunData
        One colour each; the first run's phases are shaded and its overview drawn.
    measures : list of str
        Stored measure names or training scalars, one row of curves each.
    max_points : int or None, default 20000
        Draw at most this many probe points (a fixed random subset); ``None``: all.

    Examples
    --------
    >>> from repscope.synthetic import synthetic_trajectory
    >>> from repscope.widgets.data import RunData
    >>> run = RunData(synthetic_trajectory(n_steps=6, layers=("a",), n_points=40))
    >>> panels = Panels([run], ["effective_rank", "alpha"])
    >>> figures = panels.figures(layer="a", step=3)
    >>> sorted(figures)
    ['curves', 'overview', 'points', 'spectrum']
    >>> figures["points"].layout.title.text
    'step 3 · layer a'
    """

    def __init__(
        self, runs: list[RunData], measures: list[str], *, max_points: int | None = MAX_POINTS
    ):
        self.runs, self.measures, self.max_points = runs, list(measures), max_points
        self.curves = CurvesPanel(runs, self.measures)
        self.spectrum = SpectrumPanel(runs)
        self.points = PointsPanel(runs, max_points)
        measure = overview_measure(self.measures, runs[0]) if runs else None
        self.overview = None if measure is None else OverviewPanel(runs[0], measure)

    def use_runs(self, runs: list[RunData]) -> None:
        """Newer snapshots of the same runs (more steps; same layers, measures and labels)."""
        self.runs = self.curves.runs = self.spectrum.runs = self.points.runs = runs
        if self.overview is not None:
            self.overview.run = runs[0]

    def figures(
        self, layer: str, step: int, *, widget: bool = False, selected: np.ndarray | None = None
    ) -> dict[str, Any]:
        """Every figure at ``layer`` and ``step`` (``FigureWidget`` s if ``widget``)."""
        figures: dict[str, go.Figure] = {
            "curves": self.curves.figure(layer),
            "spectrum": self.spectrum.figure(),
            "points": self.points.figure(),
        }
        if self.overview is not None:
            figures["overview"] = self.overview.figure()
        self.layer_patch(layer).update_with(self.step_patch(layer, step, selected)).apply(figures)
        if widget:
            figures = {name: go.FigureWidget(fig) for name, fig in figures.items()}
        return {name: figures[name] for name in FIGURES if name in figures}

    def layer_patch(self, layer: str) -> Patches:
        """Curves and phases of ``layer``, fixed axis ranges, and the overview's layer box."""
        out = Patches(
            points=self.points.layer_patch(layer),
            spectrum=self.spectrum.layer_patch(layer),
            curves=self.curves.layer_patch(layer),
        )
        if self.overview is not None:
            out["overview"] = self.overview.layer_patch(layer)
        return out

    def step_patch(self, layer: str, step: int, selected: np.ndarray | None = None) -> Patches:
        """What a step changes: spectrum and points data; the cursors by relayout only.

        The figures are patched in this order (points, spectrum, curves, overview): each is one
        message to the front end, handled in turn, so the points come first.
        """
        out = Patches(
            points=self.points.step_patch(layer, step, selected),
            spectrum=self.spectrum.step_patch(layer, step),
            curves=self.curves.step_patch(step),
        )
        if self.overview is not None:
            out["overview"] = self.overview.step_patch(step)
        return out

    def refresh_patch(self, layer: str, step: int, selected: np.ndarray | None = None) -> Patches:
        """After new steps arrived (same layers and measures): everything that depends on them."""
        out = self.layer_patch(layer).update_with(self.step_patch(layer, step, selected))
        if self.overview is not None:
            out["overview"].update(self.overview.data_patch())
        return out
