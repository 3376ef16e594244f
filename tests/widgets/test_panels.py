"""Panels behind one interface: a panel registered here is in the widget and in the page."""

import numpy as np
import pytest

pytest.importorskip("anywidget")

from repscope.synthetic import synthetic_trajectory
from repscope.widgets import PANELS, Panel, Scrubber, export_html, register_panel, unregister_panel
from repscope.widgets.export import read_page

from .conftest import FrontEnd


class TopShare(Panel):
    """The top eigenvalue's share of the variance over steps, at every layer."""

    def __init__(self):
        super().__init__("top_share", "lines", title="top eigenvalue", options={"source": "series"})

    def run_data(self, run, feed):
        series = []
        for layer in run.layers:
            values = [run.spectrum(int(s), layer) for s in run.steps]
            series.append(
                {
                    "name": layer,
                    "label": f"λ₁/Σλ of {layer}",
                    "steps": run.steps.astype(np.float64),
                    "values": np.array([v.values[0] for v in values], dtype=np.float32),
                }
            )
        return {"series": series}


@pytest.fixture
def top_share():
    panel = register_panel(TopShare(), before="spectrum")
    yield panel
    unregister_panel("top_share")


def test_builtin_panels_in_layout_order():
    assert list(PANELS) == ["overview", "curves", "training", "spectrum", "points"]


def test_a_registered_panel_reaches_the_widget_and_the_page(tmp_path, top_share):
    traj = synthetic_trajectory(n_steps=5, layers=("a", "b"), n_points=30)
    expected = [traj.spectrum(s, "b")[0] for s in traj.steps]
    (hello, *_rest) = FrontEnd(Scrubber(traj)).hello()
    names = [p["name"] for p in hello["panels"]]
    assert names.index("top_share") == names.index("spectrum") - 1
    (series,) = [x for x in hello["runs"][0]["panels"]["top_share"]["series"] if x["name"] == "b"]
    np.testing.assert_allclose(series["values"], expected, rtol=1e-6)
    page = read_page(export_html(traj, tmp_path / "p.html"))
    runs = page["messages"][0]
    assert "top_share" in [p["name"] for p in runs["panels"]]
    (series,) = [x for x in runs["runs"][0]["panels"]["top_share"]["series"] if x["name"] == "b"]
    np.testing.assert_allclose(series["values"], expected, rtol=1e-6)


def test_a_panel_that_does_not_apply_is_left_out():
    traj = synthetic_trajectory(n_steps=4, layers=("a",), n_points=20)
    (hello, *_rest) = FrontEnd(Scrubber(traj)).hello()
    assert "training" not in [p["name"] for p in hello["panels"]]  # no training scalars
    traj.store.put_scalars(traj.run, 0, {"loss": 1.0})
    (hello, *_rest) = FrontEnd(Scrubber(traj)).hello()
    assert "training" in [p["name"] for p in hello["panels"]]


def test_panels_can_be_chosen_per_view():
    traj = synthetic_trajectory(n_steps=4, layers=("a",), n_points=20)
    s = Scrubber(traj, panels=[PANELS["curves"], PANELS["points"]])
    (hello, *_rest) = FrontEnd(s).hello()
    assert [p["name"] for p in hello["panels"]] == ["curves", "points"]


def test_registering_twice_or_a_non_panel_is_an_error(top_share):
    with pytest.raises(ValueError, match="already registered"):
        register_panel(TopShare())
    with pytest.raises(TypeError, match="register_panel takes a Panel"):
        register_panel("top_share")
    with pytest.raises(ValueError, match="no panel named 'nope'"):
        register_panel(Panel("x", "lines"), before="nope")
