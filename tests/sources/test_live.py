"""LiveRun: geometry measured while a plain PyTorch loop (or a Trainer callback) trains."""

from __future__ import annotations

import types

import pytest
import torch

from repscope import geometry
from repscope.config import MeasureConfig
from repscope.live import LiveRun
from repscope.probe import Probe
from repscope.reading import RunReader

LAYERS = ["body.1", "body.3"]
FIT = (2, 8)


class Net(torch.nn.Module):
    """Dropout makes eval and train mode give different activations; ``fail`` breaks forward."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.body = torch.nn.Sequential(
            torch.nn.Linear(6, 32), torch.nn.Tanh(), torch.nn.Dropout(0.5), torch.nn.Linear(32, 16)
        )
        self.fail = False
        self.modes: list[bool] = []

    def forward(self, x):
        self.modes.append(self.training)
        if self.fail:
            raise RuntimeError("boom in forward")
        return self.body(x)


def _probe() -> Probe:
    g = torch.Generator().manual_seed(1)
    return Probe(torch.randn(64, 6, generator=g), layers=LAYERS)


def _capture(model: Net, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """The probe layers' outputs by a forward pass of our own (eval mode, as a probe runs)."""
    acts, handles = {}, []
    for name in LAYERS:
        module = dict(model.named_modules())[name]
        handles.append(
            module.register_forward_hook(
                lambda _m, _i, out, name=name: acts.__setitem__(name, out.detach().clone())
            )
        )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return acts


def _train(model, live, steps, *, fail_at=(), on_step=None):
    """A plain training loop that hands the model to ``live`` after each optimizer step."""
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    g = torch.Generator().manual_seed(2)
    observed = []
    for step in range(steps):
        model.train()
        x = torch.randn(32, 6, generator=g)
        loss = (model(x) - x.sum(1, keepdim=True)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step(step)
        model.fail = step in fail_at
        if live.observe(step, model):
            observed.append(step)
        model.fail = False
    return observed


def _metric(traj, measure, layer) -> dict[int, float]:
    m = traj.metrics
    part = m[(m.measure == measure) & (m.layer == layer)]
    return dict(zip(part.step.tolist(), part.value.tolist(), strict=True))


def test_records_exactly_the_multiples_of_every():
    model, probe = Net(), _probe()
    live = LiveRun(probe, every=4, fit_range=FIT)
    observed = _train(model, live, 14)
    assert observed == [0, 4, 8, 12]
    traj = live.wait().trajectory
    assert traj.steps == [0, 4, 8, 12]
    assert traj.layers == LAYERS
    for layer in LAYERS:
        assert sorted(_metric(traj, "effective_rank", layer)) == [0, 4, 8, 12]
    assert traj.failures.empty


def test_effective_rank_matches_an_independent_capture():
    model, probe = Net(), _probe()
    inputs = probe.inputs[""]
    expected: dict[int, dict[str, float]] = {}

    def capture(step):
        if step % 3 == 0:  # after the optimizer step, before observe: the same weights it sees
            acts = _capture(model, inputs)
            expected[step] = {name: geometry.effective_rank(a) for name, a in acts.items()}

    live = LiveRun(probe, every=3, fit_range=FIT)
    _train(model, live, 10, on_step=capture)
    traj = live.wait().trajectory
    assert sorted(expected) == [0, 3, 6, 9]
    for layer in LAYERS:
        stored = _metric(traj, "effective_rank", layer)
        assert sorted(stored) == sorted(expected)
        for step, value in stored.items():
            assert value == pytest.approx(expected[step][layer], rel=1e-6), (step, layer)
    # Training changed the geometry: the stored values are not one number repeated.
    assert len({round(v, 6) for v in _metric(traj, "effective_rank", "body.3").values()}) > 1


def test_spectrum_is_stored_with_the_metrics():
    model, probe = Net(), _probe()
    live = LiveRun(probe, every=5, fit_range=FIT)
    acts = {}
    _train(
        model,
        live,
        6,
        on_step=lambda s: acts.update({s: _capture(model, probe.inputs[""])}) if s == 5 else None,
    )
    traj = live.wait().trajectory
    spec = traj.spectrum(5, "body.3")
    x = acts[5]["body.3"].double()
    x = x - x.mean(0)
    eig = torch.linalg.eigvalsh(x.T @ x).flip(0).clamp_min(0)
    reference = (eig / eig.sum()).numpy()
    assert spec.shape == reference.shape
    assert spec == pytest.approx(reference, abs=1e-9)


def test_observe_runs_in_eval_mode_and_restores_the_mode():
    probe = _probe()
    live = LiveRun(probe, every=1, fit_range=FIT)
    model = Net()
    for training in (True, False):
        model.train(training)
        model.modes.clear()
        assert live.observe(0 if training else 1, model)
        assert model.modes and not any(model.modes)  # the probe's forward ran in eval mode
        assert model.training is training
        assert all(m.training is training for m in model.modules())
    live.wait()


def test_a_failing_forward_is_recorded_and_training_goes_on():
    model, probe = Net(), _probe()
    live = LiveRun(probe, every=2, fit_range=FIT)
    observed = _train(model, live, 11, fail_at={6})
    assert observed == [0, 2, 4, 6, 8, 10]
    traj = live.wait().trajectory
    failures = traj.failures
    assert failures.step.tolist() == [6]
    assert failures.layer.tolist() == ["*"]
    assert "boom in forward" in failures.error.iloc[0]
    assert traj.steps == [0, 2, 4, 6, 8, 10]
    for layer in LAYERS:
        assert sorted(_metric(traj, "effective_rank", layer)) == [0, 2, 4, 8, 10]
    assert model.training  # restored after the failed observation too


def test_force_measures_off_schedule():
    model, probe = Net(), _probe()
    live = LiveRun(probe, every=100, fit_range=FIT)
    assert not live.observe(7, model)
    assert live.observe(7, model, force=True)
    assert live.wait().trajectory.steps == [7]


def test_checkpoint_keys_follow_the_weights():
    model, probe = Net(), _probe()
    live = LiveRun(probe, every=1, fit_range=FIT)
    original = model.body[0].weight.detach().clone()
    live.observe(0, model)
    with torch.no_grad():
        model.body[0].weight.add_(0.5)
    live.observe(1, model)
    with torch.no_grad():
        model.body[0].weight.copy_(original)
    keys = {r.step: r.checkpoint for r in live.wait().trajectory.records()}
    assert sorted(keys) == [0, 1]
    assert keys[0] != keys[1]
    # The key is a content hash of the weights: back to the same weights, back to the same key.
    assert live.observe(2, model)
    assert {r.checkpoint for r in live.wait().trajectory.records()} == {keys[0], keys[1]}


def test_every_observed_step_is_kept_even_if_the_weights_did_not_change():
    model, probe = Net(), _probe()
    live = LiveRun(probe, every=1, fit_range=FIT)
    for step in range(3):
        live.observe(step, model)  # e.g. the first steps of a warmup from lr = 0
    assert live.wait().trajectory.steps == [0, 1, 2]


def test_results_land_in_a_file_store(tmp_path):
    model, probe = Net(), _probe()
    path = tmp_path / "live.sqlite"
    live = LiveRun(probe, every=2, store=path, run="exp1", fit_range=FIT)
    _train(model, live, 5)
    live.wait()
    again = RunReader(path, "exp1", MeasureConfig(fit_range=FIT), probe)
    assert again.steps == [0, 2, 4]
    assert again.metrics.equals(live.trajectory.metrics)


@pytest.mark.parametrize("every", [0, -3])
def test_every_must_be_positive(every):
    with pytest.raises(ValueError, match=r"^The 'every' argument of LiveRun must "):
        LiveRun(_probe(), every=every)


def test_trainer_callback():
    from transformers import TrainerCallback

    model, probe = Net(), _probe()
    live = LiveRun(probe, every=5, fit_range=FIT)
    callback = live.trainer_callback()
    assert isinstance(callback, TrainerCallback)
    model.train()
    for step in (9, 10, 11):
        callback.on_step_end(
            args=None, state=types.SimpleNamespace(global_step=step), control=None, model=model
        )
    callback.on_step_end(args=None, state=types.SimpleNamespace(global_step=15), control=None)
    callback.on_train_end(args=None, state=types.SimpleNamespace(global_step=15), control=None)
    traj = live.trajectory
    assert traj.steps == [10]
    expected = {
        name: geometry.effective_rank(a) for name, a in _capture(model, probe.inputs[""]).items()
    }
    for layer in LAYERS:
        assert _metric(traj, "effective_rank", layer) == {
            10: pytest.approx(expected[layer], rel=1e-6)
        }
    assert model.training


def test_a_model_with_batchnorm_is_observed_and_keyed_by_its_weights():
    """BatchNorm's ``num_batches_tracked`` is a 0-d buffer: hashing it used to raise inside
    ``observe`` and stop the training loop."""
    import hashlib

    from repscope.sources.base import state_fingerprint

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.BatchNorm1d(16), torch.nn.Tanh(), torch.nn.Linear(16, 8)
    )
    state = model.state_dict()
    assert state["1.num_batches_tracked"].dim() == 0
    reference = hashlib.sha256()  # the same fields, the bytes read by numpy
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        reference.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        reference.update(t.numpy().tobytes())
    assert state_fingerprint(state) == "sha256:" + reference.hexdigest()
    bf16 = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state.items()}
    assert state_fingerprint(bf16) != state_fingerprint(state)  # bf16 hashes, and differs

    probe = Probe(torch.randn(40, 4), layers=["1", "3"])
    live = LiveRun(probe, every=1, fit_range=(2, 6))
    assert live.observe(0, model)
    traj = live.wait().trajectory
    assert traj.failures.empty and traj.steps == [0]
    assert {r.checkpoint for r in traj.records()} == {state_fingerprint(model.state_dict())}


def test_a_state_dict_that_cannot_be_read_is_a_gap_not_a_crash():
    class Broken(torch.nn.Linear):
        def state_dict(self, *args, **kwargs):
            raise RuntimeError("cannot read the weights")

    live = LiveRun(Probe(torch.randn(20, 4), layers=[""]), every=1, fit_range=(2, 3))
    assert live.observe(3, Broken(4, 4))  # returns: the training loop goes on
    failures = live.wait().trajectory.failures
    assert failures.step.tolist() == [3]
    assert "RuntimeError: cannot read the weights" in failures.error.iloc[0]
