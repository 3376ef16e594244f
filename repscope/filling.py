"""Filling a store: which checkpoints of a source are missing, and computing them.

:class:`Filling` knows the source, the probe, the configuration and the store; it records the
run's description, the source's training scalars, then measures each missing checkpoint
(:func:`repscope.scan.measure_checkpoint`, on any executor) and writes it at once, one
checkpoint per transaction. It never reads results back: :class:`~repscope.reading.RunReader`
does, and :class:`~repscope.trajectory.Trajectory` combines the two.

Examples
--------
>>> import tempfile, torch
>>> from pathlib import Path
>>> from repscope import CheckpointFolder, Probe
>>> from repscope.config import MeasureConfig
>>> from repscope.store import Store
>>> folder = Path(tempfile.mkdtemp())
>>> def net():
...     return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh())
>>> for step in (0, 10):
...     torch.save(net().state_dict(), folder / f"step_{step}.pt")
>>> probe = Probe(torch.randn(40, 6, generator=torch.Generator().manual_seed(0)), layers=["1"])
>>> fill = Filling(CheckpointFolder(folder, model=net), probe, Store(":memory:"), "run",
...                MeasureConfig(fit_range=(2, 8)))
>>> [c.step for c, _ in fill.pending()]
[0, 10]
>>> _ = fill.compute(progress=False)
>>> fill.pending()
[]
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
from collections.abc import Callable, Iterator
from typing import Any

from .config import MeasureConfig
from .executors import run_contained
from .probe import Probe
from .scan import check_executor, failed_checkpoint, measure_checkpoint, worker_threads
from .sources.base import Checkpoint, Source
from .sources.registry import as_source
from .store import Record, Store


class Filling:
    """Computes what a store is missing of a run, checkpoint by checkpoint.

    Parameters
    ----------
    source : Source or None
        Yields the checkpoints. ``None``: nothing to compute (a run filled by a
        :class:`~repscope.live.LiveRun`).
    probe : Probe
        The fixed inputs and layers.
    store : Store
        Where each checkpoint's records are written.
    run : str
        The run's name in the store.
    config : MeasureConfig
        What is measured.
    loss_fn : callable, optional
        ``(model, batch) -> loss`` for the gradient view of a model without its own loss.
    device : str, optional
        Move each model there before probing.
    start : {"init", "pretrained", "unknown"}, optional
        Where the run starts, recorded in the store by :meth:`describe`.

    Attributes
    ----------
    future : concurrent.futures.Future or None
        The Future of a running :meth:`compute` started in the background (the widgets watch
        it).
    live : bool
        Filled by a :class:`~repscope.live.LiveRun` while it trains.
    expected : int or None
        How many checkpoints the run will have, when the source does not know yet (a run still
        training); the widgets show progress against it.
    """

    def __init__(
        self,
        source: Source | None,
        probe: Probe,
        store: Store,
        run: str,
        config: MeasureConfig,
        *,
        loss_fn: Callable | None = None,
        device: str | None = None,
        start: str | None = None,
    ):
        #: The source as a :class:`~repscope.sources.base.Source` (a user's iterable of
        #: checkpoints wrapped: :func:`~repscope.sources.registry.as_source`).
        self.source: Source | None = (
            None if source is None else as_source(source, func="Trajectory")
        )
        self.probe, self.store = probe, store
        self.run, self.config = run, config
        self.loss_fn, self.device, self.start = loss_fn, device, start
        self.future: cf.Future | None = None
        self.live = False
        self.expected: int | None = None

    def key(self) -> dict[str, str]:
        """The store key the results are written under (``{"probe": …, "params": …}``)."""
        return {"probe": self.probe.fingerprint(), "params": self.config.key()}

    def pending(self) -> list[tuple[Checkpoint, str]]:
        """``(checkpoint, fingerprint)`` of each checkpoint with no stored result yet under this
        probe and configuration (failed ones are tried again)."""
        done = {(step, ckpt) for step, ckpt, _layer in self.store.done(run=self.run, **self.key())}
        prints = ((c, c.fingerprint()) for c in (self.source if self.source is not None else ()))
        return [(c, fp) for c, fp in prints if (c.step, fp) not in done]

    def describe(self) -> None:
        """Record the run's source, where it starts, and the probe in the store, so that
        ``repscope.open`` can read it back with nothing else (done by :meth:`compute`).

        Raises
        ------
        ValueError
            The store already holds a run of this name from another source.
        """
        if self.source is not None:
            description = self.source.describe()
            if description.get("identity") is not None or description.get("kind") != "iterable":
                # an iterable with no description of its own says nothing that tells it from
                # another source: recorded only by its checkpoints
                self.store.describe_run(self.run, description)
        if self.start is not None or self.source is not None:  # "unknown" keeps a known start
            self.store.set_run_start(self.run, self.start or "unknown")
        self.store.describe_probe(self.probe.fingerprint(), self.probe.describe())

    def store_scalars(self) -> None:
        """The training scalars the source knows (a Trainer folder's ``log_history``)."""
        by_step: dict[int, dict[str, float]] = {}
        for step, name, value in self.source.scalars() if self.source is not None else ():
            by_step.setdefault(step, {})[name] = value
        for step, values in by_step.items():
            self.store.put_scalars(self.run, step, values)

    def compute(
        self,
        executor: cf.Executor | None = None,
        *,
        progress: bool = True,
        on_record: Callable[[list[Record]], None] | None = None,
    ) -> int:
        """Compute what is missing, checkpoint by checkpoint, writing each to the store at once.

        Parameters are those of :meth:`Trajectory.compute
        <repscope.trajectory.Trajectory.compute>`. Returns the number of checkpoints measured.
        """
        from tqdm.auto import tqdm

        check_executor(executor, self.device)
        self.describe()
        self.store_scalars()
        todo = self.pending()
        first = iter(self.source) if self.source is not None else iter(())
        reference = next(first, None) if self.config.view == "weights" else None
        job = functools.partial(
            measure_checkpoint,
            run=self.run,
            probe=self.probe,
            config=self.config,
            reference=reference,
            loss_fn=self.loss_fn,
            device=self.device,
            threads=worker_threads(executor),
        )
        fail = functools.partial(
            failed_checkpoint, run=self.run, probe=self.probe, config=self.config
        )
        bar = tqdm(total=len(todo), desc=f"scan {self.run}", unit="ckpt", disable=not progress)
        try:
            for records in _results(job, todo, executor, fail):
                self.store.put_checkpoint(records)
                bar.update(1)
                if on_record is not None:
                    on_record(records)
        finally:
            bar.close()
            if self.probe.reductions:  # learnt by capturing, in this process
                self.store.describe_probe(self.probe.fingerprint(), self.probe.describe())
        return len(todo)

    def compute_in_background(self, **kwargs: Any) -> cf.Future:
        """Start :meth:`compute` in a background thread; returns its Future (also
        :attr:`future`)."""
        pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="repscope")
        future = pool.submit(self.compute, progress=kwargs.pop("progress", False), **kwargs)
        pool.shutdown(wait=False)
        self.future = future
        return future

    @property
    def running(self) -> bool:
        """Whether the run is still being filled: by a LiveRun, or a background compute."""
        return self.live or (self.future is not None and not self.future.done())


def _results(job, todo, executor, fail) -> Iterator[list[Record]]:
    if executor is None:
        for ckpt, fingerprint in todo:
            yield job(ckpt, fingerprint=fingerprint)
        return
    yield from run_contained(job, todo, executor, fail)
