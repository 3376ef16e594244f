"""The scrubber at research scale: what a step redraws, the selection, the overview heatmap."""

import math

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("plotly")

from repscope.synthetic import synthetic_trajectory
from repscope.widgets import Scrubber
from repscope.widgets.data import RunData
from repscope.widgets.panels import Panels

LAYERS = ("h.0", "h.1", "h.2", "h.3")
N = 200


@pytest.fixture(scope="module")
def traj():
    t = synthetic_trajectory(n_steps=10, layers=LAYERS, n_points=N, seed=3)
    t.probe.texts = [f"input {i}" for i in range(N)]
    return t


def inputs_of(trace, positions=None):
    """Probe indices of a points trace's dots, read from their hover texts ("input i")."""
    texts = list(trace.hovertext)
    positions = range(len(texts)) if positions is None else positions
    return {int(texts[p].split("input ")[1]) for p in positions}


def test_a_step_sends_data_only_to_the_spectrum_and_the_points(traj):
    panels = Panels([RunData(traj)], ["effective_rank", "alpha"])
    panels.figures("h.1", traj.steps[0])
    patches = panels.step_patch("h.1", traj.steps[4])
    assert patches["curves"].traces == {} and patches["overview"].traces == {}
    assert set(patches["curves"].layout) == {"shapes[0].x0", "shapes[0].x1"}
    assert set(patches["overview"].layout) == {"shapes[0].x0", "shapes[0].x1"}
    assert patches["points"].traces and patches["spectrum"].traces
    # a layer change redraws the curves and moves the overview's layer box
    layer = panels.layer_patch("h.2")
    assert layer["curves"].traces and layer["overview"].layout["shapes[1].y0"] == 2 - 0.5


def test_points_are_drawn_in_webgl_all_of_them_up_to_the_cap(traj):
    s = Scrubber(traj, interval=0)
    traces = [s.figures["points"].data[i] for i, _ in s.panels.points.traces[0]]
    assert {t.type for t in traces} == {"scattergl"}
    assert sorted(set().union(*(inputs_of(t) for t in traces))) == list(range(N))


def select_box(s, x0, x1, y0, y1):
    """What the front end sends after a box selection: every dot inside, trace by trace."""
    fig = s.figures["points"]
    trace_indexes, point_indexes, xs, ys = [], [], [], []
    for i, _ in s.panels.points.traces[0]:
        x, y = np.asarray(fig.data[i].x, float), np.asarray(fig.data[i].y, float)
        for p in np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)):
            trace_indexes.append(i), point_indexes.append(int(p))
            xs.append(float(x[p])), ys.append(float(y[p]))
    fig._js2py_pointsCallback = {
        "event_type": "plotly_selected",
        "points": {
            "trace_indexes": trace_indexes,
            "point_indexes": point_indexes,
            "xs": xs,
            "ys": ys,
        },
        "selector": {"type": "box", "selector_state": {"xrange": [x0, x1], "yrange": [y0, y1]}},
        "device_state": None,
    }
    return {
        int(fig.data[t].hovertext[p].split("input ")[1])
        for t, p in zip(trace_indexes, point_indexes, strict=True)
    }


def test_a_box_selection_reaches_python_and_stays_highlighted_at_every_step(traj):
    s = Scrubber(traj, interval=0, layer="h.1")
    s.slider.value = traj.steps[3]
    seen = []
    s.observe(lambda change: seen.append(list(change["new"])), "selected")
    fig = s.figures["points"]
    x = np.concatenate([np.asarray(fig.data[i].x, float) for i, _ in s.panels.points.traces[0]])
    inside = select_box(s, -np.inf, float(np.median(x)), -np.inf, np.inf)
    assert 0 < len(inside) < N
    assert s.selected == sorted(inside)
    assert seen == [sorted(inside)]  # one change per selection, not one per trace
    assert s.selection_label.value == f"{len(inside)} probe input(s) selected"
    for step in traj.steps:  # the same inputs are highlighted wherever they move
        s.slider.value = step
        highlighted = set()
        for i, _ in s.panels.points.traces[0]:
            trace = s.figures["points"].data[i]
            highlighted |= inputs_of(trace, trace.selectedpoints or [])
        assert highlighted == inside
    fig._js2py_pointsCallback = {
        "event_type": "plotly_deselect",
        "points": {"trace_indexes": [], "point_indexes": [], "xs": [], "ys": []},
        "device_state": None,
    }
    assert s.selected == [] and s.selection_label.value == ""
    assert all(
        s.figures["points"].data[i].selectedpoints is None for i, _ in s.panels.points.traces[0]
    )


def test_selection_set_from_python_is_highlighted(traj):
    s = Scrubber(traj, interval=0)
    s.selected = [0, 5, 199]
    highlighted = set()
    for i, _ in s.panels.points.traces[0]:
        trace = s.figures["points"].data[i]
        highlighted |= inputs_of(trace, trace.selectedpoints or [])
    assert highlighted == {0, 5, 199}


def test_the_overview_holds_every_layer_at_every_step(traj):
    s = Scrubber(traj, interval=0, measures=["alpha", "effective_rank"])
    heat = s.figures["overview"].data[0]
    z = np.asarray(heat.z, dtype=float)
    assert z.shape == (len(LAYERS), len(traj.steps))
    for row, layer in enumerate(LAYERS):  # coloured by the first chosen measure
        np.testing.assert_allclose(z[row], traj.curve("alpha", layer).values)
    np.testing.assert_allclose(heat.x, np.log10(np.asarray(traj.steps) + 1.0))
    assert list(s.figures["overview"].layout.yaxis.ticktext) == list(LAYERS)


def test_a_click_on_an_overview_cell_jumps_there(traj):
    s = Scrubber(traj, interval=0)
    step, layer = traj.steps[6], "h.0"
    fig = s.figures["overview"]
    # a click lands anywhere inside the cell: a little off its centre
    x, y = math.log10(step + 1) + 0.01, LAYERS.index(layer) + 0.3
    fig._js2py_pointsCallback = {
        "event_type": "plotly_click",
        "points": {
            "trace_indexes": [0],
            "point_indexes": [[LAYERS.index(layer), 6]],
            "xs": [x],
            "ys": [y],
        },
        "device_state": None,
    }
    assert s.layer.value == layer and s.slider.value == step
    assert s.figure.layout.title.text == f"step {step} · layer {layer}"
    assert fig.layout.shapes[1].y0 == LAYERS.index(layer) - 0.5
    assert fig.layout.shapes[0].x0 == pytest.approx(math.log10(step + 1))


def test_default_cap_is_20000_points_and_is_stated_above_it():
    from repscope.widgets.points import MAX_POINTS

    assert MAX_POINTS == 20_000
    big = synthetic_trajectory(n_steps=2, layers=("h",), n_points=MAX_POINTS + 500, labels=False)
    s = Scrubber(big, interval=0)
    (trace,) = [s.figures["points"].data[i] for i, _ in s.panels.points.traces[0]]
    assert len(trace.x) == MAX_POINTS
    note = s.figure.layout.annotations[1].text
    assert f"20,000 of {MAX_POINTS + 500:,} probe points drawn" in note
