"""A run in progress: a training loop hands its model over every ``every`` steps.

The probe's activations are captured at once (one forward pass, in the training thread), and the
geometry is computed in a background thread while training goes on; results land in the store,
where a :class:`~repscope.trajectory.Trajectory` (and the widgets) read them.

Examples
--------
>>> import torch
>>> from repscope import Probe
>>> from repscope.live import LiveRun
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2))
>>> live = LiveRun(Probe(torch.randn(64, 4), layers=["1"]), every=50, fit_range=(2, 10))
>>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
>>> for step in range(101):
...     loss = model(torch.randn(16, 4)).pow(2).mean()
...     opt.zero_grad(); loss.backward(); opt.step()
...     _ = live.observe(step, model)
>>> live.wait().trajectory.steps
[0, 50, 100]
"""

from __future__ import annotations

import concurrent.futures as cf
import numbers
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._validation import check_int, describe, fail
from .probe import Probe
from .scan import layer_record
from .sources.base import check_step, state_fingerprint
from .store import WHOLE_CHECKPOINT, Record, Store
from .trajectory import Trajectory


class LiveRun:
    """Geometry of a model while it trains.

    Parameters
    ----------
    probe : Probe
    every : int, default 100
        Measure at steps that are multiples of ``every`` (see :meth:`observe`).
    store : Store, str or Path, optional
        Default: in memory.
    run : str, default "live"
    start : {"init", "pretrained", "unknown"}, optional
        Where the run starts. Default: read off the first model observed — a Hugging Face model
        loaded with ``from_pretrained`` (its ``config._name_or_path`` names the model) or a
        first step above 0 is ``"pretrained"``, a Hugging Face model built from a config at
        step 0 is ``"init"``, anything else ``"unknown"``. Recorded in the store; the tracing
        paper's phase names go only to runs that start at ``"init"``.
    **measures
        :class:`~repscope.config.MeasureConfig` fields (activations view).
    """

    def __init__(
        self,
        probe: Probe,
        *,
        every: int = 100,
        store: Store | str | Path | None = None,
        run: str = "live",
        start: str | None = None,
        **measures: Any,
    ):
        self.every = check_int(every, name="every", func="LiveRun", low=1)
        self.trajectory = Trajectory(None, probe, store=store, run=run, start=start, **measures)
        self.trajectory.live = True
        self.trajectory.store.describe_run(run, {"kind": "live", "identity": f"live run {run}"})
        self.trajectory.describe()
        self._start_known = start is not None
        self._described = False
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="repscope-live")
        self._futures: list[cf.Future] = []

    @property
    def probe(self) -> Probe:
        return self.trajectory.probe

    def observe(
        self, step: int, model: torch.nn.Module, *, force: bool = False, **scalars: float
    ) -> bool:
        """Measure ``model`` at ``step`` if ``step % every == 0`` (or ``force``), and store the
        training ``scalars`` given (``loss=…``, ``lr=…``) at every call.

        Returns whether it was measured. The forward pass on the probe runs now, in eval mode
        (the model's training mode is restored); the geometry runs in the background.

        Raises
        ------
        TypeError, ValueError
            ``step`` is not a non-negative integer a store can hold (a Python, numpy or 0-d
            torch integer up to 2**63 - 1: not ``2.5``, ``-4``, ``"5"``, ``None`` nor
            ``2**70``), or ``model`` is not a ``torch.nn.Module``. Nothing is stored.
        """
        func = "LiveRun.observe"
        step = check_step(step, func=func)
        if not isinstance(model, torch.nn.Module):
            fail(
                "model",
                func,
                "a torch.nn.Module (the model being trained)",
                describe(model),
                error=TypeError,
            )
        if scalars:
            self.log(step, **scalars)
        if not force and step % self.every:
            return False
        if not self._start_known:  # the first model observed says where the run starts
            self._start_known = True
            self.trajectory.record_start(start_of(model, step))
        was_training = model.training
        model.eval()
        fingerprint = f"live:{self.trajectory.run}:{step}"  # until the weights are hashed
        try:
            fingerprint = state_fingerprint(model.state_dict())
            acts = self.probe.capture(model, check_finite=False)
        except Exception as err:  # reported as a gap, training goes on
            self._store(
                [
                    self._record(
                        step, fingerprint, WHOLE_CHECKPOINT, error=f"{type(err).__name__}: {err}"
                    )
                ]
            )
            return True
        finally:
            model.train(was_training)
        acts = {k: v.detach().to("cpu") for k, v in acts.items()}
        if not self._described:  # how each layer became rows, learnt by the first capture
            self._described = True
            self.trajectory.describe()
        self._futures.append(self._pool.submit(self._measure, step, fingerprint, acts))
        return True

    def log(self, step: int, **scalars: float) -> None:
        """Store training scalars at ``step`` (the widgets draw them beside the geometry).

        ``step`` as in :meth:`observe`; each scalar a real number (a 0-d tensor too)."""
        step = check_step(step, func="LiveRun.log")
        values = {name: _scalar(value, name) for name, value in scalars.items()}
        self.trajectory.store.put_scalars(self.trajectory.run, step, values)

    def _record(self, step: int, fingerprint: str, layer: str, error: str) -> Record:
        key: dict[str, Any] = self.trajectory.key()
        return Record(
            run=self.trajectory.run,
            checkpoint=fingerprint,
            layer=layer,
            step=step,
            status="failed",
            error=error,
            **key,
        )

    def _measure(self, step: int, fingerprint: str, acts: dict[str, torch.Tensor]) -> None:
        traj = self.trajectory
        base = dict(run=traj.run, checkpoint=fingerprint, step=step, **traj.key())
        self._store(
            [layer_record(name, m, self.probe, traj.config, None, base) for name, m in acts.items()]
        )

    def _store(self, records: list[Record]) -> None:
        self.trajectory.store.put_checkpoint(records)

    def wait(self) -> LiveRun:
        """Block until every submitted measurement is stored (re-raising any error)."""
        for future in self._futures:
            future.result()
        self._futures.clear()
        return self

    def trainer_callback(self) -> Any:
        """A ``transformers.TrainerCallback``: it measures the model before training (step 0,
        from ``on_train_begin``) and every ``every`` steps, and stores what the Trainer logs
        (loss, learning rate, gradient norm, ``eval_*`` metrics) as training scalars."""
        from transformers import TrainerCallback

        from .sources.folder import is_training_scalar

        live = self

        class RepscopeCallback(TrainerCallback):
            def on_train_begin(self, args, state, control, model=None, **kwargs):
                if model is not None:
                    live.observe(state.global_step, model, force=True)

            def on_step_end(self, args, state, control, model=None, **kwargs):
                if model is not None:
                    live.observe(state.global_step, model)

            def on_log(self, args, state, control, logs=None, **kwargs):
                # what a scan of the Trainer's folder reads from its log_history, no more
                values = {k: v for k, v in (logs or {}).items() if is_training_scalar(k, v)}
                if values:
                    live.log(state.global_step, **values)

            def on_train_end(self, args, state, control, **kwargs):
                live.wait()

        return RepscopeCallback()


def _scalar(value: Any, name: str) -> float:
    """A training scalar as a float (NaN and Inf kept: a diverged loss is worth drawing)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        fail(name, "LiveRun.log", "a real number", describe(value), error=TypeError)
    try:
        return float(value)
    except OverflowError:
        fail(name, "LiveRun.log", "a real number a float can hold", describe(value))


def start_of(model: torch.nn.Module, step: int) -> str:
    """Where a run starts, read off its first observed model and step (see :class:`LiveRun`)."""
    if step > 0:
        return "pretrained"
    config = getattr(model, "config", None)
    if config is None or not hasattr(model, "save_pretrained"):
        return "unknown"
    name = getattr(config, "_name_or_path", "")
    return "pretrained" if isinstance(name, str) and name.strip() else "init"
