"""One bad row never takes a store down: it is skipped with one warning naming the file, the
table, the row and the column, and everything else reads as before.

The property test corrupts one field of one row of a real store (a scan of a tiny model, with
a failed checkpoint and training scalars), reads the whole store back through
``repscope.open``, and compares with what the clean store reads, less that row.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import repscope
from repscope import RepscopeWarning

from .stores import N_INPUTS, scan, scan_store


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The scanned store, what it reads, and each table's rows (rowid → key columns)."""
    path = scan_store(tmp_path_factory.mktemp("rows"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seen = read_everything(path)
    conn = sqlite3.connect(path)
    rows = {
        "results": {r[0]: r[1:] for r in conn.execute("SELECT rowid, step, layer FROM results")},
        "scalars": {r[0]: r[1:] for r in conn.execute("SELECT rowid, step, name FROM scalars")},
        "runs": {r[0]: r[1:] for r in conn.execute("SELECT rowid, run FROM runs")},
        "probes": {r[0]: r[1:] for r in conn.execute("SELECT rowid, probe FROM probes")},
    }
    conn.close()
    return path, seen, rows


def read_everything(path) -> dict:
    """Everything a reader of the store sees, through repscope.open, as plain values."""
    catalog = repscope.open(path)
    try:
        out = {"table": catalog.table[["run", "probe", "config"]].to_dict("records")}
        for run, probe, params, _, _ in catalog.store.combinations():
            traj = catalog.trajectory(run, probe=probe, config=params)
            records = traj.records()
            out["metrics"] = {
                tuple(map(_plain, row)) for row in traj.metrics.itertuples(index=False)
            }
            out["failures"] = {tuple(r) for r in traj.failures.itertuples(index=False)}
            out["scalars"] = {(s, n, _plain(v)) for s, n, v in traj.scalars.itertuples(index=False)}
            out["steps"] = traj.steps
            out["spectra"] = {
                (r.step, r.layer): r.spectrum.tobytes() for r in records if r.spectrum is not None
            }
            out["points"] = {
                (s, layer): p.tobytes()
                for layer in traj.layers
                for s, p in traj.points(layer).items()
            }
            out["source"] = catalog.store.run_source(run)
            out["probe"] = catalog.store.probe_description(probe)
        return out
    finally:
        catalog.store.close()


def _plain(value: float):
    return "nan" if isinstance(value, float) and math.isnan(value) else value


def expected_without(seen: dict, table: str, key: tuple) -> dict:
    """What the clean store reads, less one row."""
    out = dict(seen)
    if table == "results":
        # every part is keyed by (step, layer, ...): the row's step and layer go
        for part in ("metrics", "failures", "spectra", "points"):
            kept = [k for k in seen[part] if tuple(k[:2]) != key]
            out[part] = (
                {k: seen[part][k] for k in kept} if isinstance(seen[part], dict) else set(kept)
            )
        out["steps"] = sorted({k[0] for k in out["metrics"]} | {k[0] for k in out["failures"]})
    elif table == "scalars":
        step, name = key
        out["scalars"] = {k for k in seen["scalars"] if (k[0], k[1]) != (step, name)}
    elif table == "runs":
        out["source"] = None
    else:
        out["probe"] = None
    return out


# -- corruptions: each value below cannot be read as what its column holds ----------------------
def _not_a_mapping(text: str) -> bool:
    try:
        return not isinstance(json.loads(text), dict)
    except ValueError:
        return True


_BAD_MEASURES = [
    '{"effective_rank": ',
    "[1, 2]",
    '"rankme"',
    "null",
    '{"effective_rank": "high"}',
    '{"effective_rank": true}',
    '{"effective_rank": {"value": 1}}',
    '{"effective_rank": [1]}',
]
_BAD_PARAMS = ["[]", "not json", "{}", '{"fit_range": 5}', '{"kind": 3, "fit_range": [1, 2]}']
_BAD_SOURCES = ["not json", "[1, 2]", '"folder"', "5", "null", '{"start": "sideways"}']


def _probe_damage(name: str):
    def damage(text: str) -> str:
        d = json.loads(text)
        if name == "labels short":
            d["labels"] = d["labels"][:-1]
        elif name == "labels not a list":
            d["labels"] = 5
        elif name == "n_inputs not a number":
            d["n_inputs"] = "many"
        elif name == "layers not a list":
            d["layers"] = 5
        elif name == "texts of another length":
            d["texts"] = ["a", "b"]
        return json.dumps(d)

    return damage


def _step_values():
    return st.one_of(
        st.integers(-(10**9), 10**9).map(lambda i: i + 0.5),
        st.sampled_from([float("inf"), float("-inf"), 1e-300]),
        st.text(min_size=1),
        st.binary(),
    )


CORRUPTIONS = {
    "results": {
        "measures": st.one_of(
            st.sampled_from(_BAD_MEASURES), st.text().filter(_not_a_mapping), st.binary()
        ),
        "step": _step_values(),
        "spectrum": st.one_of(
            st.integers(1, 7).map(lambda n: ("truncate", n)),
            st.binary().filter(lambda b: len(b) % 8),
            st.text(),
        ),
        "points": st.one_of(st.binary().filter(lambda b: len(b) != N_INPUTS * 2 * 4), st.text()),
        "points_dim": st.one_of(
            st.integers(-(2**63), 2**63 - 1).filter(lambda d: d != 2),
            st.text(),
            st.floats(allow_nan=False),
        ),
        "created": st.one_of(st.text(), st.binary()),
        "status": st.text().filter(lambda t: t not in ("ok", "failed")),
        "error": st.binary(),
        "layer": st.binary(),
        "checkpoint": st.binary(),
        "run": st.binary(),
        "probe": st.binary(),
        "params": st.one_of(st.sampled_from(_BAD_PARAMS), st.binary()),
    },
    "scalars": {
        "step": _step_values(),
        "value": st.one_of(st.text(), st.binary()),
        "name": st.binary(),
    },
    "runs": {
        "source": st.one_of(
            st.sampled_from(_BAD_SOURCES), st.text().filter(_not_a_mapping), st.binary()
        ),
    },
    "probes": {
        "description": st.one_of(
            st.sampled_from(["not json", "[]", "null"]),
            st.binary(),
            st.sampled_from(
                [
                    "labels short",
                    "labels not a list",
                    "n_inputs not a number",
                    "layers not a list",
                    "texts of another length",
                ]
            ).map(lambda name: ("damage", _probe_damage(name))),
        ),
    },
}


@st.composite
def corruptions(draw):
    table = draw(st.sampled_from(sorted(CORRUPTIONS)))
    column = draw(st.sampled_from(sorted(CORRUPTIONS[table])))
    return table, column, draw(st.integers(0, 10**6)), draw(CORRUPTIONS[table][column])


#: What each column must hold after a corruption, or the corruption did not take (SQLite's
#: column affinity turned the text '5' into the integer 5, say): the example is discarded.
_STILL_READABLE = {
    "step": lambda kind, v: kind == "integer",
    "points_dim": lambda kind, v: kind == "null" or (kind == "integer" and v == 2),
    "created": lambda kind, v: kind in ("integer", "real"),
    "value": lambda kind, v: kind in ("integer", "real", "null"),
}


def corrupt(path: Path, table: str, column: str, rowid: int, value) -> bool:
    """Write one bad value; False when SQLite stored something readable instead."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA ignore_check_constraints=ON")
        (old,) = conn.execute(f"SELECT {column} FROM {table} WHERE rowid=?", (rowid,)).fetchone()
        if isinstance(value, tuple) and value[0] == "truncate":
            if old is None:
                return False
            value = old[: -value[1]]
        elif isinstance(value, tuple) and value[0] == "damage":
            value = value[1](old)
        try:
            conn.execute(f"UPDATE {table} SET {column}=? WHERE rowid=?", (value, rowid))
        except (sqlite3.IntegrityError, OverflowError):
            return False
        conn.commit()
        kind, stored = conn.execute(
            f"SELECT typeof({column}), {column} FROM {table} WHERE rowid=?", (rowid,)
        ).fetchone()
        check = _STILL_READABLE.get(column)
        if check is not None and check(kind, stored):
            return False
        if column == "points" and kind == "null":
            return False
        return True
    finally:
        conn.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(corruption=corruptions())
def test_one_corrupted_field_costs_one_row_and_one_warning(clean, corruption):
    path, seen, rows = clean
    table, column, index, value = corruption
    rowid = sorted(rows[table])[index % len(rows[table])]
    folder = Path(tempfile.mkdtemp())
    try:
        copy = folder / "run.sqlite"
        shutil.copy(path, copy)
        assume(corrupt(copy, table, column, rowid, value))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = read_everything(copy)
    finally:
        shutil.rmtree(folder)
    said = [w for w in caught if issubclass(w.category, RepscopeWarning)]
    assert len(said) == 1, [str(w.message) for w in said]
    assert said[0].category.__name__ == "StoreRowWarning"
    message = str(said[0].message)
    assert str(copy) in message
    assert f"table '{table}', row {rowid} (" in message
    # the points and their width are checked together: either may be named
    named = {"points": ("points", "points_dim"), "points_dim": ("points", "points_dim")}
    assert any(f"column '{c}'" in message for c in named.get(column, (column,))), message
    assert got == expected_without(seen, table, rows[table][rowid])


# -- cases from the issue, one by one ------------------------------------------------------------
def _copy(clean, tmp_path) -> Path:
    path = tmp_path / "run.sqlite"
    shutil.copy(clean[0], path)
    return path


def test_a_step_stored_as_1_5_is_a_bad_row_and_never_hides_step_1(clean, tmp_path):
    path = _copy(clean, tmp_path)
    before = read_everything(path)
    conn = sqlite3.connect(path)
    columns = "run, checkpoint, layer, probe, params, step, status, measures, spectrum, error, "
    columns += "created, points, points_dim"
    conn.execute(
        f"INSERT INTO results ({columns}) SELECT run, checkpoint, layer, probe, params, 1.5, "
        "status, '{\"effective_rank\": 999.0}', spectrum, error, created + 100, points, "
        "points_dim FROM results WHERE step=1 AND layer='1'"
    )
    conn.commit()
    conn.close()
    with pytest.warns(RepscopeWarning) as said:
        after = read_everything(path)
    assert [w.category.__name__ for w in said] == ["StoreRowWarning"]
    assert "column 'step' must be an integer; got the real number 1.5" in str(said[0].message)
    assert after == before  # step 1 reads as it did: its value was not replaced by 999


def test_each_column_check_names_the_column_and_what_it_found():
    from repscope import store_rows as rows

    cases = [
        (lambda: rows.measures('{"a": '), "measures", "not JSON"),
        (lambda: rows.measures("[1]"), "measures", "a JSON list"),
        (lambda: rows.measures('{"a": "high"}'), "measures", "'a': text 'high'"),
        (lambda: rows.measures('{"a": true}'), "measures", "'a': the boolean True"),
        (lambda: rows.integer(1.5, "step"), "step", "the real number 1.5"),
        (lambda: rows.integer("3", "step"), "step", "text '3'"),
        (lambda: rows.spectrum_size("blob", 13), "spectrum", "13 bytes"),
        (lambda: rows.spectrum_size("text", 4), "spectrum", "text instead of a blob"),
        (lambda: rows.points_rows("blob", 30, 2, None), "points", "30 bytes"),
        (lambda: rows.points_rows("blob", 32, 0, None), "points_dim", "the integer 0"),
        (lambda: rows.points_rows("blob", 32, 2, 3), "points", "4 rows of 2"),
        (lambda: rows.points_rows("null", None, 2, None), "points_dim", "the integer 2"),
        (lambda: rows.number("high", "value"), "value", "text 'high'"),
        (lambda: rows.source("[1]"), "source", "a JSON list"),
        (lambda: rows.source('{"start": "sideways"}'), "source", "start: text 'sideways'"),
        (
            lambda: rows.description('{"n_inputs": 3, "labels": [0, 1]}'),
            "description",
            "2 labels",
        ),
        (lambda: rows.description('{"labels": 5}'), "description", "labels: the integer 5"),
        (lambda: rows.config_key("{}"), "params", "KeyError"),
    ]
    for check, column, found in cases:
        with pytest.raises(rows.BadValue) as bad:
            check()
        assert bad.value.column == column, (column, str(bad.value))
        assert found in str(bad.value), (found, str(bad.value))
    # and what a store holds is read as it was written
    assert rows.measures('{"a": 1, "b": "nan", "c": "-inf", "d": null}') == {
        "a": 1.0,
        "b": pytest.approx(float("nan"), nan_ok=True),
        "c": float("-inf"),
        "d": pytest.approx(float("nan"), nan_ok=True),
    }
    assert rows.points_rows("blob", 32, 2, 4) == 4 and rows.spectrum_size("null", None) is None
    assert rows.description('{"n_inputs": 2, "labels": [[0, 1], [1, 0]]}')["n_inputs"] == 2


def test_the_store_s_starts_are_the_sources_starts():
    from repscope.sources.base import STARTS
    from repscope.store_rows import STARTS as STORED

    assert STORED == STARTS


def test_a_scan_rewrites_an_unreadable_run_source(clean, tmp_path):
    path = _copy(clean, tmp_path)
    before = read_everything(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE runs SET source='[not json'")
    conn.commit()
    conn.close()
    with pytest.warns(RepscopeWarning, match=r"table 'runs', row \d+"):
        scan(Path(clean[0]).parent / "ckpts", path)  # nothing left to measure: it describes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        after = read_everything(path)
    assert after == before and after["source"]["kind"] == "folder"


def test_a_probe_description_with_labels_of_another_length_is_skipped(clean, tmp_path):
    path = _copy(clean, tmp_path)
    conn = sqlite3.connect(path)
    (text,) = conn.execute("SELECT description FROM probes").fetchone()
    description = json.loads(text)
    description["labels"] = description["labels"][:-1]
    conn.execute("UPDATE probes SET description=?", (json.dumps(description),))
    conn.commit()
    conn.close()
    with pytest.warns(RepscopeWarning, match="n_inputs 40") as said:
        traj = repscope.open(path).trajectory()
        assert traj.probe.labels is None and traj.probe.n_samples == N_INPUTS
        assert sorted(traj.points("3")) == [0, 1, 3]
    assert [w.category.__name__ for w in said] == ["StoreRowWarning"]
    assert np.isfinite(traj.metrics.value).all()
