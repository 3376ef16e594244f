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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import describe, fail

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

    Notes
    -----
    A store that cannot be written (a read-only file, an immutable flag, a read-only mount)
    opens for reading; ``read_only`` then says why, and every write raises
    :class:`StoreError` with that reason.
    """

    def __init__(self, path: str | Path, *, timeout: float = 60.0):
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            fail(
                "path",
                "Store",
                "a file path (str or Path) or ':memory:'",
                describe(path),
                error=TypeError,
            )
        self.path = str(path)
        #: Why the store cannot be written (``None`` when it can).
        self.read_only: str | None = None
        if self.path != ":memory:":
            if Path(self.path).is_dir():
                raise StoreError(
                    f"{self.path} is a folder, not a store file: give a file "
                    "name, such as run.sqlite."
                )
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(f"{self.path}: cannot create its folder ({err}).") from None
        # One connection shared by this process's threads (a background fill and the widgets),
        # serialised by a lock; other processes coordinate through SQLite's own locking.
        self._lock = threading.RLock()
        self._conn = self._connect(timeout)
        try:
            if self.read_only is None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._open_schema()
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise StoreError(f"{self.path} is not a repscope store (SQLite said: {err}).") from None

    def _connect(self, timeout: float) -> sqlite3.Connection:
        """A read-write connection, or a read-only one (with the reason in ``read_only``) when
        the file exists and cannot be written."""

        def connect(target: str, uri: bool = False) -> sqlite3.Connection:
            return sqlite3.connect(
                target, timeout=timeout, isolation_level=None, check_same_thread=False, uri=uri
            )

        path = Path(self.path)
        if self.path == ":memory:" or not path.exists():
            try:
                return connect(self.path)
            except sqlite3.Error as err:
                raise StoreError(f"{self.path}: cannot create the store ({err}).") from None
        why = _unwritable(path)
        if why is None:
            conn = connect(self.path)
            try:
                conn.execute("BEGIN IMMEDIATE")  # a write lock: proves the file is writable
                conn.execute("ROLLBACK")
                return conn
            except sqlite3.OperationalError as err:
                if "locked" in str(err) or "busy" in str(err):
                    return conn  # another writer holds it: writable, just busy
                conn.close()
                if "readonly" not in str(err).replace(" ", "") and "read-only" not in str(err):
                    raise StoreError(f"{self.path}: SQLite cannot open it ({err}).") from None
                why = f"SQLite cannot write it ({err})"
            except sqlite3.DatabaseError as err:
                conn.close()
                raise StoreError(
                    f"{self.path} is not a repscope store (SQLite said: {err})."
                ) from None
        self.read_only = why
        uri = path.resolve().as_uri()
        for flags in ("mode=ro", "immutable=1"):  # immutable: no -shm file to create
            conn = connect(f"{uri}?{flags}", uri=True)
            try:
                conn.execute("SELECT name FROM sqlite_master").fetchall()
                return conn
            except sqlite3.Error as err:
                conn.close()
                last = err
        raise StoreError(
            f"{self.path} is read-only ({why}) and could not be opened for reading either ({last})."
        )

    def _check_writable(self) -> None:
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
        if tables:
            row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            try:
                version = int(row[0]) if row else 0
            except (TypeError, ValueError):
                raise StoreError(
                    f"{self.path} is not a store this repscope can read: its "
                    f"schema version is {row[0]!r}, not a number."
                ) from None
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer repscope (store schema {version}; this "
                    f"repscope reads schemas up to {SCHEMA_VERSION}). Upgrade repscope to open "
                    "it, or scan into a new file."
                )
            if self.read_only is not None and version != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} is read-only ({self.read_only}) and from an "
                    f"older repscope (schema {version}): it must be migrated to "
                    f"schema {SCHEMA_VERSION} to be read. Open a writable copy."
                )
            if self.read_only is not None:
                return
            if 0 < version < SCHEMA_VERSION:
                self._migrate(version)
        elif self.read_only is not None:
            raise StoreError(
                f"{self.path} is read-only ({self.read_only}) and empty: not a repscope store."
            )
        self._conn.executescript(_SCHEMA)  # idempotent: CREATE … IF NOT EXISTS
        with self._transaction():
            self._conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

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
            return self._conn.execute(sql, args).fetchall()

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
                    f"SELECT measures FROM results WHERE {where}", record.key
                ).fetchone()
                if row is None:
                    continue
                merged = {**_decode_measures(row[0]), **extra}
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
            row = self._conn.execute("SELECT source FROM runs WHERE run=?", (run,)).fetchone()
            if row is None:
                self._conn.execute("INSERT INTO runs VALUES (?, ?)", (run, text))
                return
            old = json.loads(row[0])
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
            row = self._conn.execute("SELECT source FROM runs WHERE run=?", (run,)).fetchone()
            source = json.loads(row[0]) if row is not None else {"identity": None}
            if source.get("start") == start or (start == "unknown" and "start" in source):
                return
            source["start"] = start
            text = json.dumps(source, sort_keys=True, default=str)
            if row is None:
                self._conn.execute("INSERT INTO runs VALUES (?, ?)", (run, text))
            else:
                self._conn.execute("UPDATE runs SET source=? WHERE run=?", (text, run))

    def describe_probe(self, fingerprint: str, description: dict[str, Any]) -> None:
        """Record what a probe is (layers, representation, inputs, labels, texts, tokenizer, and
        how each layer's output became rows, ``reductions``, as scans learn it)."""
        with self._transaction():
            row = self._conn.execute(
                "SELECT description FROM probes WHERE probe=?", (fingerprint,)
            ).fetchone()
            if row is not None:
                old = json.loads(row[0])
                found = {**(old.get("reductions") or {}), **(description.get("reductions") or {})}
                if found == (old.get("reductions") or {}):
                    return
                old["reductions"] = found
                self._conn.execute(
                    "UPDATE probes SET description=? WHERE probe=?",
                    (json.dumps(old, default=str), fingerprint),
                )
                return
            self._conn.execute(
                "INSERT INTO probes VALUES (?, ?)",
                (fingerprint, json.dumps(description, default=str)),
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
        rows = self._query(
            "SELECT step, name, value FROM scalars WHERE run=? ORDER BY step, name", (run,)
        )
        return [(int(s), n, math.nan if v is None else float(v)) for s, n, v in rows]

    def get(
        self, *, run: str, step: int, checkpoint: str, layer: str, probe: str, params: str
    ) -> Record | None:
        """The record with this key, or ``None``."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM results WHERE run=? AND step=? AND checkpoint=? AND layer=? "
            "AND probe=? AND params=?",
            (run, int(step), checkpoint, layer, probe, params),
        )
        return _record(rows[0]) if rows else None

    def done(
        self, *, run: str, probe: str, params: str, status: str = "ok"
    ) -> set[tuple[int, str, str]]:
        """The ``(step, checkpoint, layer)`` triples already stored with this status."""
        rows = self._query(
            "SELECT step, checkpoint, layer FROM results WHERE run=? AND probe=? AND params=? "
            "AND status=?",
            (run, probe, params, status),
        )
        return set(rows)

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
        columns = _COLUMNS if points else _COLUMNS.replace("points, points_dim", "NULL, NULL")
        args: list[Any]
        sql, args = f"SELECT {columns} FROM results WHERE run=?", [run]
        for name, value in (("probe", probe), ("params", params)):
            if value is not None:
                sql, args = sql + f" AND {name}=?", [*args, value]
        if since is not None:
            sql, args = sql + " AND created>?", [*args, since]
        for row in self._query(sql + " ORDER BY step, layer", args):
            yield _record(row)

    def points(
        self, *, run: str, probe: str, params: str, layer: str
    ) -> dict[tuple[int, str], np.ndarray]:
        """The stored 2-D points of one layer: ``{(step, checkpoint): (n_samples, k)}``."""
        rows = self._query(
            "SELECT step, checkpoint, points, points_dim FROM results WHERE run=? AND probe=? "
            "AND params=? AND layer=? AND status='ok' AND points IS NOT NULL",
            (run, probe, params, layer),
        )
        return {
            (int(s), c): arr for s, c, p, d in rows if (arr := _decode_points(p, d)) is not None
        }

    def version(self, *, run: str, probe: str, params: str) -> tuple:
        """Changes whenever the run's results or scalars change (cheap: counts and times)."""
        rows = self._query(
            "SELECT COUNT(*), MAX(created) FROM results WHERE run=? AND probe=? AND params=?",
            (run, probe, params),
        )
        scalars = self._query("SELECT COUNT(*), TOTAL(value) FROM scalars WHERE run=?", (run,))
        return (*rows[0], *scalars[0])

    def runs(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT run FROM results ORDER BY run")]

    def combinations(self) -> list[tuple[str, str, str, int, int]]:
        """``(run, probe, params, steps, failed steps)`` for every combination with results."""
        rows = self._query(
            "SELECT run, probe, params, COUNT(DISTINCT step), "
            "COUNT(DISTINCT CASE WHEN status='failed' THEN step END) FROM results "
            "GROUP BY run, probe, params ORDER BY run, probe, params"
        )
        return [(r, p, c, int(n), int(f)) for r, p, c, n, f in rows]

    def run_source(self, run: str) -> dict[str, Any] | None:
        """Where ``run`` was filled from (:meth:`describe_run`), or ``None`` if not recorded."""
        rows = self._query("SELECT source FROM runs WHERE run=?", (run,))
        return json.loads(rows[0][0]) if rows else None

    def probe_description(self, fingerprint: str) -> dict[str, Any] | None:
        """What a probe is (:meth:`describe_probe`), or ``None`` if not recorded."""
        rows = self._query("SELECT description FROM probes WHERE probe=?", (fingerprint,))
        return json.loads(rows[0][0]) if rows else None

    def n_points(self, *, run: str, probe: str, params: str) -> int | None:
        """How many probe inputs a run's stored points have (for stores without a probe
        description), or ``None``."""
        rows = self._query(
            "SELECT LENGTH(points), points_dim FROM results WHERE run=? AND "
            "probe=? AND params=? AND points IS NOT NULL LIMIT 1",
            (run, probe, params),
        )
        return int(rows[0][0] // (4 * rows[0][1])) if rows else None

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


def _unwritable(path: Path) -> str | None:
    """Why the process cannot write ``path`` (file mode, immutable flag, read-only mount), as
    far as the OS says before SQLite tries; ``None`` if it seems writable."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "it is on a read-only file system"
    except (OSError, AttributeError):
        pass
    if not os.access(path, os.W_OK):
        return "the file cannot be written: its mode or an immutable flag"
    if not os.access(path.parent, os.W_OK):
        return "its folder cannot be written, and SQLite needs to create its journal there"
    return None


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


_COLUMNS = (
    "run, checkpoint, layer, probe, params, step, status, measures, spectrum, error, "
    "created, points, points_dim"
)


def _record(row: tuple) -> Record:
    (
        run,
        checkpoint,
        layer,
        probe,
        params,
        step,
        status,
        measures,
        spectrum,
        error,
        created,
        points,
        points_dim,
    ) = row
    return Record(
        run=run,
        checkpoint=checkpoint,
        layer=layer,
        probe=probe,
        params=params,
        step=int(step),
        measures=_decode_measures(measures),
        spectrum=None if spectrum is None else np.frombuffer(spectrum, "<f8").copy(),
        status=status,
        error=error,
        points=_decode_points(points, points_dim),
        created=float(created),
    )
