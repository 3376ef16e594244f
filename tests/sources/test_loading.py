"""Safe loading: safetensors and torch.save round trips, refused pickles, corrupt files."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from repscope.sources.folder import CheckpointFolder
from repscope.sources.loading import CheckpointError, load_state_dict

from .helpers import assert_same_state, seeded_state, small_net


def _mixed_dtypes() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return {
        "layer.weight": torch.randn(4, 6, generator=g),
        "layer.bias": torch.randn(4, generator=g).double(),
        "half": torch.randn(3, 2, generator=g).half(),
        "counts": torch.arange(5, dtype=torch.int64),
        "empty": torch.zeros(0, 3),
    }


# -- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin"])
def test_torch_save_round_trip(tmp_path, suffix):
    state = _mixed_dtypes()
    torch.save(state, tmp_path / f"weights{suffix}")
    assert_same_state(load_state_dict(tmp_path / f"weights{suffix}"), state)


def test_legacy_torch_save_format_round_trip(tmp_path):
    state = _mixed_dtypes()
    torch.save(state, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    assert_same_state(load_state_dict(tmp_path / "old.pt"), state)


def test_safetensors_round_trip(tmp_path):
    state = _mixed_dtypes()
    save_file(state, tmp_path / "weights.safetensors")
    loaded = load_state_dict(str(tmp_path / "weights.safetensors"))  # a str path works too
    assert_same_state(loaded, state)
    assert all(t.device.type == "cpu" for t in loaded.values())


@pytest.mark.parametrize("key", ["state_dict", "model", "model_state_dict", "module"])
def test_nested_state_dict_is_unwrapped(tmp_path, key):
    state = seeded_state(1)
    net = small_net()
    opt = torch.optim.AdamW(net.parameters())
    net(torch.randn(2, 5)).sum().backward()
    opt.step()
    # What training scripts save: the weights next to an optimizer state and plain numbers.
    torch.save(
        {key: state, "optimizer": opt.state_dict(), "epoch": 3, "loss": 0.25}, tmp_path / "ckpt.pt"
    )
    assert_same_state(load_state_dict(tmp_path / "ckpt.pt"), state)


def test_flat_names_that_look_nested_are_kept(tmp_path):
    # safetensors files are always flat: nothing to unwrap, names kept as they are.
    state = {"model.0.weight": torch.ones(2, 2)}
    save_file(state, tmp_path / "w.safetensors")
    assert_same_state(load_state_dict(tmp_path / "w.safetensors"), state)


# -- refused pickles -----------------------------------------------------------------------------


def test_the_payload_really_runs_code_when_unpickled(tmp_path, payloads):
    """The refusal tests below mean something only if the payload is live: check that it is."""
    assert not payloads.marker.exists()
    pickle.loads(payloads.raw_pickle())
    assert payloads.marker.exists()
    payloads.marker.unlink()
    path = payloads.write_torch(tmp_path / "evil.pt", w=torch.zeros(2))
    torch.load(path, weights_only=False)
    assert payloads.marker.exists()


def test_malicious_torch_save_file_is_refused(tmp_path, payloads):
    path = payloads.write_torch(tmp_path / "evil.pt", w=torch.zeros(2))
    with pytest.raises(CheckpointError, match="refused") as info:
        load_state_dict(path)
    assert str(path) in str(info.value)
    assert not payloads.marker.exists()


def test_malicious_raw_pickle_is_refused(tmp_path, payloads):
    path = payloads.write_raw(tmp_path / "evil.bin")
    with pytest.raises(CheckpointError, match="refused") as info:
        load_state_dict(path)
    assert str(path) in str(info.value)
    assert not payloads.marker.exists()


def test_malicious_pickle_nested_under_state_dict_is_refused(tmp_path, payloads):
    path = tmp_path / "evil.pt"
    from .helpers import TouchOnUnpickle

    torch.save({"state_dict": seeded_state(0), "extra": TouchOnUnpickle(payloads.marker)}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_state_dict(path)
    assert not payloads.marker.exists()


# -- broken and missing files ---------------------------------------------------------------------


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_truncated_torch_file(tmp_path):
    torch.save(seeded_state(0), tmp_path / "step_1.pt")
    path = _truncate(tmp_path / "step_1.pt")
    with pytest.raises(CheckpointError, match=r"truncated or corrupt|could not be read") as info:
        load_state_dict(path)
    assert str(path) in str(info.value)


def test_truncated_safetensors_file(tmp_path):
    save_file(seeded_state(0), tmp_path / "step_1.safetensors")
    path = _truncate(tmp_path / "step_1.safetensors")
    with pytest.raises(CheckpointError, match=r"truncated or corrupt|could not be read") as info:
        load_state_dict(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("name", ["garbage.pt", "garbage.safetensors"])
@pytest.mark.parametrize(
    "content", [b"\x00\x01 this is not a checkpoint " * 10, b""], ids=["garbage", "empty"]
)
def test_garbage_bytes(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_state_dict(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("name", ["absent.pt", "absent.safetensors"])
def test_missing_file(tmp_path, name):
    with pytest.raises(CheckpointError) as info:
        load_state_dict(tmp_path / name)
    assert str(tmp_path / name) in str(info.value)


def test_a_folder_is_not_a_file(tmp_path):
    (tmp_path / "dir.pt").mkdir()
    with pytest.raises(CheckpointError, match=r"dir\.pt"):
        load_state_dict(tmp_path / "dir.pt")


@pytest.mark.parametrize(
    "content",
    [
        [1, 2, 3],
        torch.zeros(3),
        {},
        {"state_dict": {}},
        {"weight": torch.zeros(2), "note": "not a tensor"},
        {"epoch": 3, "lr": 0.1},
    ],
    ids=["list", "bare-tensor", "empty-dict", "empty-nested", "mixed-values", "no-tensors"],
)
def test_not_a_state_dict(tmp_path, content):
    path = tmp_path / "odd.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError) as info:
        load_state_dict(path)
    assert str(path) in str(info.value)


def test_checkpoint_error_is_a_runtime_error():
    # Callers that catch RuntimeError (as torch's own loading errors are) still catch it.
    assert issubclass(CheckpointError, RuntimeError)


# -- Trainer folders: pickled side files are never opened -----------------------------------------

TRAINER_SIDE_FILES = (
    "optimizer.pt",
    "scheduler.pt",
    "training_args.bin",
    "rng_state.pth",
    "rng_state_1.pth",
)


def _trainer_folder_with_payloads(root, step, state, payloads):
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    save_file(state, folder / "model.safetensors")
    for name in TRAINER_SIDE_FILES:
        if name.endswith(".bin"):
            payloads.write_raw(folder / name)
        else:
            payloads.write_torch(folder / name, w=torch.zeros(1))
    return folder


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """The names of the files handed to ``torch.load`` or safetensors while the test runs."""
    import safetensors.torch

    seen: list[str] = []

    def spy(real):
        def wrapper(f, *args, **kwargs):
            seen.append(Path(f).name)
            return real(f, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(torch, "load", spy(torch.load))
    monkeypatch.setattr(safetensors.torch, "load_file", spy(safetensors.torch.load_file))
    return seen


def test_trainer_side_files_are_never_opened(tmp_path, payloads, opened):
    run = tmp_path / "run"
    states = {step: seeded_state(step) for step in (10, 20)}
    for step, state in states.items():
        _trainer_folder_with_payloads(run, step, state, payloads)

    folder = CheckpointFolder(run, model=small_net)
    assert [c.step for c in folder] == [10, 20]
    for ckpt in folder:
        ckpt.fingerprint()
        model = ckpt.load()
        assert_same_state(model.state_dict(), states[ckpt.step])
    assert not payloads.marker.exists()
    assert opened == ["model.safetensors", "model.safetensors"]


def test_trainer_side_files_at_the_top_of_a_folder_are_not_checkpoints(tmp_path, payloads):
    """A run folder that also holds ``optimizer.pt`` next to its weight files."""
    save_file(seeded_state(0), tmp_path / "step_5.safetensors")
    payloads.write_torch(tmp_path / "optimizer.pt", w=torch.zeros(1))
    payloads.write_torch(tmp_path / "scheduler.pt", w=torch.zeros(1))
    payloads.write_raw(tmp_path / "training_args.bin")
    folder = CheckpointFolder(tmp_path, model=small_net)
    assert [c.name for c in folder] == ["step_5.safetensors"]
    for ckpt in folder:
        ckpt.load()
    assert not payloads.marker.exists()


def test_malicious_pytorch_model_bin_in_trainer_folder_is_refused(tmp_path, payloads):
    folder = tmp_path / "run" / "checkpoint-3"
    folder.mkdir(parents=True)
    payloads.write_torch(folder / "pytorch_model.bin", **seeded_state(0))
    (ckpt,) = CheckpointFolder(tmp_path / "run", model=small_net)
    with pytest.raises(CheckpointError, match="refused"):
        ckpt.load()
    assert not payloads.marker.exists()


def test_malicious_weights_refused_before_transformers_sees_them(tmp_path, payloads):
    """Without a model factory transformers opens the folder: the pickle check runs first."""
    from tests.fixtures_hf import tiny_gpt_neox

    folder = tmp_path / "run" / "checkpoint-3"
    tiny_gpt_neox(0).save_pretrained(folder)
    (folder / "model.safetensors").unlink()
    payloads.write_torch(folder / "pytorch_model.bin", **tiny_gpt_neox(0).state_dict())
    (ckpt,) = CheckpointFolder(tmp_path / "run")
    with pytest.raises(CheckpointError, match="refused"):
        ckpt.load()
    assert not payloads.marker.exists()
