"""What a source is (`Source`: the contract the scan and the catalogue use) and what it yields:
checkpoints that know their step, fingerprint, and how to load."""

from __future__ import annotations

import hashlib
import numbers
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from .._validation import describe, fail
from .loading import CheckpointError, load_state_dict

ModelFactory = Callable[[], torch.nn.Module]

#: The largest step a store can hold: SQLite's INTEGER is a signed 64-bit integer.
MAX_STEP = 2**63 - 1
#: What a step must be, in messages.
A_STEP = f"a non-negative integer no larger than {MAX_STEP} (2**63 - 1, SQLite's INTEGER)"


def step_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a training step, or ``None`` when it can.

    A step is a non-negative integer that SQLite's INTEGER holds: a Python ``int``, a numpy
    integer, or a 0-d integer tensor — never a bool, a float (``5.9``, ``5.0``, ``inf``), a
    string or ``None``.

    Examples
    --------
    >>> step_problem(5), step_problem(-5), step_problem(True), step_problem(5.9)
    (None, 'negative', 'a bool, not an integer', 'not an integer (a float)')
    >>> step_problem(2**70)
    'larger than 2**63 - 1, the largest INTEGER SQLite holds'
    """
    if isinstance(value, torch.Tensor):
        if value.ndim != 0 or value.is_floating_point() or value.dtype == torch.bool:
            return f"not an integer (a tensor of shape {tuple(value.shape)}, {value.dtype})"
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        return "a bool, not an integer"
    if not isinstance(value, numbers.Integral):
        return f"not an integer (a {type(value).__name__})"
    value = int(value)
    if value < 0:
        return "negative"
    if value > MAX_STEP:
        return "larger than 2**63 - 1, the largest INTEGER SQLite holds"
    return None


def check_step(value: Any, *, func: str, name: str = "step") -> int:
    """``value`` as an ``int`` step, or the house error naming ``name`` of ``func``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> check_step(np.int64(7), func="f"), check_step(torch.tensor(8), func="f")
    (7, 8)
    >>> check_step(2.5, func="f")
    Traceback (most recent call last):
    ...
    TypeError: The 'step' argument of f must be a non-negative integer ...; got 2.5.
    """
    problem = step_problem(value)
    if problem is not None:
        out_of_range = problem.startswith(("negative", "larger"))
        fail(name, func, A_STEP, describe(value), error=ValueError if out_of_range else TypeError)
    return int(value)


def safe_name(text: str | os.PathLike) -> str:
    """A file name or path as text that can be stored and printed: bytes that are not UTF-8
    (Linux hands them over as lone surrogates, ``os.fsdecode``) become ``\\xff`` escapes.

    Examples
    --------
    >>> import os
    >>> safe_name(os.fsdecode(b"run-\\xff"))
    'run-\\\\xff'
    >>> safe_name("café")
    'café'
    """
    text = os.fspath(text)
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


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


class Source(ABC):
    """The checkpoints of one run, and what the scan and the catalogue ask of them.

    Every source the command line and the catalogue know is a subclass, named by a scheme in
    :data:`repscope.sources.registry.SOURCES` (``repscope scan hf:org/name``, a folder's path).
    A subclass defines :attr:`run`, :meth:`__iter__`, :meth:`__len__` and :meth:`describe`;
    :meth:`scalars`, :attr:`skipped`, :attr:`start`, :meth:`summary` and :meth:`from_text` have
    defaults. ``tests/sources/test_contract.py`` checks every registered class against this
    contract with real checkpoints.

    Attributes
    ----------
    run : str
        The run's name in the store.
    text_options : tuple of str
        The keyword options :meth:`from_text` reads (the command line passes each source
        only the options it names).

    Examples
    --------
    A source of two checkpoints of one small model, saved in a temporary folder:

    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> class Pair(Source):
    ...     def __init__(self, folder, *, run=None):
    ...         self.run = run or "pair"
    ...         self.checkpoints = [
    ...             FileCheckpoint(s, Path(folder) / f"step_{s}.pt", lambda: torch.nn.Linear(2, 2))
    ...             for s in (0, 5)
    ...         ]
    ...     def __iter__(self):
    ...         return iter(self.checkpoints)
    ...     def __len__(self):
    ...         return len(self.checkpoints)
    ...     def describe(self):
    ...         return {"kind": "pair", "identity": f"pair {self.run}"}
    >>> pair = Pair(tempfile.mkdtemp())
    >>> len(pair), [c.step for c in pair], pair.start, pair.skipped, list(pair.scalars())
    (2, [0, 5], 'unknown', [], [])
    >>> Pair.summary(pair.describe())
    'pair pair'
    """

    run: str
    text_options: ClassVar[tuple[str, ...]] = ("run",)

    @abstractmethod
    def __iter__(self) -> Iterator[Checkpoint]:
        """The checkpoints, in ascending step order, one per step."""

    @abstractmethod
    def __len__(self) -> int:
        """How many checkpoints :meth:`__iter__` yields."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The source as the store records it: a JSON-able mapping whose ``"kind"`` is a scheme
        of :data:`~repscope.sources.registry.SOURCES` naming this class, and whose
        ``"identity"`` names the source (two sources of different identity are refused under
        one run name, :meth:`repscope.store.Store.describe_run`)."""

    def scalars(self) -> Iterable[tuple[int, str, float]]:
        """Training scalars as ``(step, name, value)`` (loss, learning rate, …); none here."""
        return ()

    @cached_property
    def skipped(self) -> list[tuple[str, str]]:
        """What holds weights but was left out, as ``(name, reason)``; none here. A subclass
        may assign its own list (``self.skipped = [...]``)."""
        return []

    @property
    def start(self) -> str:
        """Where the run starts, one of :data:`STARTS`; ``"unknown"`` here."""
        return "unknown"

    @classmethod
    def summary(cls, description: Mapping[str, Any]) -> str:
        """One line for a stored :meth:`describe` (``repscope ls``, ``repscope.open``): its
        ``identity`` here, else its ``kind``."""
        return str(description.get("identity") or description.get("kind") or "(not recorded)")

    @classmethod
    def from_text(cls, target: str, *, run: str | None = None) -> Source:
        """The source that ``target`` (the text after ``scheme:``) names. A subclass that reads
        more :attr:`text_options` takes them as keyword options, as text (what a command line
        holds); here ``cls(target, run=run)``."""
        return cls(target, run=run)  # type: ignore[call-arg]


def file_fingerprint(*paths: Path) -> str:
    """``sha256:<hex>`` of the files' bytes, in order (``missing:<path>`` if one is not there,
    the path :func:`safe_name`).

    The bytes, not the tensors: ``torch.save`` writes the file's name into its archive, so the
    same weights saved under two names hash differently (they are then measured twice).
    """
    stats = []
    for path in paths:
        if not path.is_file():
            return f"missing:{safe_name(path)}"
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
        self.step = check_step(step, func="FileCheckpoint")
        self.path, self.model = Path(path), model
        self.name = safe_name(self.path.name)

    def fingerprint(self) -> str:
        return file_fingerprint(self.path)

    def load(self) -> torch.nn.Module:
        return build_model(self.model, load_state_dict(self.path), str(self.path))
