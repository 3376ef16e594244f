"""Hugging Face hub revisions of one model, such as Pythia's ``step0 … step143000`` branches."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from .._validation import _describe, fail
from .base import Checkpoint
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

    def __init__(self, step: int, repo_id: str, revision: str, model_class: Any,
                 kwargs: dict[str, Any]):
        self.step, self.repo_id, self.revision = int(step), repo_id, revision
        self.model_class, self.kwargs = model_class, kwargs
        self.name = f"{repo_id}@{revision}"

    def fingerprint(self) -> str:
        commit = _cached_commit(self.repo_id, self.revision, self.kwargs.get("cache_dir"))
        if commit is None and not _offline():
            try:
                from huggingface_hub import HfApi

                commit = HfApi().model_info(self.repo_id, revision=self.revision).sha
            except Exception:
                commit = None
        # A commit hash names the content exactly; without one, the branch name stands in for it.
        return f"hf:{self.repo_id}@{commit}" if commit else f"hf:{self.repo_id}@{self.revision}"

    def load(self) -> torch.nn.Module:
        transformers = _transformers()
        cls = self.model_class or transformers.AutoModelForCausalLM
        try:
            model = cls.from_pretrained(self.repo_id, revision=self.revision, **self.kwargs)
        except Exception as err:
            raise CheckpointError(
                f"{self.name}: could not be loaded ({type(err).__name__}: "
                f"{str(err).strip().splitlines()[0][:300] if str(err).strip() else ''})."
            ) from None
        return model.eval()


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


class HubRevisions:
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

    Set ``HF_HUB_OFFLINE=1`` to load only what the local cache holds.

    Examples
    --------
    >>> revs = HubRevisions("EleutherAI/pythia-70m", steps=[0, 512, 143000])
    >>> [c.revision for c in revs], revs.checkpoints[0].name
    (['step0', 'step512', 'step143000'], 'EleutherAI/pythia-70m@step0')
    """

    def __init__(self, repo_id: str, *, steps: Sequence[int] | str = "pythia",
                 revision: str = "step{step}", model_class: Any = None, run: str | None = None,
                 **from_pretrained: Any):
        func = "HubRevisions"
        if not isinstance(repo_id, str) or not repo_id:
            fail("repo_id", func, "a model id such as 'EleutherAI/pythia-70m'", _describe(repo_id),
                 error=TypeError)
        if isinstance(steps, str):
            if steps != "pythia":
                fail("steps", func, "a sequence of ints or 'pythia'", repr(steps))
            steps = PYTHIA_STEPS
        steps = sorted({int(s) for s in steps})
        if not steps or steps[0] < 0:
            fail("steps", func, "a non-empty sequence of non-negative steps", _describe(steps))
        if "{step}" not in revision:
            fail("revision", func, "a format string containing '{step}'", repr(revision))
        from_pretrained.setdefault("use_safetensors", None)
        self.repo_id, self.run = repo_id, run or repo_id
        self.checkpoints = [
            HubCheckpoint(s, repo_id, revision.format(step=s), model_class, from_pretrained)
            for s in steps
        ]

    def __iter__(self) -> Iterator[Checkpoint]:
        return iter(self.checkpoints)

    def __len__(self) -> int:
        return len(self.checkpoints)
