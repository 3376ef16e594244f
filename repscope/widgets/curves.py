"""The curves figure: one row per measure over log-step, the step cursor and the shaded phases.

A step only moves the cursor (a relayout of two numbers); a layer redraws the curves and the
phase bands. Layout slots are named: ``shapes[CURSOR]`` is the cursor, ``shapes[PHASE_SHAPES +
k]`` the k-th phase band and ``annotations[PHASE_NOTES + k]`` its name.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from ..measure_registry import MEASURES
from ..phases import COLLAPSE, COMPRESSION, ENTROPY, EXPANSION, WARMUP
from .data import RunData, display_name, escape
from .patch import Patch

RUN_COLOURS = qualitative.D3
#: Colours of the shaded phases, by the names :mod:`repscope.phases` gives them.
PHASE_COLOURS = {
    WARMUP: "rgba(214, 39, 40, 0.13)",
    ENTROPY: "rgba(44, 160, 44, 0.13)",
    COMPRESSION: "rgba(31, 119, 180, 0.13)",
    COLLAPSE: "rgba(214, 39, 40, 0.10)",
    EXPANSION: "rgba(44, 160, 44, 0.10)",
}
MAX_PHASES = 8  # shape slots for phase shading; detect_phases rarely finds more than 4
#: Layout slots of the curves figure.
CURSOR, PHASE_SHAPES = 0, 1
PHASE_NOTES = 0
#: Height in pixels of one row of curves.
CURVE_ROW = 130


def step_x(steps: Any) -> np.ndarray:
    """Where a step sits on the log-step axis: ``step + 1`` (so that step 0 has a place)."""
    return np.asarray(steps, dtype=float) + 1.0


class CurvesPanel:
    """Measure curves of every run at one layer, the step cursor and the first run's phases.

    Parameters
    ----------
    runs : list of RunData
        One colour each.
    measures : list of str
        Stored measure names or training scalars, one row each.
    """

    def __init__(self, runs: list[RunData], measures: list[str]):
        self.runs, self.measures = runs, list(measures)
        self.traces: dict[tuple[int, str], int] = {}  # (run, measure) -> trace index

    @property
    def height(self) -> int:
        """Pixels: a fixed height per row, plus the margins."""
        return 90 + CURVE_ROW * max(len(self.measures), 1)

    def figure(self, layer: str) -> go.Figure:
        """The curves of ``layer`` (cursor at the first step; :meth:`step_patch` moves it)."""
        n = max(len(self.measures), 1)
        fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=min(0.08, 0.3 / n))
        multi = len(self.runs) > 1
        for r, run in enumerate(self.runs):
            colour = RUN_COLOURS[r % len(RUN_COLOURS)]
            for m, measure in enumerate(self.measures):
                self.traces[(r, measure)] = len(fig.data)
                steps: np.ndarray | list[int]
                values: np.ndarray | list[float]
                steps, values = run.series(layer, measure) if run.layers else ([], [])
                fig.add_trace(
                    go.Scatter(
                        x=step_x(steps),
                        y=values,
                        customdata=steps,
                        marker={"size": 4},
                        mode="lines+markers" if len(steps) <= 60 else "lines",
                        line={"color": colour, "width": 1.6},
                        name=escape(run.name),
                        legendgroup=f"run{r}",
                        showlegend=multi and m == 0,
                        hovertemplate=f"{escape(run.name)}<br>step %{{customdata}}<br>"
                        f"{display_name(measure)} = %{{y:.4g}}<extra></extra>",
                    ),
                    row=m + 1,
                    col=1,
                )
        cfg = self.runs[0].config if self.runs else None
        for m, measure in enumerate(self.measures):
            registered = MEASURES.get(measure)
            name = (
                escape(registered.axis_title(cfg))
                if registered is not None
                else display_name(measure)
            )
            fig.update_yaxes(title_text=name, title_font_size=11, row=m + 1, col=1)
        fig.update_xaxes(type="log")
        fig.update_xaxes(title_text="step + 1 (log)", row=n, col=1)
        shapes = [self._cursor(0)] + [_hidden_band() for _ in range(MAX_PHASES)]
        fig.update_layout(
            shapes=shapes,
            annotations=[_hidden_note() for _ in range(MAX_PHASES)],
            height=self.height,
            margin={"l": 70, "r": 20, "t": 30, "b": 45},
            hovermode="closest",
            legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
            template="plotly_white",
            uirevision="repscope",
        )  # keep the user's zoom across updates
        return fig

    def _cursor(self, step: int) -> dict[str, Any]:
        x = float(step_x([step])[0])
        return {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": x,
            "x1": x,
            "y0": 0,
            "y1": 1,
            "line": {"color": "#444", "width": 1.5, "dash": "dot"},
            "visible": bool(self.measures),
        }

    def layer_patch(self, layer: str) -> Patch:
        """The curves of ``layer`` and its shaded phases (from the first run).

        Shapes and annotations are patched property by property (``shapes[3].x0``): plotly.js
        reads a whole object at ``shapes[3]`` as an *insertion*, so patching whole objects
        would pile a new band on the page at every refresh.
        """
        patch = Patch()
        for (r, measure), i in self.traces.items():
            steps, values = self.runs[r].series(layer, measure)
            patch.traces[i] = {"x": step_x(steps), "y": values}
        phases = self.runs[0].phases(layer) if self.runs and self.measures else []
        for k in range(MAX_PHASES):
            p = phases[k] if k < len(phases) else None
            band, note = f"shapes[{PHASE_SHAPES + k}]", f"annotations[{PHASE_NOTES + k}]"
            patch.layout.update(
                {
                    f"{band}.x0": float(p.start_step + 1) if p else 1.0,
                    f"{band}.x1": float(p.end_step + 1) if p else 1.0,
                    f"{band}.fillcolor": PHASE_COLOURS.get(p.name, "rgba(128,128,128,0.1)")
                    if p
                    else "rgba(0,0,0,0)",
                    f"{band}.visible": p is not None,
                    f"{note}.x": math.log10(math.sqrt((p.start_step + 1) * (p.end_step + 1)))
                    if p
                    else 0.0,
                    f"{note}.text": escape(p.name) if p else "",
                    f"{note}.visible": p is not None,
                }
            )
        return patch

    def step_patch(self, step: int) -> Patch:
        """The cursor at ``step``: two layout numbers, no trace."""
        x = float(step_x([step])[0])
        return Patch(layout={f"shapes[{CURSOR}].x0": x, f"shapes[{CURSOR}].x1": x})


def _hidden_band() -> dict[str, Any]:
    """A phase band's slot (moved and shown by :meth:`CurvesPanel.layer_patch`)."""
    return {
        "type": "rect",
        "xref": "x",
        "yref": "paper",
        "x0": 1,
        "x1": 1,
        "y0": 0,
        "y1": 1,
        "visible": False,
        "line": {"width": 0},
        "layer": "below",
    }


def _hidden_note() -> dict[str, Any]:
    """A phase name's slot, above the curves."""
    return {
        "text": "",
        "xref": "x",
        "yref": "paper",
        "x": 0,
        "y": 1,
        "yanchor": "bottom",
        "showarrow": False,
        "visible": False,
        "font": {"size": 11},
    }
