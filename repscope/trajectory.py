"""A run's geometry over checkpoints × layers, cached in the store and filled on demand.

:class:`Trajectory` combines the two sides of a run: :class:`~repscope.reading.RunReader` (read
what the store holds) and :class:`~repscope.filling.Filling` (compute what it is missing).

Examples
--------
>>> import tempfile, torch
>>> from pathlib import Path
>>> from repscope import CheckpointFolder, Probe, Trajectory
>>> folder = Path(tempfile.mkdtemp())
>>> def net():
...     return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16))
>>> for step in (0, 10, 100):
...     _ = torch.manual_seed(step)
...     torch.save(net().state_dict(), folder / f"step_{step}.pt")
>>> probe = Probe(torch.randn(64, 6, generator=torch.Generator().manual_seed(0)), layers=["1", "2"])
>>> traj = Trajectory(CheckpointFolder(folder, model=net), probe, fit_range=(2, 8)).compute(
...     progress=False)
>>> traj.metrics.query("measure == 'effective_rank'").shape  # with its error bar's columns
(6, 7)
>>> sorted(traj.metrics.step.unique().tolist())
[0, 10, 100]
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._validation import check_option
from .config import MeasureConfig
from .filling import Filling
from .probe import Probe
from .reading import METRIC_COLUMNS, RunReader, layer_order, natural_key
from .sources.base import STARTS, Checkpoint, Source
from .sources.registry import as_source
from .store import Record, Store

__all__ = ["METRIC_COLUMNS", "Trajectory", "layer_order", "natural_key"]


class Trajectory(RunReader):
    """The user's handle on one run: metrics over checkpoints and layers, spectra, phases.

    Everything it reads is :class:`~repscope.reading.RunReader`'s; :meth:`compute` fills the
    store through :class:`~repscope.filling.Filling` (:attr:`fill`).

    Parameters
    ----------
    source : Source
        Yields the checkpoints (:class:`~repscope.sources.CheckpointFolder`,
        :class:`~repscope.sources.HubRevisions`, …). ``None`` for a run filled by a
        :class:`~repscope.live.LiveRun` (nothing to compute here).
    probe : Probe
        The fixed inputs and layers.
    store : Store, str or Path, optional
        Where results are cached (a SQLite file). Default: an in-memory store.
    run : str, optional
        The run's name in the store; default ``source.run``.
    loss_fn : callable, optional
        ``(model, batch) -> loss`` for the gradient view of a model without its own loss.
    device : str, optional
        Move each model there before probing (e.g. ``"cuda"``).
    start : {"init", "pretrained", "unknown"}, optional
        Whether the run's first checkpoint is an initialisation or a trained model (a
        fine-tune). Default: what the source says (a Trainer folder from its ``config.json``
        and first step, hub revisions from whether step 0 is among them), else what the store
        recorded, else ``"unknown"``. The tracing paper's phase names go only to runs that
        start at ``"init"``. Recorded in the store.
    **measures
        The options of :class:`~repscope.config.MeasureConfig` (its Parameters section lists
        each one, its default and its place in the store key).
    """

    def __init__(
        self,
        source: Source | None,
        probe: Probe,
        *,
        store: Store | str | Path | None = None,
        run: str | None = None,
        loss_fn: Callable | None = None,
        device: str | None = None,
        start: str | None = None,
        **measures: Any,
    ):
        if start is not None:
            check_option(start, name="start", func="Trajectory", options=STARTS)
        elif source is not None:
            found = as_source(source, func="Trajectory").start
            start = found if found != "unknown" else None
        config = MeasureConfig(**measures)
        store = store if isinstance(store, Store) else Store(store or ":memory:")
        run = run or getattr(source, "run", None) or "run"
        super().__init__(store, run, config, probe, start=start)
        self.probe: Probe = probe
        self.loss_fn, self.device = loss_fn, device
        #: The filling side: pending checkpoints, compute, what the store is told.
        self.fill = Filling(
            source, probe, store, run, config, loss_fn=loss_fn, device=device, start=start
        )

    # -- filling ---------------------------------------------------------------------------------
    @property
    def source(self) -> Source | None:
        """The checkpoints (a :class:`~repscope.sources.base.Source`; a plain iterable of
        checkpoints given is wrapped, :func:`~repscope.sources.registry.as_source`). Setting it
        (a folder that training is still writing, say) makes the next :meth:`compute` read it."""
        return self.fill.source

    @source.setter
    def source(self, source: Source | None) -> None:
        self.fill.source = None if source is None else as_source(source, func="Trajectory")

    def pending(self) -> list[tuple[Checkpoint, str]]:
        """``(checkpoint, fingerprint)`` of each checkpoint with no stored result yet under this
        probe and configuration (failed ones are tried again)."""
        return self.fill.pending()

    def describe(self) -> None:
        """Record the run's source and the probe in the store, so that ``repscope.open`` can
        read it back with nothing else (done by :meth:`compute`)."""
        self.fill.describe()

    def compute(
        self,
        executor: cf.Executor | None = None,
        *,
        progress: bool = True,
        on_record: Callable[[list[Record]], None] | None = None,
    ) -> Trajectory:
        """Compute what is missing, checkpoint by checkpoint, writing each to the store at once.

        Parameters
        ----------
        executor : concurrent.futures.Executor, optional
            Runs one checkpoint per task (threads, processes, or a Dask cluster's
            ``client.get_executor()``). Each task caps its BLAS/OpenMP threads at its share of
            the cores (see :func:`~repscope.scan.worker_threads`). A task that raises (its
            worker process died, the pool broke, it was cancelled) is run once more; if it
            fails again it is stored as a failed checkpoint naming the error, and the other
            checkpoints go on (see :func:`repscope.executors.run_contained`). Default: in this
            thread, one checkpoint at a time.
        progress : bool, default True
            Show a progress bar (``tqdm.auto``: a widget in notebooks).
        on_record : callable, optional
            Called with each checkpoint's records as they are stored (the widgets use it).

        Returns
        -------
        Trajectory
            ``self``, so that ``Trajectory(...).compute().metrics`` reads naturally.
        """
        self.fill.compute(executor, progress=progress, on_record=on_record)
        return self

    def compute_in_background(self, **kwargs: Any) -> cf.Future:
        """Start :meth:`compute` in a background thread; the kernel stays free. Returns its
        Future (``.done()``, ``.result()``; also :attr:`filling`)."""
        return self.fill.compute_in_background(**kwargs)

    def add_cka(self, layers: list[str] | None = None) -> Trajectory:
        """Add linear CKA to the previous and to the first checkpoint (``cka_previous``,
        ``cka_first``) to the stored measures: see :func:`repscope.similarity.add_cka`."""
        from .similarity import add_cka

        return add_cka(self, layers=layers)

    def record_start(self, start: str) -> None:
        """Say where the run starts (``"init"``, ``"pretrained"``, ``"unknown"``) once it is
        known (a :class:`~repscope.live.LiveRun` reads it off the first model it observes), and
        record it in the store."""
        check_option(start, name="start", func="Trajectory.record_start", options=STARTS)
        self._declared_start = self.fill.start = start
        self.store.set_run_start(self.run, start)

    def add_llc(self, batches: Any, loss_fn: Callable, settings: Any = None, **kwargs: Any):
        """Add the local learning coefficient of each checkpoint (``llc``, with its spread over
        chains as an error bar) on the user's loss and data: see
        :func:`repscope.llc.add_llc` (needs ``pip install "repscope[llc]"``)."""
        from .llc import add_llc

        return add_llc(self, batches, loss_fn, settings, **kwargs)

    # -- the filling's progress, which the widgets show ------------------------------------------
    @property
    def filling(self) -> cf.Future | None:
        """The Future of a running :meth:`compute_in_background` (the widgets watch it)."""
        return self.fill.future

    @filling.setter
    def filling(self, future: cf.Future | None) -> None:
        self.fill.future = future

    @property
    def live(self) -> bool:
        """Filled by a :class:`~repscope.live.LiveRun` while it trains."""
        return self.fill.live

    @live.setter
    def live(self, value: bool) -> None:
        self.fill.live = bool(value)

    @property
    def expected(self) -> int | None:
        """How many checkpoints the run will have, when the source does not know yet (a run
        still training); the widgets show progress against it."""
        return self.fill.expected

    @expected.setter
    def expected(self, value: int | None) -> None:
        self.fill.expected = value
