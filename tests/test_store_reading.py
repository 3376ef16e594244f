"""Readers open a store read-only: they write nothing, never wait behind a writer in WAL mode,
report a real lock as a lock, and refuse a file that is not a store leaving it as it was."""

from __future__ import annotations

import gc
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import repscope
from repscope import store as store_module
from repscope.cli import main
from repscope.store import SCHEMA_VERSION, Store, StoreError

from .stores import LAYERS, STEPS, alien_sqlite, scan_store, state


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    return scan_store(tmp_path_factory.mktemp("scanned"))


@pytest.fixture
def store(scanned, tmp_path):
    """A fresh copy of the scanned store (each test may lock or rewrite it)."""
    path = tmp_path / "run.sqlite"
    shutil.copy(scanned, path)
    return path


def read_everything(path) -> dict:
    """What a reader sees: every run's steps, layers, measures, failures, scalars, spectra and
    points, read through repscope.open."""
    catalog = repscope.open(path)
    traj = catalog.trajectory()
    seen = {
        "table": catalog.table[["run", "probe", "config", "steps", "failed"]].to_dict("records"),
        "steps": traj.steps,
        "layers": traj.layers,
        "metrics": sorted(map(tuple, traj.metrics.astype(str).to_numpy())),
        "failures": sorted(map(tuple, traj.failures.astype(str).to_numpy())),
        "scalars": sorted(map(tuple, traj.scalars.astype(str).to_numpy())),
        "spectra": {
            (s, layer): traj.spectrum(s, layer).tolist() for s in STEPS for layer in LAYERS
        },
        "points": {
            layer: {s: p.tolist() for s, p in traj.points(layer).items()} for layer in LAYERS
        },
    }
    catalog.store.close()
    return seen


# -- nothing is written --------------------------------------------------------------------------
def _open(path, out):
    catalog = repscope.open(path)
    catalog.trajectory().metrics  # noqa: B018  (a read)
    del catalog


def _ls(path, out):
    assert main(["ls", str(path)]) == 0


def _export(path, out):
    assert main(["export", str(path), "--html", str(out / "view.html")]) == 0


SCRUBBER = """
import sys
from repscope.widgets import Scrubber
widget = Scrubber(sys.argv[1])
assert widget.steps == [0, 1, 3, 5], widget.steps
"""


def _scrubber(path, out):
    """In a process of its own, as a notebook's kernel: anywidget keeps every widget alive
    until the process ends, and the store with it."""
    done = subprocess.run(
        [sys.executable, "-c", SCRUBBER, str(path)], capture_output=True, text=True, timeout=300
    )
    if done.returncode:
        last = done.stderr.strip().splitlines()[-1]
        raise StoreError(last) if "StoreError" in last else AssertionError(done.stderr)


def _scrubber_here(path, out):
    from repscope.widgets import Scrubber

    Scrubber(path)  # refused before any widget exists


READERS = {"open": _open, "ls": _ls, "export": _export, "Scrubber": _scrubber}


@pytest.mark.parametrize("reader", READERS)
def test_readers_leave_a_store_byte_for_byte_as_it_was(store, tmp_path, reader):
    """With no other connection (no -wal, no -shm) and with a writer's connection open (both
    there): the file's bytes, and which of -wal and -shm exist, are as before."""
    before = state(store)
    assert before[1:] == (False, False)
    READERS[reader](store, tmp_path)
    gc.collect()  # a reader's store is closed when collected (ls and export never close it)
    assert state(store) == before
    writer = sqlite3.connect(store)  # another process's writer, idle between transactions
    writer.execute("SELECT COUNT(*) FROM results").fetchall()
    try:
        before = state(store)
        wal = Path(f"{store}-wal").read_bytes()
        assert before[1:] == (True, True)
        READERS[reader](store, tmp_path)
        gc.collect()
        assert state(store) == before and Path(f"{store}-wal").read_bytes() == wal
    finally:
        writer.close()


NOT_STORES = {
    "empty file": lambda p: p.write_bytes(b""),
    "text file": lambda p: p.write_text("name,balance\nada,12.5\n"),
    "another application's SQLite file": alien_sqlite,
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("kind", NOT_STORES)
def test_a_file_that_is_not_a_store_is_refused_and_left_as_it_was(tmp_path, reader, kind):
    path = tmp_path / "data.sqlite"
    NOT_STORES[kind](path)
    before = state(path)
    if reader in ("ls", "export"):
        assert (
            main(
                [reader, str(path), *(["--html", str(tmp_path / "v.html")] * (reader == "export"))]
            )
            == 1
        )
    else:
        read = _scrubber_here if reader == "Scrubber" else READERS[reader]
        with pytest.raises(StoreError, match="not a repscope store"):
            read(path, tmp_path)
    gc.collect()
    assert state(path) == before
    assert not (tmp_path / "v.html").exists()


def test_a_store_opened_for_reading_writes_nothing_and_says_so(store):
    reader = Store(store, read_only=True)
    assert reader.read_only == "opened for reading only"
    with pytest.raises(StoreError, match=r"opened for reading only .*Open it with Store\(path\)"):
        reader.put_scalars("ckpts", 9, {"loss": 1.0})
    traj = repscope.open(store).trajectory()
    with pytest.raises(StoreError, match="opened for reading only"):
        traj.store.set_run_start("ckpts", "init")
    with pytest.raises(StoreError, match="no such file"):
        Store(store.with_name("missing.sqlite"), read_only=True)
    assert not store.with_name("missing.sqlite").exists()


# -- an older store ------------------------------------------------------------------------------
def _schema_1_store(path: Path) -> None:
    """A store as repscope wrote it before the points columns existed."""
    conn = sqlite3.connect(path)
    conn.executescript("""
        PRAGMA journal_mode=WAL;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE results (run TEXT NOT NULL, checkpoint TEXT NOT NULL, layer TEXT NOT NULL,
            probe TEXT NOT NULL, params TEXT NOT NULL, step INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), measures TEXT,
            spectrum BLOB, error TEXT, created REAL NOT NULL,
            PRIMARY KEY (run, step, checkpoint, layer, probe, params));
    """)
    params = '{"eps": 1e-07, "fit_range": [12, 100], "kind": "covariance", "view": "activations"}'
    for step in (1, 2):
        conn.execute(
            "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            ("old", f"sha:{step}", "h.0", "p1", params, step, "ok",
             f'{{"effective_rank": {step + 0.5}}}', np.array([0.75, 0.25]).tobytes(), None, 0.0),
        )  # fmt: skip
    conn.commit()
    conn.close()


def test_an_older_store_is_migrated_once_by_open_then_read_without_writing(tmp_path):
    path = tmp_path / "old.sqlite"
    _schema_1_store(path)
    before = state(path)
    with pytest.raises(store_module.OldStoreError, match=r"older repscope \(store schema 1\)"):
        Store(path, read_only=True)
    assert state(path) == before  # the read-only Store wrote nothing, not even the migration
    traj = repscope.open(path).trajectory()
    assert traj.steps == [1, 2]
    assert traj.curve("effective_rank", "h.0").tolist() == [1.5, 2.5]
    del traj
    gc.collect()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta").fetchone() == (str(SCHEMA_VERSION),)
    migrated = state(path)
    assert repscope.open(path).trajectory().steps == [1, 2]
    gc.collect()
    assert state(path) == migrated  # from now on, reading writes nothing


# -- readers and another process's locks ---------------------------------------------------------
WRITER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute(sys.argv[2])
conn.execute("INSERT INTO scalars VALUES ('ckpts', 999, 'loss', 0.5)")
print("holding", flush=True)
time.sleep(float(sys.argv[3]))
conn.execute("ROLLBACK")
"""


def _hold(path: Path, begin: str, seconds: float) -> subprocess.Popen:
    """Another process that holds a write transaction (uncommitted) on ``path``."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), begin, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "holding"
    return writer


def test_readers_do_not_wait_for_another_process_writing(store, capsys):
    from repscope.widgets import Scrubber

    expected = read_everything(store)
    writer = _hold(store, "BEGIN IMMEDIATE", 600)
    try:
        assert read_everything(store) == expected  # the committed data, not the writer's row
        assert main(["ls", str(store)]) == 0
        assert "scalars  loss, lr" in capsys.readouterr().out
        widget = Scrubber(store)
        assert widget.steps == [*STEPS, 5]
        widget.close()
        # the writer still holds its transaction (for 600 s, far beyond any lock timeout): a
        # reader that waited for it would have failed with "locked", or still be waiting
        assert writer.poll() is None
    finally:
        writer.kill()
        writer.wait()


def test_a_real_lock_is_reported_as_a_lock_with_the_time_waited(store):
    """A store in rollback-journal mode, held exclusively by another process: a reader can
    only wait; after its timeout it says the file is locked, and for how long it waited."""
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    writer = _hold(store, "BEGIN EXCLUSIVE", 30)
    try:
        with pytest.raises(StoreError) as as_writer:
            Store(store, timeout=0.5)
        _said_locked(str(as_writer.value), 0.5)
        with pytest.raises(StoreError) as as_reader:
            repscope.open(store, timeout=1.0)
        _said_locked(str(as_reader.value), 1.0)
    finally:
        writer.kill()
        writer.wait()
    assert read_everything(store)["steps"] == [*STEPS, 5]  # released: it reads


def _said_locked(message: str, timeout: float) -> None:
    assert "is locked by another process" in message, message
    assert "not a repscope store" not in message
    waited = float(re.search(r"waited ([\d.]+) s", message).group(1))
    assert waited >= timeout - 0.1, message  # it did wait its timeout before giving up
