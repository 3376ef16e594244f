"""CheckpointFolder: steps from names and trainer_state.json, laziness, loading, fingerprints."""

from __future__ import annotations

import gc
import json
import re
import shutil

import pytest
import torch
from safetensors.torch import save_file

import repscope.sources.base as base
from repscope.sources.base import FileCheckpoint
from repscope.sources.folder import (
    CheckpointFolder,
    SkippedCheckpointWarning,
    TrainerCheckpoint,
    step_from_name,
)
from repscope.sources.loading import CheckpointError

from .helpers import assert_same_state, seeded_state, small_net

GRAMMAR = re.compile(r"The '(\w+)' argument of CheckpointFolder must .+; got .+\.")


def _grammar(err: BaseException, argument: str) -> None:
    match = GRAMMAR.fullmatch(str(err))
    assert match, str(err)
    assert match.group(1) == argument


# -- steps from names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "step"),
    [
        ("step_1000.pt", 1000),
        ("checkpoint-500", 500),
        ("model_step=12.pt", 12),
        ("000042.safetensors", 42),
        ("ckpt_7.pth", 7),
        ("iter-300.pt", 300),
        ("global_step250", 250),
        ("step0.safetensors", 0),
        ("resnet50_step_20.pt", 20),  # the step, not the first number in the name
        ("checkpoint-1000.tmp", 1000),
    ],
)
def test_step_from_name(name, step):
    assert step_from_name(name) == step


@pytest.mark.parametrize("name", ["final.pt", "model.safetensors", "checkpoint-last", "README"])
def test_no_step_in_name(name):
    assert step_from_name(name) is None


def test_steps_are_parsed_and_sorted(tmp_path):
    names = ["step_1000.pt", "model_step=12.pt", "000042.safetensors", "step_3.pth"]
    states = {}
    for i, name in enumerate(names):
        states[name] = seeded_state(i)
        if name.endswith(".safetensors"):
            save_file(states[name], tmp_path / name)
        else:
            torch.save(states[name], tmp_path / name)
    trainer = tmp_path / "checkpoint-500"
    trainer.mkdir()
    states["checkpoint-500"] = seeded_state(99)
    save_file(states["checkpoint-500"], trainer / "model.safetensors")
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    (tmp_path / "logs").mkdir()

    folder = CheckpointFolder(tmp_path, model=small_net)
    assert [c.step for c in folder] == [3, 12, 42, 500, 1000]
    assert [c.name for c in folder] == [
        "step_3.pth",
        "model_step=12.pt",
        "000042.safetensors",
        "checkpoint-500",
        "step_1000.pt",
    ]
    assert len(folder) == 5
    assert isinstance(folder.checkpoints[3], TrainerCheckpoint)
    assert all(isinstance(c, FileCheckpoint) for i, c in enumerate(folder) if i != 3)
    for ckpt in folder:
        assert_same_state(ckpt.load().state_dict(), states[ckpt.name])


def test_run_name_defaults_to_the_folder_name(tmp_path):
    run = tmp_path / "my-run"
    run.mkdir()
    torch.save(seeded_state(0), run / "step_1.pt")
    assert CheckpointFolder(run, model=small_net).run == "my-run"
    assert CheckpointFolder(str(run), model=small_net, run="other").run == "other"


# -- Trainer folders ------------------------------------------------------------------------------


def _trainer(folder, state, global_step=None, weights="model.safetensors"):
    folder.mkdir(parents=True)
    if weights.endswith(".safetensors"):
        save_file(state, folder / weights)
    else:
        torch.save(state, folder / weights)
    if global_step is not None:
        (folder / "trainer_state.json").write_text(
            json.dumps({"global_step": global_step, "log_history": []})
        )
    return folder


def test_trainer_folders(tmp_path):
    states = {s: seeded_state(s) for s in (100, 20, 3)}
    for step, state in states.items():
        _trainer(tmp_path / f"checkpoint-{step}", state, global_step=step)
    folder = CheckpointFolder(tmp_path, model=small_net)
    assert [c.step for c in folder] == [3, 20, 100]
    for ckpt in folder:
        assert isinstance(ckpt, TrainerCheckpoint)
        assert_same_state(ckpt.load().state_dict(), states[ckpt.step])


def test_trainer_folder_with_pytorch_model_bin(tmp_path):
    state = seeded_state(4)
    _trainer(tmp_path / "checkpoint-8", state, weights="pytorch_model.bin")
    (ckpt,) = CheckpointFolder(tmp_path, model=small_net)
    assert_same_state(ckpt.load().state_dict(), state)


@pytest.mark.parametrize("name", ["final", "checkpoint-last", "best"])
def test_trainer_folder_step_from_trainer_state(tmp_path, name):
    _trainer(tmp_path / name, seeded_state(0), global_step=777)
    _trainer(tmp_path / "checkpoint-5", seeded_state(1))
    folder = CheckpointFolder(tmp_path, model=small_net)
    assert [(c.step, c.name) for c in folder] == [(5, "checkpoint-5"), (777, name)]


def test_subfolder_without_a_step_is_left_out(tmp_path):
    _trainer(tmp_path / "checkpoint-5", seeded_state(1))
    _trainer(tmp_path / "final", seeded_state(0))  # no number, no trainer_state.json
    (tmp_path / "broken").mkdir()  # no weights: not a checkpoint, not said
    (tmp_path / "broken" / "trainer_state.json").write_text("{not json")
    with pytest.warns(SkippedCheckpointWarning, match=r"skipped 1 file\(s\): final: no step"):
        folder = CheckpointFolder(tmp_path, model=small_net)
    assert [c.step for c in folder] == [5]
    assert [name for name, _ in folder.skipped] == ["final"]


def test_trainer_folder_without_a_model_factory_uses_transformers(tmp_path):
    from tests.fixtures_hf import tiny_gpt_neox

    saved = tiny_gpt_neox(seed=7)
    saved.save_pretrained(tmp_path / "checkpoint-12")
    (ckpt,) = CheckpointFolder(tmp_path)
    model = ckpt.load()
    assert type(model).__name__ == "GPTNeoXForCausalLM"
    assert not model.training
    assert_same_state(model.state_dict(), saved.state_dict())


# -- bad folders ----------------------------------------------------------------------------------


def test_duplicate_steps(tmp_path):
    torch.save(seeded_state(0), tmp_path / "step_10.pt")
    save_file(seeded_state(1), tmp_path / "checkpoint_10.safetensors")
    with pytest.raises(ValueError, match=r"^The 'path' argument of CheckpointFolder must ") as info:
        CheckpointFolder(tmp_path, model=small_net)
    assert "10" in str(info.value)


def test_duplicate_steps_file_and_trainer_folder(tmp_path):
    torch.save(seeded_state(0), tmp_path / "step_10.pt")
    _trainer(tmp_path / "final", seeded_state(1), global_step=10)
    with pytest.raises(ValueError, match=r"^The 'path' argument of CheckpointFolder must "):
        CheckpointFolder(tmp_path, model=small_net)


def test_empty_folder(tmp_path):
    with pytest.raises(ValueError) as info:
        CheckpointFolder(tmp_path, model=small_net)
    _grammar(info.value, "path")


def test_folder_with_no_checkpoints(tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    torch.save(seeded_state(0), tmp_path / "final.pt")  # a weight file with no step in its name
    with pytest.raises(ValueError) as info:
        CheckpointFolder(tmp_path, model=small_net)
    _grammar(info.value, "path")


def test_not_a_folder(tmp_path):
    torch.save(seeded_state(0), tmp_path / "step_1.pt")
    for path in (tmp_path / "step_1.pt", tmp_path / "absent"):
        with pytest.raises(ValueError) as info:
            CheckpointFolder(path, model=small_net)
        _grammar(info.value, "path")


def test_bare_weight_files_need_a_model(tmp_path):
    torch.save(seeded_state(0), tmp_path / "step_1.pt")
    with pytest.raises(ValueError) as info:
        CheckpointFolder(tmp_path)
    _grammar(info.value, "model")


def test_model_must_be_callable(tmp_path):
    torch.save(seeded_state(0), tmp_path / "step_1.pt")
    with pytest.raises(TypeError) as info:
        CheckpointFolder(tmp_path, model=42)
    _grammar(info.value, "model")


def test_a_model_instance_is_not_a_factory(tmp_path):
    torch.save(seeded_state(0), tmp_path / "step_1.pt")
    try:
        CheckpointFolder(tmp_path, model=small_net())  # the likeliest mistake: an instance
    except TypeError as err:
        _grammar(err, "model")
    else:
        raise AssertionError("CheckpointFolder accepted a module instance as the model factory")


# -- loading --------------------------------------------------------------------------------------


def test_load_gives_the_saved_parameters_in_eval_mode(tmp_path):
    states = {s: seeded_state(s) for s in (0, 5)}
    for step, state in states.items():
        torch.save(state, tmp_path / f"step_{step}.pt")
    built = []

    def factory():
        built.append(small_net())  # nn.Module starts in training mode
        return built[-1]

    for ckpt in CheckpointFolder(tmp_path, model=factory):
        model = ckpt.load()
        assert_same_state(model.state_dict(), states[ckpt.step])
        assert not any(m.training for m in model.modules())
    assert len(built) == 2 and built[0] is not built[1]  # a fresh model per load


def test_weights_that_do_not_fit_the_model(tmp_path):
    torch.save({"weight": torch.zeros(2, 2)}, tmp_path / "step_1.pt")
    (ckpt,) = CheckpointFolder(tmp_path, model=small_net)
    with pytest.raises(CheckpointError, match=r"step_1\.pt"):
        ckpt.load()


def test_factory_that_returns_no_module(tmp_path):
    torch.save(seeded_state(0), tmp_path / "step_1.pt")
    (ckpt,) = CheckpointFolder(tmp_path, model=lambda: "not a model")
    with pytest.raises(CheckpointError, match="str"):
        ckpt.load()


def test_corrupt_checkpoint_in_the_middle(tmp_path):
    states = {s: seeded_state(s) for s in (1, 2, 3)}
    for step, state in states.items():
        torch.save(state, tmp_path / f"step_{step}.pt")
    data = (tmp_path / "step_2.pt").read_bytes()
    (tmp_path / "step_2.pt").write_bytes(data[: len(data) // 2])

    folder = CheckpointFolder(tmp_path, model=small_net)
    assert [c.step for c in folder] == [1, 2, 3]  # still listed: a scan reports and skips it
    loaded, failed = {}, {}
    for ckpt in folder:
        assert ckpt.fingerprint().startswith("sha256:")  # bytes are there to hash
        try:
            loaded[ckpt.step] = ckpt.load()
        except CheckpointError as err:
            failed[ckpt.step] = str(err)
    assert sorted(loaded) == [1, 3]
    assert list(failed) == [2] and "step_2.pt" in failed[2]
    for step, model in loaded.items():
        assert_same_state(model.state_dict(), states[step])


def test_trainer_folder_without_weights_fails_on_load(tmp_path):
    _trainer(tmp_path / "checkpoint-1", seeded_state(1))
    (tmp_path / "checkpoint-2").mkdir()
    (tmp_path / "checkpoint-2" / "trainer_state.json").write_text('{"global_step": 2}')
    first, second = CheckpointFolder(tmp_path, model=small_net)
    first.load()
    with pytest.raises(CheckpointError, match="checkpoint-2"):
        second.load()
    assert first.fingerprint() != second.fingerprint()


# -- fingerprints ---------------------------------------------------------------------------------


def test_fingerprints_follow_content_not_location(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    same, other = seeded_state(0), seeded_state(1)
    torch.save(same, a / "step_1.pt")
    shutil.copy(a / "step_1.pt", b / "step_9.pt")  # same bytes, another name
    save_file(same, a / "step_2.safetensors")
    save_file(same, b / "step_8.safetensors")  # written again, same weights
    torch.save(other, a / "step_3.pt")
    save_file(other, b / "step_7.safetensors")
    _trainer(a / "checkpoint-4", same)  # same safetensors bytes in a folder

    fa = {c.step: c.fingerprint() for c in CheckpointFolder(a, model=small_net)}
    fb = {c.step: c.fingerprint() for c in CheckpointFolder(b, model=small_net)}
    assert fa[1] == fb[9]
    assert fa[2] == fb[8] == fa[4]
    assert len({fa[1], fa[2], fa[3], fb[7]}) == 4
    # Stable: asking twice gives the same answer.
    assert fa == {c.step: c.fingerprint() for c in CheckpointFolder(a, model=small_net)}


def test_fingerprint_changes_when_the_file_changes(tmp_path):
    torch.save(seeded_state(0), tmp_path / "step_1.pt")
    (ckpt,) = CheckpointFolder(tmp_path, model=small_net)
    before = ckpt.fingerprint()
    state = seeded_state(0)
    state["0.bias"][0] += 1.0
    torch.save(state, tmp_path / "step_1.pt")
    assert ckpt.fingerprint() != before


# -- laziness and memory --------------------------------------------------------------------------

WIDE = 1024  # a Linear(1024, 1024): 4 MiB of float32 weights


def _wide_net() -> torch.nn.Module:
    return torch.nn.utils.skip_init(torch.nn.Linear, WIDE, WIDE)


def _rss_bytes() -> int:
    try:
        import psutil
    except ImportError:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        pytest.skip("no psutil and no /proc/self/status: cannot measure memory")
    return psutil.Process().memory_info().rss


N_LAZY = 150


@pytest.fixture
def wide_run(tmp_path):
    """150 checkpoints of a 4 MiB model (hard links to 3 distinct files, to spare the disk)."""
    distinct = []
    for i in range(3):
        g = torch.Generator().manual_seed(i)
        state = {
            "weight": torch.randn(WIDE, WIDE, generator=g),
            "bias": torch.randn(WIDE, generator=g),
        }
        path = tmp_path / f"distinct_{i}.bin"
        if i == 0:
            save_file(state, path)
        else:
            torch.save(state, path)
        distinct.append(path)
    run = tmp_path / "run"
    run.mkdir()
    for step in range(N_LAZY):
        src = distinct[step % 3]
        dst = run / f"step_{step}{'.safetensors' if step % 3 == 0 else '.pt'}"
        try:
            dst.hardlink_to(src)
        except OSError:
            shutil.copy(src, dst)
    return run


def test_constructing_and_listing_loads_nothing(wide_run, monkeypatch):
    calls = []

    def factory():
        calls.append(1)
        return _wide_net()

    def no_loading(path):
        raise AssertionError(f"read weights from {path} while only listing")

    monkeypatch.setattr(base, "load_state_dict", no_loading)
    folder = CheckpointFolder(wide_run, model=factory)
    assert len(folder) == N_LAZY
    assert [c.step for c in folder] == list(range(N_LAZY))
    assert calls == []


def test_loading_one_at_a_time_keeps_memory_flat(wide_run):
    calls = []

    def factory():
        calls.append(1)
        return _wide_net()

    folder = CheckpointFolder(wide_run, model=factory)
    assert calls == []
    rss = {}
    for i, ckpt in enumerate(folder):
        model = ckpt.load()
        assert model.weight.shape == (WIDE, WIDE)
        del model
        if i in (20, N_LAZY - 1):
            gc.collect()
            rss[i] = _rss_bytes()
    assert len(calls) == N_LAZY
    growth = rss[N_LAZY - 1] - rss[20]
    # 130 more loads of 4 MiB each would be ~520 MiB if any were kept.
    assert growth < 20 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB over 130 loads"


# -- known bugs (strict xfail: they flip to failures once fixed, so remove the mark then) ---------


def _sharded(folder, state):
    """A Trainer folder with the weights split over two safetensors shards and an index."""
    folder.mkdir(parents=True)
    names = sorted(state)
    shards = {
        "model-00001-of-00002.safetensors": names[: len(names) // 2],
        "model-00002-of-00002.safetensors": names[len(names) // 2 :],
    }
    for shard, keys in shards.items():
        save_file({k: state[k] for k in keys}, folder / shard)
    weight_map = {k: shard for shard, keys in shards.items() for k in keys}
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map})
    )
    return folder


def test_sharded_trainer_checkpoint_loads_with_a_factory(tmp_path):
    state = seeded_state(3)
    _sharded(tmp_path / "checkpoint-4", state)
    (ckpt,) = CheckpointFolder(tmp_path, model=small_net)
    assert_same_state(ckpt.load().state_dict(), state)


def test_sharded_fingerprint_covers_every_shard(tmp_path):
    first, second = seeded_state(3), seeded_state(3)
    last = sorted(second)[-1]  # a tensor in the second shard
    second[last] = second[last] + 1.0
    _sharded(tmp_path / "checkpoint-4", first)
    _sharded(tmp_path / "checkpoint-8", second)
    a, b = CheckpointFolder(tmp_path, model=small_net)
    assert a.fingerprint() != b.fingerprint()


@pytest.mark.parametrize(
    ("name", "step"), [("vit16_step_500.pt", 500), ("deit3_step_200.safetensors", 200)]
)
def test_an_explicit_step_wins_over_numbers_in_the_model_name(name, step):
    assert step_from_name(name) == step


def test_trainer_checkpoint_of_a_transformers_model_with_a_factory(tmp_path):
    from tests.fixtures_hf import tiny_gpt_neox

    saved = tiny_gpt_neox(seed=7)
    saved.save_pretrained(tmp_path / "checkpoint-12")
    (ckpt,) = CheckpointFolder(tmp_path, model=lambda: tiny_gpt_neox(seed=0))
    assert_same_state(ckpt.load().state_dict(), saved.state_dict())
