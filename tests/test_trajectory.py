"""Trajectories: values equal the geometry of independently captured activations, nothing is
computed twice, failures leave gaps, executors change nothing, the other views."""

import concurrent.futures as cf
import itertools
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from repscope import geometry
from repscope.probe import Probe
from repscope.sources.folder import CheckpointFolder
from repscope.store import Store
from repscope.trajectory import Trajectory

from .models import mlp, save_mlp_checkpoints

STEPS = [0, 1, 2, 4, 8, 16]
LAYERS = ["1", "3"]
FIT = (2, 10)


@pytest.fixture
def folder(tmp_path):
    states = save_mlp_checkpoints(tmp_path, STEPS)
    return tmp_path, states


@pytest.fixture
def probe():
    x = torch.randn(80, 6, generator=torch.Generator().manual_seed(0))
    return Probe(x, layers=LAYERS)


def activations(state, x, layer):
    model = mlp()
    model.load_state_dict(state)
    with torch.no_grad():
        return model[: int(layer) + 1](x).numpy()


def test_metrics_equal_the_geometry_of_each_checkpoint(folder, probe):
    path, states = folder
    traj = Trajectory(CheckpointFolder(path, model=mlp), probe, fit_range=FIT).compute(
        progress=False
    )
    m = traj.metrics
    assert list(m.columns) == ["step", "layer", "measure", "value", "se", "lower", "upper"]
    assert not m.measure.str.endswith(("_se", "_lo", "_hi")).any()  # columns, not rows
    for step in STEPS:
        for layer in LAYERS:
            acts = activations(states[step], probe.inputs[""], layer)
            table = m[(m.step == step) & (m.layer == layer)].set_index("measure")
            rows = table.value
            assert rows["effective_rank"] == pytest.approx(geometry.effective_rank(acts), rel=1e-6)
            assert rows["alpha"] == pytest.approx(
                geometry.alpha_req(acts, fit_range=FIT).alpha, rel=1e-6
            )
            intervals = geometry.spectral_intervals(acts, fit_range=FIT)
            n, d = acts.shape
            # α's interval needs 16 inputs per feature (measure_registry.ALPHA_INPUTS_PER_FEATURE)
            assert np.isnan(table.loc["alpha", "se"]) == (n < 16 * d)
            for name in ("effective_rank", "alpha")[: 1 + (n >= 16 * d)]:
                iv = intervals[name]
                assert table.loc[name, "se"] == pytest.approx(iv.se, rel=1e-6)
                assert table.loc[name, "lower"] == pytest.approx(iv.lower, rel=1e-6)
                assert table.loc[name, "upper"] == pytest.approx(iv.upper, rel=1e-6)
            assert np.isnan(table.loc["participation_ratio", "se"])  # no error bar of its own
            np.testing.assert_allclose(
                traj.spectrum(step, layer),
                geometry.spectrum(acts).eigenvalues(),
                rtol=1e-5,
                atol=1e-12,
            )
    assert traj.steps == STEPS and traj.layers == LAYERS


class CountingFactory:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return mlp()


def test_a_second_compute_recomputes_nothing(folder, probe, tmp_path_factory):
    path, _ = folder
    store_path = tmp_path_factory.mktemp("store") / "s.sqlite"
    first = CountingFactory()
    Trajectory(CheckpointFolder(path, model=first), probe, store=store_path, fit_range=FIT).compute(
        progress=False
    )
    assert first.calls == len(STEPS)
    again = CountingFactory()
    traj = Trajectory(
        CheckpointFolder(path, model=again), probe, store=store_path, fit_range=FIT
    ).compute(progress=False)
    assert again.calls == 0
    assert len(traj.metrics.step.unique()) == len(STEPS)
    # other parameters are a different key: computed anew
    other = CountingFactory()
    Trajectory(
        CheckpointFolder(path, model=other), probe, store=store_path, fit_range=(2, 12)
    ).compute(progress=False)
    assert other.calls == len(STEPS)


def test_failures_leave_gaps_and_the_rest_is_measured(folder, probe):
    path, states = folder
    (path / "step_4.pt").write_bytes((path / "step_4.pt").read_bytes()[:100])  # truncated
    diverged = {k: v.clone() for k, v in states[8].items()}
    diverged["2.weight"].fill_(float("nan"))  # layer "3" follows the NaN weights
    torch.save(diverged, path / "step_8.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (path / "step_16.pt").write_bytes(pickle.dumps({"w": Evil()}))
    traj = Trajectory(CheckpointFolder(path, model=mlp), probe, fit_range=FIT).compute(
        progress=False
    )
    failures = traj.failures.set_index(["step", "layer"]).error
    assert "truncated or corrupt" in failures[(4, "*")]
    assert "NaN" in failures[(8, "3")]
    assert "refused" in failures[(16, "*")]
    m = traj.metrics
    assert sorted(m.step.unique()) == [0, 1, 2, 8]
    assert set(m[m.step == 8].layer) == {"1"}  # the diverged checkpoint keeps its good layer


def test_unknown_layer_fails_each_checkpoint_with_the_valid_names(folder):
    path, _ = folder
    probe = Probe(torch.randn(20, 6), layers=["9"])
    traj = Trajectory(CheckpointFolder(path, model=mlp), probe, fit_range=FIT).compute(
        progress=False
    )
    assert len(traj.failures) == len(STEPS)
    assert traj.failures.error.str.contains("no layer named '9'.*Valid names").all()
    assert traj.metrics.empty and traj.phases() == []


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_executors_give_the_same_metrics(folder, probe, kind):
    path, _ = folder
    source = CheckpointFolder(path, model=mlp)
    serial = Trajectory(source, probe, fit_range=FIT).compute(progress=False).metrics
    pool = cf.ThreadPoolExecutor(2) if kind == "thread" else cf.ProcessPoolExecutor(2)
    with pool:
        parallel = Trajectory(source, probe, fit_range=FIT).compute(pool, progress=False).metrics
    pd.testing.assert_frame_equal(serial, parallel)


def test_weights_view_measures_weights_and_distance_moved(folder):
    path, states = folder
    probe = Probe(torch.randn(20, 6), layers=["0", "2"])
    traj = Trajectory(
        CheckpointFolder(path, model=mlp), probe, view="weights", fit_range=(2, 4)
    ).compute(progress=False)
    for step in (0, 4, 16):
        w, w0 = states[step]["2.weight"].double(), states[0]["2.weight"].double()
        got = traj.metrics.query("step == @step and layer == '2'").set_index("measure").value
        assert got["effective_rank"] == pytest.approx(
            geometry.effective_rank(w.numpy(), convention="singular"), rel=1e-9
        )
        assert got["relative_distance"] == pytest.approx(
            float(torch.linalg.norm(w - w0) / torch.linalg.norm(w0)), rel=1e-9, abs=1e-12
        )


def test_gradient_view_matches_autograd(folder):
    path, states = folder
    x = torch.randn(30, 6, generator=torch.Generator().manual_seed(3))
    y = torch.randn(30, 3, generator=torch.Generator().manual_seed(4))
    probe = Probe(x, layers=["2"], batch_size=7)
    traj = Trajectory(
        CheckpointFolder(path, model=mlp),
        probe,
        view="gradients",
        loss_fn=mse_on_targets,
        fit_range=(2, 4),
    ).compute(progress=False)
    model = mlp()
    model.load_state_dict(states[2])
    torch.nn.functional.mse_loss(model(x), y).backward()
    grad = model[2].weight.grad.double().numpy()
    got = traj.metrics.query("step == 2 and layer == '2'").set_index("measure").value
    assert got["effective_rank"] == pytest.approx(
        geometry.effective_rank(grad, convention="singular"), rel=1e-6
    )
    assert got["nuclear_norm"] == pytest.approx(
        np.linalg.svd(grad, compute_uv=False).sum(), rel=1e-6
    )


_TARGETS = torch.randn(30, 3, generator=torch.Generator().manual_seed(4))


def mse_on_targets(model, batch):
    # the probe's rows arrive in order, in batches of 7: find this batch's targets by content
    start = int(torch.nonzero((PROBE_X == batch[0]).all(1))[0])
    return torch.nn.functional.mse_loss(model(batch), _TARGETS[start : start + len(batch)])


PROBE_X = torch.randn(30, 6, generator=torch.Generator().manual_seed(3))


def test_background_compute_fills_the_store(folder, probe):
    path, _ = folder
    traj = Trajectory(CheckpointFolder(path, model=mlp), probe, fit_range=FIT)
    future = traj.compute_in_background()
    future.result(timeout=120)
    assert traj.steps == STEPS


def test_bad_measure_options_raise_in_the_grammar(folder, probe):
    path, _ = folder
    with pytest.raises(ValueError, match=r"^The 'view' argument of MeasureConfig must be"):
        Trajectory(CheckpointFolder(path, model=mlp), probe, view="pixels")


def test_store_written_by_a_trajectory_reads_back(folder, probe, tmp_path_factory):
    path, _ = folder
    store = tmp_path_factory.mktemp("s") / "s.sqlite"
    made = Trajectory(CheckpointFolder(path, model=mlp), probe, store=store, fit_range=FIT).compute(
        progress=False
    )
    with Store(store) as reopened:
        again = Trajectory(None, probe, store=reopened, run=made.run, fit_range=FIT)
        pd.testing.assert_frame_equal(again.metrics, made.metrics)


def test_a_spectrum_too_short_for_alpha_keeps_the_other_measures(folder):
    path, _ = folder
    probe = Probe(torch.randn(40, 6), layers=["0"])  # a linear map of 6-D inputs: rank 6
    traj = Trajectory(CheckpointFolder(path, model=mlp), probe, fit_range=FIT).compute(
        progress=False
    )
    measures = set(traj.metrics.measure)
    assert "effective_rank" in measures and "alpha" not in measures
    assert traj.failures.empty
    assert traj.notes.note.str.contains("at least 8 non-zero eigenvalues").all()
    assert len(traj.notes) == len(STEPS)


def test_stored_points_are_the_principal_coordinates_of_the_activations(folder, probe):
    """Each record's 2-D points equal a full SVD's first two PCA scores (up to sign)."""
    path, states = folder
    traj = Trajectory(CheckpointFolder(path, model=mlp), probe, fit_range=FIT).compute(
        progress=False
    )
    for r in traj.records():
        acts = activations(states[r.step], probe.inputs[""], r.layer).astype(float)
        centred = acts - acts.mean(axis=0)
        u, s, _ = np.linalg.svd(centred, full_matrices=False)
        ref = u[:, :2] * s[:2]
        points = traj.points(r.layer)[r.step]
        assert points.shape == (80, 2) and points.dtype == np.float32
        for j in range(2):
            sign = np.sign(points[:, j].astype(float) @ ref[:, j])
            np.testing.assert_allclose(points[:, j], sign * ref[:, j], rtol=2e-4, atol=2e-4)


def naive_cka(x, y):
    """Linear CKA from its definition on centred data (Kornblith et al. 2019, eq. 5)."""
    x, y = x - x.mean(0), y - y.mean(0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def test_add_cka_compares_each_checkpoint_with_the_previous_and_the_first(folder, probe):
    path, states = folder
    traj = (
        Trajectory(CheckpointFolder(path, model=mlp), probe, fit_range=FIT)
        .compute(progress=False)
        .add_cka()
    )
    m = traj.metrics
    for layer in LAYERS:
        acts = {s: activations(states[s], probe.inputs[""], layer).astype(float) for s in STEPS}
        prev = m[(m.layer == layer) & (m.measure == "cka_previous")].set_index("step").value
        first = m[(m.layer == layer) & (m.measure == "cka_first")].set_index("step").value
        assert list(prev.index) == STEPS[1:] and list(first.index) == STEPS
        for a, b in itertools.pairwise(STEPS):
            assert prev[b] == pytest.approx(naive_cka(acts[b], acts[a]), rel=1e-5)
            assert first[b] == pytest.approx(naive_cka(acts[b], acts[STEPS[0]]), rel=1e-5)
    assert traj.metrics.query("measure == 'effective_rank'").shape[0] == len(STEPS) * 2


def test_add_cka_needs_a_source(folder, probe):
    with pytest.raises(
        ValueError, match="'trajectory' argument of add_cka must be a trajectory with a source"
    ):
        Trajectory(None, probe, store=Store(":memory:"), run="r").add_cka()


def test_a_layer_whose_geometry_fails_is_recorded_and_the_scan_goes_on(tmp_path):
    """A DSE over 200,000 probe inputs needs a 320 GB operator: the memory guard refuses it
    inside the geometry. That error used to escape ``measure_checkpoint`` (it ran outside its
    ``try``) and stop ``compute``; now each layer records it, with where it ran and what to
    try, and every checkpoint is visited."""
    save_mlp_checkpoints(tmp_path, [0, 1])
    n = 200_000
    probe = Probe(
        torch.randn(n, 6, generator=torch.Generator().manual_seed(0)),
        layers=LAYERS,
        batch_size=4096,
    )
    traj = Trajectory(CheckpointFolder(tmp_path, model=mlp), probe, fit_range=FIT, dse=True)
    traj.compute(progress=False)
    failures = traj.failures
    assert sorted(zip(failures.step, failures.layer, strict=True)) == [
        (step, layer) for step in (0, 1) for layer in LAYERS
    ]
    for error in failures.error:
        assert "InsufficientMemoryError" in error and f"N = {n} samples" in error
        assert "on cpu" in error and "method='lanczos'" in error


def test_a_forking_pool_is_refused_for_a_cuda_scan_before_anything_runs(folder, probe):
    """After CUDA has started in the parent (a notebook), a forked worker cannot use it: every
    checkpoint used to fail with "Cannot re-initialize CUDA in forked subprocess". The refusal
    comes first, names the executor, and says what to use."""
    import multiprocessing as mp

    from repscope.scan import process_pool

    path, _ = folder
    traj = Trajectory(CheckpointFolder(path, model=mlp), probe, fit_range=FIT, device="cuda")
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("fork")) as pool:
        with pytest.raises(
            ValueError,
            match=r"'executor' argument of Trajectory\.compute must "
            r"be a process pool that spawns",
        ):
            traj.compute(pool, progress=False)
    assert traj.records() == []  # nothing ran
    with process_pool(2, "cuda") as pool:  # what `repscope scan --workers N --device cuda` uses
        assert pool._mp_context.get_start_method() == "spawn"
    with process_pool(2, "cpu") as pool:
        assert pool._mp_context.get_start_method() == mp.get_start_method()


def test_a_float32_scan_with_lanczos_dse_is_its_own_key_and_close_to_float64(folder, probe):
    """float32 geometry and Lanczos DSE are options of the scan (and of its store key): the
    float32 values agree with float64 to float32 precision, stored beside them."""
    path, _ = folder
    store = Store(":memory:")
    exact = Trajectory(
        CheckpointFolder(path, model=mlp),
        probe,
        fit_range=FIT,
        dse=True,
        sigma="median",
        store=store,
    ).compute(progress=False)
    fast = Trajectory(
        CheckpointFolder(path, model=mlp),
        probe,
        fit_range=FIT,
        dse=True,
        sigma="median",
        dtype="float32",
        dse_method="lanczos",
        store=store,
    ).compute(progress=False)
    assert fast.key()["params"] != exact.key()["params"]
    x = torch.randn(80, 6, generator=torch.Generator().manual_seed(0))  # the probe's inputs
    for layer in LAYERS:
        np.testing.assert_allclose(
            fast.curve("effective_rank", layer), exact.curve("effective_rank", layer), rtol=1e-4
        )
        np.testing.assert_allclose(
            fast.curve("alpha", layer), exact.curve("alpha", layer), rtol=1e-3
        )
        direct = [
            geometry.dse(
                activations(_state(folder, s), x, layer).astype(np.float32),
                sigma="median",
                method="lanczos",
                dtype=torch.float32,
            )
            for s in STEPS
        ]
        np.testing.assert_allclose(fast.curve("dse", layer), direct, rtol=1e-5)
        # Lanczos at N = 80 keeps every eigenvalue that matters: close to the exact DSE
        np.testing.assert_allclose(fast.curve("dse", layer), exact.curve("dse", layer), rtol=1e-2)


def _state(folder, step):
    return folder[1][step]
