"""The on-disk cache: an embedded SQLite file of spectra and measures, so nothing is computed twice.

One row per (run, step, checkpoint fingerprint, layer, probe fingerprint, measure parameters)
holds the spectrum and the measure values — or, for a checkpoint that failed, the error. Every
write is a transaction: a scan killed half-way leaves every finished row intact, and the next
scan resumes where it stopped. The file is in WAL mode with a busy timeout, so two notebooks
(two processes) may read and write one store at once. Activations are never stored.

The store describes itself (schema 3), so that ``repscope.open(path)`` needs nothing else: the
``runs`` table holds each run's source, ``probes`` each probe's layers, representation, number
of inputs, labels, texts and tokenizer, and ``scalars`` the training scalars (loss, learning
rate, …) by run and step. A measure configuration is its own key: readable JSON
(:mod:`repscope.config`).

**Migrations.** A store from an older repscope is brought up to :data:`SCHEMA_VERSION` when it is
opened, every step in one transaction (1 → 2 adds the points columns; 2 → 3 adds the
description tables and rewrites the configuration keys under today's key rule, so old rows keep
answering). A store from a newer repscope is refused with the reason.

**Reading.** ``Store(path, read_only=True)`` (what :func:`repscope.open`, ``repscope ls``,
``repscope export`` and the widgets use) opens the file with SQLite's ``mode=ro``: no journal
change, no write, so the file is left byte for byte as it was, and in WAL mode it never waits
behind a writer. A file that is not a repscope store (empty, text, another application's
SQLite file) is refused and left as it is; a lock held by another process (a store in
rollback-journal mode in the middle of a write) is reported as a lock, with how long SQLite
waited. Every row is checked as it is decoded (:mod:`repscope.store_rows`): a bad row is
skipped with one :class:`~repscope.store_rows.StoreRowWarning` and the rest reads.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from repscope.store import Record, Store
>>> path = pathlib.Path(tempfile.mkdtemp()) / "run.sqlite"
>>> with Store(path) as store:
...     key = dict(run="demo", step=10, checkpoint="sha256:ab12", layer="h.0", probe="p1",
...                params="{}")
...     store.put(Record(**key, measures={"effective_rank": 3.5},
...                      spectrum=np.array([0.5, 0.3, 0.2])))
...     store.get(**key).measures
{'effective_rank': 3.5}
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
import warnings
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import store_file
from . import store_rows as rows_
from ._validation import describe, fail
from .store_file import READING, DamagedStoreError, StoreError
from .store_rows import BadRow, BadValue, StoreRowWarning, row_key

#: The layout this repscope writes. Older layouts are migrated on open; newer ones are refused.
SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    run        TEXT NOT NULL,
    checkpoint TEXT NOT NULL,
    layer      TEXT NOT NULL,
    probe      TEXT NOT NULL,
    params     TEXT NOT NULL,
    step       INTEGER NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    measures   TEXT,
    spectrum   BLOB,
    error      TEXT,
    created    REAL NOT NULL,
    points     BLOB,
    points_dim INTEGER,
    PRIMARY KEY (run, step, checkpoint, layer, probe, params)
);
CREATE INDEX IF NOT EXISTS results_by_run_step ON results (run, step);
CREATE INDEX IF NOT EXISTS results_by_key ON results (run, probe, params, created);
CREATE TABLE IF NOT EXISTS scalars (
    run   TEXT NOT NULL,
    step  INTEGER NOT NULL,
    name  TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (run, step, name)
);
CREATE TABLE IF NOT EXISTS runs (run TEXT PRIMARY KEY, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS probes (probe TEXT PRIMARY KEY, description TEXT NOT NULL);
"""

#: What each older layout needs to become the current one (run in one transaction on open).
_MIGRATIONS = {
    # 1 → 2: the probe points' principal coordinates, for the widgets' 2-D view.
    1: [
        "ALTER TABLE results ADD COLUMN points BLOB",
        "ALTER TABLE results ADD COLUMN points_dim INTEGER",
    ],
    # 2 → 3: the runs, probes and scalars tables (created by _SCHEMA), and configuration keys
    # rewritten under the key rule (two old keys naming one configuration become one).
    2: ["UPDATE OR REPLACE results SET params = repscope_current_key(params)"],
}


#: The tables of a current store (a reader checks they are all there).
_TABLES = {"meta", "results", "scalars", "runs", "probes"}


class OldStoreError(StoreError):
    """A store from an older repscope, opened for reading only: it must be migrated (written)
    before it can be read. :func:`repscope.open` migrates it when the file can be written."""


#: Layer name of a record that stands for the whole checkpoint (it failed before any layer).
WHOLE_CHECKPOINT = "*"


@dataclass(frozen=True)
class Record:
    """One cached result: a layer of a checkpoint under one probe and one set of parameters.

    ``measures`` maps measure names to floats (``nan`` allowed); ``spectrum`` is the normalised
    eigenvalues, shape ``(K,)``; ``points`` the probe samples' principal coordinates, shape
    ``(n_samples, k)`` (float32; activations only). A failed checkpoint has ``status="failed"``
    and ``error``.
    """

    run: str
    checkpoint: str
    layer: str
    probe: str
    params: str
    step: int
    measures: dict[str, float] = field(default_factory=dict)
    spectrum: np.ndarray | None = None
    status: str = "ok"
    error: str | None = None
    points: np.ndarray | None = None
    created: float = 0.0  # when it was written (seconds since the epoch); not part of the key

    @property
    def key(self) -> tuple[str, int, str, str, str, str]:
        return (self.run, int(self.step), self.checkpoint, self.layer, self.probe, self.params)


def _encode_measures(measures: dict[str, float]) -> str:
    # JSON has no NaN/Inf: store them as strings so a diverged checkpoint round-trips.
    return json.dumps(
        {
            k: (v if math.isfinite(v) else repr(v))
            for k, v in ((k, float(v)) for k, v in measures.items())
        },
        sort_keys=True,
    )


class Store:
    """A SQLite file of cached results.

    Parameters
    ----------
    path : str or Path
        The file; created (with its folder) if missing. ``":memory:"`` for a throw-away store.
    timeout : float, default 60
        Seconds to wait for another process's lock before giving up (a writer waits for
        another writer; a reader waits only for a store in rollback-journal mode that is being
        written: in WAL mode readers never wait).
    read_only : bool, default False
        Open an existing store for reading only (SQLite's ``mode=ro``): nothing is written,
        not even the journal mode, so the file is left byte for byte as it was. A missing
        file is an error, not a new store; a store from an older repscope raises
        :class:`OldStoreError` (it must be migrated, which writes).

    Raises
    ------
    StoreError
        If the file is not a SQLite database, not a repscope store, was written by a newer
        repscope (its schema version is greater than :data:`SCHEMA_VERSION`), or is locked
        by another process for longer than ``timeout`` (the message says how long it waited).

    Notes
    -----
    A store that cannot be written (a read-only file, an immutable flag, a read-only mount)
    opens for reading; ``read_only`` then says why, and every write raises
    :class:`StoreError` with that reason.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.sqlite"
    >>> Store(path).close()                     # a writer creates it
    >>> reader = Store(path, read_only=True)    # a reader writes nothing
    >>> reader.read_only
    'opened for reading only'
    >>> reader.close()
    """

    def __init__(self, path: str | Path, *, timeout: float = 60.0, read_only: bool = False):
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            fail(
                "path",
                "Store",
                "a file path (str or Path) or ':memory:'",
                describe(path),
                error=TypeError,
            )
        if not isinstance(read_only, bool):
            fail("read_only", "Store", "True or False", describe(read_only), error=TypeError)
        self.path = str(path)
        if read_only and self.path == ":memory:":
            fail("read_only", "Store", "False for ':memory:' (a new store holds nothing)", "True")
        #: Why the store cannot be written (``None`` when it can).
        self.read_only: str | None = READING if read_only else None
        self._warned: set[tuple[str, int]] = set()
        self._collect: list[BadRow] | None = None
        if self.path != ":memory:":
            if Path(self.path).is_dir():
                raise StoreError(
                    f"{self.path} is a folder, not a store file: give a file "
                    "name, such as run.sqlite."
                )
            if not read_only:
                try:
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                except OSError as err:
                    raise StoreError(f"{self.path}: cannot create its folder ({err}).") from None
        # One connection shared by this process's threads (a background fill and the widgets),
        # serialised by a lock; other processes coordinate through SQLite's own locking.
        self._lock = threading.RLock()
        self._timeout = timeout
        started = time.monotonic()
        made_wal = False
        if read_only:
            self._conn, made_wal = store_file.open_reading(self.path, timeout)
        else:
            self._conn, self.read_only = store_file.open_writing(self.path, timeout)
        # closes the connection when the store is closed or collected (``repscope ls`` never
        # closes its store), then removes the empty -wal/-shm files a reader had to create
        self._finalizer = weakref.finalize(
            self, store_file.release, self._conn, self.path if made_wal else None
        )
        try:
            if self.read_only is None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._open_schema()
        except StoreError:
            self._finalizer()
            raise
        except sqlite3.DatabaseError as err:
            self._finalizer()
            waited = time.monotonic() - started
            raise store_file.sqlite_error(self.path, err, waited, timeout) from None

    def _check_writable(self) -> None:
        if self.read_only == READING:
            raise StoreError(
                f"{self.path} was opened for reading only (repscope.open, or Store(path, "
                "read_only=True)): nothing can be stored through it. Open it with "
                "Store(path) to write."
            )
        if self.read_only is not None:
            raise StoreError(
                f"{self.path} is read-only ({self.read_only}): results cannot be "
                "stored in it. Scan into another file, or into a writable copy."
            )

    def _open_schema(self) -> None:
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master")}
        if tables and "meta" not in tables:
            raise StoreError(
                f"{self.path} is a SQLite file but not a repscope store (no 'meta' table; it "
                f"holds {sorted(tables)}). Use another file for the store."
            )
        reading = self.read_only is not None
        if not tables and reading:
            raise StoreError(
                f"{self.path} is an empty SQLite database, not a repscope store "
                f"({self.read_only}; left as it is)."
            )
        version = self._version() if tables else SCHEMA_VERSION
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer repscope (store schema {version}; this "
                f"repscope reads schemas up to {SCHEMA_VERSION}). Upgrade repscope to open "
                "it, or scan into a new file."
            )
        if reading and version < SCHEMA_VERSION:
            if self.read_only == READING:
                raise OldStoreError(
                    f"{self.path} is from an older repscope (store schema {version}) and was "
                    f"opened for reading only: it must be migrated to schema {SCHEMA_VERSION} "
                    "(in place, every row kept) to be read. repscope.open migrates it when "
                    "the file can be written; Store(path) does too."
                )
            raise StoreError(
                f"{self.path} is read-only ({self.read_only}) and from an "
                f"older repscope (schema {version}): it must be migrated to "
                f"schema {SCHEMA_VERSION} to be read. Open a writable copy."
            )
        if reading:
            missing = sorted(_TABLES - tables)
            if missing:
                raise StoreError(
                    f"{self.path} is a damaged repscope store: table(s) {missing} are missing."
                )
            return
        if 0 < version < SCHEMA_VERSION:
            self._migrate(version)
        self._conn.executescript(_SCHEMA)  # idempotent: CREATE … IF NOT EXISTS
        with self._transaction():
            self._conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    def _version(self) -> int:
        """The schema version in ``meta`` (0 when it holds none)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            if self.read_only is not None:
                raise StoreError(
                    f"{self.path} is not a store this repscope can read: its 'meta' table "
                    "holds no schema version."
                )
            return 0
        try:
            return int(row[0])
        except (TypeError, ValueError):
            raise StoreError(
                f"{self.path} is not a store this repscope can read: its "
                f"schema version is {row[0]!r}, not a number."
            ) from None

    def _migrate(self, version: int) -> None:
        """Bring an older store up to :data:`SCHEMA_VERSION`, all steps in one transaction."""
        from .config import current_key

        self._conn.create_function("repscope_current_key", 1, current_key, deterministic=True)
        with self._transaction():
            for old in range(version, SCHEMA_VERSION):
                for sql in _MIGRATIONS[old]:
                    self._conn.execute(sql)
            self._conn.execute(
                "UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),)
            )

    def _transaction(self):
        self._check_writable()
        return _Transaction(self._conn, self._lock)

    def _query(self, sql: str, args: tuple | list = ()) -> list[tuple]:
        with self._lock:
            started = time.monotonic()
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as err:
                # a lock (said with the time waited), a damaged file (DamagedStoreError)
                if not (store_file.is_lock(err) or type(err) is sqlite3.DatabaseError):
                    raise
                waited = time.monotonic() - started
                raise store_file.sqlite_error(self.path, err, waited, self._timeout) from None

    # -- writing -------------------------------------------------------------------------------
    def put(self, *records: Record) -> None:
        """Write records in one transaction (all or none), replacing rows with the same key."""
        with self._transaction():
            self._insert(records)

    def _insert(self, records) -> None:
        rows = [
            (
                *r.key,
                r.status,
                _encode_measures(r.measures),
                None if r.spectrum is None else np.asarray(r.spectrum, "<f8").tobytes(),
                r.error,
                time.time(),
                *_encode_points(r.points),
            )
            for r in records
        ]
        self._conn.executemany(
            "INSERT OR REPLACE INTO results (run, step, checkpoint, layer, probe, params, "
            "status, measures, spectrum, error, created, points, points_dim) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )

    def add_measures(self, updates: Iterable[tuple[Record, dict[str, float]]]) -> int:
        """Merge measures into stored records, in one transaction, leaving every other field
        (spectrum, 2-D points, status, error) as it is.

        Parameters
        ----------
        updates : iterable of (Record, dict)
            Each record (only its key is used) with the measures to add; a name it holds
            already is replaced.

        Returns
        -------
        int
            How many stored rows were updated (a record no longer stored is skipped).
        """
        updated = 0
        with self._transaction():
            for record, extra in updates:
                where = "run=? AND step=? AND checkpoint=? AND layer=? AND probe=? AND params=?"
                row = self._conn.execute(
                    f"SELECT rowid, measures FROM results WHERE {where}", record.key
                ).fetchone()
                if row is None:
                    continue
                try:
                    merged = {**rows_.measures(row[1]), **extra}
                except BadValue as bad:  # left as it is (said once); readers skip it
                    key = row_key(**dict(zip(_KEY, record.key, strict=True)))
                    self._skip("results", row[0], key, bad)
                    continue
                self._conn.execute(
                    f"UPDATE results SET measures=?, created=? WHERE {where}",
                    (_encode_measures(merged), time.time(), *record.key),
                )
                updated += 1
        return updated

    def put_checkpoint(self, records: list[Record]) -> None:
        """Write one checkpoint's records as the step's only results, in one transaction.

        Rows of the same step (same run, probe and configuration) from *another* checkpoint
        fingerprint are deleted: a checkpoint rewritten after its scan replaces its old rows,
        and a repaired checkpoint's success replaces its old failure.
        """
        if not records:
            return
        first = records[0]
        with self._transaction():
            self._conn.execute(
                "DELETE FROM results WHERE run=? AND step=? AND probe=? AND params=? "
                "AND checkpoint<>?",
                (first.run, int(first.step), first.probe, first.params, first.checkpoint),
            )
            self._insert(records)

    def describe_run(self, run: str, source: dict[str, Any]) -> None:
        """Record where ``run`` comes from. ``source["identity"]`` names it (a folder's path and
        model factory, a hub id); a run already recorded with another identity is refused, so
        that two sources never mix under one name.

        Raises
        ------
        ValueError
            The run exists with another source; the message says how to name this one.
        """
        text = json.dumps(source, sort_keys=True, default=str)
        with self._transaction():
            old = self._stored("runs", run, rows_.source)
            if old is None:  # not recorded, or unreadable (said): this source replaces it
                self._conn.execute("INSERT OR REPLACE INTO runs VALUES (?, ?)", (run, text))
                return
            if old.get("identity") is None:  # only its start was known: now its source too
                merged = {**source, **({"start": old["start"]} if "start" in old else {})}
                self._conn.execute(
                    "UPDATE runs SET source=? WHERE run=?",
                    (json.dumps(merged, sort_keys=True, default=str), run),
                )
                return
            if old.get("identity") != source.get("identity"):
                raise ValueError(
                    f"The 'run' argument must name one source per run: run {run!r} in "
                    f"{self.path} was filled from {old.get('identity')}; this source is "
                    f"{source.get('identity')}. Give this run another name (Trajectory(..., "
                    "run='NAME'), or repscope scan --run NAME), or use another store."
                )

    def set_run_start(self, run: str, start: str) -> None:
        """Record where ``run`` starts (``"init"``, ``"pretrained"`` or ``"unknown"``): in its
        source description, which ``repscope.open`` and ``repscope ls`` show. An ``"unknown"``
        never overwrites a known start."""
        with self._transaction():
            source = self._stored("runs", run, rows_.source) or {"identity": None}
            if source.get("start") == start or (start == "unknown" and "start" in source):
                return
            source["start"] = start
            text = json.dumps(source, sort_keys=True, default=str)
            self._conn.execute("INSERT OR REPLACE INTO runs VALUES (?, ?)", (run, text))

    def annotate_run(self, run: str, name: str, value: Any) -> None:
        """Record ``value`` (JSON) under ``name`` in ``run``'s source description (what a
        writer after the scan used: ``add_llc``'s settings), replacing an older value."""
        if name in ("identity", "kind", "start"):
            fail(
                "name", "Store.annotate_run", "a name other than identity, kind, start", repr(name)
            )
        with self._transaction():
            source = self._stored("runs", run, rows_.source) or {"identity": None}
            source[name] = value
            text = json.dumps(source, sort_keys=True, default=str)
            self._conn.execute("INSERT OR REPLACE INTO runs VALUES (?, ?)", (run, text))

    def describe_probe(self, fingerprint: str, description: dict[str, Any]) -> None:
        """Record what a probe is (layers, representation, inputs, labels, texts, tokenizer, and
        how each layer's output became rows, ``reductions``, as scans learn it)."""
        with self._transaction():
            old = self._stored("probes", fingerprint, rows_.description)
            if old is not None:
                found = {**(old.get("reductions") or {}), **(description.get("reductions") or {})}
                if found == (old.get("reductions") or {}):
                    return
                old["reductions"] = found
                self._conn.execute(
                    "UPDATE probes SET description=? WHERE probe=?",
                    (json.dumps(old, default=str), fingerprint),
                )
                return
            self._conn.execute(  # new, or replacing an unreadable one (said)
                "INSERT OR REPLACE INTO probes VALUES (?, ?)",
                (fingerprint, json.dumps(description, default=str)),
            )

    def _stored(self, table: str, key: str, check: Any) -> dict[str, Any] | None:
        """A writer's read of a run's source or a probe's description: ``None`` when absent or
        unreadable (said once; the writer then replaces it)."""
        column, key_column = {"runs": ("source", "run"), "probes": ("description", "probe")}[table]
        row = self._conn.execute(
            f"SELECT rowid, {column} FROM {table} WHERE {key_column}=?", (key,)
        ).fetchone()
        if row is None:
            return None
        try:
            return check(row[1])
        except BadValue as bad:
            self._skip(table, row[0], row_key(**{key_column: key}), bad)
            return None

    def put_scalars(self, run: str, step: int, values: dict[str, float]) -> None:
        """Store training scalars of ``run`` at ``step`` (``{"loss": 2.3, "lr": 1e-3}``), in one
        transaction, replacing values of the same name and step."""
        rows = [(run, int(step), str(name), float(value)) for name, value in values.items()]
        with self._transaction():
            self._conn.executemany("INSERT OR REPLACE INTO scalars VALUES (?,?,?,?)", rows)

    # -- reading -------------------------------------------------------------------------------
    # Every row is checked as it is decoded (store_rows): a bad one is skipped with one
    # StoreRowWarning (per store and row), and the rest reads.
    def scalars(self, run: str) -> list[tuple[int, str, float]]:
        """The training scalars of ``run``: ``(step, name, value)`` by step and name (NaN for a
        value stored as NaN)."""
        rows = self._query(
            "SELECT rowid, step, name, value FROM scalars WHERE run=? ORDER BY step, name", (run,)
        )
        found = (self._scalar(rowid, run, *row) for rowid, *row in rows)
        return [row for row in found if row is not None]

    def get(
        self, *, run: str, step: int, checkpoint: str, layer: str, probe: str, params: str
    ) -> Record | None:
        """The record with this key, or ``None``."""
        found = self._results(
            "run=? AND step=? AND checkpoint=? AND layer=? AND probe=? AND params=?",
            (run, int(step), checkpoint, layer, probe, params),
        )
        return next(iter(found), None)

    def done(
        self, *, run: str, probe: str, params: str, status: str = "ok"
    ) -> set[tuple[int, str, str]]:
        """The ``(step, checkpoint, layer)`` triples already stored with this status (a row
        that cannot be read is not among them)."""
        found = self._results(
            "run=? AND probe=? AND params=? AND status=?",
            (run, probe, params, status),
            blobs=False,
        )
        return {(r.step, r.checkpoint, r.layer) for r in found}

    def records(
        self,
        *,
        run: str,
        probe: str | None = None,
        params: str | None = None,
        points: bool = True,
        since: float | None = None,
    ) -> Iterator[Record]:
        """Every record of a run (optionally of one probe and parameter set), by step.

        ``points=False`` leaves the 2-D points out (the widgets read them per layer, with
        :meth:`points`); ``since`` keeps the rows written after that time (``created``).
        """
        where: str = "run=?"
        args: list[Any] = [run]
        for name, value in (("probe", probe), ("params", params)):
            if value is not None:
                where, args = where + f" AND {name}=?", [*args, value]
        if since is not None:
            where, args = where + " AND created>?", [*args, since]
        yield from self._results(where + " ORDER BY step, layer", args, points=points)

    def points(
        self, *, run: str, probe: str, params: str, layer: str
    ) -> dict[tuple[int, str], np.ndarray]:
        """The stored 2-D points of one layer: ``{(step, checkpoint): (n_samples, k)}``."""
        found = self._results(
            "run=? AND probe=? AND params=? AND layer=? AND status='ok' AND points IS NOT NULL",
            (run, probe, params, layer),
        )
        return {(r.step, r.checkpoint): r.points for r in found if r.points is not None}

    def version(self, *, run: str, probe: str, params: str) -> tuple:
        """Changes whenever the run's results or scalars change (cheap: counts and times)."""
        rows = self._query(
            "SELECT COUNT(*), MAX(created) FROM results WHERE run=? AND probe=? AND params=?",
            (run, probe, params),
        )
        scalars = self._query("SELECT COUNT(*), TOTAL(value) FROM scalars WHERE run=?", (run,))
        return (*rows[0], *scalars[0])

    def runs(self) -> list[str]:
        return sorted({c[0] for c in self.combinations()})

    def combinations(self) -> list[tuple[str, str, str, int, int]]:
        """``(run, probe, params, steps, failed steps)`` for every combination with results
        (one whose run, probe or configuration key cannot be read is skipped, with a
        warning)."""
        rows = self._query(
            "SELECT run, probe, params, "
            "COUNT(DISTINCT CASE WHEN typeof(step)='integer' THEN step END), "
            "COUNT(DISTINCT CASE WHEN status='failed' AND typeof(step)='integer' THEN step END), "
            "MIN(rowid), COUNT(*) FROM results "
            "GROUP BY run, probe, params ORDER BY run, probe, params"
        )
        out = []
        for run, probe, params, n, failed, rowid, count in rows:
            try:
                rows_.text(run, "run")
                rows_.text(probe, "probe")
                rows_.config_key(params)
            except BadValue as bad:
                key = row_key(run=run, probe=probe) + f"; {count} row(s) with this key"
                self._skip("results", rowid, key, bad)
                continue
            out.append((run, probe, params, int(n), int(failed)))
        return out

    def run_source(self, run: str) -> dict[str, Any] | None:
        """Where ``run`` was filled from (:meth:`describe_run`), or ``None`` if not recorded
        (or not readable: a warning says so)."""
        for rowid, text in self._query("SELECT rowid, source FROM runs WHERE run=?", (run,)):
            try:
                return rows_.source(text)
            except BadValue as bad:
                self._skip("runs", rowid, row_key(run=run), bad)
        return None

    def probe_description(self, fingerprint: str) -> dict[str, Any] | None:
        """What a probe is (:meth:`describe_probe`), or ``None`` if not recorded (or not
        readable: a warning says so)."""
        rows = self._query("SELECT rowid, description FROM probes WHERE probe=?", (fingerprint,))
        for rowid, text in rows:
            try:
                return rows_.description(text)
            except BadValue as bad:
                self._skip("probes", rowid, row_key(probe=fingerprint), bad)
        return None

    def n_points(self, *, run: str, probe: str, params: str) -> int | None:
        """How many probe inputs a run's stored points have (for stores without a probe
        description), or ``None``."""
        found = self._results(
            "run=? AND probe=? AND params=? AND points IS NOT NULL",
            (run, probe, params),
            blobs=False,
            sizes=True,
        )
        return next((n for _, n in found), None)

    # -- checking ------------------------------------------------------------------------------
    def integrity(self) -> list[str]:
        """What SQLite's ``PRAGMA integrity_check`` finds (``[]`` when the file is sound)."""
        try:
            found = [str(r[0]) for r in self._query("PRAGMA integrity_check")]
        except DamagedStoreError as err:  # too damaged for SQLite to finish its check
            return [f"SQLite stopped its check: {err.__context__ or err}"]
        return [] if found == ["ok"] else found

    def row_counts(self) -> dict[str, int]:
        """How many rows each table holds: ``{"results": …, "scalars": …, "runs": …,
        "probes": …}``."""
        tables = ("results", "scalars", "runs", "probes")
        return {t: int(self._query(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in tables}

    def bad_rows(self) -> list[BadRow]:
        """Every row that a reader skips, and why (what ``repscope check`` prints), by table
        and row id; no warning is given."""
        found: list[BadRow] = []
        with self._lock:
            self._collect = found
            try:
                self._find_bad_rows()
            finally:
                self._collect = None
        first = {(b.table, b.rowid): b for b in reversed(found)}  # one (the first) per row
        return sorted(first.values(), key=lambda b: (b.table, b.rowid))

    def _find_bad_rows(self) -> None:
        for _ in self._results("1", (), blobs=False):
            pass
        for rowid, run, probe, params in self._query(
            "SELECT rowid, run, probe, params FROM results"
        ):
            try:
                rows_.config_key(params)
            except BadValue as bad:
                self._skip("results", rowid, row_key(run=run, probe=probe), bad)
        for rowid, run, step, name, value in self._query(
            "SELECT rowid, run, step, name, value FROM scalars"
        ):
            self._scalar(rowid, run, step, name, value)
        for table, check in (("runs", rows_.source), ("probes", rows_.description)):
            column, key_column = ("source", "run") if table == "runs" else ("description", "probe")
            for rowid, key, text in self._query(
                f"SELECT rowid, {key_column}, {column} FROM {table}"
            ):
                try:
                    rows_.text(key, key_column)
                    check(text)
                except BadValue as bad:
                    self._skip(table, rowid, row_key(**{key_column: key}), bad)

    def _scalar(self, rowid: int, run: Any, step: Any, name: Any, value: Any):
        """A checked ``scalars`` row as ``(step, name, value)``, or ``None`` (said)."""
        try:
            rows_.text(run, "run")
            return (
                rows_.integer(step, "step"),
                rows_.text(name, "name") or "",
                rows_.number(value, "value"),
            )
        except BadValue as bad:
            self._skip("scalars", rowid, row_key(run=run, step=step, name=name), bad)
            return None

    def _skip(self, table: str, rowid: int, key: str, bad: BadValue) -> None:
        """Say once (per store and row) that a row was skipped (or, for :meth:`bad_rows`,
        collect it)."""
        row = BadRow(table, rowid, key, bad.column, str(bad))
        if self._collect is not None:
            self._collect.append(row)
            return
        if (table, rowid) in self._warned:
            return
        self._warned.add((table, rowid))
        warnings.warn(row.warning(self.path), StoreRowWarning, stacklevel=4)

    def _results(
        self,
        where: str,
        args: tuple | list,
        *,
        points: bool = True,
        blobs: bool = True,
        sizes: bool = False,
    ) -> Iterator:
        """The checked results rows matching ``where``: Records (with ``sizes``, ``(Record,
        number of points)``). ``blobs=False`` checks the spectrum and the points by their
        sizes and leaves them out; ``points=False`` leaves the points out."""
        spectrum = "spectrum" if blobs else "NULL"
        pts = "points" if blobs and points else "NULL"
        found = self._query(
            "SELECT rowid, run, checkpoint, layer, probe, params, step, status, measures, "
            "error, created, points_dim, typeof(spectrum), length(spectrum), typeof(points), "
            f"length(points), {spectrum}, {pts} FROM results WHERE {where}",
            args,
        )
        expected: dict[Any, int | None] = {}
        for row in found:
            probe = row[4]
            if probe not in expected:
                expected[probe] = (
                    rows_.expected_points(self.probe_description(probe))
                    if isinstance(probe, str)
                    else None
                )
            try:
                record, n = _decode_result(row, expected[probe])
            except BadValue as bad:
                key = row_key(run=row[1], step=row[6], layer=row[3], checkpoint=row[2])
                self._skip("results", row[0], key, bad)
                continue
            yield (record, n) if sizes else record

    def close(self) -> None:
        with self._lock:
            self._finalizer()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Transaction:
    """``BEGIN IMMEDIATE … COMMIT`` (or ``ROLLBACK`` on error): one writer at a time."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock):
        self.conn, self.lock = conn, lock

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, exc_type, *exc: object) -> None:
        try:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()


def _encode_points(points: np.ndarray | None) -> tuple[bytes | None, int | None]:
    if points is None:
        return None, None
    arr = np.asarray(points, "<f4")
    arr = arr.reshape(len(arr), -1)
    return arr.tobytes(), arr.shape[1]


_KEY = ("run", "step", "checkpoint", "layer", "probe", "params")


def _decode_result(row: tuple, expected_points: int | None) -> tuple[Record, int | None]:
    """A checked ``results`` row (as :meth:`Store._results` selects it) as a Record, and its
    number of 2-D points; :class:`~repscope.store_rows.BadValue` names a bad column."""
    (_, run, checkpoint, layer, probe, params, step, status, measures, error, created) = row[:11]
    dim, spectrum_kind, spectrum_size, points_kind, points_size, spectrum, points = row[11:]
    for name, value in (("run", run), ("checkpoint", checkpoint), ("layer", layer)):
        rows_.text(value, name)
    rows_.text(probe, "probe")
    rows_.text(params, "params")
    step = rows_.integer(step, "step")
    status = rows_.status(status)
    decoded = rows_.measures(measures)
    error = rows_.text(error, "error", optional=True)
    if created is None:
        raise BadValue("created", "a number", "NULL")
    created = rows_.number(created, "created")
    n_eigen = rows_.spectrum_size(spectrum_kind, spectrum_size)
    n_points = rows_.points_rows(points_kind, points_size, dim, expected_points)
    record = Record(
        run=run,
        checkpoint=checkpoint,
        layer=layer,
        probe=probe,
        params=params,
        step=step,
        measures=decoded,
        spectrum=None if n_eigen is None or spectrum is None else rows_.decode(spectrum, "<f8"),
        status=status,
        error=error,
        points=None if n_points is None or points is None else rows_.decode(points, "<f4", dim),
        created=created,
    )
    return record, n_points
