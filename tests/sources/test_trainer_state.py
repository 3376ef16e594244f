"""Trainer folders that a hostile (or unlucky) run leaves behind: a bad ``trainer_state.json``,
a weight folder with no step, a step that no store can hold, a name that is not UTF-8."""

from __future__ import annotations

import json
import os
import sys

import pytest
import torch
from safetensors.torch import save_file

from repscope.probe import Probe
from repscope.sources.folder import (
    CheckpointFolder,
    SkippedCheckpointWarning,
    TrainerStateWarning,
)
from repscope.trajectory import Trajectory

from .helpers import seeded_state, small_net

#: The log one Trainer folder holds: what a good ``trainer_state.json`` gives back.
LOG = [
    {"step": 1, "loss": 2.5, "learning_rate": 0.001},
    {"step": 2, "loss": 2.25, "grad_norm": 0.5},
]
SCALARS = [(1, "loss", 2.5), (1, "learning_rate", 0.001), (2, "loss", 2.25), (2, "grad_norm", 0.5)]


def _folder(path, step_seed, state=None, raw=None):
    """A Trainer checkpoint folder: weights, and a ``trainer_state.json`` (a mapping, or
    ``raw`` text written as it is)."""
    path.mkdir(parents=True)
    save_file(seeded_state(step_seed), path / "model.safetensors")
    if raw is not None:
        (path / "trainer_state.json").write_text(raw)
    elif state is not None:
        (path / "trainer_state.json").write_text(json.dumps(state))
    return path


def _probe() -> Probe:
    return Probe(torch.randn(40, 5, generator=torch.Generator().manual_seed(0)), layers=["0", "2"])


def _compute(source, tmp_path, **kwargs) -> Trajectory:
    traj = Trajectory(
        source, _probe(), store=tmp_path / "run.sqlite", fit_range=(2, 5), errors="none", **kwargs
    )
    return traj.compute(progress=False)


# -- trainer_state.json --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ['{"global_step": 4, "log_history": [', "[1, 2, 3]", b"\xff\xfe{}".decode("latin-1")],
    ids=["truncated", "not-an-object", "not-utf8"],
)
def test_a_bad_newest_trainer_state_falls_back_to_the_next_with_a_warning(tmp_path, raw):
    _folder(tmp_path / "checkpoint-2", 2, {"global_step": 2, "log_history": LOG})
    newest = _folder(tmp_path / "checkpoint-4", 4)
    if raw.startswith("\xff"):
        (newest / "trainer_state.json").write_bytes(b"\xff\xfe{}")
    else:
        (newest / "trainer_state.json").write_text(raw)
    folder = CheckpointFolder(tmp_path, model=small_net)
    said = r"checkpoint-4/trainer_state\.json .*read from .*checkpoint-2"
    with pytest.warns(TrainerStateWarning, match=said):
        scalars = folder.scalars()
    assert sorted(scalars) == sorted(SCALARS)


def test_a_log_history_that_is_not_a_list_gives_no_scalars_and_does_not_stop_the_compute(
    tmp_path,
):
    _folder(tmp_path / "checkpoint-3", 3, {"global_step": 3, "log_history": 5})
    folder = CheckpointFolder(tmp_path, model=small_net)
    with pytest.warns(TrainerStateWarning, match=r"log_history of 5, not a list.*no training"):
        traj = _compute(folder, tmp_path)
    assert traj.steps == [3] and traj.failures.empty
    assert traj.scalars.empty


def test_log_entries_with_steps_that_are_not_steps_are_left_out(tmp_path):
    log = [
        {"step": True, "loss": 9.0},
        {"step": -5, "loss": 9.0},
        {"step": 5.9, "loss": 9.0},
        {"step": 2**70, "loss": 9.0},
        {"step": 7, "loss": 1.5, "eval_accuracy": 10**400},  # no float holds 10**400
    ]
    _folder(tmp_path / "checkpoint-7", 7, {"global_step": 7, "log_history": log})
    assert CheckpointFolder(tmp_path, model=small_net).scalars() == [(7, "loss", 1.5)]


# -- folders and steps ---------------------------------------------------------------------------


def test_a_weight_folder_with_no_step_is_listed_with_the_reason(tmp_path):
    _folder(tmp_path / "checkpoint-3", 3, {"global_step": 3})
    _folder(tmp_path / "checkpoint-final", 9)  # weights, no step in the name, no state
    (tmp_path / "logs").mkdir()  # no weights: not a checkpoint, not listed
    with pytest.warns(SkippedCheckpointWarning, match="checkpoint-final: no step in its name"):
        folder = CheckpointFolder(tmp_path, model=small_net)
    assert [c.step for c in folder] == [3]
    assert [name for name, _ in folder.skipped] == ["checkpoint-final"]
    assert "trainer_state.json" in folder.skipped[0][1]


BAD_STEPS = {
    "Infinity": ("Infinity", "not an integer"),
    "true": ("true", "a bool"),
    "-5": ("-5", "negative"),
    "5.9": ("5.9", "not an integer"),
    "2**70": (str(2**70), "larger than 2\\*\\*63 - 1"),
}


@pytest.mark.parametrize("text", sorted(BAD_STEPS))
def test_a_global_step_that_is_no_step_leaves_out_that_checkpoint_alone(tmp_path, text):
    raw, why = BAD_STEPS[text]
    _folder(tmp_path / "checkpoint-3", 3, {"global_step": 3})
    _folder(tmp_path / "final", 8, raw=f'{{"global_step": {raw}, "log_history": []}}')
    with pytest.warns(SkippedCheckpointWarning, match=f"final: the global_step .*is {why}"):
        folder = CheckpointFolder(tmp_path, model=small_net)
    assert [c.step for c in folder] == [3]  # never a wrong step (1, -5, 5, 2**70)
    assert [name for name, _ in folder.skipped] == ["final"]


def test_a_step_too_large_for_the_store_in_a_name_leaves_out_that_file_alone(tmp_path):
    torch.save(seeded_state(1), tmp_path / "step_1.pt")
    torch.save(seeded_state(2), tmp_path / f"step_{2**70}.pt")
    with pytest.warns(SkippedCheckpointWarning, match="larger than 2\\*\\*63 - 1"):
        folder = CheckpointFolder(tmp_path, model=small_net)
    with pytest.warns(SkippedCheckpointWarning):
        traj = _compute(CheckpointFolder(tmp_path, model=small_net), tmp_path)
    assert [c.step for c in folder] == traj.steps == [1]  # the scan ran; one file left out


def test_the_largest_step_sqlite_holds_is_a_step(tmp_path):
    _folder(tmp_path / "final", 1, {"global_step": 2**63 - 1})
    (ckpt,) = CheckpointFolder(tmp_path, model=small_net)
    assert ckpt.step == 2**63 - 1


# -- names that are not UTF-8 ----------------------------------------------------------------------

linux_names = pytest.mark.skipif(
    sys.platform != "linux", reason="only Linux hands over file names as arbitrary bytes"
)


@linux_names
def test_a_folder_name_that_is_not_utf8_is_stored_escaped(tmp_path):
    root = os.path.join(os.fsencode(tmp_path), b"run-\xff")
    os.mkdir(root)
    path = os.fsdecode(root)
    torch.save(seeded_state(1), os.path.join(path, "step_1.pt"))
    folder = CheckpointFolder(path, model=small_net)
    assert folder.run == "run-\\xff"
    traj = _compute(folder, tmp_path)
    assert traj.steps == [1] and traj.failures.empty
    assert traj.store.runs() == ["run-\\xff"]
    assert folder.describe()["path"].endswith("run-\\xff")


@linux_names
def test_a_checkpoint_name_that_is_not_utf8_fails_alone_even_with_a_run_name(tmp_path):
    root = os.fsencode(tmp_path / "run")
    os.mkdir(root)
    torch.save(seeded_state(1), os.fsdecode(os.path.join(root, b"step_1.pt")))
    with open(os.path.join(root, b"step_2\xff.pt"), "wb") as fh:
        fh.write(b"not a checkpoint")
    folder = CheckpointFolder(os.fsdecode(root), model=small_net, run="r")
    traj = _compute(folder, tmp_path, run="r")  # was: UnicodeEncodeError storing the failure
    assert traj.steps == [1, 2]
    (error,) = traj.failures.error
    assert "step_2\\xff.pt" in error
    assert [c.name for c in folder] == ["step_1.pt", "step_2\\xff.pt"]
