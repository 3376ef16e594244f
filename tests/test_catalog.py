"""A store that describes itself: repscope.open, the store's truth about checkpoints, one layer
order, and ``repscope ls`` / ``repscope export``."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import torch

import repscope
from repscope import CheckpointFolder, Probe, Trajectory
from repscope.store import Store
from repscope.synthetic import synthetic_trajectory
from tests.exported import exported_steps
from tests.models import mlp, save_mlp_checkpoints

FIT = (2, 10)


def probe(labels=True):
    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(48, 6, generator=g)
    return Probe(inputs, layers=["1", "3"], labels=np.arange(48) % 3 if labels else None)


@pytest.fixture
def scanned(tmp_path):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, [0, 2, 4, 8])
    store = tmp_path / "run.sqlite"
    Trajectory(
        CheckpointFolder(folder, model=mlp),
        probe(),
        store=store,
        fit_range=FIT,
        dse=True,
        sigma="median",
    ).compute(progress=False)
    Store(store).put_scalars("ckpts", 3, {"loss": 1.5})
    return folder, store


# -- repscope.open ------------------------------------------------------------------------------
def test_open_gives_the_trajectory_with_no_probe_and_no_options(scanned):
    folder, path = scanned
    original = Trajectory(
        CheckpointFolder(folder, model=mlp),
        probe(),
        store=path,
        fit_range=FIT,
        dse=True,
        sigma="median",
    )
    catalog = repscope.open(path)
    (row,) = catalog.table.itertuples()
    assert row.run == "ckpts" and row.inputs == 48 and row.steps == 4 and row.layers == "1, 3"
    assert str(folder.resolve()) in row.source and "tests.models:mlp" in row.source
    assert '"sigma":"median"' in row.config  # the configuration, readable
    traj = catalog.trajectory()
    pd_equal = original.metrics.equals(traj.metrics)
    assert pd_equal and traj.steps == [0, 2, 4, 8] and traj.layers == ["1", "3"]
    np.testing.assert_array_equal(traj.probe.labels, np.arange(48) % 3)
    assert traj.config.dse and traj.config.sigma == "median" and traj.config.fit_range == FIT
    assert list(traj.scalars.name) == ["loss"]


def test_a_choice_is_an_argument_and_the_error_lists_the_choices(scanned, tmp_path):
    folder, path = scanned
    other = tmp_path / "other"
    other.mkdir()
    save_mlp_checkpoints(other, [0, 1], seed=3)
    Trajectory(CheckpointFolder(other, model=mlp), probe(), store=path, fit_range=FIT).compute(
        progress=False
    )
    catalog = repscope.open(path)
    assert catalog.runs == ["ckpts", "other"]
    with pytest.raises(ValueError, match=r"'run' argument .* one of \['ckpts', 'other'\]"):
        catalog.trajectory()
    assert catalog.trajectory("other").steps == [0, 1]
    with pytest.raises(
        ValueError,
        match=r"'run' argument .* one of \['ckpts', 'other'\]; "
        r"got 'nope'",
    ):
        catalog.trajectory("nope")
    Trajectory(CheckpointFolder(folder, model=mlp), probe(), store=path, fit_range=(2, 8)).compute(
        progress=False
    )  # a second configuration of ckpts
    with pytest.raises(ValueError, match=r"'config' argument .* one of \["):
        repscope.open(path).trajectory("ckpts")
    traj = repscope.open(path).trajectory("ckpts", config={"fit_range": (2, 8)})
    assert traj.config.fit_range == (2, 8)


def test_scrubber_and_export_take_the_store_path(scanned, tmp_path):
    pytest.importorskip("anywidget")
    from repscope.widgets import Scrubber, export_html

    _, path = scanned
    s = Scrubber(str(path))
    assert s.layer == "3" and s.steps == [0, 2, 4, 8]
    assert "loss" in s.measures  # the loss beside RankMe, nothing else typed
    out = export_html(path, tmp_path / "x.html")
    assert exported_steps(out) == [0, 2, 4, 8]


def test_open_refuses_what_is_not_a_store(tmp_path):
    with pytest.raises(ValueError, match=r"'path' argument of repscope\.open must be an existing"):
        repscope.open(tmp_path / "missing.sqlite")
    with pytest.raises(TypeError, match=r"'path' argument of repscope\.open"):
        repscope.open(3)


# -- the store tells the truth about checkpoints -----------------------------------------------
def test_a_repaired_checkpoint_supersedes_its_failure(tmp_path, cli):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, [0, 2, 4])
    good = (folder / "step_2.pt").read_bytes()
    (folder / "step_2.pt").write_bytes(b"corrupt")
    store = tmp_path / "s.sqlite"
    traj = Trajectory(CheckpointFolder(folder, model=mlp), probe(), store=store, fit_range=FIT)
    traj.compute(progress=False)
    assert traj.failures.step.tolist() == [2]
    (folder / "step_2.pt").write_bytes(good)
    traj = Trajectory(CheckpointFolder(folder, model=mlp), probe(), store=store, fit_range=FIT)
    traj.compute(progress=False)
    assert traj.failures.empty and traj.steps == [0, 2, 4]
    assert len(traj.curve("effective_rank", "3")) == 3
    done = cli(
        "scan",
        folder,
        "--model",
        "tests.models:mlp",
        "--store",
        store,
        "--layers",
        "1,3",
        "--probe",
        _probe_file(tmp_path),
        "--fit-range",
        "2,10",
        "--no-progress",
    )
    assert done.returncode == 0, done.stdout + done.stderr  # no stale failure: exit 0


def _probe_file(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "probe.safetensors"
    p = probe()
    save_file({"inputs": p.inputs[""].contiguous(), "labels": torch.as_tensor(p.labels)}, path)
    return path


def test_a_checkpoint_rewritten_after_its_scan_replaces_its_rows(tmp_path):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    states = save_mlp_checkpoints(folder, [0, 2])
    store = tmp_path / "s.sqlite"
    Trajectory(CheckpointFolder(folder, model=mlp), probe(), store=store, fit_range=FIT).compute(
        progress=False
    )
    torch.save({k: v * 3 for k, v in states[2].items()}, folder / "step_2.pt")
    traj = Trajectory(CheckpointFolder(folder, model=mlp), probe(), store=store, fit_range=FIT)
    traj.compute(progress=False)
    rows = [r for r in traj.store.records(run="ckpts", **traj.key()) if r.step == 2]
    assert len(rows) == 2 and len({r.checkpoint for r in rows}) == 1  # one per layer, new ones
    assert traj.steps == [0, 2]


def test_steps_with_identical_weights_are_flagged(tmp_path, cli):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, [0, 2])
    (folder / "step_9.pt").write_bytes((folder / "step_2.pt").read_bytes())
    store = tmp_path / "s.sqlite"
    traj = Trajectory(CheckpointFolder(folder, model=mlp), probe(), store=store, fit_range=FIT)
    traj.compute(progress=False)
    assert traj.duplicates() == {9: 2}
    notes = traj.notes
    assert notes[notes.step == 9].note.str.contains("same weights as step 2").all()
    listed = cli("ls", store)
    assert listed.returncode == 0 and "identical weights at steps 9 = 2" in listed.stdout
    pytest.importorskip("anywidget")
    from repscope.widgets import Scrubber

    assert any("identical weights at steps 9 = 2" in n for n in Scrubber(traj).notes)


def test_two_sources_never_mix_under_one_run_name(tmp_path):
    a, b = tmp_path / "a" / "ckpts", tmp_path / "b" / "ckpts"
    for i, folder in enumerate((a, b)):
        folder.mkdir(parents=True)
        save_mlp_checkpoints(folder, [0, 2], seed=i)
    store = tmp_path / "s.sqlite"
    Trajectory(CheckpointFolder(a, model=mlp), probe(), store=store, fit_range=FIT).compute(
        progress=False
    )
    second = Trajectory(CheckpointFolder(b, model=mlp), probe(), store=store, fit_range=FIT)
    with pytest.raises(
        ValueError,
        match=r"run 'ckpts' .* was filled from folder .*a/ckpts.*"
        r"this source is folder .*b/ckpts.*--run NAME",
    ):
        second.compute(progress=False)
    assert Store(store).runs() == ["ckpts"]  # nothing of b was stored
    Trajectory(
        CheckpointFolder(b, model=mlp, run="b"), probe(), store=store, fit_range=FIT
    ).compute(progress=False)
    assert Store(store).runs() == ["b", "ckpts"]


# -- one layer order ----------------------------------------------------------------------------
class Deep(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(6, 6) for _ in range(12))

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return x


def deep():
    return Deep()


def test_twelve_layers_are_in_natural_order_everywhere(tmp_path, cli):
    folder = tmp_path / "deep"
    folder.mkdir()
    for step in (0, 1, 2, 3, 4, 6, 8):
        torch.manual_seed(step)
        torch.save(deep().state_dict(), folder / f"step_{step}.pt")
    store = tmp_path / "s.sqlite"
    traj = Trajectory(
        CheckpointFolder(folder, model=deep),
        Probe(probe().inputs[""]),
        store=store,
        fit_range=(2, 5),
    )  # default layers: every block
    traj.compute(progress=False)
    natural = [f"layers.{i}" for i in range(12)]
    assert traj.layers == natural
    assert repscope.open(store).trajectory().layers == natural
    pytest.importorskip("anywidget")
    from repscope.widgets import Scrubber

    s = Scrubber(str(store))
    assert s.layers == natural and s.layer == "layers.11"
    listed = cli("ls", store)
    assert ", ".join(natural) in listed.stdout


# -- the command line ---------------------------------------------------------------------------
def test_ls_lists_runs_steps_layers_measures_and_failures(scanned, tmp_path, cli):
    _, path = scanned
    done = cli("ls", path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "run 'ckpts'" in out and "steps    4 (0 … 8)" in out and "layers   1, 3" in out
    assert "dse" in out and "effective_rank" in out and "scalars  loss" in out
    assert "failed   none" in out


def test_export_writes_the_scrubber_of_a_store(scanned, tmp_path, cli):
    _, path = scanned
    out = tmp_path / "out.html"
    done = cli("export", path, "--html", out)
    assert done.returncode == 0, done.stderr
    assert exported_steps(out) == [0, 2, 4, 8]
    bad = cli("export", path, "--html", out, "--run", "nope")
    assert bad.returncode == 1 and "one of ['ckpts']" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_newer_store_is_refused_by_ls_with_the_reason(tmp_path, cli):
    path = tmp_path / "new.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    done = cli("ls", path)
    assert done.returncode == 1 and "newer repscope" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_store_written_without_descriptions_still_opens(tmp_path):
    """Rows from an older repscope (no runs or probes table rows) read back by their keys."""
    traj = synthetic_trajectory(n_steps=4, n_points=20, store=tmp_path / "s.sqlite")
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    conn.execute("DELETE FROM probes")
    conn.execute("DELETE FROM runs")
    conn.commit()
    conn.close()
    back = repscope.open(tmp_path / "s.sqlite").trajectory()
    assert back.steps == traj.steps and back.probe.n_samples == 20
    assert back.metrics.equals(traj.metrics)
