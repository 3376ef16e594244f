"""The scrubber as one self-contained HTML file: plotly frames and a slider, no kernel needed."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._validation import check_option, fail
from .data import RunData, curve_names, default_curves
from .panels import MAX_POINTS, Panels
from .scrubber import as_runs


def export_html(trajectory: Any, path: str | Path, *, layer: str | None = None,
                measures: Sequence[str] | None = None,
                include_plotlyjs: bool | str = True,
                max_points: int | None = MAX_POINTS) -> Path:
    """Write the scrubber's view of one layer as a standalone HTML file.

    One animation frame per step (spectrum, fit, points, cursor, titles) and a slider with
    play/pause: it scrubs in any browser with no kernel and, with plotly.js inline (the
    default), no network. Every user string (run, layer and label names, texts, errors) is
    HTML-escaped.

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
    max_points : int or None, default 1000
        As for :class:`~repscope.widgets.Scrubber`.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from repscope.synthetic import synthetic_trajectory
    >>> from repscope.widgets import export_html
    >>> out = export_html(synthetic_trajectory(n_steps=4, n_points=30),
    ...                   pathlib.Path(tempfile.mkdtemp()) / "scrub.html", include_plotlyjs="cdn")
    >>> text = out.read_text()
    >>> [f'"name":"{step}"' in text for step in (0, 1, 3, 10)]  # one frame per step
    [True, True, True, True]
    """
    func = "export_html"
    if include_plotlyjs is not True:
        check_option(include_plotlyjs, name="include_plotlyjs", func=func, options=("cdn",))
    runs = [RunData(t, n) for t, n in as_runs(trajectory, func)]
    layers = [name for run in runs for name in run.layers]
    steps = sorted({int(s) for run in runs for s in run.steps})
    if not layers:
        fail("trajectory", func, "a trajectory with at least one measured layer",
             f"{len(steps)} step(s) and no measured layer (empty, or every checkpoint failed)")
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
            fail("measures", func, f"stored measures or training scalars, from {available}",
                 repr(unknown))
    panels = Panels(runs, list(measures), max_points=max_points)
    fig = panels.figure(layer, steps[0])
    base = fig.layout.to_plotly_json()
    frames, slider_steps = [], []
    for step in steps:
        patch = panels.step_patch(layer, step)
        _, order = patch.restyle()
        layout = _frame_layout(base, patch.layout)
        frames.append({"name": str(step), "traces": order, "layout": layout,
                       "data": [{"x": patch.traces[i]["x"], "y": patch.traces[i]["y"]}
                                for i in order]})
        slider_steps.append({"label": str(step), "method": "animate", "args": [
            [str(step)], {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                          "transition": {"duration": 0}}]})
    fig.frames = frames
    play = {"frame": {"duration": 300, "redraw": True}, "fromcurrent": True,
            "transition": {"duration": 0}}
    fig.update_layout(
        sliders=[{"active": 0, "steps": slider_steps, "x": 0.08, "len": 0.92, "y": 0,
                  "yanchor": "top", "pad": {"t": 40},
                  "currentvalue": {"prefix": "step ", "font": {"size": 13}}}],
        updatemenus=[{"type": "buttons", "direction": "left", "x": 0.0, "y": 0,
                      "yanchor": "top", "pad": {"t": 48}, "showactive": False, "buttons": [
                          {"label": "▶", "method": "animate", "args": [None, play]},
                          {"label": "❚❚", "method": "animate", "args": [
                              [None], {"mode": "immediate", "frame": {"duration": 0}}]}]}],
        legend={"orientation": "v", "x": 1.01, "y": 0.45, "yanchor": "top"},
        margin={"b": 140}, height=fig.layout.height + 90,
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(out, include_plotlyjs=include_plotlyjs, full_html=True, auto_play=False,
                   config={"responsive": True},
                   div_id="repscope-scrubber")
    return out


def _frame_layout(base: dict, changes: dict[str, Any]) -> dict:
    """The frame's layout: the base's title, shapes and annotations with every property the step
    patches set (``Plotly.animate`` replaces whole arrays, so each frame carries them whole)."""
    layout: dict[str, Any] = {"shapes": copy.deepcopy(base.get("shapes", [])),
                              "annotations": copy.deepcopy(base.get("annotations", [])),
                              "title": copy.deepcopy(base.get("title", {}))}
    for key, value in changes.items():
        if key.split("[", 1)[0].split(".", 1)[0] in layout:
            _set_path(layout, key, value)
    return layout


def _set_path(tree: dict, path: str, value: Any) -> None:
    """Set a plotly property path (``"shapes[3].x0"``, ``"title.text"``) in a layout dict."""
    node: Any = tree
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    for part, nxt in itertools.pairwise(parts):
        key: Any = int(part[1:-1]) if part.startswith("[") else part
        if isinstance(node, dict):
            node = node.setdefault(key, [] if nxt.startswith("[") else {})
        else:
            node = node[key]
    last = parts[-1]
    node[int(last[1:-1]) if last.startswith("[") else last] = value
