"""A run's geometry over checkpoints × layers, cached in the store and filled on demand.

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
>>> traj.metrics.query("measure == 'effective_rank'").shape
(6, 4)
>>> sorted(traj.metrics.step.unique().tolist())
[0, 10, 100]
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .phases import Phase, detect_phases
from .probe import Probe
from .scan import WHOLE_CHECKPOINT, MeasureConfig, measure_checkpoint, worker_threads
from .sources.base import Checkpoint, Source
from .store import Record, Store

METRIC_COLUMNS = ["step", "layer", "measure", "value"]


class Trajectory:
    """The user's handle on one run: metrics over checkpoints and layers, spectra, phases.

    Parameters
    ----------
    source : Source
        Yields the checkpoints (:class:`~repscope.sources.CheckpointFolder`,
        :class:`~repscope.sources.HubRevisions`, …). ``None`` for a trajectory read back from a
        store (or filled by a :class:`~repscope.sources.live.LiveRun`).
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
    **measures
        :class:`~repscope.scan.MeasureConfig` fields: ``view``, ``kind``, ``fit_range``,
        ``eps``, ``max_components``, ``dse``, ``sigma``, ``t``.
    """

    def __init__(self, source: Source | None, probe: Probe, *,
                 store: Store | str | Path | None = None, run: str | None = None,
                 loss_fn: Callable | None = None, device: str | None = None, **measures: Any):
        self.source, self.probe = source, probe
        self.config = MeasureConfig(**measures)
        self.store = store if isinstance(store, Store) else Store(store or ":memory:")
        self.run = run or getattr(source, "run", None) or "run"
        self.loss_fn, self.device = loss_fn, device
        #: The Future of a running :meth:`compute_in_background` (the widgets watch it).
        self.filling: cf.Future | None = None
        #: Filled by a :class:`~repscope.sources.live.LiveRun` while it trains.
        self.live = False
        #: How many checkpoints the run will have, when the source does not know yet (a run
        #: still training); the widgets show progress against it.
        self.expected: int | None = None

    # -- filling -------------------------------------------------------------------------------
    def pending(self) -> list[tuple[Checkpoint, str]]:
        """``(checkpoint, fingerprint)`` of each checkpoint with no stored result yet under this
        probe and configuration (failed ones are tried again)."""
        done = {(step, ckpt) for step, ckpt, _layer in self.store.done(run=self.run, **self._key())}
        prints = ((c, c.fingerprint()) for c in (self.source or ()))
        return [(c, fp) for c, fp in prints if (c.step, fp) not in done]

    def compute(self, executor: cf.Executor | None = None, *, progress: bool = True,
                on_record: Callable[[list[Record]], None] | None = None) -> Trajectory:
        """Compute what is missing, checkpoint by checkpoint, writing each to the store at once.

        Parameters
        ----------
        executor : concurrent.futures.Executor, optional
            Runs one checkpoint per task (threads, processes, or a Dask/Ray cluster's executor).
            Each worker caps its BLAS/OpenMP threads at ``cores // workers``. Default: in this
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
        from tqdm.auto import tqdm

        todo = self.pending()
        reference = next(iter(self.source), None) if self.config.view == "weights" else None
        job = functools.partial(
            measure_checkpoint, run=self.run, probe=self.probe, config=self.config,
            reference=reference, loss_fn=self.loss_fn, device=self.device,
            threads=worker_threads(executor))
        bar = tqdm(total=len(todo), desc=f"scan {self.run}", unit="ckpt", disable=not progress)
        try:
            for records in self._run(job, todo, executor):
                self.store.put(*records)
                bar.update(1)
                if on_record is not None:
                    on_record(records)
        finally:
            bar.close()
        return self

    @staticmethod
    def _run(job, todo, executor):
        if executor is None:
            for ckpt, fingerprint in todo:
                yield job(ckpt, fingerprint=fingerprint)
            return
        futures = [executor.submit(job, c, fingerprint=fp) for c, fp in todo]
        for future in cf.as_completed(futures):
            yield future.result()

    def compute_in_background(self, **kwargs: Any) -> cf.Future:
        """Start :meth:`compute` in a background thread; the kernel stays free. Returns its
        Future (``.done()``, ``.result()``)."""
        pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="repscope")
        future = pool.submit(self.compute, progress=kwargs.pop("progress", False), **kwargs)
        pool.shutdown(wait=False)
        self.filling = future
        return future

    def add_cka(self, layers: list[str] | None = None) -> Trajectory:
        """Add linear CKA to the previous and to the first checkpoint (``cka_previous``,
        ``cka_first``) to the stored measures: see :func:`repscope.similarity.add_cka`."""
        from .similarity import add_cka

        return add_cka(self, layers=layers)

    # -- reading -------------------------------------------------------------------------------
    def _key(self) -> dict[str, str]:
        return {"probe": self.probe.fingerprint(), "params": self.config.key()}

    def records(self) -> list[Record]:
        return list(self.store.records(run=self.run, **self._key()))

    @property
    def metrics(self) -> pd.DataFrame:
        """Tidy table ``(step, layer, measure, value)`` of every stored result, by step."""
        rows = [(r.step, r.layer, name, value) for r in self.records() if r.status == "ok"
                for name, value in r.measures.items()]
        frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
        return frame.sort_values(["step", "layer", "measure"], kind="stable").reset_index(drop=True)

    @property
    def failures(self) -> pd.DataFrame:
        """Checkpoints (or single layers) that failed: ``(step, layer, error)``. A layer of
        ``"*"`` means the whole checkpoint."""
        rows = [(r.step, r.layer, r.error) for r in self.records() if r.status == "failed"]
        return pd.DataFrame(rows, columns=["step", "layer", "error"])

    @property
    def notes(self) -> pd.DataFrame:
        """Measured layers that miss a measure, and why (e.g. too few eigenvalues for α-ReQ)."""
        rows = [(r.step, r.layer, r.error) for r in self.records()
                if r.status == "ok" and r.error]
        return pd.DataFrame(rows, columns=["step", "layer", "note"])

    @property
    def scalars(self) -> pd.DataFrame:
        """The run's training scalars (loss, learning rate, …): tidy ``(step, name, value)``."""
        return pd.DataFrame(self.store.scalars(self.run), columns=["step", "name", "value"])

    @property
    def steps(self) -> list[int]:
        return sorted({r.step for r in self.records()})

    @property
    def layers(self) -> list[str]:
        """Layer names in the probe's order (or as stored)."""
        stored = {r.layer for r in self.records() if r.layer != WHOLE_CHECKPOINT}
        order = self.probe.layers or sorted(stored, key=_natural)
        return [name for name in order if name in stored]

    def curve(self, measure: str, layer: str) -> pd.Series:
        """One measure of one layer over steps (failed steps absent)."""
        m = self.metrics
        part = m[(m.measure == measure) & (m.layer == layer)]
        return pd.Series(part.value.to_numpy(), index=part.step.to_numpy(), name=measure)

    def spectrum(self, step: int, layer: str) -> np.ndarray:
        """The normalised eigenvalues at one checkpoint and layer, descending."""
        for r in self.records():
            if r.step == step and r.layer == layer and r.status == "ok":
                return r.spectrum
        raise KeyError(f"no spectrum stored for step {step}, layer {layer!r} "
                       f"(steps: {self.steps}; layers: {self.layers}).")

    def phases(self, layer: str | None = None, **options: Any) -> list[Phase]:
        """Detected phases of one layer (default: the last) from its RankMe and α curves.

        ``options`` go to :func:`repscope.phases.detect_phases`.
        """
        layers = self.layers
        if not layers:
            return []
        layer = layer or layers[-1]
        rank, alpha = self.curve("effective_rank", layer), self.curve("alpha", layer)
        common = rank.index.intersection(alpha.index)
        return detect_phases(common.to_numpy(), rank[common].to_numpy(),
                             alpha[common].to_numpy(), **options)

    def phase_table(self, layer: str | None = None, **options: Any) -> pd.DataFrame:
        """:meth:`phases` as a table: phase, first and last step, RankMe and α change."""
        rows = [(p.name, p.start_step, p.end_step, p.evidence["rankme_change"],
                 p.evidence["alpha_change"]) for p in self.phases(layer, **options)]
        return pd.DataFrame(rows, columns=["phase", "start_step", "end_step", "rankme_change",
                                           "alpha_change"])


def _natural(name: str) -> tuple:
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def from_store(store: Store | str | Path, run: str, probe: Probe, **measures: Any) -> Trajectory:
    """A trajectory read back from a store, with no source (nothing more to compute)."""
    return Trajectory(None, probe, store=store, run=run, **measures)
