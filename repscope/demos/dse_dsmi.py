"""Demo 3 — diffusion spectral entropy and mutual information while a network learns digits.

An MLP learns scikit-learn's bundled 8×8 digits (no download) twice: once with the true labels,
once with the training labels shuffled (it can only memorise). On held-out digits, the hidden
layer's DSMI with the true labels — how much the diffusion geometry of the representation says
about the class (Liao et al. 2023) — rises when the network generalises and stays near zero when
it memorises noise; DSE, the entropy of the diffusion spectrum, says how spread out the
representation's geometry is.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from ..probe import Probe
from ..sources.folder import CheckpointFolder
from ..synthetic import log_spaced_steps
from ..trajectory import Trajectory
from ._run import DemoRun, demo_folder, demo_size
from .digits import digits_mlp, load_digits_split, train_digits

#: The demo's name: `repscope demo dse-dsmi`, its folder, its run.
NAME = "dse-dsmi"

#: (training steps, checkpoints) per size.
SIZES = {"small": (600, 10), "full": (3000, 24)}
RUNS = ("true labels", "shuffled labels")
LAYER = "3"  # the second hidden layer's ReLU output


def run(
    size: str | None = None,
    *,
    seed: int = 0,
    folder: str | Path | None = None,
    progress: bool = True,
) -> DemoRun:
    """Train on true and on shuffled labels; measure DSE and DSMI of the second hidden layer.

    Parameters
    ----------
    size : {"small", "full"}, optional
        ``"full"``: 3000 Adam steps per run, 24 checkpoints; ``"small"``: 600 steps, 10.
        Default: ``$REPSCOPE_DEMO_SIZE``, else full.
    seed : int
    folder : str or Path, optional
    progress : bool, default True
        Show a bar while training each run (the step, the training loss, the time left) and
        while measuring its checkpoints.

    Returns
    -------
    DemoRun
        Two trajectories, ``"true labels"`` and ``"shuffled labels"``, probed on the held-out
        digits with their true labels (DSE and DSMI with σ = 10, t = 1); ``history`` has
        ``run``, ``step``, ``loss``, ``train_acc`` and ``test_acc``.
    """
    size = demo_size(size, "dse_dsmi.run")
    steps, n_ckpt = SIZES[size]
    root = demo_folder(folder, NAME)
    x_train, y_train, x_test, y_test = load_digits_split(seed)
    shuffled = y_train[torch.randperm(len(y_train), generator=torch.Generator().manual_seed(seed))]
    probe = Probe(x_test, layers=[LAYER], labels=y_test.numpy(), batch_size=1024)
    wanted = {0, *log_spaced_steps(n_ckpt - 1, steps)}
    trajectories, logs = {}, []
    for name, targets in zip(RUNS, (y_train, shuffled), strict=True):
        ckpts = root / name.replace(" ", "_")
        ckpts.mkdir(exist_ok=True)
        logs.append(
            train_digits(
                ckpts,
                _adam,
                (x_train, targets, x_test, y_test),
                steps,
                wanted,
                seed,
                progress=progress,
                desc=f"train {name}",
            ).assign(run=name)
        )
        traj = Trajectory(
            CheckpointFolder(ckpts, model=digits_mlp),
            probe,
            store=root / "geometry.sqlite",
            run=name,
            fit_range=(2, 40),
            dse=True,
            sigma=10.0,
        )
        trajectories[name] = traj.compute(progress=progress)
    return DemoRun(NAME, trajectories, pd.concat(logs, ignore_index=True), root)


def _adam() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = digits_mlp()
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)
