"""Safe loading of weights: safetensors first, ``torch.load(weights_only=True)`` otherwise.

Nothing here unpickles arbitrary objects: a ``.pt`` file that needs more than tensors and plain
containers to load is refused (it could run code), and optimizer states, schedulers and training
arguments in a Trainer checkpoint are never opened.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

#: Weight files of a Hugging Face checkpoint folder, in the order they are preferred.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: Files in a Trainer checkpoint that hold pickles or state repscope never needs.
NEVER_OPENED = ("optimizer.pt", "scheduler.pt", "training_args.bin", "rng_state.pth")
#: Keys under which training scripts commonly nest the model's state dict.
NESTED_KEYS = ("state_dict", "model_state_dict", "model", "module")


class CheckpointError(RuntimeError):
    """A checkpoint could not be loaded; the message names the checkpoint and the reason."""


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a state dict from ``*.safetensors`` or a ``torch.save`` file, safely, onto the CPU.

    Parameters
    ----------
    path : str or Path
        A ``.safetensors`` file, or a ``.pt``/``.pth``/``.bin`` file written by ``torch.save``.

    Returns
    -------
    dict of str to torch.Tensor
        Unwrapped from ``{"state_dict": …}``/``{"model": …}`` when the file nests it.

    Raises
    ------
    CheckpointError
        The file is missing, truncated or corrupt, or would need arbitrary unpickling.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file.")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path}: refused — loading it would unpickle objects that can run code "
            f"(torch.load with weights_only=True said: {_first_line(err)}). Save the weights "
            "with safetensors or as a plain state dict."
        ) from None
    except (RuntimeError, OSError, EOFError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(f"{path}: truncated or corrupt ({_first_line(err)}).") from None
    except Exception as err:  # safetensors raises its own error types
        raise CheckpointError(f"{path}: could not be read ({_first_line(err)}).") from None
    return _unwrap(state, path)


def _unwrap(state: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(state, Mapping):
        for key in NESTED_KEYS:
            inner = state.get(key)
            if isinstance(inner, Mapping) and inner and _all_tensors(inner):
                return dict(inner)
        if state and _all_tensors(state):
            return dict(state)
    raise CheckpointError(
        f"{path}: holds {type(state).__name__}, not a state dict of tensors "
        f"(looked inside {', '.join(NESTED_KEYS)} too)."
    )


def _all_tensors(mapping: Mapping) -> bool:
    return all(isinstance(v, torch.Tensor) for v in mapping.values())


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__


def weight_files(folder: str | Path) -> list[Path]:
    """The weight files of a Hugging Face checkpoint folder: one file, or every shard.

    Safetensors are preferred; shards are read from ``*.index.json``'s ``weight_map``.
    """
    folder = Path(folder)
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return [folder / name]
        index = folder / f"{name}.index.json"
        if index.is_file():
            try:
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                raise CheckpointError(f"{index}: unreadable shard index ({err}).") from None
            return [folder / shard for shard in shards]
    raise CheckpointError(
        f"{folder}: no weights ({' or '.join(WEIGHT_FILES)}, or their shards) in this "
        "checkpoint folder."
    )


def load_state_dicts(paths: list[Path]) -> dict[str, torch.Tensor]:
    """:func:`load_state_dict` of every shard, merged into one state dict."""
    state: dict[str, torch.Tensor] = {}
    for path in paths:
        state.update(load_state_dict(path))
    return state
