"""Every function that rewrites what a store holds keeps every field it does not mean to change.

Each test reads the whole store (results with their spectra and 2-D points, runs, probes,
scalars) straight from SQLite before and after one writer, and compares them field by field:
only the fields the writer is documented to change may differ.
"""

import json
import sqlite3

import numpy as np
import pytest
import torch

from repscope.probe import Probe
from repscope.sources.folder import CheckpointFolder
from repscope.store import Store
from repscope.synthetic import replay
from repscope.trajectory import Trajectory

from .models import mlp, save_mlp_checkpoints

STEPS = [0, 1, 3]
LAYERS = ["1", "3"]


def snapshot(path):
    """Every row of every table, decoded: ``{table: {key: {column: value}}}``."""
    conn = sqlite3.connect(path)
    try:
        out = {}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            cursor = conn.execute(f"SELECT * FROM {table}")
            names = [c[0] for c in cursor.description]
            rows = {}
            for i, row in enumerate(cursor.fetchall()):
                record = dict(zip(names, row, strict=True))
                if table == "results":
                    key = tuple(record[k] for k in ("run", "step", "checkpoint", "layer"))
                    record["measures"] = json.loads(record["measures"] or "{}")
                else:
                    key = (i,)
                rows[key] = record
            out[table] = rows
        return out
    finally:
        conn.close()


def changed_fields(before, after):
    """``{(table, key, column)}`` of every field that differs (or appeared or vanished)."""
    out = set()
    for table in before.keys() | after.keys():
        b, a = before.get(table, {}), after.get(table, {})
        for key in b.keys() | a.keys():
            if key not in b or key not in a:
                out.add((table, key, "*"))
                continue
            for column in b[key].keys() | a[key].keys():
                if b[key].get(column) != a[key].get(column):
                    out.add((table, key, column))
    return out


@pytest.fixture
def scanned(tmp_path):
    (tmp_path / "ckpts").mkdir()
    save_mlp_checkpoints(tmp_path / "ckpts", STEPS)
    probe = Probe(
        torch.randn(60, 6, generator=torch.Generator().manual_seed(0)),
        layers=LAYERS,
        labels=torch.arange(60) % 3,
    )
    path = tmp_path / "run.sqlite"
    traj = Trajectory(
        CheckpointFolder(tmp_path / "ckpts", model=mlp),
        probe,
        store=Store(path),
        fit_range=(2, 10),
        errors="none",
    ).compute(progress=False)
    return traj, path


def test_the_scan_stores_points_and_spectra_the_writers_must_keep(scanned):
    _, path = scanned
    rows = snapshot(path)["results"]
    assert len(rows) == len(STEPS) * len(LAYERS)
    for row in rows.values():
        assert row["points"] is not None and row["spectrum"] is not None


def test_add_cka_changes_only_the_measures_it_adds(scanned):
    traj, path = scanned
    before = snapshot(path)
    traj.add_cka()
    after = snapshot(path)
    changes = changed_fields(before, after)
    assert {c[2] for c in changes} == {"measures", "created"}
    for key, row in after["results"].items():
        old = before["results"][key]["measures"]
        added = {k: v for k, v in row["measures"].items() if k not in old}
        # every earlier measure unchanged, and only the two CKA measures added
        assert {k: row["measures"][k] for k in old} == old
        assert set(added) <= {"cka_first", "cka_previous"} and "cka_first" in added
    # the points are still read back by step, as the Scrubber reads them
    assert sorted(traj.points("3")) == STEPS


def test_a_replay_copies_every_field(scanned):
    traj, path = scanned
    traj.store.put_scalars(traj.run, 1, {"loss": 2.5})
    target = path.with_name("copy.sqlite")
    replay(traj, delay=0.0, store=Store(target)).filling.result()
    before, after = snapshot(path), snapshot(target)
    assert before["results"].keys() == after["results"].keys()
    for key, row in before["results"].items():
        for column, value in row.items():
            if column != "created":
                assert after["results"][key][column] == value, (key, column)
    assert list(before["scalars"].values()) == list(after["scalars"].values())


def test_recording_a_runs_start_keeps_its_source(scanned):
    traj, path = scanned
    source_before = traj.store.run_source(traj.run)
    before = snapshot(path)
    traj.store.set_run_start(traj.run, "init")
    after = snapshot(path)
    assert {(c[0], c[2]) for c in changed_fields(before, after)} == {("runs", "source")}
    assert traj.store.run_source(traj.run) == {**source_before, "start": "init"}
    # an unknown start never overwrites a known one, and writes nothing
    traj.store.set_run_start(traj.run, "unknown")
    assert changed_fields(after, snapshot(path)) == set()


def test_describing_a_probe_again_only_adds_reductions(scanned):
    traj, path = scanned
    before = snapshot(path)
    (fingerprint,) = [r["probe"] for r in before["probes"].values()]
    old = traj.store.probe_description(fingerprint)
    traj.store.describe_probe(fingerprint, {**old, "layers": ["x"], "reductions": {"9": "mean"}})
    new = traj.store.probe_description(fingerprint)
    assert new == {**old, "reductions": {**(old.get("reductions") or {}), "9": "mean"}}
    assert {c[0] for c in changed_fields(before, snapshot(path))} == {"probes"}


def test_computing_again_rewrites_nothing(scanned):
    traj, path = scanned
    before = snapshot(path)
    traj.compute(progress=False)
    assert changed_fields(before, snapshot(path)) == set()


def test_scalars_replace_only_the_value_of_the_same_name_and_step(scanned):
    traj, path = scanned
    traj.store.put_scalars(traj.run, 1, {"loss": 2.5, "lr": 0.1})
    before = snapshot(path)
    traj.store.put_scalars(traj.run, 1, {"loss": 2.0})
    values = sorted((r["step"], r["name"], r["value"]) for r in snapshot(path)["scalars"].values())
    assert values == [(1, "loss", 2.0), (1, "lr", 0.1)]
    assert {c[0] for c in changed_fields(before, snapshot(path))} == {"scalars"}


def test_add_measures_skips_a_record_no_longer_stored(scanned):
    traj, path = scanned
    record = traj.records()[0]
    gone = type(record)(**{**vars(record), "checkpoint": "elsewhere"})
    before = snapshot(path)
    assert traj.store.add_measures([(gone, {"x": 1.0})]) == 0
    assert changed_fields(before, snapshot(path)) == set()
    assert traj.store.add_measures([(record, {"x": 1.0})]) == 1
    row = snapshot(path)["results"][(record.run, record.step, record.checkpoint, record.layer)]
    assert row["measures"]["x"] == 1.0
    old = before["results"][(record.run, record.step, record.checkpoint, record.layer)]
    assert np.array_equal(np.frombuffer(row["spectrum"]), np.frombuffer(old["spectrum"]))
    assert row["points"] == old["points"] and row["points"] is not None


def test_add_llc_changes_only_the_measures_it_adds_and_the_runs_settings(scanned):
    pytest.importorskip("devinterp")
    from repscope.llc import LLCSettings

    traj, path = scanned
    source_before = traj.store.run_source(traj.run)
    x = torch.randn(40, 6, generator=torch.Generator().manual_seed(2))
    settings = LLCSettings(lr=1e-3, localization=5.0, nbeta=10.0, num_chains=2, num_draws=5)
    before = snapshot(path)
    traj.add_llc([x], lambda model, batch: model(batch).pow(2).mean(), settings, steps=[1])
    after = snapshot(path)
    changes = changed_fields(before, after)
    assert {(c[0], c[2]) for c in changes} == {
        ("results", "measures"),
        ("results", "created"),
        ("runs", "source"),
    }
    for key, row in after["results"].items():
        old = before["results"][key]["measures"]
        assert {k: row["measures"][k] for k in old} == old
        added = set(row["measures"]) - set(old)
        expected = {"llc", "llc_se", "llc_lo", "llc_hi", "llc_chain_std", "llc_init_loss"}
        assert added == (expected if key[1] == 1 else set())
    assert traj.store.run_source(traj.run) == {**source_before, "llc": settings.as_dict()}
