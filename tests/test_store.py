"""The SQLite store: round trips, transactions, two writers, a killed writer, alien files."""

import math
import multiprocessing as mp
import signal
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from repscope.config import canonical_params
from repscope.store import SCHEMA_VERSION, Record, Store, StoreError

KEY = dict(run="r", probe="p", params=canonical_params({"t": 1, "sigma": 10}))


def record(step, layer="h.0", **kw):
    return Record(checkpoint=f"sha:{step}", layer=layer, step=step, **KEY, **kw)


def test_round_trip_keeps_values_spectrum_and_nan(tmp_path):
    spec = np.random.default_rng(0).dirichlet(np.ones(50))
    with Store(tmp_path / "s.sqlite") as store:
        store.put(
            record(3, measures={"a": 1.5, "b": float("nan"), "c": float("inf")}, spectrum=spec)
        )
    with Store(tmp_path / "s.sqlite") as store:  # reopened: it is on disk
        got = store.get(step=3, checkpoint="sha:3", layer="h.0", **KEY)
    assert got.step == 3 and got.measures["a"] == 1.5
    assert math.isnan(got.measures["b"]) and got.measures["c"] == math.inf
    np.testing.assert_array_equal(got.spectrum, spec)


def test_failed_rows_and_done_sets(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        store.put(record(1), record(2, status="failed", error="corrupt file"))
        assert store.done(**KEY) == {(1, "sha:1", "h.0")}
        assert store.done(**KEY, status="failed") == {(2, "sha:2", "h.0")}
        assert [r.error for r in store.records(run="r")] == [None, "corrupt file"]


def test_params_key_is_canonical():
    assert canonical_params({"b": 1, "a": 2}) == canonical_params({"a": 2, "b": 1})
    assert canonical_params({"t": 1}) != canonical_params({"t": 2})


def test_a_failing_transaction_writes_nothing(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        bad = Record(checkpoint="x", layer="l", step="not a step", **KEY)  # int() fails
        with pytest.raises(ValueError):
            store.put(record(1), bad)
        assert list(store.records(run="r")) == []


def _writer(path, offset, n):
    with Store(path) as store:
        for i in range(n):
            store.put(record(offset + i))


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, k * 1000, 150)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with Store(path) as store:
        steps = sorted(r.step for r in store.records(run="r"))
    assert steps == list(range(150)) + list(range(1000, 1150))


def test_a_writer_killed_mid_run_leaves_every_finished_row(tmp_path):
    path = tmp_path / "s.sqlite"
    script = textwrap.dedent(f"""
        from repscope.store import Record, Store
        store = Store({str(path)!r})
        i = 0
        while True:
            store.put(*[Record(run="r", checkpoint=f"c{{i}}-{{j}}", layer="l", probe="p",
                               params="{{}}", step=i, measures={{"v": float(i)}})
                        for j in range(50)])
            print(i, flush=True)
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    finished = [int(proc.stdout.readline()) for _ in range(30)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Store(path) as store:
        rows = list(store.records(run="r"))
    counts = np.bincount([r.step for r in rows])
    assert len(counts) >= len(finished)
    assert np.all(counts == 50)  # every transaction whole: none half-written
    assert all(r.measures["v"] == r.step for r in rows)


def test_a_newer_store_is_refused_with_a_reason(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),)
        )
    with pytest.raises(StoreError, match="newer repscope"):
        Store(path)


def test_other_sqlite_files_and_garbage_are_refused(tmp_path):
    alien = tmp_path / "alien.sqlite"
    with sqlite3.connect(alien) as conn:
        conn.execute("CREATE TABLE customers (name TEXT)")
    with pytest.raises(StoreError, match="not a repscope store"):
        Store(alien)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a repscope store"):
        Store(garbage)


def test_store_is_in_wal_mode(tmp_path):
    Store(tmp_path / "s.sqlite").close()
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_points_round_trip_as_float32(tmp_path):
    pts = np.random.default_rng(1).normal(size=(25, 2))
    with Store(tmp_path / "s.sqlite") as store:
        store.put(record(1, points=pts), record(2))
        first, second = store.records(run="r")
    assert first.points.dtype == np.float32 and first.points.shape == (25, 2)
    np.testing.assert_array_equal(first.points, pts.astype(np.float32))
    assert second.points is None


def test_a_version_1_store_is_migrated_in_place(tmp_path):
    """A store written before points existed (schema 1) opens, keeps its rows, takes points."""
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE results (run TEXT NOT NULL, checkpoint TEXT NOT NULL, layer TEXT NOT NULL,
            probe TEXT NOT NULL, params TEXT NOT NULL, step INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), measures TEXT,
            spectrum BLOB, error TEXT, created REAL NOT NULL,
            PRIMARY KEY (run, step, checkpoint, layer, probe, params));
    """)
    conn.execute(
        "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            "r",
            "sha:1",
            "h.0",
            KEY["probe"],
            KEY["params"],
            1,
            "ok",
            '{"effective_rank": 2.5}',
            np.array([0.75, 0.25]).tobytes(),
            None,
            0.0,
        ),
    )
    conn.commit()
    conn.close()
    with Store(path) as store:
        (old,) = store.records(run="r")
        assert old.measures == {"effective_rank": 2.5} and old.points is None
        np.testing.assert_array_equal(old.spectrum, [0.75, 0.25])
        store.put(record(2, points=np.ones((3, 2))))
        assert store.get(step=2, checkpoint="sha:2", layer="h.0", **KEY).points.shape == (3, 2)
        store.put_scalars("r", 2, {"loss": 1.0})  # and it takes training scalars
        assert store.scalars("r") == [(2, "loss", 1.0)]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta").fetchone() == (str(SCHEMA_VERSION),)
    conn.close()


def test_training_scalars_round_trip_by_run_and_step(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        store.put_scalars("a", 10, {"loss": 2.5, "lr": 1e-3})
        store.put_scalars("a", 0, {"loss": float("nan")})
        store.put_scalars("b", 0, {"loss": 9.0})
        store.put_scalars("a", 10, {"loss": 2.25})  # a value logged again replaces the old one
    with Store(tmp_path / "s.sqlite") as store:
        got = store.scalars("a")
    assert [(s, n) for s, n, _ in got] == [(0, "loss"), (10, "loss"), (10, "lr")]
    assert math.isnan(got[0][2]) and got[1][2] == 2.25 and got[2][2] == 1e-3


def _read_only_cases(tmp_path):
    """Ways a store file becomes read-only that this machine can make: a file mode (not as
    root, who ignores it), an immutable flag and a read-only bind mount (as root)."""
    import os
    import shutil

    cases = []
    if os.geteuid() != 0:
        folder = tmp_path / "mode"
        folder.mkdir()
        cases.append(
            (
                "mode",
                folder,
                lambda f: (f.chmod(0o444), f.parent.chmod(0o555)),
                lambda f: (f.parent.chmod(0o755), f.chmod(0o644)),
            )
        )
    if shutil.which("chattr") and os.geteuid() == 0:
        folder = tmp_path / "immutable"
        folder.mkdir()
        cases.append(
            (
                "immutable",
                folder,
                lambda f: subprocess.run(["chattr", "+i", str(f)], check=True),
                lambda f: subprocess.run(["chattr", "-i", str(f)], check=False),
            )
        )
    if shutil.which("mount") and os.geteuid() == 0:
        cases.append(("mount", tmp_path / "mounted", None, None))
    return cases


def test_a_read_only_store_opens_for_reading_and_refuses_writes(tmp_path):
    ran = []
    for name, folder, lock, unlock in _read_only_cases(tmp_path):
        source = tmp_path / f"{name}-source"
        source.mkdir()
        with Store(source / "s.sqlite") as store:
            store.put(record(1, measures={"a": 1.0}))
            store.put_scalars("r", 1, {"loss": 2.0})
        if name == "mount":
            folder.mkdir()
            ok = subprocess.run(["mount", "--bind", str(source), str(folder)]).returncode == 0
            ok = (
                ok
                and subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)]).returncode == 0
            )
            if not ok:
                subprocess.run(["umount", str(folder)], check=False)
                continue
            path = folder / "s.sqlite"
        else:
            path = folder / "s.sqlite"
            path.write_bytes((source / "s.sqlite").read_bytes())
            try:
                lock(path)
            except (subprocess.CalledProcessError, OSError):
                continue
        try:
            with Store(path) as store:
                assert store.read_only, name
                assert [r.measures for r in store.records(run="r")] == [{"a": 1.0}]
                assert store.scalars("r") == [(1, "loss", 2.0)]
                with pytest.raises(StoreError, match=r"is read-only \(.+\): results cannot be"):
                    store.put(record(2))
                with pytest.raises(StoreError, match="is read-only"):
                    store.put_scalars("r", 2, {"loss": 1.0})
            ran.append(name)
        finally:
            if name == "mount":
                if subprocess.run(["umount", str(folder)]).returncode:
                    subprocess.run(["umount", "-l", str(folder)], check=False)
            else:
                unlock(path)
    print("read-only cases tried:", ran)
    if not ran:
        pytest.skip("this machine can make no read-only file here")


@pytest.mark.parametrize("path", [None, 123, ""])
def test_a_store_path_must_be_a_path(path):
    with pytest.raises(TypeError, match=r"^The 'path' argument of Store must be a file path"):
        Store(path)


def test_a_folder_or_a_non_numeric_schema_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="is a folder, not a store file"):
        Store(tmp_path)
    path = tmp_path / "odd.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value='two' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="its schema version is 'two', not a number"):
        Store(path)
