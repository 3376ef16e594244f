"""Hugging Face hub revisions of one model, such as Pythia's ``step0 … step143000`` branches."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

from .._validation import describe, fail
from .base import A_STEP, Checkpoint, Source, check_step, file_fingerprint, step_problem
from .loading import CheckpointError

#: Pythia's 154 checkpoint branches: 0, 1, 2, 4, …, 512, then every 1000 steps to 143000.
PYTHIA_STEPS: tuple[int, ...] = (0, *(2**i for i in range(10)), *range(1000, 143_001, 1000))


def _transformers():
    try:
        import transformers
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "Loading Hugging Face models needs the 'hf' extra: pip install 'repscope[hf]'"
        ) from None
    return transformers


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """transformers' own progress bars off while a checkpoint loads (``Loading weights`` per
    checkpoint would interleave with the scan's bar), restored after."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def auto_model_class(config_dir: str | Path | None = None, config: dict | None = None) -> Any:
    """The transformers class named in a ``config.json``'s ``architectures`` (else AutoModel)."""
    transformers = _transformers()
    if config is None and config_dir is not None and (Path(config_dir) / "config.json").is_file():
        config = json.loads((Path(config_dir) / "config.json").read_text())
    for name in (config or {}).get("architectures") or ():
        cls = getattr(transformers, name, None)
        if cls is not None:
            return cls
    return transformers.AutoModel


def _cached_commit(repo_id: str, revision: str, cache_dir: str | Path | None) -> str | None:
    """The commit a revision points to in the local hub cache (``refs/<revision>``), if cached."""
    from huggingface_hub import constants

    root = Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE)
    ref = root / f"models--{repo_id.replace('/', '--')}" / "refs" / revision
    return ref.read_text().strip() if ref.is_file() else None


class HubCheckpoint(Checkpoint):
    """One revision of a hub model, loaded with ``from_pretrained(repo_id, revision=…)``."""

    def __init__(
        self, step: int, repo_id: str, revision: str, model_class: Any, kwargs: dict[str, Any]
    ):
        self.step = check_step(step, func="HubCheckpoint")
        self.repo_id, self.revision = repo_id, revision
        self.model_class, self.kwargs = model_class, kwargs
        self.name = f"{repo_id}@{revision}"

    def fingerprint(self) -> str:
        """The content of the revision's weight files: in the hub cache an LFS file's blob is
        named by its sha256, so two revisions that serve the same weights (Pythia has some)
        get the same fingerprint. Online and not yet cached, the hub's own LFS sha256s; with
        neither, the commit (or the branch name) stands in."""
        cache_dir = self.kwargs.get("cache_dir")
        commit = _cached_commit(self.repo_id, self.revision, cache_dir)
        blobs = _cached_weight_blobs(self.repo_id, commit, cache_dir) if commit else None
        if blobs is None and not _offline():
            blobs, commit = _hub_weight_hashes(self.repo_id, self.revision, commit)
        if blobs:
            return (
                "sha256:"
                + hashlib.sha256(
                    "|".join(f"{name}={digest}" for name, digest in blobs).encode()
                ).hexdigest()
            )
        return f"hf:{self.repo_id}@{commit}" if commit else f"hf:{self.repo_id}@{self.revision}"

    def load(self) -> torch.nn.Module:
        transformers = _transformers()
        cls = self.model_class or transformers.AutoModelForCausalLM
        try:
            with quiet_loading():
                model = cls.from_pretrained(self.repo_id, revision=self.revision, **self.kwargs)
        except Exception as err:
            raise CheckpointError(
                f"{self.name}: could not be loaded ({type(err).__name__}: "
                f"{str(err).strip().splitlines()[0][:300] if str(err).strip() else ''})."
            ) from None
        return model.eval()


def _weight_names(names: list[str]) -> list[str]:
    """The files ``from_pretrained`` reads weights from: safetensors if any, else ``.bin``."""
    safetensors = sorted(n for n in names if n.endswith(".safetensors"))
    return safetensors or sorted(
        n for n in names if n.startswith("pytorch_model") and n.endswith(".bin")
    )


def _cached_weight_blobs(
    repo_id: str, commit: str, cache_dir: str | Path | None
) -> list[tuple[str, str]] | None:
    """``(file, blob sha256)`` of a cached snapshot's weight files, or ``None``."""
    from huggingface_hub import constants

    root = Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE)
    snapshot = root / f"models--{repo_id.replace('/', '--')}" / "snapshots" / commit
    if not snapshot.is_dir():
        return None
    names = _weight_names([p.name for p in snapshot.iterdir()])
    if not names:
        return None
    out = []
    for name in names:
        path = snapshot / name
        if path.is_symlink():  # the usual layout: a link into blobs/<sha256>
            out.append((name, Path(os.readlink(path)).name))
        else:  # a copy (no symlinks on this file system): hash the bytes
            out.append((name, file_fingerprint(path).split(":", 1)[-1]))
    return out


def _hub_weight_hashes(
    repo_id: str, revision: str, commit: str | None
) -> tuple[list[tuple[str, str]] | None, str | None]:
    """The hub's LFS sha256 of each weight file of a revision (one API call), and its commit."""
    try:
        from huggingface_hub import HfApi

        info = HfApi().model_info(repo_id, revision=revision, files_metadata=True)
    except Exception:
        return None, commit
    lfs = {
        s.rfilename: getattr(s.lfs, "sha256", None) if s.lfs else None for s in info.siblings or []
    }
    names = _weight_names(list(lfs))
    hashes = [(n, sha) for n in names if (sha := lfs[n])]
    if names and len(hashes) == len(names):
        return hashes, info.sha
    return None, info.sha or commit


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


class HubRevisions(Source):
    """Revisions of one model on the Hugging Face hub, one per training step.

    Parameters
    ----------
    repo_id : str
        E.g. ``"EleutherAI/pythia-70m"``.
    steps : sequence of int or "pythia", default "pythia"
        The steps to load; ``"pythia"`` is :data:`PYTHIA_STEPS`.
    revision : str, default "step{step}"
        How a step names its revision.
    model_class : transformers class, optional
        Default ``AutoModelForCausalLM``.
    run : str, optional
        The run's name in the store; default ``repo_id``.
    **from_pretrained : Any
        Passed to ``from_pretrained`` (``torch_dtype``, ``cache_dir``, …). Weights are read with
        safetensors where the repo has them, and never through arbitrary unpickling.

    Notes
    -----
    Set ``HF_HUB_OFFLINE=1`` to load only what the local cache holds.

    Examples
    --------
    >>> revs = HubRevisions("EleutherAI/pythia-70m", steps=[0, 512, 143000])
    >>> [c.revision for c in revs], revs.checkpoints[0].name
    (['step0', 'step512', 'step143000'], 'EleutherAI/pythia-70m@step0')
    """

    text_options: ClassVar[tuple[str, ...]] = ("steps", "revision", "run")

    def __init__(
        self,
        repo_id: str,
        *,
        steps: Sequence[int] | str = "pythia",
        revision: str = "step{step}",
        model_class: Any = None,
        run: str | None = None,
        **from_pretrained: Any,
    ):
        func = "HubRevisions"
        if not isinstance(repo_id, str) or not repo_id:
            fail(
                "repo_id",
                func,
                "a model id such as 'EleutherAI/pythia-70m'",
                describe(repo_id),
                error=TypeError,
            )
        if isinstance(steps, str):
            if steps != "pythia":
                fail("steps", func, "a sequence of ints or 'pythia'", repr(steps))
            steps = PYTHIA_STEPS
        try:
            given = list(steps) if not isinstance(steps, (bytes, dict)) else None
        except TypeError:  # not iterable
            given = None
        if given is None:
            fail("steps", func, "a sequence of ints or 'pythia'", describe(steps), error=TypeError)
        if not given:
            fail("steps", func, "a non-empty sequence of non-negative steps", describe(steps))
        for s in given:
            if step_problem(s) is not None:
                fail(
                    "steps",
                    func,
                    f"a sequence of steps, each {A_STEP}",
                    f"{describe(s)} in it, which is {step_problem(s)}",
                )
        steps = sorted({int(s) for s in given})
        if "{step}" not in revision:
            fail("revision", func, "a format string containing '{step}'", repr(revision))
        from_pretrained.setdefault("use_safetensors", None)
        self.repo_id, self.run, self.revision_format = repo_id, run or repo_id, revision
        self.checkpoints = [
            HubCheckpoint(s, repo_id, revision.format(step=s), model_class, from_pretrained)
            for s in steps
        ]

    @property
    def start(self) -> str:
        """``"init"`` when step 0 (a hub model's initialisation, as Pythia's ``step0``) is the
        first revision, else ``"pretrained"``."""
        return "init" if self.checkpoints and self.checkpoints[0].step == 0 else "pretrained"

    def describe(self) -> dict[str, str | None]:
        """The run's source as the store records it (``identity``: the hub id)."""
        cls = self.checkpoints[0].model_class if self.checkpoints else None
        return {
            "kind": "hub",
            "repo_id": self.repo_id,
            "revision": self.revision_format,
            "model": None if cls is None else f"{cls.__module__}:{cls.__qualname__}",
            "identity": f"hub {self.repo_id}",
        }

    def __iter__(self) -> Iterator[Checkpoint]:
        return iter(self.checkpoints)

    def __len__(self) -> int:
        return len(self.checkpoints)

    @classmethod
    def summary(cls, description: Mapping[str, Any]) -> str:
        """One line for a stored :meth:`describe`: ``hub EleutherAI/pythia-70m (step{step})``."""
        return f"hub {description.get('repo_id')} ({description.get('revision')})"

    @classmethod
    def from_text(
        cls,
        target: str,
        *,
        steps: Sequence[int] | str = "pythia",
        revision: str = "step{step}",
        run: str | None = None,
    ) -> HubRevisions:
        """The revisions of the model ``target`` (``repscope scan hf:org/name``); ``steps`` may
        be text, ``"pythia"`` or comma-separated steps (``"0,512,143000"``).

        Examples
        --------
        >>> [c.step for c in HubRevisions.from_text("org/name", steps="512, 0")]
        [0, 512]
        """
        if isinstance(steps, str) and steps != "pythia":
            parts = [part.strip() for part in steps.split(",")]
            if not all(part.isascii() and part.isdigit() for part in parts):
                fail(
                    "steps",
                    "HubRevisions.from_text",
                    "'pythia' or comma-separated non-negative integers ('0,512,143000')",
                    repr(steps),
                )
            steps = [int(part) for part in parts]
        return cls(target, steps=steps, revision=revision, run=run)
