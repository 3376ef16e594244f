"""Demo 4 — rich and lazy learning: the same network from a low-rank and a high-rank start.

A network whose weights start large and full-rank can fit its data while barely moving them: it
learns *lazily*, close to its linearisation around the initial weights (the neural tangent
kernel regime; Jacot et al. 2018, Chizat, Oyallon & Bach 2019), and its hidden representation
stays close to the random one it started with. Started from small, low-rank weights, the same
network must build its features: it learns *richly* (feature learning; Woodworth et al. 2020,
Kunin et al. 2024 "Get rich quick"): its weights move several times their initial norm and its
representation is rebuilt (CKA to the first checkpoint falls to about 0.2, against 0.8 for the
lazy run), starting from the two directions of its rank-2 weights. Side by side in one
comparison widget: RankMe and CKA to the first checkpoint of the hidden layer, and (``facts``)
how far each run's weights moved.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pandas as pd
import torch

from ..probe import Probe
from ..sources.folder import CheckpointFolder
from ..synthetic import log_spaced_steps
from ..trajectory import Trajectory
from ._run import DemoRun, demo_folder, demo_size
from .digits import digits_mlp, load_digits_split, train_digits
from .dse_dsmi import LAYER

#: The demo's name: `repscope demo rich-lazy`, its folder, its run.
NAME = "rich-lazy"

#: (training steps, checkpoints) per size.
SIZES = {"small": (400, 8), "full": (2000, 20)}
RUNS = ("low-rank init", "high-rank init")


def initialise(model: torch.nn.Sequential, kind: str, *, seed: int = 0) -> torch.nn.Sequential:
    """Re-initialise the hidden layers' weights.

    ``"low-rank init"``: each hidden weight matrix is ``0.05 · u vᵀ / √fan_in``-scaled rank-2
    matrix (small and low-rank); ``"high-rank init"``: Gaussian with standard deviation
    ``2 / √fan_in`` (large and full-rank). The output layer keeps PyTorch's default.

    Examples
    --------
    >>> net = initialise(digits_mlp(), "low-rank init")
    >>> int(torch.linalg.matrix_rank(net[2].weight))
    2
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in (cast(torch.nn.Linear, model[0]), cast(torch.nn.Linear, model[2])):
            out_dim, fan_in = layer.weight.shape
            if kind == "low-rank init":
                u = torch.randn(out_dim, 2, generator=gen)
                v = torch.randn(2, fan_in, generator=gen)
                layer.weight.copy_(0.05 * (u @ v) / fan_in**0.5)
            else:
                layer.weight.copy_(2.0 * torch.randn(out_dim, fan_in, generator=gen) / fan_in**0.5)
            layer.bias.zero_()
    return model


def run(
    size: str | None = None,
    *,
    seed: int = 0,
    folder: str | Path | None = None,
    progress: bool = True,
) -> DemoRun:
    """Train the digits MLP from both starts; measure the hidden layer and the weights.

    Parameters
    ----------
    size : {"small", "full"}, optional
        ``"full"``: 2000 SGD steps, 20 checkpoints; ``"small"``: 400 steps, 8.
    seed : int
    folder : str or Path, optional
    progress : bool, default True
        Show a bar while training each run (the step, the training loss, the time left) and
        while measuring its checkpoints.

    Returns
    -------
    DemoRun
        Two trajectories (activations of the second hidden layer on held-out digits, with RankMe,
        α-ReQ and CKA to the previous and first checkpoint); ``history`` with ``run``, ``step``,
        ``loss``, ``train_acc``, ``test_acc``; ``facts["weights_moved"]``: for each run, the
        relative Frobenius distance ``‖W_T − W_0‖ / ‖W_0‖`` of each hidden layer at the last
        checkpoint (from a weights-view trajectory).
    """
    size = demo_size(size, "rich_lazy.run")
    steps, n_ckpt = SIZES[size]
    root = demo_folder(folder, NAME)
    x_train, y_train, x_test, y_test = load_digits_split(seed)
    probe = Probe(x_test, layers=[LAYER], labels=y_test.numpy(), batch_size=1024)
    wanted = {0, *log_spaced_steps(n_ckpt - 1, steps)}
    trajectories, logs, moved = {}, [], {}
    for kind in RUNS:
        ckpts = root / kind.replace(" ", "_").replace("-", "_")
        ckpts.mkdir(exist_ok=True)

        def build(kind=kind):
            model = initialise(digits_mlp(), kind, seed=seed)
            return model, torch.optim.SGD(model.parameters(), lr=0.05)

        logs.append(
            train_digits(
                ckpts,
                build,
                (x_train, y_train, x_test, y_test),
                steps,
                wanted,
                seed,
                progress=progress,
                desc=f"train {kind}",
            ).assign(run=kind)
        )
        source = CheckpointFolder(ckpts, model=digits_mlp)
        traj = Trajectory(
            source, probe, store=root / "geometry.sqlite", run=kind, fit_range=(2, 40)
        )
        trajectories[kind] = traj.compute(progress=progress).add_cka()
        weights = Trajectory(
            source,
            Probe(x_test[:2], layers=["0", "2"]),
            view="weights",
            store=root / "geometry.sqlite",
            run=f"{kind} (weights)",
            fit_range=(2, 40),
        ).compute(progress=progress)
        last = weights.metrics[
            (weights.metrics.measure == "relative_distance") & (weights.metrics.step == max(wanted))
        ]
        moved[kind] = dict(zip(last.layer, last.value, strict=True))
    return DemoRun(
        NAME, trajectories, pd.concat(logs, ignore_index=True), root, {"weights_moved": moved}
    )
