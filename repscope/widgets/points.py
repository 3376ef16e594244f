"""The points figure: the probe inputs in 2-D (PCA, aligned step to step), drawn in WebGL.

plotly's ``scattergl`` draws every point up to :data:`MAX_POINTS` (20,000) by default; above that
a fixed random subset is drawn, the same at every step, and the plot says so. A step sends the
new coordinates as binary arrays and the points of the current selection (``selectedpoints``), so
a lasso or box selection stays highlighted through training. ``layout.title`` reads
``"step N · layer L"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from .curves import RUN_COLOURS
from .data import RunData, escape
from .patch import Patch
from .spectrum_panel import BOTTOM_ROW, at_or_before

LABEL_COLOURS = qualitative.T10 + qualitative.Pastel
MAX_LABEL_TRACES = 12  # more distinct labels than this are drawn as one colour-scaled trace
#: Probe points drawn by default; above that, a stated subset. In headless Chromium with software
#: WebGL a step with 20,000 points is painted about 45 ms later than one with 2,000, and one with
#: 100,000 about 340 ms later (``benchmarks/widgets_browser.py``).
MAX_POINTS = 20_000
#: Annotation slots of the points figure.
NOTES, CAP_NOTE = 0, 1


class PointsPanel:
    """The probe points of every run at one step and layer, one WebGL trace per label group.

    Parameters
    ----------
    runs : list of RunData
    max_points : int or None, default 20000
        Draw at most this many points per run (a fixed random subset); ``None``: all.
    """

    def __init__(self, runs: list[RunData], max_points: int | None = MAX_POINTS):
        self.runs, self.max_points = runs, max_points
        #: per run: (trace index, the probe indices drawn by that trace)
        self.traces: dict[int, list[tuple[int, np.ndarray]]] = {}

    def shown(self, run: RunData) -> np.ndarray:
        """The probe indices drawn: all, or a fixed random subset of ``max_points`` (the same at
        every step, so each dot follows one probe input)."""
        n = run.n_points
        if self.max_points is None or n <= self.max_points:
            return np.arange(n)
        return np.sort(np.random.default_rng(0).choice(n, self.max_points, replace=False))

    def figure(self) -> go.Figure:
        """The panel with its traces laid out (:meth:`step_patch` fills in coordinates)."""
        fig = go.Figure()
        multi = len(self.runs) > 1
        for r, run in enumerate(self.runs):
            self._add_traces(fig, r, run, RUN_COLOURS[r % len(RUN_COLOURS)], multi)
        capped = [
            f"{escape(run.name) + ': ' if multi else ''}{self.max_points:,} of "
            f"{run.n_points:,} probe points drawn (max_points={self.max_points:,})"
            for run in self.runs
            if self.max_points is not None and run.n_points > self.max_points
        ]
        fig.update_xaxes(title_text="PC 1", zeroline=False)
        fig.update_yaxes(title_text="PC 2", zeroline=False)
        fig.update_layout(
            height=BOTTOM_ROW,
            template="plotly_white",
            uirevision="repscope",
            dragmode="lasso",
            hovermode="closest",
            margin={"l": 60, "r": 10, "t": 60, "b": 45},
            title={"text": "", "font": {"size": 13}, "x": 0.02, "xanchor": "left"},
            legend={"orientation": "v", "x": 1.0, "xanchor": "left", "y": 1},
            annotations=[_note(0.0, "", "left"), _note(1.0, "<br>".join(capped), "right")],
        )
        return fig

    def _add_traces(self, fig: go.Figure, r: int, run: RunData, colour: str, multi: bool) -> None:
        texts = run.hover_texts()
        hover = None if texts is None else np.asarray(texts, dtype=object)
        shown = self.shown(run)
        groups: list[tuple[int, np.ndarray]] = []
        codes = run.label_codes
        common: dict[str, Any] = {
            "mode": "markers",
            "legendgroup": f"run{r}",
            "unselected": {"marker": {"opacity": 0.15}},
        }
        if codes is not None and not multi and len(codes[1]) <= MAX_LABEL_TRACES:
            for c, label in enumerate(codes[1]):
                index = shown[codes[0][shown] == c]
                groups.append((len(fig.data), index))
                fig.add_trace(
                    go.Scattergl(
                        x=[],
                        y=[],
                        name=f"label {label}",
                        showlegend=True,
                        marker={
                            "size": 5,
                            "color": LABEL_COLOURS[c % len(LABEL_COLOURS)],
                            "opacity": 0.8,
                        },
                        hovertext=None if hover is None else list(hover[index]),
                        hoverinfo="text" if hover is not None else "x+y",
                        **common,
                    )
                )
        else:
            marker: dict[str, Any] = {"size": 5, "color": colour, "opacity": 0.7}
            if codes is not None and not multi:
                marker.update(color=codes[0][shown], colorscale="Viridis", showscale=False)
            groups.append((len(fig.data), shown))
            fig.add_trace(
                go.Scattergl(
                    x=[],
                    y=[],
                    name=escape(run.name),
                    showlegend=multi,
                    marker=marker,
                    hovertext=None if hover is None else list(hover[shown]),
                    hoverinfo="text" if hover is not None else "x+y",
                    **common,
                )
            )
        self.traces[r] = groups

    def probe_indices(self, trace: int, positions: Any) -> np.ndarray:
        """The probe indices of points ``positions`` of trace ``trace`` (a selection event's
        ``point_inds``)."""
        for groups in self.traces.values():
            for i, index in groups:
                if i == trace:
                    return index[np.asarray(positions, dtype=np.int64)]
        return np.zeros(0, dtype=np.int64)

    def layer_patch(self, layer: str) -> Patch:
        """Axis ranges that hold every step of ``layer``: the points move in a fixed frame, and a
        step's redraw skips the autorange pass."""
        pts = [p for run in self.runs for p in run.points(layer) if p is not None]
        if not pts:
            return Patch()
        lo = np.min([p.min(axis=0) for p in pts], axis=0)
        hi = np.max([p.max(axis=0) for p in pts], axis=0)
        pad = 0.05 * np.maximum(hi - lo, 1e-12)
        return Patch(
            layout={
                "xaxis.range": [float(lo[0] - pad[0]), float(hi[0] + pad[0])],
                "yaxis.range": [float(lo[1] - pad[1]), float(hi[1] + pad[1])],
            }
        )

    def step_patch(self, layer: str, step: int, selected: np.ndarray | None = None) -> Patch:
        """Coordinates at ``step``, the selection highlighted, the title and what is missing.

        Parameters
        ----------
        layer : str
        step : int
        selected : ndarray of int, optional
            Probe indices to highlight (``None`` or empty: no highlight).
        """
        patch, notes = Patch(), []
        for r, run in enumerate(self.runs):
            at = at_or_before(run.steps, step)
            position = None if at is None else run.index(at)
            pts = run.points(layer)[position] if position is not None else None
            for i, index in self.traces[r]:
                if pts is None:
                    x = y = np.zeros(0, dtype=np.float32)
                else:
                    sel = pts[index]
                    # contiguous: the widget sends 1-D arrays as binary buffers
                    x, y = np.ascontiguousarray(sel[:, 0]), np.ascontiguousarray(sel[:, 1])
                patch.traces[i] = {"x": x, "y": y, "selectedpoints": _positions(index, selected)}
            spec = run.spectrum(at, layer) if at is not None else None
            why = _missing(run, at, step, layer, spec, pts)
            if why:
                label = escape(run.name) if len(self.runs) > 1 else ""
                notes.append(f"{label} {why}".strip())
        patch.layout["title.text"] = f"step {int(step)} · layer {escape(layer)}"
        patch.layout[f"annotations[{NOTES}].text"] = "<br>".join(notes)
        return patch


def _positions(index: np.ndarray, selected: np.ndarray | None) -> list[int] | None:
    """Positions within a trace (whose points are probe inputs ``index``) of the selected
    probe inputs; ``None`` (no highlight) without a selection."""
    if selected is None or len(selected) == 0:
        return None
    return np.flatnonzero(np.isin(index, selected)).tolist()


def _missing(run: RunData, at: int | None, step: int, layer: str, spec: Any, pts: Any) -> str:
    if at is None:
        return f"no checkpoint yet at step {step}"
    error = run.failure(at)
    if spec is None and error:
        return f"step {at} failed: {escape(error[:160])}"
    if spec is None:
        return f"no result for layer {escape(layer)} at step {at}"
    if pts is None:
        return "no 2-D points stored (scanned by an older repscope, or not activations)"
    return ""


def _note(x: float, text: str, anchor: str) -> dict[str, Any]:
    """A note just above the plot area, at its left or right edge."""
    return {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": x,
        "y": 1.0,
        "xanchor": anchor,
        "yanchor": "bottom",
        "showarrow": False,
        "align": anchor,
        "font": {"size": 11},
    }
