"""``repscope check STORE``: SQLite's integrity check and every row as readers decode it;
exit 0 when clean, 3 when anything is wrong, and the file left as it was."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from repscope.cli import main

from .stores import scan_store, state


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    return scan_store(tmp_path_factory.mktemp("check"))


@pytest.fixture
def store(scanned, tmp_path):
    path = tmp_path / "run.sqlite"
    shutil.copy(scanned, path)
    return path


def check(path, capsys) -> tuple[int, str, str]:
    status = main(["check", str(path)])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_a_clean_store_exits_0_and_says_what_it_checked(store, capsys):
    before = state(store)
    status, out, err = check(store, capsys)
    assert status == 0, err
    assert "SQLite integrity check: ok" in out
    # 3 steps × 2 layers and one failed checkpoint; a loss and a lr at 4 steps
    assert "7 results, 8 scalars, 1 runs, 1 probes: every row reads" in out
    assert state(store) == before


def test_bad_rows_are_listed_by_table_row_and_column_and_exit_3(store, capsys):
    conn = sqlite3.connect(store)
    conn.execute("UPDATE results SET measures='[1, 2]' WHERE step=1 AND layer='3'")
    conn.execute("UPDATE results SET spectrum=X'00010203' WHERE step=3 AND layer='1'")
    conn.execute("UPDATE scalars SET step=2.5 WHERE step=3 AND name='lr'")
    conn.execute('UPDATE runs SET source=\'{"start": "sideways"}\'')
    rowids = {
        name: conn.execute(sql).fetchone()[0]
        for name, sql in {
            "measures": "SELECT rowid FROM results WHERE step=1 AND layer='3'",
            "spectrum": "SELECT rowid FROM results WHERE step=3 AND layer='1'",
            "scalar": "SELECT rowid FROM scalars WHERE step=2.5",
        }.items()
    }
    conn.commit()
    conn.close()
    before = state(store)
    status, out, err = check(store, capsys)
    assert status == 3, err
    bad = [line for line in out.splitlines() if ": bad row: " in line]
    assert len(bad) == 4, out
    m, s, sc = rowids["measures"], rowids["spectrum"], rowids["scalar"]
    assert f"table 'results', row {m} (run='ckpts', step=1, layer='3'" in bad[0]
    assert "column 'measures' must be a JSON mapping" in bad[0] and "a JSON list" in bad[0]
    assert f"table 'results', row {s} (" in bad[1] and "column 'spectrum'" in bad[1]
    assert "4 bytes" in bad[1]
    assert "table 'runs'" in bad[2] and "start: text 'sideways'" in bad[2]
    assert f"table 'scalars', row {sc} (" in bad[3] and "the real number 2.5" in bad[3]
    assert "4 bad row(s)" in out
    assert state(store) == before  # checked read-only


def test_a_damaged_file_fails_the_integrity_check_and_exits_3(store, capsys):
    conn = sqlite3.connect(store)
    (page,) = conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE name='results_by_run_step'"
    ).fetchone()
    (size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    data = bytearray(store.read_bytes())
    data[(page - 1) * size + 8 : page * size] = b"\xff" * (size - 8)  # the index page's cells
    store.write_bytes(bytes(data))
    status, out, err = check(store, capsys)
    assert status == 3, (out, err)
    assert "SQLite integrity check: ok" not in out


def test_a_file_that_is_not_a_store_is_one_line_and_exit_1(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("not a store\n")
    status, out, err = check(path, capsys)
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and "not a repscope store" in err
    assert path.read_text() == "not a store\n"


def test_stored_strings_reach_the_terminal_escaped(store, capsys):
    conn = sqlite3.connect(store)
    conn.execute(
        "UPDATE results SET layer=?, measures='oops' WHERE step=0 AND layer='1'",
        ("\x1b]0;owned\x07h.1",),
    )
    conn.commit()
    conn.close()
    status, out, err = check(store, capsys)
    assert status == 3
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "\\x1b]0;owned\\x07h.1" in out
