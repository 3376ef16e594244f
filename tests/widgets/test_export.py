"""The exported page: the widget's own module, every layer's data, every user string inert."""

import json
import re

import numpy as np
import pytest

pytest.importorskip("anywidget")

from repscope.synthetic import synthetic_trajectory
from repscope.widgets import Scrubber, embed_html, export_html
from repscope.widgets.export import read_page
from repscope.widgets.protocol import ESM

from .conftest import FrontEnd

EVIL = "</script><script>alert(1)</script>"


@pytest.fixture(scope="module")
def evil_traj():
    traj = synthetic_trajectory(n_steps=6, layers=("h.0", EVIL), n_points=40, run=EVIL)
    traj.probe.labels = np.array([EVIL, "plain"] * 20)
    return traj


def by_type(page, kind):
    return [m for m in page["messages"] if m["type"] == kind]


def test_the_page_holds_every_layer_and_step_as_the_widget_sends_them(tmp_path, evil_traj):
    out = export_html(evil_traj, tmp_path / "s.html", layer="h.0")
    page = read_page(out)
    assert page["state"] == {
        "step": evil_traj.steps[0],
        "layer": "h.0",
        "measures": ["effective_rank", "alpha"],
        "selected": [],
        "playing": False,
    }
    (runs,) = by_type(page, "runs")
    assert [h["layer"] for h in by_type(page, "layer")] == ["h.0", EVIL]  # both pickable
    front = FrontEnd(Scrubber(evil_traj))
    widget_runs = front.runs()
    np.testing.assert_array_equal(
        runs["runs"][0]["measures"]["values"], widget_runs[0]["measures"]["values"]
    )
    for layer in ("h.0", EVIL):
        (block,) = [b for b in by_type(page, "block") if b["layer"] == layer]
        sent = front.block(layer, 0)
        for panel in ("spectrum", "points"):
            for name, values in sent["panels"][panel].items():
                np.testing.assert_array_equal(block["panels"][panel][name], values)
        assert block["count"] == len(evil_traj.steps)


def test_the_page_runs_the_widgets_module(tmp_path, evil_traj):
    text = export_html(evil_traj, tmp_path / "s.html").read_text()
    (module,) = re.findall(
        r'<script type="application/json" class="repscope-esm">(.*?)</script>', text, re.S
    )
    assert json.loads(module) == ESM.read_text("utf-8")
    assert "https://" not in text.replace("https://anywidget", "")  # nothing fetched


def test_user_strings_are_inert(tmp_path, evil_traj):
    out = export_html({EVIL: evil_traj}, tmp_path / "s.html", layer=EVIL)
    text = out.read_text()
    # outside the JSON, no user string; inside it, no '<' at all
    assert "<script>alert" not in text and "</script><script>" not in text
    for body in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', text, re.S):
        assert "<" not in body and ">" not in body
    assert "<title>repscope: &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>" in text
    page = read_page(out)
    (runs,) = by_type(page, "runs")
    assert runs["runs"][0]["name"] == EVIL and EVIL in runs["runs"][0]["layers"]
    assert EVIL in runs["runs"][0]["panels"]["points"]["names"]  # read back exactly


def test_quotes_and_template_characters_pass_through_as_text(tmp_path):
    name = 'my "best" run %{y} &amp;'
    traj = synthetic_trajectory(n_steps=4, layers=('the "last" layer',), n_points=20, run=name)
    page = read_page(export_html(traj, tmp_path / "q.html"))
    assert page["messages"][0]["runs"][0]["name"] == name


def test_layers_picks_what_the_page_holds(tmp_path, evil_traj):
    page = read_page(export_html(evil_traj, tmp_path / "s.html", layers=["h.0"]))
    assert {m["layer"] for m in page["messages"] if "layer" in m} == {"h.0"}
    assert page["state"]["layer"] == "h.0"


def test_bad_arguments_are_clear_errors(tmp_path, evil_traj):
    with pytest.raises(ValueError, match="'layer' argument of export_html must be one of"):
        export_html(evil_traj, tmp_path / "x.html", layer="nope")
    with pytest.raises(ValueError, match="'layers' argument of export_html must be a non-empty"):
        export_html(evil_traj, tmp_path / "x.html", layers=["nope"])
    with pytest.raises(ValueError, match="'measures' argument of export_html must be a list"):
        export_html(evil_traj, tmp_path / "x.html", measures=["dse"])
    with pytest.raises(TypeError, match="'trajectory' argument of export_html must be"):
        export_html(42, tmp_path / "x.html")
    with pytest.raises(ValueError, match=r"'path' argument of repscope\.open must be an existing"):
        export_html(str(tmp_path / "no-such.sqlite"), tmp_path / "x.html")


def test_a_page_too_big_is_refused_with_what_to_change(tmp_path, evil_traj, monkeypatch):
    import repscope.widgets.export as export

    monkeypatch.setattr(export, "MAX_PAGE_BYTES", 1000)
    with pytest.raises(ValueError, match=r"pass layers=\[\.\.\.\] or a smaller max_points"):
        export_html(evil_traj, tmp_path / "x.html")


def test_training_scalars_and_phases_reach_the_page(tmp_path):
    traj = synthetic_trajectory(n_steps=16, layers=("h.0",), n_points=30)
    traj.store.put_scalars(traj.run, 0, {"loss": 7.5})
    traj.store.put_scalars(traj.run, 10, {"loss": 3.25})
    page = read_page(export_html(traj, tmp_path / "s.html"))
    (runs,) = by_type(page, "runs")
    (loss,) = runs["runs"][0]["panels"]["training"]["scalars"]
    np.testing.assert_array_equal(loss["steps"], [0, 10])
    np.testing.assert_array_equal(loss["values"], [7.5, 3.25])
    (head,) = by_type(page, "layer")
    assert [(p["start"], p["end"]) for p in head["panels"]["curves"]["phases"]] == [
        (p.start_step, p.end_step) for p in traj.phases()
    ]


def test_fragments_share_one_loader_and_have_their_own_data(evil_traj):
    a, b = embed_html(evil_traj), embed_html(evil_traj)
    ids = [re.search(r'data-view="([0-9a-f]+)"', f).group(1) for f in (a, b)]
    assert ids[0] != ids[1]
    assert all(f'id="repscope-data-{i}"' in f for i, f in zip(ids, (a, b), strict=True))
    assert "holder.__repscopeModule" in a  # the module is imported once per page


def test_the_page_shades_the_phases_of_the_pair_asked_for(tmp_path):
    traj = synthetic_trajectory(n_steps=16, layers=("h.0",), n_points=40, seed=0)
    pair = ("participation_ratio", "alpha")
    page = read_page(export_html(traj, tmp_path / "s.html", phase_measures=pair))
    (head,) = by_type(page, "layer")
    expected = traj.phases(measures=pair)
    bounds = [(p.start_step, p.end_step) for p in expected]
    assert expected and bounds != [(p.start_step, p.end_step) for p in traj.phases()]
    assert [(p["start"], p["end"], p["name"]) for p in head["panels"]["curves"]["phases"]] == [
        (p.start_step, p.end_step, p.name) for p in expected
    ]
    with pytest.raises(ValueError, match="'phase_measures' argument of export_html"):
        export_html(traj, tmp_path / "t.html", phase_measures=("alpha", "missing"))
    assert not (tmp_path / "t.html").exists()
