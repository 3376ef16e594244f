"""The spectrum figure: normalised eigenvalues λᵢ/Σλ against rank i (log-log) and the power-law
fit of α-ReQ, one colour per run. ``layout.title`` carries α and R² of the step shown."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from .curves import RUN_COLOURS
from .data import RunData, escape
from .patch import Patch

#: Height in pixels of the spectrum and points row.
BOTTOM_ROW = 420


def at_or_before(steps: np.ndarray, step: int) -> int | None:
    """The run's own checkpoint shown at ``step``: the latest at or before it."""
    i = int(np.searchsorted(steps, step, side="right")) - 1
    return int(steps[i]) if i >= 0 else None


class SpectrumPanel:
    """Eigenspectrum and power-law fit of every run at one step and layer.

    Parameters
    ----------
    runs : list of RunData
    """

    def __init__(self, runs: list[RunData]):
        self.runs = runs
        self.spectrum_traces: dict[int, int] = {}
        self.fit_traces: dict[int, int] = {}

    def figure(self) -> go.Figure:
        """The empty panel (:meth:`step_patch` and :meth:`layer_patch` fill it)."""
        fig = go.Figure()
        for r, run in enumerate(self.runs):
            colour = RUN_COLOURS[r % len(RUN_COLOURS)]
            self.spectrum_traces[r] = len(fig.data)
            fig.add_trace(
                go.Scatter(
                    x=[],
                    y=[],
                    mode="markers",
                    marker={"size": 4, "color": colour},
                    name=escape(run.name),
                    showlegend=False,
                    hovertemplate="rank %{x}<br>λ = %{y:.3g}<extra></extra>",
                )
            )
            self.fit_traces[r] = len(fig.data)
            fig.add_trace(
                go.Scatter(
                    x=[],
                    y=[],
                    mode="lines",
                    line={"color": colour, "dash": "dash", "width": 2},
                    name=f"power-law fit ({escape(run.name)})",
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
        fig.update_xaxes(type="log", title_text="rank i")
        fig.update_yaxes(type="log", title_text="λᵢ / Σλ")
        fig.update_layout(
            height=BOTTOM_ROW,
            template="plotly_white",
            uirevision="repscope",
            margin={"l": 60, "r": 10, "t": 60, "b": 45},
            title={"text": "", "font": {"size": 12}, "x": 0.02, "xanchor": "left"},
        )
        return fig

    def layer_patch(self, layer: str) -> Patch:
        """Axis ranges that hold every step of ``layer``: spectra are comparable step to step,
        and a step's redraw skips the autorange pass."""
        values = [
            v
            for run in self.runs
            for s in run.steps
            if (spec := run.spectrum(int(s), layer)) is not None
            for v in [spec.values[spec.values > 0]]
            if len(v)
        ]
        if not values:
            return Patch()
        top = max(float(v.max()) for v in values)
        bottom = min(float(v.min()) for v in values)
        longest = max(len(v) for v in values)
        return Patch(
            layout={
                "xaxis.range": [-0.05, float(np.log10(longest)) + 0.05],
                "yaxis.range": [float(np.log10(bottom)) - 0.1, float(np.log10(top)) + 0.1],
            }
        )

    def step_patch(self, layer: str, step: int) -> Patch:
        """Spectrum, fit and the α of each run at ``step``."""
        patch, fits = Patch(), []
        kind = self.runs[0].config.spectrum_kind if self.runs else ""
        for r, run in enumerate(self.runs):
            at = at_or_before(run.steps, step)
            label = escape(run.name) if len(self.runs) > 1 else ""
            shown = f" (step {at})" if at is not None and at != step else ""
            spec = run.spectrum(at, layer) if at is not None else None
            if spec is None:
                patch.traces[self.spectrum_traces[r]] = {"x": [], "y": []}
                patch.traces[self.fit_traces[r]] = {"x": [], "y": []}
                continue
            ranks = np.arange(1, len(spec.values) + 1, dtype=float)
            keep = spec.values > 0
            patch.traces[self.spectrum_traces[r]] = {"x": ranks[keep], "y": spec.values[keep]}
            fx, fy = spec.fit_line()
            patch.traces[self.fit_traces[r]] = {"x": fx, "y": fy}
            fits.append(
                f"{label}{shown} α = {spec.alpha:.3f}, R² = {spec.r2:.3f}".strip()
                if math.isfinite(spec.alpha)
                else f"{label}{shown} no α fit".strip()
            )
        patch.layout["title.text"] = f"<b>eigenspectrum</b> ({kind})<br>" + "; ".join(fits)
        return patch
