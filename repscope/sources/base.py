"""What every source yields: checkpoints that know their step, fingerprint, and how to load."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from .loading import CheckpointError, load_state_dict

ModelFactory = Callable[[], torch.nn.Module]

#: Where a run starts: at initialisation, from a trained model (a fine-tune), or not known.
STARTS = ("init", "pretrained", "unknown")
#: How each start reads in a sentence (``repscope ls``, ``repscope.open``, a scan's report).
START_WORDS = {
    "init": "at initialisation",
    "pretrained": "from a trained model",
    "unknown": "from an unknown point (say --start init or pretrained)",
}


class Checkpoint:
    """One checkpoint of a run. Loading is lazy: nothing is read until :meth:`load`.

    Attributes
    ----------
    step : int
        The training step.
    name : str
        A human-readable name (a file name, a revision) used in messages.
    """

    step: int
    name: str

    def fingerprint(self) -> str:
        """A content hash of the checkpoint's weights (the store's key, with the step)."""
        raise NotImplementedError

    def load(self) -> torch.nn.Module:
        """The model in eval mode, on the CPU. Raises :class:`CheckpointError` if it cannot."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(step={self.step}, name={self.name!r})"


@runtime_checkable
class Source(Protocol):
    """Anything that yields checkpoints in step order and has a run name."""

    run: str

    def __iter__(self) -> Iterator[Checkpoint]: ...


def file_fingerprint(*paths: Path) -> str:
    """``sha256:<hex>`` of the files' bytes, in order (``missing:<path>`` if one is not there).

    The bytes, not the tensors: ``torch.save`` writes the file's name into its archive, so the
    same weights saved under two names hash differently (they are then measured twice).
    """
    stats = []
    for path in paths:
        if not path.is_file():
            return f"missing:{path}"
        st = path.stat()
        stats.append((str(path.resolve()), st.st_size, st.st_mtime_ns))
    key = tuple(stats)
    if key not in _FINGERPRINTS:  # hashed once per file version, not on every pending() call
        digest = hashlib.sha256()
        for path in paths:
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        _FINGERPRINTS[key] = "sha256:" + digest.hexdigest()
    return _FINGERPRINTS[key]


#: Content hashes by (path, size, mtime) of the files: a rewritten file is hashed again.
_FINGERPRINTS: dict[tuple, str] = {}


def tensor_bytes(tensor: torch.Tensor) -> bytes:
    """The raw bytes of a tensor in C order, from any device and of any dtype (bfloat16 and
    0-d tensors too): what the weights' and the probe's fingerprints hash.

    For a CPU tensor numpy can hold, the same bytes as ``tensor.numpy().tobytes()``.

    Examples
    --------
    >>> import torch
    >>> tensor_bytes(torch.tensor(1, dtype=torch.int16))
    b'\\x01\\x00'
    """
    flat = tensor.detach().to("cpu").resolve_conj().resolve_neg().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()


def state_fingerprint(state: dict[str, torch.Tensor]) -> str:
    """``sha256:<hex>`` of a state dict's names, dtypes, shapes and bytes.

    Any device and dtype (bfloat16 included) and 0-d tensors (BatchNorm's
    ``num_batches_tracked``): the bytes are read as ``uint8`` from a flat CPU copy.

    Examples
    --------
    >>> import torch
    >>> bn = torch.nn.BatchNorm1d(3)
    >>> state_fingerprint(bn.state_dict()) == state_fingerprint(bn.state_dict())
    True
    """
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name]
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor_bytes(tensor))
    return "sha256:" + digest.hexdigest()


def factory_spec(factory: ModelFactory | None) -> str | None:
    """``module:qualname`` of a model factory (its identity in the store), or ``None``."""
    if factory is None:
        return None
    module = getattr(factory, "__module__", None) or type(factory).__module__
    name = getattr(factory, "__qualname__", None) or type(factory).__qualname__
    return f"{module}:{name}"


def build_model(
    factory: ModelFactory, state: dict[str, torch.Tensor], where: str
) -> torch.nn.Module:
    """A fresh model from ``factory`` with ``state`` loaded strictly, in eval mode."""
    model = factory()
    if not isinstance(model, torch.nn.Module):
        raise CheckpointError(
            f"{where}: the model factory returned {type(model).__name__}, not a torch.nn.Module."
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{where}: the weights do not fit the model ({err}).") from None
    return model.eval()


class FileCheckpoint(Checkpoint):
    """A state dict in one file (``.safetensors``, ``.pt``, ``.pth``), loaded into ``model()``."""

    def __init__(self, step: int, path: str | Path, model: ModelFactory):
        self.step, self.path, self.model = int(step), Path(path), model
        self.name = self.path.name

    def fingerprint(self) -> str:
        return file_fingerprint(self.path)

    def load(self) -> torch.nn.Module:
        return build_model(self.model, load_state_dict(self.path), str(self.path))
