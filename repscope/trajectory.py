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
>>> traj.metrics.query("measure == 'effective_rank'").shape  # with its error bar's columns
(6, 7)
>>> sorted(traj.metrics.step.unique().tolist())
[0, 10, 100]
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._validation import check_option
from .config import MeasureConfig, config_summary
from .executors import run_contained
from .phases import Phase, detect_phases
from .probe import Probe
from .scan import (
    WHOLE_CHECKPOINT,
    check_executor,
    failed_checkpoint,
    measure_checkpoint,
    worker_threads,
)
from .sources.base import STARTS, Checkpoint, Source
from .store import Record, Store

METRIC_COLUMNS = ["step", "layer", "measure", "value", "se", "lower", "upper"]


class Trajectory:
    """The user's handle on one run: metrics over checkpoints and layers, spectra, phases.

    Parameters
    ----------
    source : Source
        Yields the checkpoints (:class:`~repscope.sources.CheckpointFolder`,
        :class:`~repscope.sources.HubRevisions`, …). ``None`` for a trajectory read back from a
        store (or filled by a :class:`~repscope.live.LiveRun`).
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
        :class:`~repscope.config.MeasureConfig` fields: ``view``, ``kind``, ``fit_range``,
        ``eps``, ``max_components``, ``dse``, ``sigma``, ``t``, ``dtype``, ``dse_method``,
        ``errors``, ``error_groups``.
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
        self.source, self.probe = source, probe
        if start is not None:
            check_option(start, name="start", func="Trajectory", options=STARTS)
        self._start = start
        self.config = MeasureConfig(**measures)
        self.store = store if isinstance(store, Store) else Store(store or ":memory:")
        self.run = run or getattr(source, "run", None) or "run"
        self.loss_fn, self.device = loss_fn, device
        #: The Future of a running :meth:`compute_in_background` (the widgets watch it).
        self.filling: cf.Future | None = None
        #: Filled by a :class:`~repscope.live.LiveRun` while it trains.
        self.live = False
        #: How many checkpoints the run will have, when the source does not know yet (a run
        #: still training); the widgets show progress against it.
        self.expected: int | None = None
        self._read = _Reader(self)

    # -- filling -------------------------------------------------------------------------------
    def pending(self) -> list[tuple[Checkpoint, str]]:
        """``(checkpoint, fingerprint)`` of each checkpoint with no stored result yet under this
        probe and configuration (failed ones are tried again)."""
        done = {(step, ckpt) for step, ckpt, _layer in self.store.done(run=self.run, **self.key())}
        prints = ((c, c.fingerprint()) for c in (self.source or ()))
        return [(c, fp) for c, fp in prints if (c.step, fp) not in done]

    def describe(self) -> None:
        """Record the run's source and the probe in the store, so that ``repscope.open`` can
        read it back with nothing else (done by :meth:`compute`).

        Raises
        ------
        ValueError
            The store already holds a run of this name from another source.
        """
        if self.source is not None and hasattr(self.source, "describe"):
            self.store.describe_run(self.run, self.source.describe())
        if self._start is not None or self.source is not None:
            self.store.set_run_start(self.run, self.start)
        describe = getattr(self.probe, "describe", None)
        if describe is not None:
            self.store.describe_probe(self.probe.fingerprint(), describe())

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
        from tqdm.auto import tqdm

        check_executor(executor, self.device)
        self.describe()
        self._store_source_scalars()
        todo = self.pending()
        reference = next(iter(self.source or ()), None) if self.config.view == "weights" else None
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
            for records in self._run(job, todo, executor, fail):
                self.store.put_checkpoint(records)
                bar.update(1)
                if on_record is not None:
                    on_record(records)
        finally:
            bar.close()
            if getattr(self.probe, "reductions", None):  # learnt by capturing, in this process
                self.describe()
        return self

    def _store_source_scalars(self) -> None:
        """The training scalars a source knows (a Trainer folder's ``log_history``)."""
        read = getattr(self.source, "scalars", None)
        by_step: dict[int, dict[str, float]] = {}
        for step, name, value in read() if read is not None else ():
            by_step.setdefault(step, {})[name] = value
        for step, values in by_step.items():
            self.store.put_scalars(self.run, step, values)

    @staticmethod
    def _run(job, todo, executor, fail):
        if executor is None:
            for ckpt, fingerprint in todo:
                yield job(ckpt, fingerprint=fingerprint)
            return
        yield from run_contained(job, todo, executor, fail)

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
    def key(self) -> dict[str, str]:
        """The store key of this trajectory's results: the probe's fingerprint and the
        configuration's key (``{"probe": …, "params": …}``)."""
        return {"probe": self.probe.fingerprint(), "params": self.config.key()}

    def records(self) -> list[Record]:
        """The current stored records, by step (without 2-D points; :meth:`points` reads those).

        Read once and then refreshed with only what was written since; where one step holds
        two checkpoints (a store from before rewritten checkpoints replaced their rows), the
        one written last counts.
        """
        return self._read.records()

    def points(self, layer: str) -> dict[int, np.ndarray]:
        """The probe inputs' principal coordinates of ``layer`` at each step:
        ``{step: (n_samples, 2) float32}``."""
        current = {(r.step, r.checkpoint) for r in self.records() if r.layer == layer}
        stored = self.store.points(run=self.run, layer=layer, **self.key())
        return {step: p for (step, ckpt), p in stored.items() if (step, ckpt) in current}

    @property
    def metrics(self) -> pd.DataFrame:
        """Tidy table ``(step, layer, measure, value)`` of every stored result, by step."""
        return self._read.metrics().copy()

    @property
    def failures(self) -> pd.DataFrame:
        """Checkpoints (or single layers) that failed: ``(step, layer, error)``. A layer of
        ``"*"`` means the whole checkpoint. A checkpoint that failed and was measured after it
        was repaired is not here."""
        rows = [(r.step, r.layer, r.error) for r in self.records() if r.status == "failed"]
        return pd.DataFrame(rows, columns=["step", "layer", "error"])

    @property
    def notes(self) -> pd.DataFrame:
        """What a reader of the numbers should know: measured layers that miss a measure (too
        few eigenvalues for α-ReQ, say), and steps whose weights are identical to an earlier
        step's (a hub revision that serves another step's weights, say)."""
        rows = [(r.step, r.layer, r.error) for r in self.records() if r.status == "ok" and r.error]
        for step, first in self.duplicates().items():
            rows.append(
                (
                    step,
                    WHOLE_CHECKPOINT,
                    f"step {step} has the same weights as step "
                    f"{first} (identical checkpoint fingerprint)",
                )
            )
        return pd.DataFrame(sorted(rows, key=lambda r: r[0]), columns=["step", "layer", "note"])

    def duplicates(self) -> dict[int, int]:
        """``{step: earlier step}`` for steps whose checkpoint fingerprint equals an earlier
        step's."""
        first: dict[str, int] = {}
        out: dict[int, int] = {}
        for step, fingerprint in sorted({(r.step, r.checkpoint) for r in self.records()}):
            if fingerprint in first and first[fingerprint] != step:
                out[step] = first[fingerprint]
            else:
                first.setdefault(fingerprint, step)
        return out

    @property
    def scalars(self) -> pd.DataFrame:
        """The run's training scalars (loss, learning rate, …): tidy ``(step, name, value)``."""
        return pd.DataFrame(self.store.scalars(self.run), columns=["step", "name", "value"])

    @property
    def steps(self) -> list[int]:
        return sorted({r.step for r in self.records()})

    @property
    def layers(self) -> list[str]:
        """Layer names in the probe's order, else in natural order (``layers.2`` before
        ``layers.10``)."""
        stored = {r.layer for r in self.records() if r.layer != WHOLE_CHECKPOINT}
        return layer_order(stored, self.probe.layers)

    def curve(self, measure: str, layer: str) -> pd.Series:
        """One measure of one layer over steps (failed steps absent)."""
        steps, values = self._read.curve(measure, layer)
        return pd.Series(values, index=steps, name=measure)

    def spectrum(self, step: int, layer: str) -> np.ndarray:
        """The normalised eigenvalues at one checkpoint and layer, descending."""
        for r in self.records():
            if r.step == step and r.layer == layer and r.status == "ok" and r.spectrum is not None:
                return r.spectrum
        raise KeyError(
            f"no spectrum stored for step {step}, layer {layer!r} "
            f"(steps: {self.steps}; layers: {self.layers})."
        )

    def __repr__(self) -> str:
        steps = self.steps
        span = f"{len(steps)} steps ({steps[0]} … {steps[-1]})" if steps else "no steps yet"
        layers = self.layers
        shown = ", ".join(layers[:4]) + (f" … ({len(layers)} in all)" if len(layers) > 4 else "")
        return (
            f"<Trajectory {self.run!r}: {span}, layers {shown or 'none yet'}; starts "
            f"{self.start}; {config_summary(self.config.key())}; store {self.store.path}>"
        )

    @property
    def start(self) -> str:
        """Where the run starts: ``"init"``, ``"pretrained"`` or ``"unknown"`` (the argument,
        else the source's reading, else the store's record)."""
        if self._start is not None:
            return self._start
        found = getattr(self.source, "start", None)
        if found in STARTS and found != "unknown":
            return str(found)
        recorded = (self.store.run_source(self.run) or {}).get("start")
        return recorded if recorded in STARTS else "unknown"

    def phases(self, layer: str | None = None, **options: Any) -> list[Phase]:
        """Detected phases of one layer (default: the last) from its RankMe and α curves, with
        their stored standard errors. The tracing paper's names (warmup collapse,
        entropy-seeking, compression-seeking) go to a language model's run (a probe of token
        ids) that starts at initialisation (:attr:`start` ``"init"``); any other run's phases
        are named by what they show (``"collapse: RankMe ↓, α ↑"``, ``"RankMe ↑, α flat"`` …).

        ``options`` go to :func:`repscope.phases.detect_phases`.
        """
        layers = self.layers
        if not layers:
            return []
        layer = layer or layers[-1]
        curves = {
            name: self.curve(name, layer)
            for name in ("effective_rank", "alpha", "effective_rank_se", "alpha_se")
        }
        common = curves["effective_rank"].index.intersection(curves["alpha"].index)
        se = {
            name: curves[name].reindex(common).to_numpy()
            for name in ("effective_rank_se", "alpha_se")
        }
        # the paper's names describe a language model's pre-training from initialisation
        language = getattr(self.probe, "input_kind", None) == "tokens"
        options.setdefault("from_init", self.start == "init" and language)
        return detect_phases(
            common.to_numpy(),
            curves["effective_rank"][common].to_numpy(),
            curves["alpha"][common].to_numpy(),
            rankme_se=se["effective_rank_se"],
            alpha_se=se["alpha_se"],
            **options,
        )

    def phase_table(self, layer: str | None = None, **options: Any) -> pd.DataFrame:
        """:meth:`phases` as a table: the phase's name, what the numbers did (``label``), its
        first and last step, the changes of RankMe (relative and absolute) and of α (absolute
        and relative) from its first to its last checkpoint, and both in noise units (``z``)."""
        columns = [
            "rankme_rel_change",
            "rankme_abs_change",
            "alpha_abs_change",
            "alpha_rel_change",
            "rankme_z",
            "alpha_z",
        ]
        rows = [
            (p.name, p.label, p.start_step, p.end_step, *(p.evidence[c] for c in columns))
            for p in self.phases(layer, **options)
        ]
        return pd.DataFrame(rows, columns=["phase", "label", "start_step", "end_step", *columns])


def natural_key(name: str) -> tuple:
    """Sort key that puts ``layers.2`` before ``layers.10``."""
    return tuple(
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name) if p
    )


def layer_order(names: Iterable[str], preferred: Iterable[str] | None = None) -> list[str]:
    """``names`` in the order of ``preferred`` (a probe's layers) where given, the rest in
    natural order: one order for the trajectory, the widgets and the CLI.

    Examples
    --------
    >>> layer_order(["layers.10", "layers.9", "layers.2", "ln_f"])
    ['layers.2', 'layers.9', 'layers.10', 'ln_f']
    """
    names = set(names)
    first = [n for n in (preferred or ()) if n in names]
    return first + sorted(names - set(first), key=natural_key)


_ERROR_SUFFIXES = ("_se", "_lo", "_hi")


class _Reader:
    """The trajectory's records, read once and refreshed with what was written since; the
    metrics table and the curves are derived once per version of the store."""

    def __init__(self, trajectory: Trajectory):
        self.trajectory = trajectory
        self._lock = threading.Lock()
        self._version: tuple | None = None
        self._rows: dict[tuple, Record] = {}
        self._current: list[Record] = []
        self._metrics: pd.DataFrame | None = None
        self._curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] | None = None

    def _refresh(self) -> None:
        t = self.trajectory
        key: dict[str, Any] = t.key()
        version = t.store.version(run=t.run, **key)
        if version == self._version:
            return
        last = max((r.created for r in self._rows.values()), default=None)
        fresh = list(t.store.records(run=t.run, points=False, since=last, **key))
        if (
            last is not None
            and len(self._rows) + sum(r.key not in self._rows for r in fresh) != version[0]
        ):
            fresh, self._rows = list(t.store.records(run=t.run, points=False, **key)), {}
        for r in fresh:
            self._rows[r.key] = r
        self._current = _current(self._rows.values())
        self._metrics, self._curves, self._version = None, None, version

    def records(self) -> list[Record]:
        with self._lock:
            self._refresh()
            return self._current

    def metrics(self) -> pd.DataFrame:
        with self._lock:
            self._refresh()
            if self._metrics is None:
                rows = []
                nan = float("nan")
                for r in self._current:
                    if r.status != "ok":
                        continue
                    m = r.measures
                    for name, value in m.items():
                        if name.endswith(_ERROR_SUFFIXES) and name.rsplit("_", 1)[0] in m:
                            continue  # a part of another measure's error bar: its columns
                        rows.append(
                            (
                                r.step,
                                r.layer,
                                name,
                                value,
                                m.get(f"{name}_se", nan),
                                m.get(f"{name}_lo", nan),
                                m.get(f"{name}_hi", nan),
                            )
                        )
                frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
                self._metrics = frame.sort_values(
                    ["step", "layer", "measure"], kind="stable"
                ).reset_index(drop=True)
            return self._metrics

    def curve(self, measure: str, layer: str) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            self._refresh()
            if self._curves is None:
                table: dict[tuple[str, str], list[tuple[int, float]]] = {}
                for r in self._current:
                    if r.status == "ok":
                        for name, value in r.measures.items():
                            table.setdefault((name, r.layer), []).append((r.step, value))
                self._curves = {
                    k: (
                        np.array([s for s, _ in v], dtype=np.int64),
                        np.array([x for _, x in v], dtype=float),
                    )
                    for k, v in table.items()
                }
            empty = (np.empty(0, dtype=np.int64), np.empty(0))
            return self._curves.get((measure, layer), empty)


def _current(rows: Iterable[Record]) -> list[Record]:
    """Per step, the rows of the checkpoint written last, by step and layer."""
    newest: dict[int, tuple[float, str]] = {}
    for r in rows:
        if r.step not in newest or r.created > newest[r.step][0]:
            newest[r.step] = (r.created, r.checkpoint)
    keep = [r for r in rows if newest[r.step][1] == r.checkpoint]
    return sorted(keep, key=lambda r: (r.step, r.layer))


def from_store(store: Store | str | Path, run: str, probe: Probe, **measures: Any) -> Trajectory:
    """A trajectory read back from a store, with no source (nothing more to compute)."""
    return Trajectory(None, probe, store=store, run=run, **measures)
