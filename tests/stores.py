"""A real store to read back: a scan of a tiny model's checkpoints, with training scalars and
one checkpoint that cannot be loaded (a failed row), closed so that no -wal or -shm is left."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import torch

from repscope.probe import Probe
from repscope.sources.folder import CheckpointFolder
from repscope.store import Store
from repscope.trajectory import Trajectory

from .models import mlp, save_mlp_checkpoints

STEPS = [0, 1, 3]
LAYERS = ["1", "3"]
N_INPUTS = 40


def scan_store(folder: Path) -> Path:
    """``folder/run.sqlite``: steps 0, 1, 3 measured on two layers (spectra, measures, 2-D
    points), step 5 failed (its file is not a checkpoint), a loss at every step."""
    ckpts = folder / "ckpts"
    ckpts.mkdir(parents=True)
    save_mlp_checkpoints(ckpts, STEPS)
    (ckpts / "step_5.pt").write_bytes(b"not a checkpoint")
    path = folder / "run.sqlite"
    store = Store(path)
    scan(ckpts, store)
    for step in [*STEPS, 5]:
        store.put_scalars("ckpts", step, {"loss": 2.0 / (step + 1), "lr": 1e-3})
    store.close()
    return path


def scan(ckpts: Path, store: Store | Path) -> Trajectory:
    """Scan (or scan again) the checkpoints of :func:`scan_store` into ``store``."""
    probe = Probe(
        torch.randn(N_INPUTS, 6, generator=torch.Generator().manual_seed(0)),
        layers=LAYERS,
        labels=torch.arange(N_INPUTS) % 3,
    )
    return Trajectory(
        CheckpointFolder(ckpts, model=mlp), probe, store=store, fit_range=(2, 10), errors="none"
    ).compute(progress=False)


def state(path: Path) -> tuple[str, bool, bool]:
    """The file's sha256 and whether its -wal and -shm exist."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return digest, Path(f"{path}-wal").exists(), Path(f"{path}-shm").exists()


def alien_sqlite(path: Path) -> Path:
    """Another application's SQLite file (rollback journal, no repscope tables)."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (name TEXT, balance REAL)")
    conn.execute("INSERT INTO customers VALUES ('ada', 12.5)")
    conn.commit()
    conn.close()
    return path
