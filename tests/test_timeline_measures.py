"""The weight/representation lenses of issue 22 on the timeline: a real scan stores TwoNN's
intrinsic dimension and NC1 (activations, with labels) and WeightWatcher's ESD α (weights) for
every checkpoint and layer, equal to the geometry functions on the captured matrices, and
every reader shows them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repscope import geometry
from repscope.cli import main
from repscope.probe import Probe
from repscope.sources.folder import CheckpointFolder
from repscope.trajectory import Trajectory
from repscope.widgets.data import RunData, curve_names
from repscope.widgets.feed import Feed

from .models import mlp, save_mlp_checkpoints

STEPS, LAYERS, LINEAR = (0, 3, 9), ("1", "3"), ("0", "2")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpts")
    states = save_mlp_checkpoints(folder, STEPS)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 6, generator=g)
    labels = np.repeat(["a", "b", "c"], 40)
    probe = Probe(x, layers=list(LAYERS), labels=labels)
    store = folder / "run.sqlite"
    source = CheckpointFolder(folder, model=mlp)
    acts = Trajectory(source, probe, store=store, fit_range=(2, 8), errors="none")
    weights = Trajectory(
        source,
        Probe(x, layers=list(LINEAR)),
        store=store,
        view="weights",
        fit_range=(2, 8),
        errors="none",
    )
    acts.compute(progress=False)
    weights.compute(progress=False)
    return acts, weights, states, x, labels, store


def captured(state, x, layer):
    net = mlp()
    net.load_state_dict(state)
    out = {}
    net[int(layer)].register_forward_hook(lambda m, i, o: out.setdefault("h", o.detach()))
    with torch.no_grad():
        net(x)
    return out["h"].double()


def value(traj, step, layer, measure):
    m = traj.metrics
    rows = m[(m.step == step) & (m.layer == layer) & (m.measure == measure)]
    assert len(rows) == 1, (step, layer, measure, sorted(set(m.measure)))
    return float(rows.value.iloc[0])


def test_activation_measures_equal_the_functions_on_the_captured_matrix(run):
    acts, _, states, x, labels, _ = run
    for step in STEPS:
        for layer in LAYERS:
            h = captured(states[step], x, layer)
            assert value(acts, step, layer, "intrinsic_dimension") == pytest.approx(
                geometry.intrinsic_dimension(h), rel=1e-6
            )
            assert value(acts, step, layer, "nc1") == pytest.approx(
                geometry.nc1(h, labels), rel=1e-6
            )
            means = geometry.class_mean_geometry(h, labels)
            m = acts.records()[0].measures
            assert {"nc2_norm_variation", "nc2_etf_deviation"} <= set(m)
            assert np.isfinite(means.norm_variation)


def test_esd_alpha_of_each_weight_matrix_equals_weightwatchers_fit(run):
    _, weights, states, *_ = run
    for step in STEPS:
        for layer in LINEAR:
            w = states[step][f"{layer}.weight"]
            fit = geometry.esd_fit(w)
            stored = value(weights, step, layer, "esd_alpha")
            assert stored == pytest.approx(fit.alpha, rel=1e-9) or (
                np.isnan(stored) and np.isnan(fit.alpha)
            )
    assert "esd_alpha" not in set(run[0].metrics.measure)  # a weights measure only


def test_ls_and_the_widget_picker_show_them(run, capsys):
    acts, weights, *_, store = run
    assert main(["ls", str(store)]) == 0
    out = capsys.readouterr().out
    for name in ("intrinsic_dimension", "nc1", "esd_alpha"):
        assert name in out
    names = curve_names([RunData(acts), RunData(weights)])
    assert {"intrinsic_dimension", "nc1", "esd_alpha"} <= set(names)
    assert "nc2_etf_deviation" not in names  # hidden: a value of NC1, not a curve


def test_the_llc_of_each_checkpoint_lands_on_the_timeline(run, capsys):
    """add_llc stores estimate_llc's value of each checkpoint (same settings, same seed) beside
    every measured layer, its spread over chains as the error bar, and the settings in the
    run's description."""
    pytest.importorskip("devinterp")
    from repscope.llc import LLCSettings, estimate_llc

    acts, _, states, x, _, store = run
    target = torch.randn(len(x), 3, generator=torch.Generator().manual_seed(1))
    batches = [(x[i : i + 40], target[i : i + 40]) for i in range(0, len(x), 40)]

    def loss_fn(model, batch):
        inputs, y = batch
        return torch.nn.functional.mse_loss(model(inputs), y)

    settings = LLCSettings(lr=2e-3, localization=5.0, nbeta=20.0, num_chains=2, num_draws=15)
    acts.add_llc(batches, loss_fn, settings, steps=[0, 9])
    for step in (0, 9):
        net = mlp()
        net.load_state_dict(states[step])
        expected = estimate_llc(net, batches, loss_fn, settings)
        for layer in LAYERS:
            assert value(acts, step, layer, "llc") == pytest.approx(expected.llc_mean, rel=1e-6)
        m = acts.metrics.query("measure == 'llc' and step == @step")
        assert m.se.to_numpy() == pytest.approx(expected.llc_std / 1.0)  # 2 chains: std / √1
        assert (m.lower < m.value).all() and (m.value < m.upper).all()
    assert "llc" not in set(acts.metrics.query("step == 3").measure)  # only the steps asked
    assert acts.store.run_source(acts.run)["llc"] == settings.as_dict()
    assert main(["ls", str(store)]) == 0 and "llc" in capsys.readouterr().out
    data = RunData(acts)
    shown = curve_names([data])
    assert "llc" in shown and not {"llc_se", "llc_lo", "llc_hi"} & set(shown)  # parts, no chips
    # the curves' band says what the interval is over: the chains here, the probe inputs there
    bands = {c["name"]: c.get("band") for c in Feed([data], []).curves(data)}
    assert "SGLD chains" in bands["llc"] and "probe inputs" not in bands["llc"]
    assert "probe inputs" in bands["effective_rank"]
    with pytest.raises(ValueError, match="'steps' argument of add_llc"):
        acts.add_llc(batches, loss_fn, settings, steps=[5])
