"""The Scrubber widget: its state, and the data it sends carry the trajectory's numbers.

The data is checked as the front end receives it (``FrontEnd`` in conftest: the requests
``js/src/view.js`` makes, the binary messages decoded), against the trajectory read
independently (``traj.curve``, ``traj.spectrum``, ``traj.points``, a naive power-law fit).
"""

import dataclasses
import itertools
import json
import threading
import time

import numpy as np
import pytest
import torch

pytest.importorskip("ipywidgets")
pytest.importorskip("anywidget")

import traitlets
from ipywidgets.embed import dependency_state

from repscope import Probe
from repscope.live import LiveRun
from repscope.scan import WHOLE_CHECKPOINT
from repscope.store import Record
from repscope.synthetic import synthetic_trajectory
from repscope.trajectory import Trajectory
from repscope.widgets import Scrubber

from .conftest import FrontEnd

LAYERS = ("h.0", "h.1", "h.2")


@pytest.fixture(scope="module")
def traj():
    return synthetic_trajectory(n_steps=9, layers=LAYERS, n_points=120, seed=4)


def naive_wls(lam, first, last):
    """log λ_i = c − α log i by weighted least squares (weights 1/i), with numpy's polyfit."""
    i = np.arange(first, last + 1, dtype=float)
    slope, intercept = np.polyfit(np.log(i), np.log(lam[first - 1 : last]), 1, w=np.sqrt(1 / i))
    return -slope, intercept


def distances(p):
    return np.linalg.norm(p[:, None] - p[None], axis=-1)


def test_starts_at_the_first_step_of_the_last_layer_with_the_default_curves(traj):
    s = Scrubber(traj)
    assert s.steps == list(traj.steps) and s.step == traj.steps[0]
    assert s.layers == list(LAYERS) and s.layer == LAYERS[-1]
    assert s.measures == ["effective_rank", "alpha"]  # DSE is not stored here
    assert s.selected == [] and s.playing is False


def test_hello_sends_the_runs_and_what_the_first_step_needs(traj):
    s = Scrubber(traj)
    first = FrontEnd(s).hello()
    # drawn with no second round trip; the phases follow once detected
    assert [m["type"] for m in first] == ["runs", "layer", "block", "layer"]
    assert first[1]["panels"]["curves"] == {"phases": [], "pending": True}
    assert (
        first[3]["panels"]["curves"]["phases"]
        == FrontEnd(s).layer(s.layer)["panels"]["curves"]["phases"]
    )
    assert "pending" not in first[3]["panels"]["curves"]
    again = FrontEnd(s).hello()  # detected already: sent at once
    assert [m["type"] for m in again] == ["runs", "layer", "block"]


def test_the_measure_table_holds_every_measure_of_every_layer(traj):
    (run,) = FrontEnd(Scrubber(traj)).runs()
    assert run["layers"] == list(LAYERS)
    np.testing.assert_array_equal(run["steps"], traj.steps)
    table = run["measures"]
    assert table["values"].dtype == np.float32
    for m, name in enumerate(table["names"]):
        for layer_index, layer in enumerate(LAYERS):
            expected = traj.curve(name, layer).to_numpy()
            np.testing.assert_allclose(table["values"][m, layer_index], expected, rtol=1e-6)
    assert {"alpha_r2", "alpha_fit_first"}.isdisjoint(table["names"])  # parts, not curves
    labels = {c["name"]: (c["label"], c["axis"], c["kind"]) for c in run["curves"]}
    assert labels["effective_rank"] == ("RankMe", "RankMe (covariance)", "measure")


@pytest.mark.parametrize("index", [0, 3, 8])
def test_a_step_carries_its_spectrum_fit_and_points(traj, index):
    front = FrontEnd(Scrubber(traj))
    step, layer = traj.steps[index], LAYERS[-1]
    block, row = front.at(layer, step)
    stored = traj.spectrum(step, layer)
    values = block["panels"]["spectrum"]["values"][row]
    np.testing.assert_allclose(values[: len(stored)], stored, rtol=1e-6)
    assert np.isnan(values[len(stored) :]).all()
    record = next(r for r in traj.records() if r.step == step and r.layer == layer)
    first, last = int(record.measures["alpha_fit_first"]), int(record.measures["alpha_fit_last"])
    alpha, intercept = naive_wls(stored, first, last)
    fit = block["panels"]["spectrum"]["fit"][row]
    np.testing.assert_allclose(fit[[0, 2]], [alpha, intercept], rtol=1e-5)
    assert fit[1] == pytest.approx(record.measures["alpha_r2"], rel=1e-5)
    assert tuple(fit[3:]) == (first, last)
    # the points are the stored points up to an orthogonal map: same pairwise distances
    drawn = block["panels"]["points"]["xy"][row].astype(float)
    assert block["panels"]["points"]["has"][row] == 1
    ref = traj.points(layer)[step].astype(float)
    np.testing.assert_allclose(distances(drawn), distances(ref), rtol=1e-4, atol=1e-4)
    if index == len(traj.steps) - 1:  # the last step is the alignment's reference: unrotated
        np.testing.assert_allclose(drawn, ref, atol=1e-5)


def test_points_keep_their_frame_from_step_to_step(traj):
    """Consecutive steps are aligned: the rotation between them is the identity's closest."""
    front = FrontEnd(Scrubber(traj))
    block, _ = front.at("h.1", traj.steps[0])
    xy = block["panels"]["points"]["xy"].astype(float)
    for a, b in itertools.pairwise(xy):
        u, _, vt = np.linalg.svd(a.T @ b)
        np.testing.assert_allclose(u @ vt, np.eye(2), atol=1e-5)


def test_a_layer_carries_its_phases_and_fixed_axis_ranges(traj):
    front = FrontEnd(Scrubber(traj))
    head = front.layer("h.2")
    phases = traj.phases("h.2")
    shaded = head["panels"]["curves"]["phases"]
    assert [(p["start"], p["end"], p["name"]) for p in shaded] == [
        (p.start_step, p.end_step, p.name) for p in phases
    ]
    x0, x1, y0, y1 = head["panels"]["points"]["range"]
    every = np.concatenate([p for p in traj.points("h.2").values()])
    assert x0 < every[:, 0].min() and x1 > every[:, 0].max()
    assert y0 < every[:, 1].min() and y1 > every[:, 1].max()
    lo, hi = head["panels"]["spectrum"]["range"]
    spectra = [traj.spectrum(s, "h.2") for s in traj.steps]
    assert lo < min(v.min() for v in spectra) and hi > max(v.max() for v in spectra)


def test_the_spectrum_axis_stops_at_the_numerical_floor():
    """Two numerically zero eigenvalues (1e-19) do not stretch the axis down to them."""
    traj = synthetic_trajectory(n_steps=4, layers=("h",), n_points=40)
    spectra = {}
    for r in traj.records():
        v = r.spectrum.copy()
        v[-2:] = 1e-19
        spectra[r.step] = v
        traj.store.put(dataclasses.replace(r, spectrum=v))
    head = FrontEnd(Scrubber(traj)).layer("h")
    floor = head["panels"]["spectrum"]["floor"]
    # n · ε₃₂² · λ_max: the rounding of float32 activations, squared (above float64's ε)
    expected = max(len(v) * np.finfo(np.float32).eps ** 2 * v.max() for v in spectra.values())
    assert floor == pytest.approx(expected)
    lo, _ = head["panels"]["spectrum"]["range"]
    assert lo > floor > 1e-19
    smallest_real = min(v[:-2].min() for v in spectra.values())
    assert lo == pytest.approx(smallest_real / 1.6)


def test_steps_come_in_blocks_that_fit_the_budget_and_add_up(traj):
    s = Scrubber(traj)
    s.feed.block_bytes = 3000  # a few steps per block
    front = FrontEnd(s)
    head = front.layer("h.1")
    size, count = head["blocks"]["size"], head["blocks"]["count"]
    assert size * (120 * 8 + 1 + 4 * 37) <= 3000 or size == 1
    assert count == -(-len(traj.steps) // size) and count > 1
    parts = [front.block("h.1", b) for b in range(count)]
    assert [p["start"] for p in parts] == [b * size for b in range(count)]
    xy = np.concatenate([p["panels"]["points"]["xy"] for p in parts])
    s.feed.block_bytes = 10**9
    (whole,) = FrontEnd(s).ask(type="block", run=0, layer="h.1", block=0)
    np.testing.assert_array_equal(xy, whole["panels"]["points"]["xy"])


def test_a_step_from_python_is_one_state_message_and_no_data(traj, serialising_comm):
    s = Scrubber(traj)
    serialising_comm.sent.clear()
    s.step = traj.steps[5]
    (sent,) = serialising_comm.sent
    assert sent["data"]["method"] == "update" and sent["data"]["state"] == {"step": traj.steps[5]}
    assert sent["buffers"] == []
    serialising_comm.sent.clear()
    with s.hold_sync():
        s.layer, s.step = "h.0", traj.steps[2]
    assert len(serialising_comm.sent) == 1  # several changes: one message


def test_bad_state_is_a_clear_error(traj):
    s = Scrubber(traj)
    with pytest.raises(traitlets.TraitError, match="'step' argument of Scrubber must be one of"):
        s.step = 5
    with pytest.raises(traitlets.TraitError, match="'layer' argument of Scrubber"):
        s.layer = "nope"
    with pytest.raises(traitlets.TraitError, match="'measures' argument of Scrubber"):
        s.measures = ["effective_rank", "nope"]
    with pytest.raises(traitlets.TraitError, match=r"'selected' argument of Scrubber .*\[0, 120\)"):
        s.selected = [3, 120]
    s.selected = [7, 3, 3]
    assert s.selected == [3, 7]
    with pytest.raises(ValueError, match="'layer' argument of Scrubber"):
        Scrubber(traj, layer="nope")
    with pytest.raises(TypeError, match="'measures' argument of Scrubber must be a list"):
        Scrubber(traj, measures="alpha")


def test_bad_requests_get_an_error_message_not_an_exception(traj):
    front = FrontEnd(Scrubber(traj))
    for request in (
        {"type": "nonsense"},
        {"type": "layer", "run": 5, "layer": "h.0"},
        {"type": "layer", "run": 0, "layer": "<b>x</b>"},
        {"type": "block", "run": 0, "layer": "h.0", "block": 99},
        {"type": "block", "run": "0", "layer": "h.0", "block": 0},
    ):
        (answer,) = front.ask(**request)
        assert answer["type"] == "error" and answer["text"].startswith("repscope: ")


def test_comparison_sends_each_run_with_its_own_steps():
    low = synthetic_trajectory(n_steps=5, layers=("h",), n_points=60, run="low-rank", seed=1)
    high = synthetic_trajectory(n_steps=7, layers=("h",), n_points=60, run="high-rank", seed=2)
    s = Scrubber({"low": low, "high": high}, measures=["effective_rank"])
    assert s.steps == sorted(set(low.steps) | set(high.steps))
    runs = FrontEnd(s).runs()
    assert [r["name"] for r in runs] == ["low", "high"]
    np.testing.assert_array_equal(runs[1]["steps"], high.steps)
    np.testing.assert_allclose(
        runs[0]["measures"]["values"][0, 0], low.curve("effective_rank", "h").to_numpy(), rtol=1e-6
    )


def test_failed_checkpoints_leave_gaps_and_say_so():
    traj = synthetic_trajectory(n_steps=6, layers=("h",), n_points=40)
    bad = traj.steps[2]
    with traj.store._transaction():
        traj.store._conn.execute("DELETE FROM results WHERE step=?", (bad,))
    traj.store.put(
        Record(
            run=traj.run,
            checkpoint="x",
            layer=WHOLE_CHECKPOINT,
            step=bad,
            status="failed",
            error="corrupt <b>file</b>",
            **traj.key(),
        )
    )
    s = Scrubber(traj, measures=["effective_rank"])
    (run,) = FrontEnd(s).runs()
    rank = run["measures"]["values"][0, 0]
    assert np.isnan(rank[2]) and np.isfinite(np.delete(rank, 2)).all()
    assert run["failed"] == {str(bad): "corrupt <b>file</b>"}  # text: the page shows it as text
    assert any(f"steps {bad}" in n for n in s.notes)


def test_an_empty_trajectory_says_what_to_do():
    probe = Probe(torch.zeros(5, 2), layers=["0"])
    s = Scrubber(Trajectory(None, probe, run="nothing-yet"))
    hello = FrontEnd(s).hello()
    assert [m["type"] for m in hello] == ["runs"]
    assert "No results stored yet for nothing-yet" in hello[0]["empty"]
    assert s.steps == [] and s.layer == ""


def test_one_layer_no_labels():
    traj = synthetic_trajectory(n_steps=4, layers=("only",), n_points=30, labels=False)
    (run,) = FrontEnd(Scrubber(traj)).runs()
    points = run["panels"]["points"]
    assert points["codes"] is None and points["names"] is None and len(points["shown"]) == 30


def test_numeric_labels_are_ordered_as_numbers():
    traj = synthetic_trajectory(n_steps=3, layers=("h",), n_points=30)
    traj.probe.labels = np.array([10, 2, 1] * 10)
    (run,) = FrontEnd(Scrubber(traj)).runs()
    points = run["panels"]["points"]
    assert points["names"] == ["1", "2", "10"]
    assert [points["names"][c] for c in points["codes"][:3]] == ["10", "2", "1"]


def test_at_most_max_points_are_sent_and_always_the_same_ones():
    traj = synthetic_trajectory(n_steps=4, layers=("h",), n_points=300)
    traj.probe.texts = [f"input {i}" for i in range(300)]
    front = FrontEnd(Scrubber(traj, max_points=100))
    (run,) = front.runs()
    points = run["panels"]["points"]
    shown = points["shown"]
    assert len(shown) == 100 == len(set(shown.tolist())) and "100 of 300" in points["capped"]
    assert points["texts"] == [f"input {i}" for i in shown]
    block, _ = front.at("h", traj.steps[0])
    stored = traj.points("h")
    for row, step in enumerate(traj.steps):
        drawn = block["panels"]["points"]["xy"][row].astype(float)
        ref = stored[step][shown].astype(float)
        np.testing.assert_allclose(distances(drawn), distances(ref), rtol=1e-4, atol=1e-4)
    everything = FrontEnd(Scrubber(traj, max_points=None)).runs()[0]["panels"]["points"]
    assert len(everything["shown"]) == 300 and "capped" not in everything


def test_training_scalars_come_with_the_run_and_are_offered():
    traj = synthetic_trajectory(n_steps=6, layers=("h.0",), n_points=40)
    logged = np.arange(0, 40, 4)  # the loss is logged more often than checkpoints are taken
    for step in logged:
        traj.store.put_scalars(traj.run, int(step), {"loss": 5.0 / (1 + step), "lr": 1e-3})
    s = Scrubber(traj)
    assert "loss" in s.measures and "lr" not in s.measures  # the loss is shown by default
    (run,) = FrontEnd(s).runs()
    scalars = {x["name"]: x for x in run["panels"]["training"]["scalars"]}
    np.testing.assert_array_equal(scalars["loss"]["steps"], logged)
    np.testing.assert_allclose(scalars["loss"]["values"], 5.0 / (1 + logged), rtol=1e-6)
    kinds = {c["name"]: (c["kind"], c["label"]) for c in run["curves"]}
    assert kinds["loss"] == ("scalar", "training loss") and kinds["lr"][0] == "scalar"
    s.measures = ["alpha", "lr"]  # every stored curve can be chosen


def test_not_a_trajectory_is_a_clear_error():
    with pytest.raises(TypeError, match="'trajectory' argument of Scrubber must be a Trajectory"):
        Scrubber(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="at least one trajectory"):
        Scrubber([])


def test_saved_widget_state_holds_no_data():
    """The widget state is the state and the module: it does not grow with the run."""

    def state_bytes(n_steps):
        s = Scrubber(synthetic_trajectory(n_steps=n_steps, layers=("h",), n_points=300))
        s.step = s.steps[-1]
        state = dependency_state([s], drop_defaults=False)
        (module,) = [v["state"].pop("_esm") for v in state.values() if "_esm" in v["state"]]
        assert 20_000 < len(module) < 200_000  # the front end, ~80 KB
        return len(json.dumps(state))

    small, large = state_bytes(8), state_bytes(60)
    assert large == pytest.approx(small, abs=20) and large < 3000


def test_live_run_sends_new_steps_as_they_arrive():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 8))
    probe = Probe(torch.randn(64, 4), layers=["1", "2"], labels=np.arange(64) % 3)
    live = LiveRun(probe, every=10, fit_range=(2, 6))
    s = Scrubber(live, watch=False)
    front = FrontEnd(s)
    hello = front.hello()
    assert hello[0]["live"] and "Waiting for the first checkpoint" in hello[0]["empty"]
    assert "compute()" not in hello[0]["empty"]  # nothing for a student to call
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(31):
        live.observe(step, model)
        loss = model(torch.randn(16, 4)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == 10:
            live.wait()
            before = len(front.received())
            assert s.refresh() and s.steps == [0, 10]
            pushed = front.received()[before:]
            assert [m["type"] for m in pushed][:3] == ["runs", "layer", "block"]  # unasked
            np.testing.assert_array_equal(pushed[0]["runs"][0]["steps"], [0, 10])
    live.wait()
    before = len(front.received())
    assert s.refresh() and s.steps == [0, 10, 20, 30]
    runs, layer, block, *_phases = front.received()[before:]
    assert layer["layer"] == s.layer == "2"
    np.testing.assert_allclose(
        runs["runs"][0]["measures"]["values"][0, 1],
        live.trajectory.curve("effective_rank", "2").to_numpy(),
        rtol=1e-6,
    )
    assert block["count"] == 4 and block["panels"]["points"]["has"].all()
    assert not s.refresh()  # nothing new


def test_background_compute_is_watched_until_done(tmp_path):
    from repscope.sources.folder import CheckpointFolder
    from tests.models import mlp, save_mlp_checkpoints

    save_mlp_checkpoints(tmp_path, [0, 1, 2, 4, 8])
    probe = Probe(torch.randn(50, 6, generator=torch.Generator().manual_seed(0)), layers=["1"])
    traj = Trajectory(CheckpointFolder(tmp_path, model=mlp), probe, fit_range=(2, 8))
    future = traj.compute_in_background()
    s = Scrubber(traj, poll=0.02)
    future.result(timeout=60)
    s._watcher.join(timeout=30)
    assert not s.watching
    assert s.steps == [0, 1, 2, 4, 8]
    (run,) = FrontEnd(s).runs()
    assert run["expected"] == 5 and len(run["steps"]) == 5 and not run["live"]


def test_answers_and_live_pushes_never_interleave(traj, monkeypatch):
    """One lock: the messages of one answer go out together, whichever thread sends."""
    s = Scrubber(traj)
    log = []
    original = s.send

    def slow_send(content, buffers=None):
        log.append((threading.get_ident(), content["type"]))
        time.sleep(0.002)
        original(content, buffers)

    monkeypatch.setattr(s, "send", slow_send)
    monkeypatch.setattr(s.runs[0], "stale", lambda: True)  # every refresh sends

    def pushes():
        for _ in range(5):
            s.refresh()
            s.runs[0].stale = lambda: True

    worker = threading.Thread(target=pushes)
    worker.start()
    for _ in range(5):
        s._on_msg(s, {"type": "hello"}, [])
    worker.join()
    groups = []
    for thread, kind in log:
        if kind == "runs":
            groups.append([thread])
        else:
            groups[-1].append(thread)
    assert len(groups) == 10 and all(len(set(g)) == 1 for g in groups)


def test_phases_can_be_shaded_from_another_pair_of_measures(traj, tmp_path):
    from repscope.widgets.export import read_page

    pair = ("participation_ratio", "effective_rank")
    scrubber = Scrubber(traj, phase_measures=pair)
    front = FrontEnd(scrubber)
    head = front.layer("h.2")
    expected = traj.phases("h.2", measures=pair)
    assert expected and expected[0].names == ("participation ratio", "RankMe")
    shaded = head["panels"]["curves"]["phases"]
    assert [(p["start"], p["end"], p["name"]) for p in shaded] == [
        (p.start_step, p.end_step, p.name) for p in expected
    ]
    # the evidence is that pair's: the change of the first measure over each phase, read apart
    curve = traj.curve("participation_ratio", "h.2")
    for p in shaded:
        change = curve[p["end"]] - curve[p["start"]]
        assert f"participation ratio {change:+.3g}" in p["description"]
        assert "RankMe" in p["description"]
    assert any("phases shaded from participation ratio" in n for n in head["notes"])
    page = read_page(scrubber.export_html(tmp_path / "shown.html"))  # the page of what is shown
    exported = next(m for m in page["messages"] if m["type"] == "layer" and m["layer"] == "h.2")
    assert exported["panels"]["curves"]["phases"] == shaded
    default = FrontEnd(Scrubber(traj)).layer("h.2")
    assert not any("phases shaded from" in n for n in default["notes"])
    assert [p["name"] for p in default["panels"]["curves"]["phases"]] == [
        p.name for p in traj.phases("h.2")
    ]


@pytest.mark.parametrize(
    ("pair", "error", "words"),
    [
        ("effective_rank", TypeError, "two measure names"),
        (("effective_rank",), TypeError, "two measure names"),
        (("alpha", "alpha"), ValueError, "two different measures"),
        (("effective_rank", "nope"), ValueError, "two stored measures"),
        (("effective_rank", "loss"), ValueError, "two stored measures"),  # a training scalar
    ],
)
def test_a_bad_phase_pair_is_refused_naming_the_argument(traj, pair, error, words):
    traj.store.put_scalars(traj.run, 0, {"loss": 1.0})
    with pytest.raises(error, match=rf"'phase_measures' argument of Scrubber.*{words}"):
        Scrubber(traj, phase_measures=pair)
