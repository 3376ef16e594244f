"""A real Hugging Face hub cache, built offline from tiny GPTNeoX models.

``huggingface_hub`` keeps one cache folder per repository::

    <cache>/models--<org>--<name>/
        blobs/<hash>                      file contents, stored once
        snapshots/<commit>/<file>         relative symlinks into ../../blobs/
        refs/<branch>                     the commit a branch points to

:func:`build_hub_cache` writes that layout for several revisions (``step0``, ``step1``, … as
Pythia names them), so that ``from_pretrained(repo_id, revision="step1", cache_dir=...)`` loads
them with ``HF_HUB_OFFLINE=1`` and no network. Reused by the source, scan and benchmark tests::

    from tests.fixtures_hf import build_hub_cache, tiny_gpt_neox, hub_cache
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

TINY_CONFIG = dict(
    vocab_size=64,
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=64,
)
#: The revisions the ``hub_cache`` fixture builds, one seed (and so one set of weights) each.
HUB_STEPS = (0, 1, 2, 4)
HUB_REPO = "org/tiny"


def tiny_config():
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(**TINY_CONFIG)


def tiny_gpt_neox(seed: int = 0):
    """A freshly initialised tiny ``GPTNeoXForCausalLM`` (eval mode); ``seed`` picks its weights."""
    from transformers import GPTNeoXForCausalLM

    torch.manual_seed(seed)
    return GPTNeoXForCausalLM(tiny_config()).eval()


def _repo_folder(root: Path, repo_id: str) -> Path:
    return Path(root) / f"models--{repo_id.replace('/', '--')}"


def _write_blob(blobs: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    blob = blobs / digest
    if not blob.exists():
        blob.write_bytes(data)
    return digest


def _link(target_blob: str, where: Path, symlinks: bool, blobs: Path) -> None:
    if symlinks:
        # huggingface_hub links snapshots/<commit>/<file> -> ../../blobs/<hash>
        where.symlink_to(os.path.join("..", "..", "blobs", target_blob))
    else:
        where.write_bytes((blobs / target_blob).read_bytes())


def _pretrained_files(state: Mapping[str, torch.Tensor], config) -> dict[str, bytes]:
    """The files ``save_pretrained`` writes for ``state`` (what a hub repository holds)."""
    import tempfile

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(state, strict=True)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        return {p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir()) if p.is_file()}


def _raw_files(state: Mapping[str, torch.Tensor] | None, config) -> dict[str, bytes]:
    """``config.json`` and the state dict itself as ``model.safetensors`` (names unchanged)."""
    from safetensors.torch import save

    config_dict = config.to_dict()
    config_dict["architectures"] = config_dict.get("architectures") or ["GPTNeoXForCausalLM"]
    files = {"config.json": json.dumps(config_dict, indent=2, sort_keys=True).encode()}
    if state is not None:
        # Tied or shared tensors must not alias in a safetensors file: clone each one.
        tensors = {k: v.detach().to("cpu").clone().contiguous() for k, v in state.items()}
        files["model.safetensors"] = save(tensors, metadata={"format": "pt"})
    return files


def build_hub_cache(
    root: str | Path,
    repo_id: str,
    revisions: Mapping[str, Mapping[str, torch.Tensor] | None],
    *,
    config=None,
    save_pretrained: bool = True,
    symlinks: bool = True,
    extra_files: Mapping[str, Mapping[str, bytes]] | None = None,
) -> dict[str, str]:
    """Write a Hugging Face hub cache for ``repo_id`` under ``root``, one snapshot per revision.

    Parameters
    ----------
    root : path
        The cache folder (what ``HF_HUB_CACHE`` or ``cache_dir=`` points to).
    repo_id : str
        ``"org/name"``.
    revisions : mapping of revision name to state dict (or None)
        E.g. ``{"step0": model0.state_dict(), "step1": …}``. ``None``: a snapshot with only
        ``config.json`` (add weights through ``extra_files``).
    config : transformers config, optional
        The model's config (default: the tiny GPTNeoX of :func:`tiny_gpt_neox`).
    save_pretrained : bool, default True
        Write each revision's files with ``save_pretrained`` (``config.json``,
        ``generation_config.json``, ``model.safetensors`` with the on-disk tensor names that
        transformers uses, as a hub repository holds them). ``False`` writes ``config.json`` and
        the state dict as it is.
    symlinks : bool, default True
        Link snapshot files to blobs as ``huggingface_hub`` does; ``False`` copies them.
    extra_files : mapping of revision name to {file name: bytes}, optional
        More files in a revision's snapshot (e.g. a ``pytorch_model.bin``).

    Returns
    -------
    dict of revision name to commit hash (40 hex digits)
    """
    config = config if config is not None else tiny_config()
    repo = _repo_folder(Path(root), repo_id)
    blobs, snapshots, refs = repo / "blobs", repo / "snapshots", repo / "refs"
    for folder in (blobs, snapshots, refs):
        folder.mkdir(parents=True, exist_ok=True)

    commits: dict[str, str] = {}
    for revision, state in revisions.items():
        if save_pretrained and state is not None:
            files = _pretrained_files(state, config)
        else:
            files = _raw_files(state, config)
        files.update((extra_files or {}).get(revision, {}))
        blob_of = {name: _write_blob(blobs, data) for name, data in files.items()}
        commit = hashlib.sha1(
            (revision + "|" + "|".join(f"{n}={h}" for n, h in sorted(blob_of.items()))).encode()
        ).hexdigest()
        snapshot = snapshots / commit
        snapshot.mkdir(exist_ok=True)
        for name, digest in blob_of.items():
            if not (snapshot / name).exists():
                _link(digest, snapshot / name, symlinks, blobs)
        (refs / revision).write_text(commit)
        commits[revision] = commit
    return commits


def _symlinks_work(folder: Path) -> bool:
    probe = folder / ".symlink-probe"
    try:
        probe.symlink_to("target-that-need-not-exist")
    except OSError:
        return False
    probe.unlink()
    return True


@dataclass
class HubCache:
    """What the ``hub_cache`` fixture built."""

    root: Path
    repo_id: str
    commits: dict[str, str]
    states: dict[str, dict[str, torch.Tensor]] = field(repr=False)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> HubCache:
    """``org/tiny`` at ``step0, step1, step2, step4`` (different weights each) in an offline cache.

    Points ``HF_HUB_CACHE``/``HF_HOME`` there (the environment and ``huggingface_hub.constants``,
    which reads the environment once, at import) and sets ``HF_HUB_OFFLINE=1``.
    """
    import huggingface_hub.constants as hf_constants

    root = tmp_path / "hf-cache"
    root.mkdir()
    states = {f"step{s}": tiny_gpt_neox(seed=100 + s).state_dict() for s in HUB_STEPS}
    commits = build_hub_cache(root, HUB_REPO, states, symlinks=_symlinks_work(root))

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(root))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    return HubCache(root=root, repo_id=HUB_REPO, commits=commits, states=states)
