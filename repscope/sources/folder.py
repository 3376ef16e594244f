"""Checkpoints in a folder: weight files, or Hugging Face Trainer ``checkpoint-<step>/`` folders."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch

from .._validation import RepscopeWarning, check_option, describe, fail, warn
from .base import (
    STARTS,
    Checkpoint,
    FileCheckpoint,
    ModelFactory,
    Source,
    build_model,
    check_step,
    factory_spec,
    file_fingerprint,
    safe_name,
    step_problem,
)
from .loading import WEIGHT_FILES, CheckpointError, load_state_dicts, weight_files

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")
_STEP = re.compile(
    r"(?:^|[^a-z])(?:global_step|steps?|checkpoint|ckpt|iter|iteration)[-_=]?(\d+)(?!\d)", re.I
)
_NUMBER = re.compile(r"\d+")
#: Training scalars read from a Trainer's ``log_history`` (besides every ``eval_*`` metric).
TRAINER_SCALARS = ("loss", "learning_rate", "grad_norm")


def is_training_scalar(name: str, value: Any) -> bool:
    """Whether a Trainer log entry is a training scalar the widgets draw: the loss, learning
    rate, gradient norm and the ``eval_*`` metrics, not the timing (``*_runtime``,
    ``*_per_second``) nor anything that is not a number. The scan and the live callback both
    keep what this keeps."""
    wanted = name in TRAINER_SCALARS or (
        name.startswith("eval_") and "runtime" not in name and "per_second" not in name
    )
    if not wanted or not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        float(value)
    except OverflowError:  # an integer beyond any float (10**400 in a JSON log)
        return False
    return True


def step_from_name(name: str) -> int | None:
    """The step in a name like ``step_1000.pt``, ``checkpoint-500`` or ``00042.safetensors``.

    A number counts only after a keyword (``step``, ``checkpoint``, ``ckpt``, ``iter``,
    ``global_step``; the last one wins) or as the whole name, so ``resnet50.pt`` has no step.
    Dots before the file's suffix are part of the name (``run.v2.step_4.safetensors``,
    ``lr0.001_step_5.pt``), and suffixes are matched in any case (``step_8.PT``).

    Examples
    --------
    >>> step_from_name("checkpoint-500"), step_from_name("vit16_step=12.pt"), step_from_name("x")
    (500, 12, None)
    >>> step_from_name("run.v2.step_4.safetensors"), step_from_name("lr0.001_step_5.pt")
    (4, 5)
    """
    stem = name
    suffix = Path(name).suffix
    if suffix.lower() in (*WEIGHT_SUFFIXES, ".bin"):
        stem = name[: -len(suffix)]
    matches = _STEP.findall(stem)
    if matches:
        return int(matches[-1])
    return int(stem) if _NUMBER.fullmatch(stem) else None


class SkippedCheckpointWarning(RepscopeWarning):
    """Files or folders in a checkpoint folder held weights but were left out (the reason is
    in the message and in ``CheckpointFolder.skipped``)."""


class TrainerStateWarning(RepscopeWarning):
    """A Trainer's ``trainer_state.json`` could not be read (the training scalars then come
    from the next one that can, or there are none); the message names the file and why."""


class TrainerCheckpoint(Checkpoint):
    """A Hugging Face Trainer ``checkpoint-<step>/`` folder.

    With ``model`` given, its weight file is loaded into ``model()``; otherwise the folder is
    opened with ``transformers.AutoModel.from_pretrained`` (needs the ``hf`` extra). Optimizer,
    scheduler, RNG state and training arguments are never opened.
    """

    def __init__(self, step: int, folder: Path, model: ModelFactory | None):
        self.step = check_step(step, func="TrainerCheckpoint")
        self.folder, self.model = Path(folder), model
        self.name = safe_name(self.folder.name)

    def fingerprint(self) -> str:
        try:
            return file_fingerprint(*weight_files(self.folder))
        except CheckpointError:
            return f"missing:{safe_name(self.folder)}"

    def load(self) -> torch.nn.Module:
        paths = weight_files(self.folder)
        template = self.model() if self.model is not None else None
        if template is not None and not hasattr(template, "save_pretrained"):
            return build_model(lambda: template, load_state_dicts(paths), str(self.folder))
        if any(p.suffix != ".safetensors" for p in paths):
            load_state_dicts(paths)  # pickles are refused here, before transformers opens them
        # A transformers model: its loader maps on-disk tensor names to the module's.
        from .hub import auto_model_class, quiet_loading

        try:
            # a transformers model class, either way (the template has save_pretrained)
            cls: Any = type(template) if template is not None else auto_model_class(self.folder)
            extra = {"config": template.config} if template is not None else {}
            with quiet_loading():
                return cls.from_pretrained(
                    self.folder, **extra, use_safetensors=paths[0].suffix == ".safetensors"
                ).eval()
        except Exception as err:
            raise CheckpointError(
                f"{self.folder}: transformers could not load it ({err})."
            ) from None


def pretrained_name(folder: Path) -> str | None:
    """The model a Trainer checkpoint was fine-tuned from: its ``config.json``'s
    ``_name_or_path`` (set by ``from_pretrained``; empty for a model built from a config), or
    ``None``."""
    try:
        name = json.loads((folder / "config.json").read_text()).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) and name.strip() else None


def read_trainer_state(path: Path) -> tuple[dict[str, Any] | None, str]:
    """A ``trainer_state.json`` as a mapping, or ``None`` and why it cannot be read."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        return None, f"cannot be read ({err.strerror})"
    except UnicodeDecodeError as err:
        return None, f"is not UTF-8 text (byte {err.start})"
    except ValueError as err:  # json.JSONDecodeError, and a number too long to convert
        return None, f"is not valid JSON ({err})"
    if not isinstance(state, dict):
        return None, f"holds {describe(state)}, not a JSON object"
    return state, ""


def _trainer_step(folder: Path) -> tuple[int | None, str]:
    """The ``global_step`` of a folder's ``trainer_state.json``, or ``None`` and why not."""
    state_file = folder / "trainer_state.json"
    if not state_file.is_file():
        return None, "no step in its name (checkpoint-<n>) and no trainer_state.json"
    state, why = read_trainer_state(state_file)
    if state is None:
        return None, f"no step in its name, and its trainer_state.json {why}"
    if "global_step" not in state:
        return None, "no step in its name, and no global_step in its trainer_state.json"
    step = state["global_step"]
    problem = step_problem(step)
    if problem is not None:
        return None, f"the global_step in its trainer_state.json, {describe(step)}, is {problem}"
    return int(step), ""


def _holds_weights(folder: Path) -> bool:
    """Whether a folder holds a model's weights as a Trainer saves them (one file or shards)."""
    return any(
        (folder / name).is_file() or (folder / f"{name}.index.json").is_file()
        for name in WEIGHT_FILES
    )


def factory_from_spec(spec: str, *, func: str = "factory_from_spec") -> ModelFactory:
    """The model factory that ``"MODULE:FUNCTION"`` names (the inverse of
    :func:`~repscope.sources.base.factory_spec`, which the store records).

    Examples
    --------
    >>> factory_from_spec("torch.nn:Identity")()
    Identity()
    >>> factory_from_spec("torch.nn")
    Traceback (most recent call last):
    ...
    ValueError: The 'model' argument of factory_from_spec must be MODULE:FUNCTION ...; got ...
    """
    module, _, name = spec.partition(":")
    expected = "MODULE:FUNCTION naming a function that returns a fresh torch.nn.Module"
    if not module or not name:
        fail("model", func, expected, repr(spec))
    try:
        found: Any = importlib.import_module(module)
    except ImportError as err:
        fail("model", func, expected, f"{spec!r}, whose module cannot be imported ({err})")
    for part in name.split("."):
        found = getattr(found, part, None)
    if found is None or not callable(found):
        fail("model", func, expected, f"{spec!r}: module {module!r} has no function {name!r}")
    return found


class CheckpointFolder(Source):
    """The checkpoints of one run, in a folder.

    Parameters
    ----------
    path : str or Path
        A folder holding ``*.safetensors`` / ``*.pt`` / ``*.pth`` state dicts, or Hugging Face
        Trainer ``checkpoint-<step>/`` folders.
    model : callable returning torch.nn.Module, optional
        Builds a fresh model for the weights. Required for weight files; optional for Trainer
        folders (default: ``transformers`` reads the folder's ``config.json``). Use a
        module-level function (not a lambda) to scan with a process pool.
    run : str, optional
        The run's name in the store; default the folder's name.
    start : {"init", "pretrained", "unknown"}, optional
        Where the run starts, when you know better than the folder (see :attr:`start`).

    Notes
    -----
    The step of each checkpoint is read from its name (``step_1000.pt``, ``checkpoint-500``), or
    from ``trainer_state.json`` for a Trainer folder whose name has none. A step is a
    non-negative integer SQLite can hold (at most 2**63 - 1). A weight file or a folder holding
    weights whose step cannot be read (no step, a ``global_step`` of ``Infinity``, ``true``,
    ``-5`` or ``5.9``, a step too large) is left out and listed in :attr:`skipped` with the
    reason, with a :class:`SkippedCheckpointWarning`; the other checkpoints are scanned.
    Names that are not valid UTF-8 are kept as escapes (``run-\\xff``) in the run's name,
    the checkpoints' names and the store.

    Examples
    --------
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> for step in (10, 2):
    ...     torch.save(torch.nn.Linear(3, 2).state_dict(), folder / f"step_{step}.pt")
    >>> [c.step for c in CheckpointFolder(folder, model=lambda: torch.nn.Linear(3, 2))]
    [2, 10]
    """

    text_options: ClassVar[tuple[str, ...]] = ("model", "run")

    def __init__(
        self,
        path: str | Path,
        *,
        model: ModelFactory | None = None,
        run: str | None = None,
        start: str | None = None,
    ):
        self.path = Path(path)
        if start is not None:
            check_option(start, name="start", func="CheckpointFolder", options=STARTS)
        self._start = start
        if not self.path.is_dir():
            fail(
                "path", "CheckpointFolder", "an existing folder of checkpoints", describe(str(path))
            )
        if model is not None and (not callable(model) or isinstance(model, torch.nn.Module)):
            fail(
                "model",
                "CheckpointFolder",
                "a callable that returns a fresh torch.nn.Module (a factory, not a model)",
                describe(model),
                error=TypeError,
            )
        self.model = model
        self.run = run or safe_name(self.path.resolve().name)
        #: Weight files and folders holding weights that were left out, and why
        #: (``[(name, reason)]``).
        self.skipped: list[tuple[str, str]] = []
        self.checkpoints = self._find()
        if self.skipped:
            shown = "; ".join(f"{name}: {why}" for name, why in self.skipped[:5])
            more = f" (and {len(self.skipped) - 5} more)" if len(self.skipped) > 5 else ""
            warn(
                f"CheckpointFolder({safe_name(self.path)!r}) skipped {len(self.skipped)} "
                f"file(s): {shown}{more}. See .skipped.",
                category=SkippedCheckpointWarning,
            )

    def _find(self) -> list[Checkpoint]:
        found: dict[int, Checkpoint] = {}
        for entry in sorted(self.path.iterdir()):
            ckpt = self._checkpoint(entry)
            if ckpt is None:
                continue
            if ckpt.step in found:
                raise ValueError(
                    f"The 'path' argument of CheckpointFolder must hold one checkpoint per step; "
                    f"got step {ckpt.step} twice ({found[ckpt.step].name}, {ckpt.name})."
                )
            found[ckpt.step] = ckpt
        if not found:
            fail(
                "path",
                "CheckpointFolder",
                "a folder with *.safetensors, *.pt, *.pth files or checkpoint-<step>/ folders",
                f"{self.path} with none",
            )
        return [found[s] for s in sorted(found)]

    def _checkpoint(self, entry: Path) -> Checkpoint | None:
        if entry.is_dir():
            step = step_from_name(entry.name) if entry.name.startswith("checkpoint") else None
            why = _name_step_problem(step)
            if step is None:
                step, why = _trainer_step(entry)
            if step is None or why:
                if _holds_weights(entry):  # a folder without weights is no checkpoint
                    self.skipped.append((safe_name(entry.name), why))
                return None
            return TrainerCheckpoint(step, entry, self.model)
        if entry.suffix.lower() not in WEIGHT_SUFFIXES or entry.name in (
            "optimizer.pt",
            "scheduler.pt",
        ):
            return None
        step = step_from_name(entry.name)
        if step is None:
            self.skipped.append(
                (
                    safe_name(entry.name),
                    f"no step in its name (name it step_<n>{entry.suffix}, or checkpoint-<n>)",
                )
            )
            return None
        if _name_step_problem(step):
            self.skipped.append((safe_name(entry.name), _name_step_problem(step)))
            return None
        if self.model is None:
            fail(
                "model",
                "CheckpointFolder",
                "a model factory when the folder holds bare weight files",
                "None",
            )
        return FileCheckpoint(step, entry, self.model)

    def __iter__(self) -> Iterator[Checkpoint]:
        return iter(self.checkpoints)

    def __len__(self) -> int:
        return len(self.checkpoints)

    @property
    def start(self) -> str:
        """Where the run starts, as the folder tells: ``"pretrained"`` when its first checkpoint
        is a trained model — a Trainer ``config.json`` whose ``_name_or_path`` names the model it
        was loaded from (``from_pretrained``), or a first step above 0 — else ``"unknown"`` (a
        step-0 file may be an initialisation or not: say so with ``start="init"``)."""
        if self._start is not None:
            return self._start
        first = self.checkpoints[0]
        if isinstance(first, TrainerCheckpoint) and pretrained_name(first.folder):
            return "pretrained"
        return "pretrained" if first.step > 0 else "unknown"

    def describe(self) -> dict[str, str | None]:
        """The run's source as the store records it; ``identity`` (the folder's absolute path
        and the model factory) keeps two sources from mixing under one run name."""
        path, model = safe_name(self.path.resolve()), factory_spec(self.model)
        return {
            "kind": "folder",
            "path": path,
            "model": model,
            "identity": f"folder {path}" + (f" with model {model}" if model else ""),
        }

    @classmethod
    def summary(cls, description: Mapping[str, Any]) -> str:
        """One line for a stored :meth:`describe`: ``folder /a/ckpts, model pkg:make``."""
        model = description.get("model")
        return f"folder {description.get('path')}" + (f", model {model}" if model else "")

    @classmethod
    def from_text(
        cls, target: str, *, model: str | ModelFactory | None = None, run: str | None = None
    ) -> CheckpointFolder:
        """The folder at ``target``; ``model`` may be ``"MODULE:FUNCTION"`` text
        (:func:`factory_from_spec`), as ``repscope scan --model`` gives it."""
        if isinstance(model, str):
            model = factory_from_spec(model, func="CheckpointFolder.from_text")
        return cls(target, model=model, run=run)

    def scalars(self) -> list[tuple[int, str, float]]:
        """Training scalars from the newest readable Trainer ``trainer_state.json``'s
        ``log_history``: ``(step, name, value)`` for the loss, learning rate, gradient norm and
        every ``eval_*`` metric (``[]`` for a folder of weight files).

        A ``trainer_state.json`` that cannot be read (not JSON, not an object, a
        ``log_history`` that is not a list) gives no scalars: the next newest is read instead,
        with a :class:`TrainerStateWarning` naming the file and the reason. Log entries whose
        ``step`` is not a step (see :func:`~repscope.sources.base.step_problem`) are left out.
        """
        states = [
            c.folder / "trainer_state.json"
            for c in reversed(self.checkpoints)
            if isinstance(c, TrainerCheckpoint)
        ] + [self.path / "trainer_state.json"]
        unreadable: list[str] = []
        found: list[tuple[int, str, float]] | None = None
        for state in states:
            if not state.is_file():
                continue
            history = _log_history(state)
            if isinstance(history, str):
                unreadable.append(f"{safe_name(state)} {history}")
                continue
            found = history
            break
        if unreadable:
            instead = (
                f"the training scalars were read from {safe_name(state)}"
                if found is not None
                else "no training scalars were read"
            )
            warn(f"{'; '.join(unreadable)}: {instead}.", category=TrainerStateWarning)
        return found or []


def _name_step_problem(step: int | None) -> str:
    """Why a step read from a name cannot be a step ('' when it can, or there is none)."""
    problem = step_problem(step) if step is not None else None
    return f"the step in its name, {step}, is {problem}" if problem else ""


def _log_history(path: Path) -> list[tuple[int, str, float]] | str:
    """The training scalars of one ``trainer_state.json``, or why it cannot be read."""
    state, why = read_trainer_state(path)
    if state is None:
        return why
    history = state.get("log_history")
    if history is None:
        return []
    if not isinstance(history, list):
        return f"has a log_history of {describe(history)}, not a list"
    out = []
    for entry in history:
        step = entry.get("step") if isinstance(entry, dict) else None
        if not isinstance(step, int) or step_problem(step) is not None:
            continue
        for name, value in entry.items():
            if is_training_scalar(name, value):
                out.append((int(step), name, float(value)))
    return out
