"""The local learning coefficient (``repscope.llc``): devinterp 2's sampler, wrapped.

Three kinds of check: the wrapper gives what devinterp gives when it is called directly with
the same settings and seed; the estimate has the values singular learning theory predicts on
models where they are known (a regular model: d/2; a redundant one: less); and the wrapper's
own promises (reproducible by seed, the caller's model and random state untouched, the errors).
"""

from __future__ import annotations

import importlib.util
import json
import math
import random
import sys

import numpy as np
import pytest
import torch

from repscope.llc import LLCResult, LLCSettings, estimate_llc

#: The estimates need the ``llc`` extra (devinterp 2); the settings and the error without it
#: do not.
needs_devinterp = pytest.mark.skipif(
    importlib.util.find_spec("devinterp") is None, reason="needs the llc extra (devinterp)"
)


def whitened(n: int, d: int, seed: int) -> torch.Tensor:
    """``n × d`` inputs with ``xᵀx / n = I`` exactly (up to rounding): the MSE's Hessian is 2·I."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, d, generator=g, dtype=torch.float64))
    return (q * math.sqrt(n)).float()


def mse(net: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return ((net(x).reshape(-1) - y) ** 2).mean()


def least_squares(d: int, *, n: int = 512, seed: int = 0):
    """A linear model at the least-squares solution of ``y = x·w + noise``, and its data."""
    x = whitened(n, d, seed)
    g = torch.Generator().manual_seed(seed + 1)
    y = x @ torch.randn(d, generator=g) + 0.5 * torch.randn(n, generator=g)
    model = torch.nn.Linear(d, 1, bias=False)
    with torch.no_grad():
        solution = torch.linalg.lstsq(x.double(), y.double()[:, None]).solution
        model.weight.copy_(solution.T.float())
    return model, x, y


class Product(torch.nn.Module):
    """``y = a·b·x``: two parameters for one function (only the product ``a·b`` matters)."""

    def __init__(self, a: float, b: float):
        super().__init__()
        self.a, self.b = torch.nn.Parameter(torch.tensor(a)), torch.nn.Parameter(torch.tensor(b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a * self.b * x[:, 0]


class TwoSlopes(torch.nn.Module):
    """``y = a·x₁ + b·x₂``: two parameters, both needed (regular)."""

    def __init__(self, a: float, b: float):
        super().__init__()
        self.a, self.b = torch.nn.Parameter(torch.tensor(a)), torch.nn.Parameter(torch.tensor(b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a * x[:, 0] + self.b * x[:, 1]


# -- devinterp, called directly ----------------------------------------------------------------


def devinterp_llc(model, batches, loss, settings: LLCSettings, folder):
    """``devinterp.slt.llc.llc`` as its API asks: a dataset of rows with ``input_ids`` and a
    per-token loss of shape ``(batch, seq - 1)``. Each row holds the index of one of our
    batches (``[i, 0]``: one "token" of loss), and a step's batch of one row is one batch."""
    from devinterp.slt.llc import llc

    rows = [{"input_ids": torch.tensor([i, 0])} for i in range(len(batches))]

    def per_token(net, ids):
        return loss(net, batches[int(ids[0, 0])]).reshape(1, 1)

    return llc(
        model,
        rows,
        {},
        lr=settings.lr,
        n_beta=settings.nbeta,
        localization=settings.localization,
        num_chains=settings.num_chains,
        num_draws=settings.num_draws,
        num_burnin_steps=settings.num_burnin_steps,
        num_steps_bw_draws=settings.num_steps_bw_draws,
        init_seed=settings.seed,
        batch_size=1,
        num_init_loss_batches=len(batches),
        device="cpu",
        loss_fn=per_token,
        output_path=folder / "devinterp.zarr",
    )


def four_batches(d: int = 3):
    model, x, y = least_squares(d, n=128, seed=3)
    return model, list(zip(x.split(32), y.split(32), strict=True))


@needs_devinterp
def test_equals_devinterp_called_directly(tmp_path):
    model, batches = four_batches()
    settings = LLCSettings(lr=2e-3, localization=5.0, nbeta=20.0, num_chains=3, num_draws=40)
    ours = estimate_llc(model, batches, mse, settings)
    theirs = devinterp_llc(model, batches, mse, settings, tmp_path)
    np.testing.assert_allclose(ours.llc_per_chain, theirs["llc_per_chain"].values, rtol=1e-5)
    assert ours.llc_mean == pytest.approx(float(theirs["llc_mean"]), rel=1e-5)
    assert ours.llc_std == pytest.approx(float(theirs["llc_std"]), rel=1e-4)
    assert ours.init_loss == pytest.approx(float(theirs["init_loss"]), rel=1e-6)
    # with no burn-in and a draw every step, devinterp's trace of every step is ours of draws
    np.testing.assert_allclose(ours.loss_trace, theirs["loss_trace"].values, rtol=1e-6)


@needs_devinterp
def test_burn_in_and_thinning_leave_steps_out_of_the_estimate(tmp_path):
    """devinterp 2's ``compute_llc`` averages every step, burn-in included; ours averages the
    draws (after the burn-in, every ``num_steps_bw_draws``-th step), on the same chains."""
    model, batches = four_batches()
    settings = LLCSettings(
        lr=2e-3,
        localization=5.0,
        nbeta=20.0,
        num_chains=2,
        num_draws=15,
        num_burnin_steps=10,
        num_steps_bw_draws=3,
    )
    ours = estimate_llc(model, batches, mse, settings)
    every_step = devinterp_llc(model, batches, mse, settings, tmp_path)["loss_trace"].values
    assert every_step.shape == (2, 10 + 15 * 3)
    draws = every_step[:, 10::3]
    np.testing.assert_allclose(ours.loss_trace, draws, rtol=1e-6)
    np.testing.assert_allclose(ours.burnin_loss_trace, every_step[:, :10], rtol=1e-6)
    expected = 20.0 * (draws.mean(axis=1) - ours.init_loss)
    np.testing.assert_allclose(ours.llc_per_chain, expected, rtol=1e-5)
    running = 20.0 * (np.cumsum(draws, axis=1) / np.arange(1, 16) - ours.init_loss)
    np.testing.assert_allclose(ours.llc_trace, running, rtol=1e-5, atol=1e-6)


# -- what the theory says -----------------------------------------------------------------------


@needs_devinterp
def test_a_regular_model_at_a_strict_minimum_has_llc_d_over_2():
    """Linear regression at its least-squares solution: the loss is exactly quadratic,
    ``L(w) = L* + (w − w*)ᵀ H (w − w*) / 2`` with ``H = 2·I``, and λ = d/2.

    For SGLD on a quadratic the estimator's expectation is known in closed form: each of the d
    directions (curvature h) is a Gaussian AR(1) chain whose stationary variance is
    ``1 / (a·(1 − εa/4))`` with ``a = nβh + γ``, so ``E[λ̂] = d/2 · nβh/a · 1/(1 − εa/4)``:
    d/2 shrunk by the localization γ and raised by the step size ε (+5 % here). The estimate
    must fall within four standard errors (the spread over 8 independent chains) of it."""
    d, nbeta, gamma, lr, h = 16, 100.0, 1.0, 1e-3, 2.0
    model, x, y = least_squares(d)
    settings = LLCSettings(
        lr=lr,
        localization=gamma,
        nbeta=nbeta,
        num_chains=8,
        num_draws=150,
        num_burnin_steps=30,  # the chains start at w*: (1 − εa/2)^60 < 0.2 % left after it
    )
    result = estimate_llc(model, [(x, y)], mse, settings)
    a = nbeta * h + gamma
    expected = d / 2 * (nbeta * h / a) / (1 - lr * a / 4)
    assert result.llc_stderr < 0.05 * d / 2  # the check has teeth
    assert abs(result.llc_mean - expected) < 4 * result.llc_stderr
    assert result.llc_mean == pytest.approx(d / 2, rel=0.1)


@needs_devinterp
def test_redundant_parameters_lower_the_llc():
    """``y = a·b·x`` at ``a·b = c*`` (least squares) has one direction that changes the function
    and one (along the hyperbola ``a·b = c*``) that does not: λ = 1/2, not the 2/2 of a regular
    two-parameter model (``y = a·x₁ + b·x₂``), estimated with the same settings.

    With these settings the closed form of the regular test gives E[λ̂] ≈ 0.53 for the product
    (curvature 4c* ≈ 3.2 along its one direction) and 1.005 for the slopes. Tolerances: over
    seeds 0–5 the chains' spread gave standard errors of 0.04–0.06 (product) and 0.03–0.1
    (slopes), and the estimates fell within 0.48–0.53 and 0.85–1.0."""
    x = whitened(512, 2, seed=5)
    g = torch.Generator().manual_seed(6)
    y_product = 0.8 * x[:, 0] + 0.5 * torch.randn(512, generator=g)
    y_slopes = 0.8 * x[:, 0] - 0.6 * x[:, 1] + 0.5 * torch.randn(512, generator=g)
    c = float(x[:, 0] @ y_product / (x[:, 0] @ x[:, 0]))
    slopes = torch.linalg.lstsq(x, y_slopes[:, None]).solution[:, 0]
    settings = LLCSettings(
        lr=1e-3, localization=10.0, nbeta=100.0, num_chains=8, num_draws=120, num_burnin_steps=30
    )
    product = estimate_llc(Product(math.sqrt(c), math.sqrt(c)), [(x, y_product)], mse, settings)
    regular = estimate_llc(TwoSlopes(*map(float, slopes)), [(x, y_slopes)], mse, settings)
    assert product.llc_mean == pytest.approx(0.5, abs=0.1)
    assert regular.llc_mean == pytest.approx(1.0, abs=0.2)
    assert product.llc_mean < 0.7 * regular.llc_mean


# -- the wrapper's promises ---------------------------------------------------------------------

QUICK = LLCSettings(lr=2e-3, localization=5.0, nbeta=20.0, num_chains=2, num_draws=20)


@needs_devinterp
def test_the_same_seed_gives_the_same_estimate_and_another_seed_another():
    model, batches = four_batches()
    first = estimate_llc(model, batches, mse, QUICK)
    again = estimate_llc(model, batches, mse, QUICK)
    other = estimate_llc(model, batches, mse, LLCSettings(**{**QUICK.as_dict(), "seed": 1}))
    np.testing.assert_array_equal(first.loss_trace, again.loss_trace)
    assert first.llc_mean == again.llc_mean
    assert first.init_loss == other.init_loss  # the checkpoint's loss: no randomness
    assert not np.array_equal(first.loss_trace, other.loss_trace)
    assert first.llc_mean != other.llc_mean


@needs_devinterp
def test_the_model_and_the_random_state_are_left_as_they_were():
    """A model in train mode with dropout and batch norm (whose running statistics a forward
    pass in train mode would change): weights, buffers, mode, gradients and the global random
    generators are all as they were."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Dropout(0.1), torch.nn.Linear(8, 1)
    ).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(16, 4, generator=g), torch.randn(16, generator=g)) for _ in range(3)]
    random.seed(7)
    np.random.seed(7)  # noqa: NPY002  (the legacy global state is what devinterp seeds)
    torch.manual_seed(7)
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()  # noqa: NPY002

    result = estimate_llc(model, batches, mse, QUICK)

    assert np.isfinite(result.llc_mean)
    after = model.state_dict()
    for name, value in before.items():
        assert torch.equal(after[name], value), name
    assert model.training and all(m.training for m in model.modules())
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    assert random.getstate() == states[0]
    np_state = np.random.get_state()  # noqa: NPY002
    assert np_state[0] == states[1][0] and np.array_equal(np_state[1], states[1][1])
    assert torch.equal(torch.get_rng_state(), states[2])


@needs_devinterp
def test_the_estimate_is_the_same_for_a_loader_and_for_its_batches():
    model, batches = four_batches()
    dataset = torch.utils.data.TensorDataset(
        torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=False)
    from_loader = estimate_llc(model, loader, mse, QUICK)
    from_list = estimate_llc(model, batches, mse, QUICK)
    # the same numbers (a loader's batches are copies: the last digits may differ)
    assert from_loader.llc_mean == pytest.approx(from_list.llc_mean, rel=1e-6)


@needs_devinterp
def test_the_result_holds_the_traces_with_their_shapes():
    model, batches = four_batches()
    settings = LLCSettings(**{**QUICK.as_dict(), "num_burnin_steps": 5, "num_steps_bw_draws": 2})
    result = estimate_llc(model, batches, mse, settings)
    assert isinstance(result, LLCResult) and result.settings == settings
    assert result.llc_per_chain.shape == (2,)
    assert result.loss_trace.shape == result.llc_trace.shape == (2, 20)
    assert result.burnin_loss_trace.shape == (2, 5)
    assert result.distance_trace.shape == (2, 5 + 20 * 2)
    # every chain starts at w*, and moves
    np.testing.assert_array_equal(result.distance_trace[:, 0], 0.0)
    assert (result.distance_trace[:, 1:] > 0).all()
    # the running estimate ends at each chain's estimate
    np.testing.assert_allclose(result.llc_trace[:, -1], result.llc_per_chain, rtol=1e-9)
    assert result.llc_mean == pytest.approx(result.llc_per_chain.mean())
    assert result.llc_std == pytest.approx(result.llc_per_chain.std())
    assert "llc_mean=" in repr(result)


@needs_devinterp
def test_devinterps_progress_bars_show_only_when_asked(capsys):
    model, batches = four_batches()
    settings = LLCSettings(**{**QUICK.as_dict(), "num_chains": 1})
    estimate_llc(model, batches, mse, settings)
    assert "Chain 0" not in capsys.readouterr().err
    estimate_llc(model, batches, mse, settings, progress=True)
    assert "Chain 0" in capsys.readouterr().err
    estimate_llc(model, batches, mse, settings)  # and off again
    assert "Chain 0" not in capsys.readouterr().err


@needs_devinterp
def test_the_default_nbeta_is_devinterps_of_the_batch_size():
    from devinterp.utils import default_nbeta

    model, batches = four_batches()
    settings = LLCSettings(**{**QUICK.as_dict(), "nbeta": None})
    result = estimate_llc(model, batches, mse, settings)
    assert result.nbeta == pytest.approx(32 / math.log(32))
    assert result.nbeta == pytest.approx(default_nbeta(32))


@needs_devinterp
def test_the_data_are_moved_to_the_models_device_and_dict_batches_work():
    model, batches = four_batches()
    as_dicts = [{"x": x, "y": y} for x, y in batches]
    result = estimate_llc(model, as_dicts, lambda net, b: mse(net, (b["x"], b["y"])), QUICK)
    assert result.llc_mean == estimate_llc(model, batches, mse, QUICK).llc_mean


@needs_devinterp
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_on_a_gpu_the_chains_run_on_the_models_device():
    model, batches = four_batches()
    seen = set()

    def loss(net, batch):
        seen.add(next(net.parameters()).device.type)
        return mse(net, batch)

    result = estimate_llc(model.cuda(), batches, loss, QUICK)
    assert seen == {"cuda"} and np.isfinite(result.llc_mean)
    again = estimate_llc(model.cuda(), batches, mse, QUICK)
    assert again.llc_mean == result.llc_mean
    assert next(model.parameters()).device.type == "cuda"


# -- settings and errors ------------------------------------------------------------------------


def test_settings_are_json_and_come_back():
    settings = LLCSettings(lr=1e-3, nbeta=12.5, num_chains=3, seed=4)
    values = json.loads(settings.key())
    assert values == settings.as_dict()
    assert LLCSettings.from_dict(values) == settings
    assert settings.num_steps == settings.num_draws
    assert LLCSettings(num_draws=10, num_burnin_steps=4, num_steps_bw_draws=3).num_steps == 34
    with pytest.raises(ValueError, match=r"'values' argument of LLCSettings.from_dict .*'eps'"):
        LLCSettings.from_dict({"eps": 1.0})


@pytest.mark.parametrize(
    ("field", "value", "error", "expected"),
    [
        ("lr", 0.0, ValueError, "a finite real number > 0"),
        ("lr", "big", TypeError, "a real number"),
        ("localization", -1.0, ValueError, "a finite real number >= 0"),
        ("nbeta", float("inf"), ValueError, "a finite real number > 0"),
        ("num_chains", 0, ValueError, "an integer >= 1"),
        ("num_draws", 2.5, TypeError, "an integer"),
        ("num_burnin_steps", -1, ValueError, "an integer >= 0"),
        ("num_steps_bw_draws", 0, ValueError, "an integer >= 1"),
        ("seed", -1, ValueError, "an integer in"),
        ("seed", True, TypeError, "an integer"),
    ],
)
def test_bad_settings_are_named(field, value, error, expected):
    with pytest.raises(error, match=rf"The '{field}' argument of LLCSettings must be {expected}"):
        LLCSettings(**{field: value})


@needs_devinterp
def test_bad_arguments_are_named():
    model, batches = four_batches()
    with pytest.raises(TypeError, match=r"'model' argument of estimate_llc must be a torch.nn"):
        estimate_llc("model", batches, mse, QUICK)
    with pytest.raises(ValueError, match=r"'model' argument .* a module with parameters"):
        estimate_llc(torch.nn.ReLU(), batches, mse, QUICK)
    with pytest.raises(TypeError, match=r"'batches' argument .* a DataLoader or a list"):
        estimate_llc(model, batches[0][0], mse, QUICK)
    with pytest.raises(ValueError, match=r"'batches' argument .* at least one batch; got none"):
        estimate_llc(model, [], mse, QUICK)
    with pytest.raises(TypeError, match=r"'loss_fn' argument of estimate_llc must be a function"):
        estimate_llc(model, batches, "mse", QUICK)
    with pytest.raises(TypeError, match=r"'settings' argument .* an LLCSettings"):
        estimate_llc(model, batches, mse, {"lr": 1e-3})
    with pytest.raises(ValueError, match=r"'device' argument .* a device torch knows"):
        estimate_llc(model, batches, mse, QUICK, device="gpu:7")
    per_sample = lambda net, b: (net(b[0]).reshape(-1) - b[1]) ** 2  # noqa: E731
    with pytest.raises(ValueError, match=r"'loss_fn' .* scalar tensor .* shape \(32,\)"):
        estimate_llc(model, batches, per_sample, QUICK)


@needs_devinterp
def test_the_default_nbeta_needs_a_batch_size_of_two_or_more():
    model, _ = four_batches()
    single = [(torch.randn(1, 3), torch.randn(1))]
    with pytest.raises(ValueError, match=r"'settings' argument .* nbeta set .* size 1"):
        estimate_llc(model, single, mse, LLCSettings(nbeta=None, num_chains=1, num_draws=2))


@needs_devinterp
def test_a_diverging_chain_is_an_error_that_names_the_step_size():
    model, batches = four_batches()
    settings = LLCSettings(lr=50.0, nbeta=20.0, num_chains=1, num_draws=100)
    with (
        pytest.raises(FloatingPointError, match=r"chain 0 .* not finite .* Lower the step size"),
        pytest.warns(UserWarning, match=r"Chain failed"),  # devinterp's own
    ):
        estimate_llc(model, batches, mse, settings)


def test_without_devinterp_the_error_names_the_extra_to_install(monkeypatch):
    for name in [m for m in sys.modules if m == "devinterp" or m.startswith("devinterp.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "devinterp", None)
    model, batches = four_batches()
    with pytest.raises(ImportError, match=r'pip install "repscope\[llc\]"') as raised:
        estimate_llc(model, batches, mse, QUICK)
    assert raised.value.name == "devinterp"
    # the settings need no devinterp: they can be made, checked and stored without it
    assert LLCSettings.from_dict(QUICK.as_dict()) == QUICK
