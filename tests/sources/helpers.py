"""Helpers for the source tests: model factories, weight files, pickles that would run code."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch


class TouchOnUnpickle:
    """Unpickling this creates ``marker`` (``open(marker, "w")``): a stand-in for running code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class Payloads:
    """Builds malicious files; ``marker`` appears only if one of them is ever unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def raw_pickle(self) -> bytes:
        """A bare pickle (what an old-style ``training_args.bin`` could hold)."""
        return pickle.dumps({"args": TouchOnUnpickle(self.marker)}, protocol=2)

    def write_raw(self, path: Path) -> Path:
        path.write_bytes(self.raw_pickle())
        return path

    def write_torch(self, path: Path, **tensors: torch.Tensor) -> Path:
        """A ``torch.save`` zip file: real tensors plus one object that runs code when loaded."""
        torch.save({**tensors, "payload": TouchOnUnpickle(self.marker)}, path)
        return path


def small_net() -> torch.nn.Module:
    """A module-level model factory (returned in training mode, as ``nn.Module`` starts)."""
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))


def seeded_state(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return {k: v.clone() for k, v in small_net().state_dict().items()}


def assert_same_state(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert sorted(actual) == sorted(expected)
    for name, tensor in expected.items():
        assert actual[name].dtype == tensor.dtype, name
        assert torch.equal(actual[name], tensor), name
