"""Where a run starts — an initialisation or a trained model — read from what the run has, and
recorded in the store: a Trainer folder, hub revisions, a live model, or said with ``start=``."""

from __future__ import annotations

import json

import pytest
import torch

from repscope import CheckpointFolder, Probe, Trajectory
from repscope.live import LiveRun, start_of
from repscope.store import Store
from tests.models import mlp, save_mlp_checkpoints


def trainer_folder(root, steps, name_or_path):
    for step in steps:
        folder = root / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({"_name_or_path": name_or_path}))
        torch.save(mlp().state_dict(), folder / "pytorch_model.bin")
    return root


@pytest.mark.parametrize(
    ("name", "steps", "expected"),
    [
        ("sentence-transformers/all-MiniLM-L6-v2", [0, 5], "pretrained"),  # from_pretrained
        ("", [5, 10], "pretrained"),  # built from a config, first checkpoint after training
        ("", [0, 5], "unknown"),  # step 0 of a model built from a config: say so with start=
    ],
)
def test_a_trainer_folder_says_where_it_starts(tmp_path, name, steps, expected):
    folder = trainer_folder(tmp_path / "run", steps, name)
    assert CheckpointFolder(folder, model=mlp).start == expected
    assert CheckpointFolder(folder, model=mlp, start="init").start == "init"


def test_a_folder_of_weight_files_is_unknown_from_step_0_and_pretrained_after(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    save_mlp_checkpoints(tmp_path / "a", [0, 1, 2])
    save_mlp_checkpoints(tmp_path / "b", [3, 4])
    assert CheckpointFolder(tmp_path / "a", model=mlp).start == "unknown"
    assert CheckpointFolder(tmp_path / "b", model=mlp).start == "pretrained"


def test_the_start_is_stored_and_read_back_and_an_argument_wins(tmp_path):
    (tmp_path / "ckpts").mkdir()
    save_mlp_checkpoints(tmp_path / "ckpts", [0, 1, 2, 4])
    probe = Probe(torch.randn(40, 6, generator=torch.Generator().manual_seed(0)), layers=["1"])
    store = tmp_path / "s.sqlite"
    traj = Trajectory(
        CheckpointFolder(tmp_path / "ckpts", model=mlp), probe, store=store, fit_range=(2, 8)
    )
    traj.compute(progress=False)
    assert traj.start == "unknown" and Store(store).run_source("ckpts")["start"] == "unknown"
    again = Trajectory(
        CheckpointFolder(tmp_path / "ckpts", model=mlp),
        probe,
        store=store,
        start="init",
        fit_range=(2, 8),
    )
    again.compute(progress=False)  # nothing to compute; the start is recorded all the same
    import repscope

    assert repscope.open(store).trajectory().start == "init"
    source = Store(store).run_source("ckpts")
    assert source["kind"] == "folder" and source["start"] == "init"  # its source is kept
    with pytest.raises(ValueError, match="'start' argument of Trajectory must be one of"):
        Trajectory(None, probe, start="scratch")


def test_an_unknown_start_never_overwrites_a_known_one(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.set_run_start("r", "pretrained")
    store.set_run_start("r", "unknown")
    assert store.run_source("r")["start"] == "pretrained"


def test_hub_revisions_from_step_0_start_at_initialisation(hub_cache):
    from repscope import HubRevisions

    repo, cache = hub_cache.repo_id, hub_cache.root
    assert HubRevisions(repo, steps=[0, 1, 2], cache_dir=cache).start == "init"
    assert HubRevisions(repo, steps=[1, 2], cache_dir=cache).start == "pretrained"


def test_a_live_run_reads_its_start_off_the_first_model():
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=30,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
    )
    built = BertModel(config)
    assert start_of(built, 0) == "init"  # built from a config, at step 0
    built.config._name_or_path = "prajjwal1/bert-tiny"  # as from_pretrained sets it
    assert start_of(built, 0) == "pretrained"
    assert start_of(mlp(), 0) == "unknown"  # a plain module: nothing to read
    assert start_of(mlp(), 7) == "pretrained"  # first observed after training began
    probe = Probe(torch.randn(20, 6), layers=["1"])
    live = LiveRun(probe, every=1, fit_range=(2, 4))
    live.observe(0, mlp())
    assert live.wait().trajectory.start == "unknown"
    told = LiveRun(probe, every=1, fit_range=(2, 4), start="init", run="told")
    told.observe(3, mlp())
    assert told.wait().trajectory.start == "init"  # the argument wins
