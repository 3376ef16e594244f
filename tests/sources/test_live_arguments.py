"""LiveRun.observe checks its step and its model: a step the store cannot hold, or a model that is
no module, is the caller's error in the house grammar, and nothing is stored."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repscope.live import LiveRun
from repscope.probe import Probe

GRAMMAR = r"^The '{arg}' argument of LiveRun\.{func} must be .+; got .+\.$"


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8))


def _live() -> LiveRun:
    probe = Probe(torch.randn(40, 4, generator=torch.Generator().manual_seed(1)), layers=["1"])
    return LiveRun(probe, every=1, fit_range=(2, 6), errors="none")


@pytest.mark.parametrize(
    ("step", "error"),
    [
        (2.5, TypeError),  # was stored as step 2
        (3.0, TypeError),
        (-4, ValueError),  # was stored, and drawn nowhere
        ("5", TypeError),
        (None, TypeError),
        (True, TypeError),
        (2**70, ValueError),  # was an OverflowError from SQLite
        (np.float64(6.0), TypeError),
        (torch.tensor(2.0), TypeError),
    ],
    ids=["2.5", "3.0", "-4", "'5'", "None", "True", "2**70", "np.float64", "float tensor"],
)
def test_a_step_that_is_no_step_is_refused_and_nothing_is_stored(step, error):
    live = _live()
    with pytest.raises(error, match=GRAMMAR.format(arg="step", func="observe")):
        live.observe(step, _net(), loss=1.0)
    assert live.wait().trajectory.steps == []
    assert live.trajectory.scalars.empty


@pytest.mark.parametrize(
    "step",
    [0, 7, np.int64(8), np.uint16(9), torch.tensor(10), torch.tensor(11, dtype=torch.int32)],
    ids=["0", "7", "np.int64", "np.uint16", "tensor", "int32 tensor"],
)
def test_numpy_and_torch_integers_are_steps(step):
    live = _live()
    assert live.observe(step, _net(), loss=0.5) is True
    assert live.wait().trajectory.steps == [int(step)]
    assert live.trajectory.scalars.step.tolist() == [int(step)]


def test_the_largest_step_a_store_holds_is_a_step():
    live = _live()
    live.observe(2**63 - 1, _net())
    assert live.wait().trajectory.steps == [2**63 - 1]


@pytest.mark.parametrize(
    "model", [lambda x: x, _net, "model", None], ids=["function", "factory", "str", "None"]
)
def test_a_model_that_is_not_a_module_is_refused(model):
    live = _live()
    with pytest.raises(TypeError, match=GRAMMAR.format(arg="model", func="observe")) as info:
        live.observe(0, model)
    assert "torch.nn.Module" in str(info.value)
    assert live.wait().trajectory.steps == []


def test_log_checks_its_step_and_its_scalars():
    live = _live()
    with pytest.raises(ValueError, match=GRAMMAR.format(arg="step", func="log")):
        live.log(-1, loss=1.0)
    with pytest.raises(TypeError, match=GRAMMAR.format(arg="loss", func="log")):
        live.log(1, loss="low")
    live.log(np.int32(2), loss=torch.tensor(0.25), lr=float("nan"))
    values = dict(zip(live.trajectory.scalars.name, live.trajectory.scalars.value, strict=True))
    assert values["loss"] == 0.25 and np.isnan(values["lr"])
    assert live.trajectory.scalars.step.unique().tolist() == [2]
