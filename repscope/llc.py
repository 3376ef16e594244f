"""The local learning coefficient (LLC) of a checkpoint, estimated by SGLD through devinterp.

The LLC λ(w*) of singular learning theory measures how degenerate the loss landscape is around
the weights w* of a checkpoint: a regular model with d parameters at a strict minimum has
λ = d/2; redundant or unused directions make it smaller (Watanabe 2009; Lau et al. 2023).
Over training it rises and plateaus in stages (Hoogland et al. 2025). It is estimated as

    λ̂(w*) = nβ · ( E_w[L(w)] − L(w*) ),

the expectation taken over a posterior localised at w*, tempered at inverse temperature nβ,
which stochastic-gradient Langevin dynamics (SGLD) samples: each step moves the weights by
``−(ε/2)·(nβ·∇L_batch(w) + γ·(w − w*)) + N(0, ε)``. The sampling is devinterp's
(``devinterp.slt.sampling.sample``, MIT; the ``llc`` extra: ``pip install "repscope[llc]"``).

This module needs a model, a loss and data, so it sits beside the scan, not in ``geometry``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import importlib.util
import json
import random
import re
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._validation import check_int, check_real, describe, fail

__all__ = ["LLCResult", "LLCSettings", "add_llc", "estimate_llc"]

_FUNC = "estimate_llc"
_SETTINGS = "LLCSettings"
#: numpy's global seed must stay below 2³²; devinterp seeds chain c with ``seed + c``.
_SEED_LIMIT = 2**32 - 1


@dataclass(frozen=True)
class LLCSettings:
    """How the SGLD chains that estimate the LLC run: the estimate depends on every field.

    The defaults are devinterp's tutorial settings for small models (ε = 4e-4, γ = 100 and
    ``nβ = default_nbeta(batch size)``: devinterp 1.x's README and introduction notebook; 4
    chains of 200 draws, no burn-in, a draw every step: devinterp 2's ``sample`` defaults). They
    are a starting point, not a guarantee: read the traces (:class:`LLCResult`, ``docs/llc.md``)
    and tune them for each model and data set, then keep them fixed across the checkpoints
    that are compared.

    Parameters
    ----------
    lr : float, default 4e-4
        ε, the SGLD step size (> 0). Too large: the loss trace explodes or the chains fail;
        too small: the loss trace still climbs at the end, and the estimate is low.
    localization : float, default 100.0
        γ, the strength of the pull back towards the checkpoint's weights (≥ 0). It keeps the
        chains in the checkpoint's basin; too strong, it lowers the estimate (a direction with
        curvature h counts ``nβh / (nβh + γ)`` instead of 1).
    nbeta : float, optional
        nβ, the inverse temperature (> 0). Default: devinterp's ``default_nbeta`` of the batch
        size m, ``m / log m`` (the size of the first batch; m ≥ 2).
    num_chains : int, default 4
        Independent chains (≥ 1); the spread of their estimates is ``llc_std``.
    num_draws : int, default 200
        Draws per chain (≥ 1) that enter the estimate.
    num_burnin_steps : int, default 0
        SGLD steps at the start of each chain that do not enter the estimate (≥ 0).
    num_steps_bw_draws : int, default 1
        SGLD steps from one draw to the next (≥ 1).
    seed : int, default 0
        Seeds the chains (chain c: ``seed + c``) and the order of the batches: the same seed
        gives the same estimate on the same device.

    Examples
    --------
    >>> settings = LLCSettings(num_chains=2, num_draws=50)
    >>> settings.num_steps
    50
    >>> settings.key()
    '{"localization":100.0,"lr":0.0004,"nbeta":null,"num_burnin_steps":0,"num_chains":2,"num_draws":50,"num_steps_bw_draws":1,"seed":0}'
    >>> LLCSettings.from_dict(settings.as_dict()) == settings
    True
    """

    lr: float = 4e-4
    localization: float = 100.0
    nbeta: float | None = None
    num_chains: int = 4
    num_draws: int = 200
    num_burnin_steps: int = 0
    num_steps_bw_draws: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        def check(name: str, checker: Callable[..., Any], **bounds: Any) -> None:
            value = checker(getattr(self, name), name=name, func=_SETTINGS, **bounds)
            object.__setattr__(self, name, value)  # frozen: normalised once, here

        check("lr", check_real, low=0, low_inclusive=False)
        check("localization", check_real, low=0)
        if self.nbeta is not None:
            check("nbeta", check_real, low=0, low_inclusive=False)
        check("num_chains", check_int, low=1)
        check("num_draws", check_int, low=1)
        check("num_burnin_steps", check_int, low=0)
        check("num_steps_bw_draws", check_int, low=1)
        check("seed", check_int, low=0, high=_SEED_LIMIT - (self.num_chains - 1))

    @property
    def num_steps(self) -> int:
        """SGLD steps per chain: ``num_burnin_steps + num_draws · num_steps_bw_draws``."""
        return self.num_burnin_steps + self.num_draws * self.num_steps_bw_draws

    def as_dict(self) -> dict[str, Any]:
        """Every field, as JSON-able numbers (``nbeta`` may be ``None``: the default)."""
        return asdict(self)

    def key(self) -> str:
        """Canonical JSON of :meth:`as_dict` (sorted keys, no spaces): for a store key."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LLCSettings:
        """The settings that :meth:`as_dict` wrote; an unknown name is an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            fail(
                "values",
                f"{_SETTINGS}.from_dict",
                "a mapping of the names " + ", ".join(sorted(known)),
                f"the unknown name(s) {', '.join(map(repr, unknown))}",
            )
        return cls(**values)


@dataclass(frozen=True, eq=False)
class LLCResult:
    """The LLC estimate of one checkpoint, with the traces to judge it by.

    Attributes
    ----------
    llc_mean : float
        The estimate: the mean of ``llc_per_chain``.
    llc_std : float
        The standard deviation of ``llc_per_chain`` (ddof = 0, as devinterp reports it).
    llc_per_chain : ndarray (num_chains,)
        ``nβ · (mean loss over the chain's draws − init_loss)``.
    llc_trace : ndarray (num_chains, num_draws)
        The running estimate: entry ``[c, t]`` uses chain c's first ``t + 1`` draws. It should
        level off; still moving at the end, the chains need more draws.
    loss_trace : ndarray (num_chains, num_draws)
        The batch loss at each draw. It should rise from ``init_loss`` and flatten out; it
        should not explode (ε too large) or keep climbing (ε too small, or too few draws).
    burnin_loss_trace : ndarray (num_chains, num_burnin_steps)
        The batch loss at each burn-in step (left out of the estimate).
    distance_trace : ndarray (num_chains, num_steps)
        ‖w − w*‖ at each SGLD step, before its update: it should level off (γ keeps the
        chains near w*); growing to the end, the chains leave the basin.
    init_loss : float
        L(w*): the mean of the loss over every batch given, at the checkpoint's weights.
    nbeta : float
        The nβ used (the default resolved).
    settings : LLCSettings
    """

    llc_mean: float
    llc_std: float
    llc_per_chain: np.ndarray
    llc_trace: np.ndarray
    loss_trace: np.ndarray
    burnin_loss_trace: np.ndarray
    distance_trace: np.ndarray
    init_loss: float
    nbeta: float
    settings: LLCSettings

    @property
    def llc_stderr(self) -> float:
        """The standard error of ``llc_mean`` over chains: ``std(ddof=1) / √num_chains``
        (``nan`` with one chain). Draws within a chain are correlated; chains are not."""
        n = self.llc_per_chain.shape[0]
        if n < 2:
            return float("nan")
        return float(np.std(self.llc_per_chain, ddof=1) / np.sqrt(n))

    def __repr__(self) -> str:
        return (
            f"LLCResult(llc_mean={self.llc_mean:.4g}, llc_std={self.llc_std:.3g}, "
            f"init_loss={self.init_loss:.4g}, nbeta={self.nbeta:.4g}, "
            f"chains={self.llc_per_chain.shape[0]}, draws={self.loss_trace.shape[1]})"
        )


def estimate_llc(
    model: torch.nn.Module,
    batches: Iterable[Any],
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    settings: LLCSettings | None = None,
    *,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> LLCResult:
    """Estimate the local learning coefficient of ``model`` at its current weights.

    Runs ``settings.num_chains`` SGLD chains with devinterp 2's sampler, each on a copy of
    the model, one batch per step (in an order drawn from ``settings.seed``, the same for every
    chain), and returns ``nβ · (mean draw loss − init loss)`` per chain. The model passed in is
    not changed (weights, buffers, device, train/eval mode), nor are the global random states
    of torch, numpy and ``random``.

    The loss is evaluated with the copy in eval mode (no dropout; batch norm on its running
    statistics), so that it is a function of the weights alone. devinterp samples in train
    mode; the two agree on models without dropout or batch norm.

    Parameters
    ----------
    model : torch.nn.Module
        The checkpoint, at the weights w* whose LLC is wanted (a local minimum of the loss:
        elsewhere the estimate has no meaning and may be negative).
    batches : iterable of batches
        A ``DataLoader`` or a list of batches (tensors, or tuples, lists or dicts of them),
        read once and held on ``device``. Each SGLD step uses one batch, cycling through them;
        the init loss averages the loss over all of them. The data the model was trained on
        (the LLC is a property of w* and the data distribution).
    loss_fn : callable ``(model, batch) -> scalar tensor``
        The mean loss of a batch, as in training (the per-sample negative log-likelihood,
        e.g. cross-entropy), differentiable in the model's weights.
    settings : LLCSettings, optional
        Default: ``LLCSettings()``.
    device : str or torch.device, optional
        Where the chains run. Default: the model's device.
    progress : bool, default False
        Show devinterp's progress bar for each chain.

    Returns
    -------
    LLCResult
        ``llc_mean``, ``llc_std`` over chains, ``llc_per_chain`` ``(num_chains,)``, the traces
        ``llc_trace`` and ``loss_trace`` ``(num_chains, num_draws)``, ``burnin_loss_trace``,
        ``distance_trace`` ``(num_chains, num_steps)``, ``init_loss`` and the ``nbeta`` used.

    Raises
    ------
    ImportError
        devinterp 2 is not installed (``pip install "repscope[llc]"``).
    FloatingPointError
        A chain's loss became NaN or infinite (ε too large, or γ too weak).

    Notes
    -----
    The estimate uses the draws only (after ``num_burnin_steps``, every
    ``num_steps_bw_draws``-th step), as Lau et al. (2023) and devinterp 1.x do. devinterp 2's
    own ``compute_llc`` averages every step, burn-in included; the two agree when there is no
    burn-in and a draw every step. The chains' noise is drawn on ``device``: the same seed
    gives the same estimate on the same device, not across devices.

    References
    ----------
    Lau, Furman, Wang, Murfet, Wei (2023), "The local learning coefficient: a
    singularity-aware complexity measure", arXiv:2308.12108.
    Hoogland, Wang, Farrugia-Roberts, Carroll, Wei, Murfet (2025), "Loss landscape degeneracy
    and stagewise development in transformers", TMLR.

    Examples
    --------
    A regular model (3 parameters) at its least-squares solution: λ = d/2 = 1.5.

    >>> import torch
    >>> from repscope.llc import LLCSettings, estimate_llc
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(512, 3, generator=g)
    >>> y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.5 * torch.randn(512, generator=g)
    >>> model = torch.nn.Linear(3, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.linalg.lstsq(x, y[:, None]).solution.T)
    >>> def mse(net, batch):
    ...     return ((net(batch[0])[:, 0] - batch[1]) ** 2).mean()
    >>> settings = LLCSettings(lr=1e-3, localization=1.0, nbeta=100.0, num_draws=200,
    ...                        num_burnin_steps=50)
    >>> result = estimate_llc(model, [(x, y)], mse, settings)
    >>> result.loss_trace.shape
    (4, 200)
    >>> 1.2 < result.llc_mean < 1.8
    True
    """
    settings = _check_arguments(model, loss_fn, settings, progress)
    sample, default_nbeta = _devinterp()
    device = _device(model, device)
    held = [_to_device(b, device) for b in _read_batches(batches)]
    nbeta = _nbeta(settings, held, default_nbeta)
    work = copy.deepcopy(model).to(device)  # devinterp moves and re-modes the model it gets
    tracker = _Tracker(work)

    def per_token_loss(net: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
        # devinterp's rows are indices of our batches (batch_size=1): one batch per step
        net.eval()
        tracker.see(net)
        loss = loss_fn(net, held[int(ids[0, 0])])
        if not tracker.checked:
            _check_loss(loss)
            tracker.checked = True
        return loss.reshape(1, 1)

    index_rows = [{"input_ids": torch.tensor([i, 0])} for i in range(len(held))]
    with contextlib.ExitStack() as stack:
        stack.enter_context(_preserved_random_state(device))
        stack.enter_context(_quiet(not progress))
        stack.enter_context(_frozen_heap())
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="repscope-llc-"))
        tree = sample(
            model=work,
            dataset=index_rows,
            observables={},
            lr=settings.lr,
            n_beta=nbeta,
            localization=settings.localization,
            num_chains=settings.num_chains,
            num_draws=settings.num_draws,
            num_burnin_steps=settings.num_burnin_steps,
            num_steps_bw_draws=settings.num_steps_bw_draws,
            init_seed=settings.seed,
            batch_size=1,
            num_init_loss_batches=len(held),
            device=str(device),
            output_path=Path(folder) / "samples.zarr",
            loss_fn=per_token_loss,
        )
        arrays = _read_arrays(tree, settings)
    arrays["distance"] = tracker.distances(settings)
    return _result(arrays, nbeta, settings)


def _devinterp() -> tuple[Callable[..., Any], Callable[..., float]]:
    try:
        import devinterp  # noqa: F401  (the package first: a blocked package stops here)
        from devinterp.slt.sampling import sample
        from devinterp.utils import default_nbeta
    except ImportError as err:
        raise ImportError(
            f"{_FUNC} samples with devinterp 2 (devinterp.slt.sampling), which is not "
            'installed. Install it with: pip install "repscope[llc]"',
            name="devinterp",
        ) from err
    return sample, default_nbeta


def _check_arguments(model: Any, loss_fn: Any, settings: Any, progress: Any) -> LLCSettings:
    if not isinstance(model, torch.nn.Module):
        fail("model", _FUNC, "a torch.nn.Module", describe(model), error=TypeError)
    if not any(True for _ in model.parameters()):
        fail("model", _FUNC, "a module with parameters", "a module without any")
    if not callable(loss_fn):
        fail(
            "loss_fn",
            _FUNC,
            "a function (model, batch) -> scalar tensor",
            describe(loss_fn),
            error=TypeError,
        )
    if settings is None:
        settings = LLCSettings()
    if not isinstance(settings, LLCSettings):
        fail("settings", _FUNC, "an LLCSettings", describe(settings), error=TypeError)
    if not isinstance(progress, bool):
        fail("progress", _FUNC, "True or False", describe(progress), error=TypeError)
    return settings


def _device(model: torch.nn.Module, device: Any) -> torch.device:
    if device is None:
        return next(model.parameters()).device
    if not isinstance(device, (str, torch.device)):
        fail("device", _FUNC, "a str or torch.device", describe(device), error=TypeError)
    try:
        return torch.device(device)
    except RuntimeError:
        fail("device", _FUNC, "a device torch knows ('cpu', 'cuda:0', ...)", repr(device))


def _read_batches(batches: Any) -> list[Any]:
    if isinstance(batches, (torch.Tensor, np.ndarray, str, bytes, Mapping)) or not isinstance(
        batches, Iterable
    ):
        fail(
            "batches",
            _FUNC,
            "a DataLoader or a list of batches",
            describe(batches),
            error=TypeError,
        )
    held = list(batches)
    if not held:
        fail("batches", _FUNC, "a DataLoader or a list of at least one batch", "none")
    return held


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return type(batch)({k: _to_device(v, device) for k, v in batch.items()})  # type: ignore[call-arg]
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a named tuple
        return type(batch)(*(_to_device(v, device) for v in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _first_tensor(batch: Any) -> torch.Tensor | None:
    if isinstance(batch, torch.Tensor):
        return batch
    parts = batch.values() if isinstance(batch, Mapping) else batch
    if isinstance(parts, (tuple, list)) or isinstance(batch, Mapping):
        for part in parts:
            found = _first_tensor(part)
            if found is not None:
                return found
    return None


def _nbeta(settings: LLCSettings, held: list[Any], default_nbeta: Callable[..., float]) -> float:
    if settings.nbeta is not None:
        return settings.nbeta
    first = _first_tensor(held[0])
    size = int(first.shape[0]) if first is not None and first.dim() > 0 else 0
    if size < 2:
        fail(
            "settings",
            _FUNC,
            "an LLCSettings with nbeta set when the batch size cannot be read from the first "
            "batch or is below 2 (the default nβ is m / log m for batches of m)",
            f"a first batch of size {size or 'unknown'}",
        )
    return float(default_nbeta(size))


def _check_loss(loss: Any) -> None:
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        fail(
            "loss_fn",
            _FUNC,
            "a function (model, batch) -> scalar tensor (the mean loss of the batch)",
            f"a function that returned {describe(loss)}",
        )


@contextlib.contextmanager
def _preserved_random_state(device: torch.device) -> Iterator[None]:
    """devinterp seeds the global random generators: restore the caller's after."""
    python_state, numpy_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    cuda = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)  # noqa: NPY002


class _Tracker:
    """‖w − w*‖ of each chain at each step, read where devinterp evaluates the loss (before
    the step's update). devinterp's own ``save_metrics`` costs ~1 ms per parameter tensor and
    step (a debug check of its update decomposition); this costs one subtraction per tensor."""

    def __init__(self, reference: torch.nn.Module):
        self.reference = reference
        self.checked = False
        self._chain: Callable[[], Any] | None = None
        self._chains: list[list[torch.Tensor]] = []

    def see(self, net: torch.nn.Module) -> None:
        if net is self.reference:  # the init loss, at w*
            return
        if self._chain is None or self._chain() is not net:  # devinterp copies w* per chain
            self._chain = weakref.ref(net)
            self._chains.append([])
        with torch.no_grad():
            pairs = zip(net.parameters(), self.reference.parameters(), strict=True)
            squared = sum((p - q).square().sum() for p, q in pairs)
            self._chains[-1].append(torch.as_tensor(squared).sqrt())

    def distances(self, settings: LLCSettings) -> np.ndarray:
        out = np.full((settings.num_chains, settings.num_steps), np.nan)
        for c, values in enumerate(self._chains[: settings.num_chains]):
            n = min(len(values), settings.num_steps)
            if n:
                out[c, :n] = torch.stack(values[:n]).double().cpu().numpy()
        return out


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """devinterp runs ``gc.collect()`` twice a chain, which walks every object of the process
    (~0.3 s with torch and transformers loaded). Objects that existed before the call cannot
    be the chains' garbage: freeze them out of the collector's reach while it runs."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


_QUIET_LOCK = threading.Lock()
_QUIET_CALLS = 0


@contextlib.contextmanager
def _quiet(quiet: bool) -> Iterator[None]:
    """Turn off devinterp's per-chain progress bars while any quiet call runs."""
    global _QUIET_CALLS
    from devinterp.slt import sampler

    original = getattr(sampler, "trange", None)
    if not quiet or original is None:
        yield
        return
    with _QUIET_LOCK:
        _QUIET_CALLS += 1
        if _QUIET_CALLS == 1:
            sampler.trange = functools.partial(original, disable=True)
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET_CALLS -= 1
            if _QUIET_CALLS == 0:
                sampler.trange = original


def _read_arrays(tree: Any, settings: LLCSettings) -> dict[str, np.ndarray]:
    data = tree.dataset
    chains, burnin = settings.num_chains, settings.num_burnin_steps
    arrays = {
        "init": np.asarray(data["init_loss"].values, dtype=np.float64).reshape(chains, -1),
        "draws": np.asarray(data["sampling_loss"].values, dtype=np.float64).reshape(
            chains, settings.num_draws, -1
        ),
        "steps": np.asarray(data["sampling_loss_micro"].values, dtype=np.float64).reshape(
            chains, settings.num_steps, -1
        ),
    }
    tree.close()
    arrays["draws"] = arrays["draws"].mean(axis=2)
    arrays["steps"] = arrays["steps"].mean(axis=2)
    arrays["burnin"] = arrays["steps"][:, :burnin]
    return arrays


def _result(arrays: dict[str, np.ndarray], nbeta: float, settings: LLCSettings) -> LLCResult:
    for chain, losses in enumerate(arrays["steps"]):
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size:
            raise FloatingPointError(
                f"The SGLD chain {chain} of {_FUNC} failed: its loss is not finite from step "
                f"{int(bad[0])} of {settings.num_steps} (lr={settings.lr:g}, "
                f"localization={settings.localization:g}, nbeta={nbeta:g}). Lower the step "
                "size 'lr' or raise 'localization'."
            )
    init_loss = float(arrays["init"].mean())
    draws = arrays["draws"]
    per_chain = nbeta * (draws.mean(axis=1) - init_loss)
    running = np.cumsum(draws, axis=1) / np.arange(1, draws.shape[1] + 1)
    return LLCResult(
        llc_mean=float(per_chain.mean()),
        llc_std=float(per_chain.std()),
        llc_per_chain=per_chain,
        llc_trace=nbeta * (running - init_loss),
        loss_trace=draws,
        burnin_loss_trace=arrays["burnin"],
        distance_trace=arrays["distance"],
        init_loss=init_loss,
        nbeta=nbeta,
        settings=settings,
    )


if importlib.util.find_spec("devinterp") is None and estimate_llc.__doc__:
    # Without the llc extra the example cannot run: its doctest is skipped, not failed.
    estimate_llc.__doc__ = re.sub(
        r"^(\s*>>> .*)$", r"\1  # doctest: +SKIP", estimate_llc.__doc__, flags=re.M
    )


#: The normal quantile of the 90 % interval stored beside the LLC (as the jackknife's of RankMe).
_Z90 = 1.6448536269514722


def add_llc(
    trajectory: Any,
    batches: Any,
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    settings: LLCSettings | None = None,
    *,
    steps: Iterable[int] | None = None,
    device: Any = None,
) -> Any:
    """Add the LLC of every measured checkpoint to the stored measures, on the timeline.

    Each checkpoint of the trajectory's source is loaded and :func:`estimate_llc` run on it;
    the estimate is stored beside every measured layer of that step (the LLC is the model's,
    not a layer's: the same value on each row) as ``llc``, with ``llc_se`` (the spread over
    chains, ``std / √(chains − 1)``), a 90 % interval ``llc_lo``/``llc_hi`` (normal) and, as
    diagnostics, ``llc_chain_std`` and ``llc_init_loss``. The settings are recorded in the
    run's description in the store (``"llc"``), so a reader knows what was estimated. The
    LLC is an estimate with settings to tune: see the user guide's LLC page.

    Parameters
    ----------
    trajectory : Trajectory
        With a source; its ``compute`` ran (the rows to add to).
    batches, loss_fn, settings, device
        As in :func:`estimate_llc`.
    steps : iterable of int, optional
        Only these steps (the LLC costs minutes per checkpoint on a CPU). Default: every
        measured step.

    Returns
    -------
    Trajectory
        The same trajectory; ``traj.curve("llc", layer)`` reads the estimates.
    """
    func = "add_llc"
    settings = settings if settings is not None else LLCSettings()
    if not isinstance(settings, LLCSettings):
        fail("settings", func, "an LLCSettings", describe(settings), error=TypeError)
    if trajectory.source is None:
        fail(
            "trajectory",
            func,
            "a trajectory with a source of checkpoints to load",
            "a trajectory read back from a store (source=None)",
        )
    measured = {r.step for r in trajectory.records() if r.status == "ok"}
    wanted = measured if steps is None else {int(s) for s in steps}
    missing = sorted(wanted - measured)
    if missing:
        fail("steps", func, f"measured steps, from {sorted(measured)}", repr(missing))
    held = _read_batches(batches)
    rows = [r for r in trajectory.records() if r.status == "ok" and r.step in wanted]
    for ckpt in sorted(trajectory.source, key=lambda c: c.step):
        if ckpt.step not in wanted:
            continue
        result = estimate_llc(ckpt.load(), held, loss_fn, settings, device=device)
        chains = settings.num_chains
        se = result.llc_std / np.sqrt(chains - 1) if chains > 1 else float("nan")
        values = {
            "llc": result.llc_mean,
            "llc_se": float(se),
            "llc_lo": float(result.llc_mean - _Z90 * se),
            "llc_hi": float(result.llc_mean + _Z90 * se),
            "llc_chain_std": result.llc_std,
            "llc_init_loss": result.init_loss,
        }
        trajectory.store.add_measures((r, values) for r in rows if r.step == ckpt.step)
    trajectory.store.annotate_run(trajectory.run, "llc", settings.as_dict())
    return trajectory
