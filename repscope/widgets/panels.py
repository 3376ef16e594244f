"""The scrubber's figure: measure curves over steps, the eigenspectrum, the probe points in 2-D.

:class:`Panels` lays one plotly figure out for a set of runs and measures and knows which trace
and which shape is which, so that moving to another step or layer is a *patch* — new ``x``/``y``
for a few traces and a few layout properties — applied in one batched message by the widget, or
stored as one animation frame by :func:`repscope.widgets.export_html`. Every user string (run,
layer, label, text, error) is escaped before it reaches the figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from ..phases import COLLAPSE, COMPRESSION, ENTROPY, EXPANSION, WARMUP
from .data import RunData, display_name, escape

RUN_COLOURS = qualitative.D3
LABEL_COLOURS = qualitative.T10 + qualitative.Pastel
#: Colours of the shaded phases, by the names :mod:`repscope.phases` gives them.
PHASE_COLOURS = {
    WARMUP: "rgba(214, 39, 40, 0.13)",
    ENTROPY: "rgba(44, 160, 44, 0.13)",
    COMPRESSION: "rgba(31, 119, 180, 0.13)",
    COLLAPSE: "rgba(214, 39, 40, 0.10)",
    EXPANSION: "rgba(44, 160, 44, 0.10)",
}
MAX_PHASES = 8  # shape slots for phase shading; detect_phases rarely finds more than 4
#: Layout slots: ``shapes[0]`` is the step cursor, ``shapes[PHASE_SHAPES + k]`` the k-th phase
#: band; ``annotations[0]`` and ``[1]`` title the spectrum and points panels,
#: ``annotations[PHASE_NOTES + k]`` names the k-th phase.
CURSOR, PHASE_SHAPES = 0, 1
SPECTRUM_TITLE, POINTS_TITLE, PHASE_NOTES = 0, 1, 2
MAX_LABEL_TRACES = 12  # more distinct labels than this are drawn as one colour-scaled trace
#: Probe points drawn in the 2-D panel by default: plotly.js redraws SVG points at about 50 µs
#: each, and every step redraws them all.
MAX_POINTS = 1000
#: Heights in pixels of one row of curves and of the spectrum and points row.
CURVE_ROW, BOTTOM_ROW = 130, 380


@dataclass
class Patch:
    """New values for some traces (by index) and some layout properties (plotly paths)."""

    traces: dict[int, dict[str, Any]] = field(default_factory=dict)
    layout: dict[str, Any] = field(default_factory=dict)

    def update(self, other: Patch) -> Patch:
        for i, values in other.traces.items():
            self.traces.setdefault(i, {}).update(values)
        self.layout.update(other.layout)
        return self

    def restyle(self) -> tuple[dict[str, list], list[int]]:
        """``Plotly.restyle`` data: every patched trace gets new ``x`` and ``y``."""
        order = sorted(self.traces)
        return {"x": [self.traces[i]["x"] for i in order],
                "y": [self.traces[i]["y"] for i in order]}, order

    def apply(self, fig: go.Figure) -> None:
        """Apply to a figure or figure widget as one ``Plotly.update`` (one message)."""
        data, order = self.restyle()
        fig.plotly_update(restyle_data=data if order else None, relayout_data=self.layout,
                          trace_indexes=order or None)


def step_x(steps: np.ndarray) -> np.ndarray:
    """Where a step sits on the log-step axis: ``step + 1`` (so that step 0 has a place)."""
    return np.asarray(steps, dtype=float) + 1.0


class Panels:
    """Layout and patches of the scrubber figure.

    Parameters
    ----------
    runs : list of RunData
        One colour each; the first run's phases are shaded.
    measures : list of str
        Stored measure names, one row of curves each.
    max_points : int or None, default 1000
        Draw at most this many probe points (a fixed random subset); ``None``: all.

    Examples
    --------
    >>> from repscope.synthetic import synthetic_trajectory
    >>> from repscope.widgets.data import RunData
    >>> run = RunData(synthetic_trajectory(n_steps=6, layers=("a",), n_points=40))
    >>> panels = Panels([run], ["effective_rank", "alpha"])
    >>> fig = panels.figure(layer="a", step=3)
    >>> fig.layout.title.text
    'step 3 · layer a'
    """

    def __init__(self, runs: list[RunData], measures: list[str], *,
                 max_points: int | None = MAX_POINTS):
        self.runs, self.measures, self.max_points = runs, list(measures), max_points
        self.rows = len(self.measures) + 1
        # Trace indices, filled as the figure is laid out.
        self.curve_traces: dict[tuple[int, str], int] = {}
        self.spectrum_traces: dict[int, int] = {}
        self.fit_traces: dict[int, int] = {}
        self.point_traces: dict[int, list[tuple[int, np.ndarray | None]]] = {}

    @property
    def height(self) -> int:
        """The figure's height in pixels: a fixed height per curve row, then the bottom row."""
        return 150 + int(CURVE_ROW * (self.rows - 1) + BOTTOM_ROW)

    def use_runs(self, runs: list[RunData]) -> None:
        """Newer snapshots of the same runs (more steps; same layers, measures and labels)."""
        self.runs = runs

    # -- layout ---------------------------------------------------------------------------------
    def figure(self, layer: str, step: int, *, widget: bool = False) -> go.Figure:
        """The whole figure at ``layer`` and ``step`` (a ``FigureWidget`` if ``widget``)."""
        n = len(self.measures)
        specs = [[{"colspan": 2}, None] for _ in range(n)] + [[{}, {}]]
        heights = [CURVE_ROW] * n + [BOTTOM_ROW]
        fig = make_subplots(rows=self.rows, cols=2, specs=specs, row_heights=heights,
                            vertical_spacing=0.08 if n < 4 else 0.06, horizontal_spacing=0.09)
        self._measure_domains(fig)
        multi = len(self.runs) > 1
        for r, run in enumerate(self.runs):
            colour = RUN_COLOURS[r % len(RUN_COLOURS)]
            for m, measure in enumerate(self.measures):
                self.curve_traces[(r, measure)] = len(fig.data)
                steps, values = run.series(layer, measure) if run.layers else ([], [])
                fig.add_trace(go.Scatter(
                    x=step_x(steps), y=values, customdata=steps, marker={"size": 4},
                    mode="lines+markers" if len(steps) <= 60 else "lines",
                    line={"color": colour, "width": 1.6}, name=escape(run.name),
                    legendgroup=f"run{r}", showlegend=multi and m == 0,
                    hovertemplate=f"{escape(run.name)}<br>step %{{customdata}}<br>"
                                  f"{display_name(measure)} = %{{y:.4g}}"
                                  "<extra></extra>"), row=m + 1, col=1)
            self.spectrum_traces[r] = len(fig.data)
            fig.add_trace(go.Scatter(x=[], y=[], mode="markers",
                                     marker={"size": 4, "color": colour},
                                     name=escape(run.name), legendgroup=f"run{r}",
                                     showlegend=False,
                                     hovertemplate="rank %{x}<br>λ = %{y:.3g}<extra></extra>"),
                          row=self.rows, col=1)
            self.fit_traces[r] = len(fig.data)
            fig.add_trace(go.Scatter(x=[], y=[], mode="lines",
                                     line={"color": colour, "dash": "dash", "width": 2},
                                     name=f"power-law fit ({escape(run.name)})",
                                     legendgroup=f"run{r}", showlegend=False, hoverinfo="skip"),
                          row=self.rows, col=1)
            self._add_point_traces(fig, r, run, colour, multi)
        self._lay_out_axes(fig)
        y0, y1 = self._curves_span()
        shapes = [self._cursor(step)] + [_hidden_band(y0, y1) for _ in range(MAX_PHASES)]
        texts = ([_title_note(self._spectrum_x, self._bottom_top)]
                 + [_title_note(self._points_x, self._bottom_top)]
                 + [_hidden_note(y1) for _ in range(MAX_PHASES)])
        fig.update_layout(
            shapes=shapes, annotations=texts, height=self.height,
            margin={"l": 60, "r": 20, "t": 70, "b": 50}, hovermode="closest",
            legend={"orientation": "h", "y": -0.06, "x": 0}, template="plotly_white",
            uirevision="repscope",  # keep the user's zoom across updates
        )
        self.layer_patch(layer).update(self.step_patch(layer, step)).apply(fig)
        if widget:
            return go.FigureWidget(fig)
        return fig

    def _add_point_traces(self, fig: go.Figure, r: int, run: RunData, colour: str,
                          multi: bool) -> None:
        hover = run.hover_texts()
        hover = None if hover is None else np.asarray(hover, dtype=object)
        shown = self._shown_points(run)
        groups: list[tuple[int, np.ndarray]] = []
        codes = run.label_codes
        common = {"mode": "markers", "legendgroup": f"run{r}"}
        if codes is not None and not multi and len(codes[1]) <= MAX_LABEL_TRACES:
            for c, label in enumerate(codes[1]):
                index = shown[codes[0][shown] == c]
                groups.append((len(fig.data), index))
                fig.add_trace(go.Scatter(
                    x=[], y=[], name=f"label {label}", showlegend=True,
                    marker={"size": 5, "color": LABEL_COLOURS[c % len(LABEL_COLOURS)],
                            "opacity": 0.8},
                    hovertext=None if hover is None else list(hover[index]),
                    hoverinfo="text" if hover is not None else "x+y", **common),
                    row=self.rows, col=2)
        else:
            marker: dict[str, Any] = {"size": 5, "color": colour, "opacity": 0.7}
            if codes is not None and not multi:
                marker.update(color=codes[0][shown], colorscale="Viridis", showscale=False)
            groups.append((len(fig.data), shown))
            fig.add_trace(go.Scatter(x=[], y=[], name=escape(run.name), showlegend=False,
                                     marker=marker,
                                     hovertext=None if hover is None else list(hover[shown]),
                                     hoverinfo="text" if hover is not None else "x+y", **common),
                          row=self.rows, col=2)
        self.point_traces[r] = groups

    def _shown_points(self, run: RunData) -> np.ndarray:
        """The probe points drawn: all, or a fixed random subset of ``max_points`` (the same at
        every step, so each dot follows one probe input)."""
        n = run.n_points
        if self.max_points is None or n <= self.max_points:
            return np.arange(n)
        return np.sort(np.random.default_rng(0).choice(n, self.max_points, replace=False))

    def _lay_out_axes(self, fig: go.Figure) -> None:
        cfg = self.runs[0].config if self.runs else None
        for m, measure in enumerate(self.measures):
            name = display_name(measure)
            if measure in ("dse", "dsmi") and cfg is not None:
                name += f" (σ={escape(cfg.sigma)}, t={cfg.t:g})"
            elif measure in ("effective_rank", "alpha") and cfg is not None:
                name += f" ({cfg.spectrum_kind})"
            fig.update_yaxes(title_text=name, title_font_size=11, row=m + 1, col=1)
            last = m == len(self.measures) - 1
            fig.update_xaxes(type="log", row=m + 1, col=1, showticklabels=last,
                             **({"matches": "x"} if m else {}))
        if self.measures:
            fig.update_xaxes(title_text="step + 1 (log)", row=len(self.measures), col=1)
        fig.update_xaxes(type="log", title_text="rank i", row=self.rows, col=1)
        fig.update_yaxes(type="log", title_text="λᵢ / Σλ", row=self.rows, col=1)
        fig.update_xaxes(title_text="PC 1", zeroline=False, row=self.rows, col=2)
        fig.update_yaxes(title_text="PC 2", zeroline=False, row=self.rows, col=2)

    def _measure_domains(self, fig: go.Figure) -> None:
        """Paper coordinates of the panels, for titles, the cursor and the phase bands."""
        spectrum, points = fig.get_subplot(self.rows, 1), fig.get_subplot(self.rows, 2)
        self._spectrum_x, self._points_x = spectrum.xaxis.domain[0], points.xaxis.domain[0]
        self._axes = {"spectrum": (spectrum.xaxis.plotly_name, spectrum.yaxis.plotly_name),
                      "points": (points.xaxis.plotly_name, points.yaxis.plotly_name)}
        self._bottom_top = spectrum.yaxis.domain[1]
        low = fig.get_subplot(len(self.measures), 1).yaxis.domain[0] if self.measures else 1.0
        self._span = (low, 1.0)

    def _curves_span(self) -> tuple[float, float]:
        """The paper-coordinate band of the curve rows (where cursor and phases are drawn)."""
        return self._span

    def _cursor(self, step: int) -> dict[str, Any]:
        y0, y1 = self._curves_span()
        x = float(step_x([step])[0])
        return {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": y0,
                "y1": y1, "line": {"color": "#444", "width": 1.5, "dash": "dot"},
                "visible": bool(self.measures)}

    # -- patches --------------------------------------------------------------------------------
    def layer_patch(self, layer: str) -> Patch:
        """The curves of ``layer`` and its shaded phases (from the first run).

        Shapes and annotations are patched property by property (``shapes[3].x0``): plotly.js
        reads a whole object at ``shapes[3]`` as an *insertion*, so patching whole objects
        would pile a new band on the page at every refresh.
        """
        patch = Patch()
        for (r, measure), i in self.curve_traces.items():
            steps, values = self.runs[r].series(layer, measure)
            patch.traces[i] = {"x": step_x(steps), "y": values}
        phases = self.runs[0].phases(layer) if self.runs and self.measures else []
        for k in range(MAX_PHASES):
            p = phases[k] if k < len(phases) else None
            band, note = f"shapes[{PHASE_SHAPES + k}]", f"annotations[{PHASE_NOTES + k}]"
            patch.layout.update({
                f"{band}.x0": float(p.start_step + 1) if p else 1.0,
                f"{band}.x1": float(p.end_step + 1) if p else 1.0,
                f"{band}.fillcolor": PHASE_COLOURS.get(p.name, "rgba(128,128,128,0.1)")
                if p else "rgba(0,0,0,0)",
                f"{band}.visible": p is not None,
                f"{note}.x": math.log10(math.sqrt((p.start_step + 1) * (p.end_step + 1)))
                if p else 0.0,
                f"{note}.text": escape(p.name) if p else "",
                f"{note}.visible": p is not None})
        patch.layout.update(self._fixed_ranges(layer))
        return patch

    def _fixed_ranges(self, layer: str) -> dict[str, Any]:
        """Axis ranges that hold every step of ``layer``: the points move in a fixed frame, the
        spectra are comparable, and a step's redraw skips the autorange pass."""
        out: dict[str, Any] = {}
        pts = [p for run in self.runs for p in run.points(layer) if p is not None]
        if pts:
            lo = np.min([p.min(axis=0) for p in pts], axis=0)
            hi = np.max([p.max(axis=0) for p in pts], axis=0)
            pad = 0.05 * np.maximum(hi - lo, 1e-12)
            (xa, ya) = self._axes["points"]
            out[f"{xa}.range"] = [float(lo[0] - pad[0]), float(hi[0] + pad[0])]
            out[f"{ya}.range"] = [float(lo[1] - pad[1]), float(hi[1] + pad[1])]
        values = [v for run in self.runs for s in run.steps
                  if (spec := run.spectrum(int(s), layer)) is not None
                  for v in [spec.values[spec.values > 0]] if len(v)]
        if values:
            top = max(float(v.max()) for v in values)
            bottom = min(float(v.min()) for v in values)
            longest = max(len(v) for v in values)
            (xa, ya) = self._axes["spectrum"]
            out[f"{xa}.range"] = [-0.05, float(np.log10(longest)) + 0.05]
            out[f"{ya}.range"] = [float(np.log10(bottom)) - 0.1, float(np.log10(top)) + 0.1]
        return out

    def step_patch(self, layer: str, step: int) -> Patch:
        """Spectrum, fit, points, cursor and titles at ``step``."""
        patch = Patch()
        notes, fits = [], []
        for r, run in enumerate(self.runs):
            at = _at_or_before(run.steps, step)
            label = escape(run.name) if len(self.runs) > 1 else ""
            shown = f" (step {at})" if at is not None and at != step else ""
            spec = run.spectrum(at, layer) if at is not None else None
            if spec is not None:
                ranks = np.arange(1, len(spec.values) + 1, dtype=float)
                keep = spec.values > 0
                patch.traces[self.spectrum_traces[r]] = {"x": ranks[keep], "y": spec.values[keep]}
                fx, fy = spec.fit_line()
                patch.traces[self.fit_traces[r]] = {"x": fx, "y": fy}
                fits.append(f"{label}{shown} α = {spec.alpha:.3f}, R² = {spec.r2:.3f}".strip()
                            if math.isfinite(spec.alpha) else f"{label}{shown} no α fit".strip())
            else:
                patch.traces[self.spectrum_traces[r]] = {"x": [], "y": []}
                patch.traces[self.fit_traces[r]] = {"x": [], "y": []}
            pts = run.points(layer)[run.index(at)] if at is not None else None
            for i, mask in self.point_traces[r]:
                if pts is None:
                    patch.traces[i] = {"x": [], "y": []}
                else:
                    sel = pts[mask]
                    # contiguous: the widget sends 1-D arrays as binary buffers (memoryviews)
                    patch.traces[i] = {"x": np.ascontiguousarray(sel[:, 0]),
                                       "y": np.ascontiguousarray(sel[:, 1])}
            why = _missing(run, at, step, layer, spec, pts)
            if why:
                notes.append(f"{label} {why}".strip())
        kind = self.runs[0].config.spectrum_kind if self.runs else ""
        patch.layout["title.text"] = f"step {int(step)} · layer {escape(layer)}"
        x = float(step_x([step])[0])
        patch.layout[f"shapes[{CURSOR}].x0"] = patch.layout[f"shapes[{CURSOR}].x1"] = x
        patch.layout[f"annotations[{SPECTRUM_TITLE}].text"] = (
            f"<b>eigenspectrum</b> ({kind}) " + "; ".join(fits))
        points_title = "<b>probe points</b>: PCA, aligned step to step"
        patch.layout[f"annotations[{POINTS_TITLE}].text"] = "<br>".join([points_title, *notes])
        return patch


def _at_or_before(steps: np.ndarray, step: int) -> int | None:
    """The run's own checkpoint shown at ``step``: the latest at or before it."""
    i = int(np.searchsorted(steps, step, side="right")) - 1
    return int(steps[i]) if i >= 0 else None


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


def _hidden_band(y0: float, y1: float) -> dict[str, Any]:
    """A phase band's slot (moved and shown by :meth:`Panels.layer_patch`)."""
    return {"type": "rect", "xref": "x", "yref": "paper", "x0": 1, "x1": 1, "y0": y0, "y1": y1,
            "visible": False, "line": {"width": 0}, "layer": "below"}


def _hidden_note(y: float) -> dict[str, Any]:
    """A phase name's slot, above the curves."""
    return {"text": "", "xref": "x", "yref": "paper", "x": 0, "y": y, "yanchor": "bottom",
            "showarrow": False, "visible": False, "font": {"size": 11}}


def _title_note(x: float, y: float) -> dict[str, Any]:
    return {"text": "", "xref": "paper", "yref": "paper", "x": x, "y": y, "xanchor": "left",
            "yanchor": "bottom", "showarrow": False, "align": "left", "font": {"size": 11}}
