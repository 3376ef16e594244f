"""The scrubber as one self-contained HTML file: the same four figures and a step slider, no
kernel needed.

The page holds the figures (``<script type="application/json" id="repscope-figures">``) and, for
every step, the patch of each figure (``id="repscope-steps"``): the same patches the widget sends,
applied with ``Plotly.update`` by a few lines of JavaScript when the slider moves. The points are
drawn in WebGL as in the widget. JSON is embedded with every ``<`` written as ``\\u003c``, so no
user string can close the script element.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.io.json import to_json_plotly
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from .._validation import check_option, fail
from .data import RunData, as_runs, curve_names, default_curves
from .panels import MAX_POINTS, Panels

#: Milliseconds between steps while playing.
PLAY_INTERVAL = 300


def export_html(
    trajectory: Any,
    path: str | Path,
    *,
    layer: str | None = None,
    measures: Sequence[str] | None = None,
    include_plotlyjs: bool | str = True,
    max_points: int | None = MAX_POINTS,
) -> Path:
    """Write the scrubber's view of one layer as a standalone HTML file.

    The overview, the curves, the spectrum and the points (WebGL), as in the widget, with a step
    slider and play/pause; a click on a column of the overview goes to that step. It scrubs in
    any browser with no kernel and, with plotly.js inline (the default), no network. Every user
    string (run, layer and label names, texts, errors) is HTML-escaped.

    Parameters
    ----------
    trajectory : Trajectory, LiveRun, a store's path, or a list / dict of them
        As for :class:`~repscope.widgets.Scrubber` (``"run.sqlite"``: every run in it).
    path : str or Path
        The file to write.
    layer : str, optional
        Default: the last layer.
    measures : sequence of str, optional
        Default: RankMe, α-ReQ and DSE (those stored).
    include_plotlyjs : True or "cdn", default True
        Inline plotly.js (about 4.6 MB; works offline) or load it from the plotly CDN.
    max_points : int or None, default 20000
        As for :class:`~repscope.widgets.Scrubber`. Each step stores the coordinates of the
        points drawn (8 bytes per point), so the file grows with points × steps.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import json, re, tempfile, pathlib
    >>> from repscope.synthetic import synthetic_trajectory
    >>> from repscope.widgets import export_html
    >>> out = export_html(synthetic_trajectory(n_steps=4, n_points=30),
    ...                   pathlib.Path(tempfile.mkdtemp()) / "scrub.html", include_plotlyjs="cdn")
    >>> steps = re.search(r'id="repscope-steps">(.*?)</script>', out.read_text(), re.S)
    >>> json.loads(steps.group(1))["labels"]  # one patch per step
    ['0', '1', '3', '10']
    """
    func = "export_html"
    if include_plotlyjs is not True:
        check_option(include_plotlyjs, name="include_plotlyjs", func=func, options=("cdn",))
    runs = [RunData(t, n) for t, n in as_runs(trajectory, func)]
    layers = [name for run in runs for name in run.layers]
    steps = sorted({int(s) for run in runs for s in run.steps})
    if not layers:
        fail(
            "trajectory",
            func,
            "a trajectory with at least one measured layer",
            f"{len(steps)} step(s) and no measured layer (empty, or every checkpoint failed)",
        )
    if layer is None:
        layer = layers[-1]
    elif layer not in layers:
        fail("layer", func, f"one of the measured layers {sorted(set(layers))}", repr(layer))
    available = curve_names(runs)
    if measures is None:
        measures = default_curves(available)
    else:
        unknown = [m for m in measures if m not in available]
        if unknown:
            fail(
                "measures",
                func,
                f"stored measures or training scalars, from {available}",
                repr(unknown),
            )
    panels = Panels(runs, list(measures), max_points=max_points)
    figures = panels.figures(layer, steps[0])
    figures["controls"] = _controls(steps)
    patches = []
    for step in steps:
        out: dict[str, Any] = {}
        for name, patch in panels.step_patch(layer, step).items():
            data, order = patch.restyle()
            out[name] = {"data": data, "traces": order, "layout": patch.layout}
        patches.append(out)
    page = _page(
        title=" · ".join(r.name for r in runs),
        figures=_script_json({n: f.to_plotly_json() for n, f in figures.items()}),
        steps=_script_json(
            {"labels": [str(s) for s in steps], "values": steps, "patches": patches}
        ),
        plotlyjs=_plotly_script(include_plotlyjs),
    )
    out_path = Path(path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    return out_path


def _controls(steps: list[int]) -> go.Figure:
    """A figure with no axes that holds the step slider and the play / pause buttons (their
    ``method="skip"``: the page's script moves the other figures)."""
    fig = go.Figure()
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(
        height=110,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        template="plotly_white",
        sliders=[
            {
                "active": 0,
                "x": 0.1,
                "len": 0.9,
                "y": 0.9,
                "yanchor": "top",
                "currentvalue": {"prefix": "step ", "font": {"size": 13}},
                "steps": [{"label": str(s), "method": "skip", "args": []} for s in steps],
            }
        ],
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": 0.6,
                "yanchor": "top",
                "showactive": False,
                "buttons": [
                    {"label": "▶", "method": "skip", "args": []},
                    {"label": "❚❚", "method": "skip", "args": []},
                ],
            }
        ],
    )
    return fig


def _script_json(value: Any) -> str:
    """JSON for a ``<script type="application/json">``: plotly's encoder (numpy arrays as typed
    arrays), every ``<`` as ``\\u003c`` so that nothing in it can end the element."""
    return to_json_plotly(value).replace("<", "\\u003c")


def _plotly_script(include_plotlyjs: bool | str) -> str:
    if include_plotlyjs == "cdn":
        url = f"https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js"
        return f'<script src="{url}" charset="utf-8"></script>'
    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


_SCRIPT = """
(function () {
  const figures = JSON.parse(document.getElementById("repscope-figures").textContent);
  const steps = JSON.parse(document.getElementById("repscope-steps").textContent);
  const config = {responsive: true, displaylogo: false};
  const div = (name) => document.getElementById("repscope-" + name);
  const names = Object.keys(figures);
  let current = 0, timer = null;
  function show(i) {
    current = i;
    const patch = steps.patches[i];
    for (const name of Object.keys(patch)) {
      const p = patch[name];
      Plotly.update(div(name), p.data, p.layout, p.traces.length ? p.traces : undefined);
    }
  }
  function go(i) {
    show(i);
    Plotly.relayout(div("controls"), {"sliders[0].active": i});
  }
  function stop() { if (timer !== null) { clearInterval(timer); timer = null; } }
  Promise.all(names.map((n) => Plotly.newPlot(div(n), figures[n].data, figures[n].layout,
                                              config))).then(() => {
    div("controls").on("plotly_sliderchange", (e) => { stop(); show(e.slider.active); });
    div("controls").on("plotly_buttonclicked", (e) => {
      stop();
      if (e.button.label !== "\\u25b6") return;
      if (current >= steps.patches.length - 1) go(0);
      timer = setInterval(() => {
        if (current >= steps.patches.length - 1) { stop(); return; }
        go(current + 1);
      }, PLAY_INTERVAL);
    });
    if (figures.overview) {
      div("overview").on("plotly_click", (e) => {
        if (!e.points.length) return;
        const x = e.points[0].x;
        let best = 0;
        steps.values.forEach((s, i) => {
          if (Math.abs(Math.log10(s + 1) - x) < Math.abs(Math.log10(steps.values[best] + 1) - x))
            best = i;
        });
        stop(); go(best);
      });
    }
    document.body.dataset.repscopeReady = "true";
  });
})();
""".replace("PLAY_INTERVAL", str(PLAY_INTERVAL))


def _page(*, title: str, figures: str, steps: str, plotlyjs: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>repscope: {html.escape(title, quote=False)}</title>
{plotlyjs}
<style>
  body {{ font-family: sans-serif; margin: 8px; }}
  .repscope-row {{ display: flex; width: 100%; }}
  #repscope-spectrum {{ width: 40%; }}
  #repscope-points {{ width: 60%; }}
</style>
</head>
<body>
<div id="repscope-scrubber">
  <div id="repscope-controls"></div>
  <div id="repscope-overview"></div>
  <div id="repscope-curves"></div>
  <div class="repscope-row"><div id="repscope-spectrum"></div><div id="repscope-points"></div></div>
</div>
<script type="application/json" id="repscope-figures">{figures}</script>
<script type="application/json" id="repscope-steps">{steps}</script>
<script type="text/javascript">{_SCRIPT}</script>
</body>
</html>
"""
