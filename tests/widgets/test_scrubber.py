"""The scrubber's figure carries the trajectory's numbers, at every step, layer and measure."""

import json
import math

import numpy as np
import pytest
import torch

pytest.importorskip("ipywidgets")
pytest.importorskip("plotly")

from ipywidgets.embed import dependency_state

from repscope import Probe
from repscope.live import LiveRun
from repscope.scan import WHOLE_CHECKPOINT
from repscope.store import Record
from repscope.synthetic import synthetic_trajectory
from repscope.trajectory import Trajectory
from repscope.widgets import Scrubber

LAYERS = ("h.0", "h.1", "h.2")


@pytest.fixture(scope="module")
def traj():
    return synthetic_trajectory(n_steps=9, layers=LAYERS, n_points=120, seed=4)


def curve_trace(s, row):
    """The curve trace drawn on the row'th measure axis (yaxis, yaxis2, …)."""
    axis = "y" if row == 0 else f"y{row + 1}"
    (t,) = [t for t in s.figures["curves"].data if t.yaxis == axis]
    return t


def point_traces(s, run=0):
    return [s.figures["points"].data[i] for i, _ in s.panels.points.traces[run]]


def points_of(s, run=0):
    traces = point_traces(s, run)
    return (
        np.concatenate([np.asarray(t.x, dtype=float) for t in traces]),
        np.concatenate([np.asarray(t.y, dtype=float) for t in traces]),
    )


def naive_wls(lam, first, last):
    """log λ_i = c − α log i by weighted least squares (weights 1/i), with numpy's polyfit."""
    i = np.arange(first, last + 1, dtype=float)
    slope, intercept = np.polyfit(np.log(i), np.log(lam[first - 1 : last]), 1, w=np.sqrt(1 / i))
    return -slope, intercept


def test_starts_at_the_first_step_of_the_last_layer(traj):
    s = Scrubber(traj, interval=0)
    assert s.slider.options == tuple(traj.steps)
    assert s.layer.value == LAYERS[-1] and list(s.layer.options) == list(LAYERS)
    assert s.figure.layout.title.text == f"step {traj.steps[0]} · layer {LAYERS[-1]}"


@pytest.mark.parametrize("index", [0, 3, 8])
def test_slider_sets_spectrum_fit_points_and_cursor_to_the_stored_values(traj, index):
    s = Scrubber(traj, interval=0)
    step, layer = traj.steps[index], LAYERS[-1]
    s.slider.value = step
    assert s.figure.layout.title.text == f"step {step} · layer {layer}"
    curves, spectrum = s.figures["curves"], s.figures["spectrum"]
    assert curves.layout.shapes[0].x0 == curves.layout.shapes[0].x1 == step + 1
    overview_x = s.figures["overview"].layout.shapes[0].x0
    assert overview_x == pytest.approx(math.log10(step + 1))
    spectrum_trace = spectrum.data[s.panels.spectrum.spectrum_traces[0]]
    fit_trace = spectrum.data[s.panels.spectrum.fit_traces[0]]
    stored = traj.spectrum(step, layer)
    np.testing.assert_allclose(spectrum_trace.y, stored[stored > 0])
    np.testing.assert_array_equal(spectrum_trace.x, np.arange(1, (stored > 0).sum() + 1))
    # The fitted line is the weighted least-squares line over the recorded fit range.
    record = next(r for r in traj.records() if r.step == step and r.layer == layer)
    first, last = int(record.measures["alpha_fit_first"]), int(record.measures["alpha_fit_last"])
    alpha, intercept = naive_wls(stored, first, last)
    np.testing.assert_array_equal(fit_trace.x, np.arange(first, last + 1))
    np.testing.assert_allclose(fit_trace.y, np.exp(intercept) * fit_trace.x**-alpha, rtol=1e-8)
    assert f"α = {alpha:.3f}" in spectrum.layout.title.text
    assert "covariance" in spectrum.layout.title.text
    # The drawn points are the stored points up to an orthogonal map: same pairwise distances.
    x, y = points_of(s)
    drawn = np.stack([x, y], axis=1)
    order = np.concatenate(
        [
            np.flatnonzero(traj.probe.labels.astype(str) == c)
            for c in np.unique(traj.probe.labels.astype(str))
        ]
    )
    ref = traj.points(layer)[step][order].astype(float)
    dist = lambda p: np.linalg.norm(p[:, None] - p[None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(dist(drawn), dist(ref), rtol=1e-4, atol=1e-4)
    if index == len(traj.steps) - 1:  # the last step is the alignment's reference: unrotated
        np.testing.assert_allclose(drawn, ref, atol=1e-6)


def test_layer_and_measures_switch_the_curves(traj):
    s = Scrubber(traj, interval=0, measures=["effective_rank", "alpha"])
    for layer in LAYERS:
        s.layer.value = layer
        for row, measure in enumerate(["effective_rank", "alpha"]):
            np.testing.assert_allclose(curve_trace(s, row).y, traj.curve(measure, layer).values)
        assert s.figure.layout.title.text.endswith(f"layer {layer}")
    s.measure.value = ("participation_ratio",)
    np.testing.assert_allclose(
        curve_trace(s, 0).y, traj.curve("participation_ratio", LAYERS[-1]).values
    )
    assert s.figures["curves"].layout.yaxis.title.text.startswith("participation ratio")
    # x is step + 1 on a log axis, so that step 0 has a place
    np.testing.assert_array_equal(curve_trace(s, 0).x, np.asarray(traj.steps) + 1)
    assert s.figures["curves"].layout.xaxis.type == "log"


def test_phases_are_shaded_where_detect_phases_puts_them(traj):
    s = Scrubber(traj, interval=0)
    phases = traj.phases(LAYERS[-1])
    curves = s.figures["curves"]
    shown = [sh for sh in curves.layout.shapes[1:] if sh.visible]
    assert [(sh.x0, sh.x1) for sh in shown] == [(p.start_step + 1, p.end_step + 1) for p in phases]
    names = [a.text for a in curves.layout.annotations if a.visible]
    assert names == [p.name for p in phases]


def test_a_fast_drag_coalesces_and_ends_on_the_last_step(traj):
    s = Scrubber(traj, interval=10.0)  # nothing deferred is drawn until flushed
    for step in traj.steps[1:]:  # (it starts at steps[0])
        s.slider.value = step
    assert s.figure.layout.title.text.startswith(f"step {traj.steps[1]} ")  # only the first
    s.flush()
    assert s.figure.layout.title.text.startswith(f"step {traj.steps[-1]} ")
    assert s._coalescer.renders == 2 and s._coalescer.requests == len(traj.steps) - 1


def test_comparison_draws_one_curve_per_run_with_one_slider():
    low = synthetic_trajectory(n_steps=5, layers=("h",), n_points=60, run="low-rank", seed=1)
    high = synthetic_trajectory(n_steps=7, layers=("h",), n_points=60, run="high-rank", seed=2)
    s = Scrubber({"low": low, "high": high}, interval=0, measures=["effective_rank"])
    rank_traces = [t for t in s.figures["curves"].data if t.yaxis == "y"]
    assert [t.name for t in rank_traces] == ["low", "high"]
    np.testing.assert_allclose(rank_traces[0].y, low.curve("effective_rank", "h").values)
    np.testing.assert_allclose(rank_traces[1].y, high.curve("effective_rank", "h").values)
    assert rank_traces[0].line.color != rank_traces[1].line.color
    assert s.slider.options == tuple(sorted(set(low.steps) | set(high.steps)))
    s.slider.value = high.steps[-1]  # past low's last step: low shows its latest
    assert f"(step {low.steps[-1]})" in s.figures["spectrum"].layout.title.text


def test_failed_checkpoints_leave_gaps_and_say_so():
    traj = synthetic_trajectory(n_steps=6, layers=("h",), n_points=40)
    bad = traj.steps[2]
    key = traj.key()
    traj.store.put(*[r for r in traj.records() if r.step != bad])  # (no-op rewrite)
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
            **key,
        )
    )
    s = Scrubber(traj, interval=0, measures=["effective_rank"])
    y = np.asarray(curve_trace(s, 0).y, dtype=float)
    assert math.isnan(y[2]) and np.isfinite(np.delete(y, 2)).all()
    assert f"steps {bad}" in s.message.value
    s.slider.value = bad
    note = s.figure.layout.annotations[0].text
    assert f"step {bad} failed" in note and "corrupt &lt;b&gt;file&lt;/b&gt;" in note
    assert len(points_of(s)[0]) == 0


def test_an_empty_trajectory_says_what_to_do():
    probe = Probe(torch.zeros(5, 2), layers=["0"])
    s = Scrubber(Trajectory(None, probe, run="nothing-yet"), interval=0)
    assert "No results stored yet for nothing-yet" in s.message.value
    assert s.figure is None and s.slider.disabled


def test_one_layer_no_labels():
    traj = synthetic_trajectory(n_steps=4, layers=("only",), n_points=30, labels=False)
    s = Scrubber(traj, interval=0)
    assert s.layer.disabled and s.layer.value == "only"
    (point_trace,) = point_traces(s)
    assert point_trace.hovertext is None and len(point_trace.x) == 30


def test_labels_are_escaped_in_hover_text():
    traj = synthetic_trajectory(n_steps=3, layers=("h",), n_points=20)
    traj.probe.labels = np.array(["<img src=x onerror=alert(1)>"] * 20)
    s = Scrubber(traj, interval=0)
    hover = [h for t in point_traces(s) if t.hovertext is not None for h in t.hovertext]
    assert hover and all("<img" not in h and "&lt;img" in h for h in hover)


def test_not_a_trajectory_is_a_clear_error():
    with pytest.raises(TypeError, match="'trajectory' argument of Scrubber must be a Trajectory"):
        Scrubber(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="at least one trajectory"):
        Scrubber([])


def test_saved_widget_state_does_not_grow_with_the_number_of_checkpoints():
    """The widget state holds one step's figure, not the series. (The one big constant is
    plotly's front-end bundle, anywidget's ``_esm``: see the README on notebook size.)"""

    def state_bytes(n_steps):
        s = Scrubber(synthetic_trajectory(n_steps=n_steps, layers=("h",), n_points=300), interval=0)
        s.slider.value = s.steps[-1]
        s.measure.value = ("effective_rank",)  # a new figure: the old one must be closed
        state = dependency_state([s], drop_defaults=False)
        bundles = [v["state"].pop("_esm") for v in state.values() if "_esm" in v["state"]]
        # one bundle per live figure (plotly's), four figures: the replaced ones are closed
        assert sum(len(b) > 1_000_000 for b in bundles) == 4
        return len(json.dumps(state))

    small, large = state_bytes(8), state_bytes(60)
    assert large < 1.25 * small  # the curves grow by a few numbers per step; the points do not
    assert large < 200_000


def test_replaced_figures_are_closed():
    s = Scrubber(synthetic_trajectory(n_steps=4, layers=("h",), n_points=20), interval=0)
    first = dict(s.figures)
    assert all(f.comm is not None for f in first.values())
    s.measure.value = ("alpha",)
    assert s.figure is not first["points"]
    assert all(f.comm is None for f in first.values())  # closed: not kept by the kernel


def test_live_run_adds_points_as_they_arrive():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 8))
    probe = Probe(torch.randn(64, 4), layers=["1", "2"], labels=np.arange(64) % 3)
    live = LiveRun(probe, every=10, fit_range=(2, 6))
    s = Scrubber(live, interval=0, watch=False)
    assert s.figure is None
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(31):
        live.observe(step, model)
        loss = model(torch.randn(16, 4)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == 10:
            live.wait()
            assert s.refresh() and s.slider.options == (0, 10)
            assert "2 checkpoints (live)" in s.progress_label.value
    live.wait()
    assert s.refresh() and s.slider.options == (0, 10, 20, 30)
    assert s.slider.value == 30  # it was at the newest step, so it follows
    assert s.figure.layout.title.text == "step 30 · layer 2"
    np.testing.assert_allclose(
        curve_trace(s, 0).y, live.trajectory.curve("effective_rank", "2").values
    )
    assert not s.refresh()  # nothing new


def test_background_compute_is_watched_until_done(tmp_path):
    from repscope.sources.folder import CheckpointFolder
    from tests.models import mlp, save_mlp_checkpoints

    save_mlp_checkpoints(tmp_path, [0, 1, 2, 4, 8])
    probe = Probe(torch.randn(50, 6, generator=torch.Generator().manual_seed(0)), layers=["1"])
    traj = Trajectory(CheckpointFolder(tmp_path, model=mlp), probe, fit_range=(2, 8))
    future = traj.compute_in_background()
    s = Scrubber(traj, interval=0, poll=0.02)
    future.result(timeout=60)
    s._watcher.join(timeout=30)
    assert not s._watching
    assert s.slider.options == (0, 1, 2, 4, 8)
    assert s.progress.value == s.progress.max == 5 and "5 of 5" in s.progress_label.value


def test_at_most_max_points_are_drawn_and_always_the_same_ones():
    traj = synthetic_trajectory(n_steps=4, layers=("h",), n_points=300)
    traj.probe.texts = [f"input {i}" for i in range(300)]
    s = Scrubber(traj, interval=0, max_points=100)
    traces = point_traces(s)
    assert sum(len(t.x) for t in traces) == 100
    assert "100 of 300 probe points drawn (max_points=100)" in s.figure.layout.annotations[1].text
    shown = sorted(int(h.split("input ")[1]) for t in traces for h in t.hovertext)
    assert len(set(shown)) == 100
    stored = traj.points("h")
    for step in traj.steps:  # the drawn points are the stored points of those inputs
        s.slider.value = step
        x, y = points_of(s)
        full = stored[step].astype(float)[
            sorted(int(h.split("input ")[1]) for t in traces for h in t.hovertext)
        ]
        order = np.concatenate(
            [
                np.flatnonzero(traj.probe.labels[np.array(shown)].astype(str) == c)
                for c in np.unique(traj.probe.labels.astype(str))
            ]
        )
        drawn = np.stack([x, y], 1)
        d = lambda p: np.linalg.norm(p[:, None] - p[None], axis=-1)  # noqa: E731
        np.testing.assert_allclose(d(drawn), d(full[order]), rtol=1e-4, atol=1e-4)
    everything = Scrubber(traj, interval=0, max_points=None)
    assert sum(len(t.x) for t in point_traces(everything)) == 300
    assert everything.figure.layout.annotations[1].text == ""  # nothing left out, nothing said


def test_training_scalars_are_curves_beside_the_geometry():
    traj = synthetic_trajectory(n_steps=6, layers=("h.0",), n_points=40)
    logged = np.arange(0, 40, 4)  # the loss is logged more often than checkpoints are taken
    for step in logged:
        traj.store.put_scalars(traj.run, int(step), {"loss": 5.0 / (1 + step), "lr": 1e-3})
    s = Scrubber(traj, interval=0)
    assert "loss" in s.measure.value  # the loss is shown by default, beside RankMe and α
    assert "lr" in [value for _, value in s.measure.options] and "lr" not in s.measure.value
    row = list(s.measure.value).index("loss")
    loss = curve_trace(s, row)
    np.testing.assert_array_equal(loss.x, logged + 1)  # on the same log-step axis
    np.testing.assert_allclose(loss.y, 5.0 / (1 + logged))
    assert s.figures["curves"].layout[f"yaxis{row + 1}"].title.text == "training loss"
    s.layer.value = "h.0"
    s.slider.value = traj.steps[-1]
    np.testing.assert_allclose(curve_trace(s, row).y, 5.0 / (1 + logged))  # unchanged by a step
