"""The overview figure: every layer at every step at a glance, a heatmap coloured by one measure.

Rows are layers (in the probe's order, the first at the bottom), columns are steps on a log axis
(``log₁₀(step + 1)``), the colour is the measure of the first run. A dotted line marks the step
shown and a box the layer shown; both move by relayout only. A click on a cell is turned into a
``(layer, step)`` by :meth:`OverviewPanel.cell`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from .data import RunData, display_name, escape
from .patch import Patch

#: Layout slots of the overview figure.
STEP_LINE, LAYER_BOX = 0, 1
ROW, MIN_HEIGHT, MAX_HEIGHT = 18, 170, 520


class OverviewPanel:
    """Layers × log-step heatmap of ``measure`` for the first run.

    Parameters
    ----------
    run : RunData
    measure : str
        A measure stored per layer (not a training scalar).
    """

    def __init__(self, run: RunData, measure: str):
        self.run, self.measure = run, measure
        self.layers = list(run.layers)

    @property
    def height(self) -> int:
        return int(np.clip(90 + ROW * len(self.layers), MIN_HEIGHT, MAX_HEIGHT))

    def x(self) -> np.ndarray:
        """Column centres: ``log10(step + 1)`` of every step of the run."""
        return np.log10(self.run.steps.astype(float) + 1.0)

    def z(self) -> np.ndarray:
        """The measure, shape ``(n_layers, n_steps)``; NaN where it is missing."""
        if not self.layers:
            return np.zeros((0, len(self.run.steps)))
        return np.stack([self.run.curve(layer, self.measure) for layer in self.layers])

    def cells(self) -> dict[str, Any]:
        """The heatmap's data: ``x`` (:meth:`x`), ``z`` (:meth:`z`) and each cell's hover text."""
        text = [
            [f"{escape(layer)}<br>step {int(s)}" for s in self.run.steps] for layer in self.layers
        ]
        return {"x": self.x(), "z": self.z(), "text": text}

    def figure(self) -> go.Figure:
        name = display_name(self.measure)
        steps = self.run.steps
        fig = go.Figure(
            go.Heatmap(
                **self.cells(),
                y=np.arange(len(self.layers)),
                colorscale="Viridis",
                colorbar={"title": {"text": name, "side": "right"}, "thickness": 12},
                hovertemplate="%{text}<br>" + name + " = %{z:.4g}<extra></extra>",
            )
        )
        top = float(np.log10(steps.max() + 1.0)) if len(steps) else 1.0
        decades = np.arange(0, int(np.ceil(top)) + 1)
        fig.update_xaxes(
            title_text="step + 1 (log)",
            tickvals=decades.tolist(),
            ticktext=[f"{10 ** int(d):,}" for d in decades],
            zeroline=False,
        )
        fig.update_yaxes(
            tickvals=list(range(len(self.layers))),
            ticktext=[escape(layer) for layer in self.layers],
            zeroline=False,
        )
        fig.update_layout(
            height=self.height,
            template="plotly_white",
            uirevision="repscope",
            margin={"l": 110, "r": 10, "t": 30, "b": 45},
            title={
                "text": f"<b>all layers</b>: {name} (click a cell to go there)",
                "font": {"size": 12},
                "x": 0.02,
                "xanchor": "left",
            },
            shapes=[
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": 0,
                    "x1": 0,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "white", "width": 2, "dash": "dot"},
                },
                {
                    "type": "rect",
                    "xref": "paper",
                    "yref": "y",
                    "x0": 0,
                    "x1": 1,
                    "y0": -0.5,
                    "y1": 0.5,
                    "line": {"color": "white", "width": 2},
                },
            ],
        )
        return fig

    def step_patch(self, step: int) -> Patch:
        x = float(np.log10(step + 1.0))
        return Patch(layout={f"shapes[{STEP_LINE}].x0": x, f"shapes[{STEP_LINE}].x1": x})

    def layer_patch(self, layer: str) -> Patch:
        row = self.layers.index(layer) if layer in self.layers else -10
        return Patch(
            layout={f"shapes[{LAYER_BOX}].y0": row - 0.5, f"shapes[{LAYER_BOX}].y1": row + 0.5}
        )

    def data_patch(self) -> Patch:
        """New steps of the same layers (a live run): the heatmap's cells."""
        return Patch(traces={0: self.cells()})

    def cell(self, x: float, y: float) -> tuple[str, int]:
        """The layer and the step of the cell at heatmap coordinates ``(x, y)``: the row
        nearest ``y``, the step nearest ``10**x - 1`` on the log axis."""
        row = int(np.clip(round(float(y)), 0, len(self.layers) - 1))
        column = int(np.argmin(np.abs(self.x() - float(x))))
        return self.layers[row], int(self.run.steps[column])


def overview_measure(chosen: list[str], run: RunData) -> str | None:
    """The measure the overview shows: the first chosen one stored per layer, else RankMe, else
    the first stored measure (``None`` when nothing is stored)."""
    for m in [*chosen, "effective_rank", *run.measures]:
        if m in run.measures:
            return m
    return None


def click_point(points: Any) -> tuple[float, float] | None:
    """``(x, y)`` of the first point of a plotly click event, or ``None``."""
    xs, ys = list(getattr(points, "xs", []) or []), list(getattr(points, "ys", []) or [])
    if not xs or not ys:
        return None
    return float(xs[0]), float(ys[0])
