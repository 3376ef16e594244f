"""Open a store with nothing else: ``repscope.open("run.sqlite")``.

A store describes itself (schema 3): for each run the source it was scanned from, for each probe
its layers, representation, inputs, labels and texts, and each measure configuration as readable
JSON (the configuration *is* its key). :func:`open` lists what a store holds and gives a
:class:`~repscope.reading.RunReader` for a run with no probe object and no measure options.

Examples
--------
>>> import tempfile, pathlib
>>> import repscope
>>> from repscope.synthetic import synthetic_trajectory
>>> path = pathlib.Path(tempfile.mkdtemp()) / "run.sqlite"
>>> _ = synthetic_trajectory(n_steps=5, layers=("h.0", "h.1"), n_points=30, store=path)
>>> store = repscope.open(path)
>>> store.table[["run", "layers", "inputs", "steps"]]
         run    layers  inputs  steps
0  synthetic  h.0, h.1      30      5
>>> traj = store.trajectory()           # the only run: no argument needed
>>> traj.steps, traj.layers
([0, 1, 3, 7, 18], ['h.0', 'h.1'])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ._validation import describe, fail
from .config import MeasureConfig, config_summary
from .reading import RunReader, StoredProbe
from .sources.base import START_WORDS
from .sources.registry import described_class
from .store import OldStoreError, Store


class StoreCatalog:
    """What a store holds: runs, probes and measure configurations; trajectories from them.

    Made by :func:`open`. ``table`` lists one row per (run, probe, configuration) with results;
    :meth:`trajectory` reads one back.
    """

    def __init__(self, store: Store):
        self.store = store

    @property
    def path(self) -> str:
        return self.store.path

    @property
    def table(self) -> pd.DataFrame:
        """One row per (run, probe, configuration): the source, the probe's layers and number
        of inputs, the configuration, the steps stored and the failures."""
        rows = []
        for run, probe, params, steps, failed in self.store.combinations():
            source = self.store.run_source(run) or {}
            p = StoredProbe(probe, self.store.probe_description(probe))
            rows.append(
                {
                    "run": run,
                    "source": describe_source(source),
                    "start": source.get("start", "unknown"),
                    "probe": probe,
                    "layers": ", ".join(p.layers) if p.layers else "(every block)",
                    "inputs": p.n_samples,
                    "config": params,
                    "steps": steps,
                    "failed": failed,
                }
            )
        columns = [
            "run",
            "source",
            "start",
            "probe",
            "layers",
            "inputs",
            "config",
            "steps",
            "failed",
        ]
        return pd.DataFrame(rows, columns=columns)

    @property
    def runs(self) -> list[str]:
        return sorted({row[0] for row in self.store.combinations()})

    def trajectory(
        self, run: str | None = None, *, probe: str | None = None, config: str | dict | None = None
    ) -> RunReader:
        """The stored results of ``run`` (needed only when the store holds several), under one
        probe and one configuration (needed only when the run has several).

        Raises
        ------
        ValueError
            A choice is needed or does not exist; the message lists the choices.
        """
        func = "StoreCatalog.trajectory"
        combos = self.store.combinations()
        run = _choose("run", func, run, sorted({c[0] for c in combos}), self.path)
        combos = [c for c in combos if c[0] == run]
        probe = _choose(
            "probe", func, probe, sorted({c[1] for c in combos}), self.path, hint=f" of run {run!r}"
        )
        combos = [c for c in combos if c[1] == probe]
        if isinstance(config, dict):
            config = MeasureConfig(**config).key()
        config = _choose(
            "config",
            func,
            config,
            sorted({c[2] for c in combos}),
            self.path,
            hint=f" of run {run!r} with probe {probe!r}",
        )
        stored = StoredProbe(probe, self.store.probe_description(probe))
        if stored.n_samples is None:  # an older store: count the inputs from the points
            stored.n_samples = self.store.n_points(run=run, probe=probe, params=config)
        return RunReader(self.store, run, MeasureConfig.from_key(config), stored)

    def trajectories(self, run: str | None = None) -> dict[str, RunReader]:
        """``{run: trajectory}`` of every run (or of ``run``), each under its only probe and
        configuration (a run with several needs :meth:`trajectory`)."""
        names = [run] if run is not None else self.runs
        if not names:
            fail("path", "repscope.open", "a store with results", f"{self.path}, which has none")
        return {name: self.trajectory(name) for name in names}

    def __repr__(self) -> str:
        table = self.table
        lines = [f"repscope store {self.path}: {len(set(table.run))} run(s)"]
        if not len(table):
            lines.append("  (no results yet)")
        for row in table.itertuples():
            lines.append(f"  run {row.run!r}: {row.source}; starts {START_WORDS[row.start]}")
            lines.append(f"    probe {row.probe[:22]}…: {row.inputs} inputs, layers {row.layers}")
            lines.append(f"    measured {config_summary(row.config)}")
            failed = f", {row.failed} failed" if row.failed else ""
            lines.append(f"    {row.steps} step(s){failed}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        return f"<p>repscope store <code>{escape(str(self.path))}</code></p>" + self.table.to_html(
            index=False, escape=True
        )


def describe_source(source: dict[str, Any]) -> str:
    """One line for a run's recorded source (``folder /a/ckpts, model pkg:make``): the
    ``summary`` of the class its ``"kind"`` names in
    :data:`~repscope.sources.registry.SOURCES`, else the kind (``live``, ``synthetic``).

    Examples
    --------
    >>> describe_source({"kind": "hub", "repo_id": "org/name", "revision": "step{step}"})
    'hub org/name (step{step})'
    >>> describe_source({"kind": "live"}), describe_source({"start": "init"})
    ('live', '(not recorded)')
    """
    cls = described_class(source)
    if cls is not None:
        return cls.summary(source)
    kind = source.get("kind")
    return str(kind) if kind else "(not recorded)"


def _choose(
    name: str, func: str, value: str | None, choices: list[str], path: str, hint: str = ""
) -> str:
    if value is None:
        if len(choices) == 1:
            return choices[0]
        if not choices:
            fail("path", "repscope.open", "a store with results", f"{path}, which has none")
        fail(name, func, f"one of {choices} (the store {path} holds several{hint})", "None")
    if value not in choices:
        fail(name, func, f"one of {choices}{hint}", repr(value))
    return value


def open(path: str | Path | Store, *, timeout: float = 60.0) -> StoreCatalog:
    """Open a repscope store for reading: what it holds, and trajectories read back from it.

    Parameters
    ----------
    path : str, Path or Store
        A store written by ``repscope scan``, a :class:`~repscope.trajectory.Trajectory`, a
        :class:`~repscope.live.LiveRun` or a demo. A path is opened read-only (SQLite's
        ``mode=ro``): nothing is written, so the file is left byte for byte as it was, and a
        store being written by another process (WAL mode) is read without waiting. A store
        from an older repscope is the one exception: it is migrated in place once (every row
        kept; a store that cannot be written is refused with the reason), then read. A store
        from a newer repscope is refused with the reason.
    timeout : float, default 60
        Seconds to wait for another process's lock (only a store in rollback-journal mode in
        the middle of a write holds one against readers); the error says how long it waited.

    Returns
    -------
    StoreCatalog
        ``.table`` lists runs, probes and configurations; ``.trajectory(run)`` reads one back.

    Raises
    ------
    StoreError
        The file is not a repscope store (an empty file, a text file, another application's
        SQLite file: each left as it is), is from a newer repscope, or is locked.

    Notes
    -----
    A row that cannot be read (a malformed value, a step that is not an integer) is skipped
    with one :class:`~repscope.store_rows.StoreRowWarning` naming the file, table, row and
    column; the rest of the store reads. ``repscope check FILE`` lists every such row.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import repscope
    >>> from repscope.synthetic import synthetic_trajectory
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.sqlite"
    >>> _ = synthetic_trajectory(n_steps=3, n_points=20, store=path)
    >>> before = path.read_bytes()
    >>> repscope.open(path).trajectory().steps
    [0, 1, 6]
    >>> path.read_bytes() == before      # reading wrote nothing
    True
    """
    if isinstance(path, Store):
        return StoreCatalog(path)
    if not isinstance(path, (str, Path)):
        fail("path", "repscope.open", "the path of a store file", describe(path), error=TypeError)
    if not Path(path).is_file():
        fail("path", "repscope.open", "an existing store file", repr(str(path)))
    try:
        return StoreCatalog(Store(path, read_only=True, timeout=timeout))
    except OldStoreError:
        # the one write a reader makes: an older store migrated in place, once (a store that
        # cannot be written raises StoreError saying so)
        Store(path, timeout=timeout).close()
    return StoreCatalog(Store(path, read_only=True, timeout=timeout))
