"""A checkpoint whose loading ends the process it runs in, for the executor fault tests.

Module-level and picklable: the fault travels with the task to a pool's or a Dask cluster's
worker process, where no monkeypatch reaches.
"""

from __future__ import annotations

import os
from pathlib import Path

from repscope.sources.base import Checkpoint


class DyingCheckpoint(Checkpoint):
    """``inner``, except that :meth:`load` ends its process (``os._exit(1)``, as the kernel's
    OOM killer would) while ``marker`` exists; with ``once``, it removes ``marker`` first, so
    the next load succeeds."""

    def __init__(self, inner: Checkpoint, marker: Path, *, once: bool):
        self.inner, self.marker, self.once = inner, str(marker), once
        self.step, self.name = inner.step, inner.name

    def fingerprint(self) -> str:
        return self.inner.fingerprint()

    def load(self):
        if os.path.exists(self.marker):
            if self.once:
                os.remove(self.marker)
            os._exit(1)
        return self.inner.load()


class DyingSource:
    """The checkpoints of ``source``, the one at ``step`` a :class:`DyingCheckpoint`."""

    def __init__(self, source, step: int, marker: Path, *, once: bool):
        self.run = source.run
        self.checkpoints = [
            DyingCheckpoint(c, marker, once=once) if c.step == step else c for c in source
        ]
        if not any(isinstance(c, DyingCheckpoint) for c in self.checkpoints):
            raise ValueError(f"no checkpoint at step {step}")

    def __iter__(self):
        return iter(self.checkpoints)

    def __len__(self) -> int:
        return len(self.checkpoints)
