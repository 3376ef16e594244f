"""The on-disk cache: an embedded SQLite file of spectra and measures, so nothing is computed twice.

One row per (run, step, checkpoint fingerprint, layer, probe fingerprint, measure parameters)
holds the spectrum and the measure values — or, for a checkpoint that failed, the error. Every
write is a transaction: a scan killed half-way leaves every finished row intact, and the next
scan resumes where it stopped. The file is in WAL mode with a busy timeout, so two notebooks
(two processes) may read and write one store at once. Activations are never stored.

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
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
CREATE TABLE IF NOT EXISTS scalars (
    run   TEXT NOT NULL,
    step  INTEGER NOT NULL,
    name  TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (run, step, name)
);
"""

#: What each older layout needs to become the current one (run in one transaction on open).
_MIGRATIONS = {
    # 1 → 2: the probe points' principal coordinates, for the widgets' 2-D view.
    1: ["ALTER TABLE results ADD COLUMN points BLOB",
        "ALTER TABLE results ADD COLUMN points_dim INTEGER"],
    # 2 → 3: training scalars (loss, learning rate, …) per run and step; created by _SCHEMA.
    2: [],
}


class StoreError(RuntimeError):
    """The store file cannot be used (not a repscope store, or written by a newer repscope)."""


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

    @property
    def key(self) -> tuple[str, int, str, str, str, str]:
        return (self.run, int(self.step), self.checkpoint, self.layer, self.probe, self.params)


def canonical_params(params: dict[str, Any]) -> str:
    """Measure parameters as canonical JSON: the same parameters give the same key."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


def _encode_measures(measures: dict[str, float]) -> str:
    # JSON has no NaN/Inf: store them as strings so a diverged checkpoint round-trips.
    return json.dumps({k: (v if math.isfinite(v) else repr(v)) for k, v in
                       ((k, float(v)) for k, v in measures.items())}, sort_keys=True)


def _decode_measures(text: str | None) -> dict[str, float]:
    return {k: float(v) for k, v in json.loads(text or "{}").items()}


class Store:
    """A SQLite file of cached results.

    Parameters
    ----------
    path : str or Path
        The file; created (with its folder) if missing. ``":memory:"`` for a throw-away store.
    timeout : float, default 60
        Seconds a writer waits for another process's transaction before giving up.

    Raises
    ------
    StoreError
        If the file is not a SQLite database, not a repscope store, or was written by a newer
        repscope (its schema version is greater than :data:`SCHEMA_VERSION`).
    """

    def __init__(self, path: str | Path, *, timeout: float = 60.0):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by this process's threads (a background fill and the widgets),
        # serialised by a lock; other processes coordinate through SQLite's own locking.
        self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                     check_same_thread=False)
        self._lock = threading.RLock()
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._open_schema()
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise StoreError(f"{self.path} is not a repscope store (SQLite said: {err}).") from None

    def _open_schema(self) -> None:
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master")}
        if tables and "meta" not in tables:
            raise StoreError(
                f"{self.path} is a SQLite file but not a repscope store (no 'meta' table; it "
                f"holds {sorted(tables)}). Use another file for the store."
            )
        if tables:
            row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer repscope (store schema {version}; this "
                    f"repscope reads schemas up to {SCHEMA_VERSION}). Upgrade repscope to open "
                    "it, or scan into a new file."
                )
            if 0 < version < SCHEMA_VERSION:
                self._migrate(version)
        self._conn.executescript(_SCHEMA)  # idempotent: CREATE … IF NOT EXISTS
        with self._transaction():
            self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                               (str(SCHEMA_VERSION),))

    def _migrate(self, version: int) -> None:
        """Bring an older store up to :data:`SCHEMA_VERSION`, all steps in one transaction."""
        with self._transaction():
            for old in range(version, SCHEMA_VERSION):
                for sql in _MIGRATIONS[old]:
                    self._conn.execute(sql)
            self._conn.execute("UPDATE meta SET value=? WHERE key='schema_version'",
                               (str(SCHEMA_VERSION),))

    def _transaction(self):
        return _Transaction(self._conn, self._lock)

    def _query(self, sql: str, args: tuple | list = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # -- writing -------------------------------------------------------------------------------
    def put(self, *records: Record) -> None:
        """Write records in one transaction (all or none), replacing rows with the same key."""
        rows = [
            (*r.key, r.status, _encode_measures(r.measures),
             None if r.spectrum is None else np.asarray(r.spectrum, "<f8").tobytes(),
             r.error, time.time(), *_encode_points(r.points))
            for r in records
        ]
        with self._transaction():
            self._conn.executemany(
                "INSERT OR REPLACE INTO results (run, step, checkpoint, layer, probe, params, "
                "status, measures, spectrum, error, created, points, points_dim) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )

    def put_scalars(self, run: str, step: int, values: dict[str, float]) -> None:
        """Store training scalars of ``run`` at ``step`` (``{"loss": 2.3, "lr": 1e-3}``), in one
        transaction, replacing values of the same name and step."""
        rows = [(run, int(step), str(name), float(value)) for name, value in values.items()]
        with self._transaction():
            self._conn.executemany("INSERT OR REPLACE INTO scalars VALUES (?,?,?,?)", rows)

    # -- reading -------------------------------------------------------------------------------
    def scalars(self, run: str) -> list[tuple[int, str, float]]:
        """The training scalars of ``run``: ``(step, name, value)`` by step and name (NaN for a
        value stored as NaN)."""
        rows = self._query("SELECT step, name, value FROM scalars WHERE run=? ORDER BY step, name",
                           (run,))
        return [(int(s), n, math.nan if v is None else float(v)) for s, n, v in rows]

    def get(self, *, run: str, step: int, checkpoint: str, layer: str, probe: str,
            params: str) -> Record | None:
        """The record with this key, or ``None``."""
        rows = self._query(
            "SELECT * FROM results WHERE run=? AND step=? AND checkpoint=? AND layer=? "
            "AND probe=? AND params=?", (run, int(step), checkpoint, layer, probe, params))
        return _record(rows[0]) if rows else None

    def done(self, *, run: str, probe: str, params: str,
             status: str = "ok") -> set[tuple[int, str, str]]:
        """The ``(step, checkpoint, layer)`` triples already stored with this status."""
        rows = self._query(
            "SELECT step, checkpoint, layer FROM results WHERE run=? AND probe=? AND params=? "
            "AND status=?", (run, probe, params, status))
        return set(rows)

    def records(self, *, run: str, probe: str | None = None,
                params: str | None = None) -> Iterator[Record]:
        """Every record of a run (optionally of one probe and parameter set), by step."""
        sql, args = "SELECT * FROM results WHERE run=?", [run]
        if probe is not None:
            sql, args = sql + " AND probe=?", [*args, probe]
        if params is not None:
            sql, args = sql + " AND params=?", [*args, params]
        for row in self._query(sql + " ORDER BY step, layer", args):
            yield _record(row)

    def runs(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT run FROM results ORDER BY run")]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

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


def _decode_points(blob: bytes | None, dim: int | None) -> np.ndarray | None:
    if blob is None or not dim:
        return None
    return np.frombuffer(blob, "<f4").reshape(-1, dim).copy()


def _record(row: tuple) -> Record:
    (run, checkpoint, layer, probe, params, step, status, measures, spectrum, error, _,
     points, points_dim) = row
    return Record(
        run=run, checkpoint=checkpoint, layer=layer, probe=probe, params=params, step=int(step),
        measures=_decode_measures(measures),
        spectrum=None if spectrum is None else np.frombuffer(spectrum, "<f8").copy(),
        status=status, error=error, points=_decode_points(points, points_dim),
    )
