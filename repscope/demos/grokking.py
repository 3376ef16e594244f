"""Demo 2 — grokking: modular addition learned long after it is memorised.

A small network learns ``(a + b) mod p`` from half of all pairs, full batch, with strong weight
decay (Power et al. 2022; Liu et al. 2023, "Omnigrok"). Training accuracy reaches 100 % within a
few hundred steps — it has memorised the training pairs — while test accuracy stays near chance;
hundreds of steps later test accuracy jumps to 100 % as weight decay pushes the network from the
memorising solution to the generalising one. The hidden layer's geometry marks that transition:
its effective rank, which grew while the network memorised, falls through the jump; its DSMI
with the true sums rises with the test accuracy; and its CKA to the first checkpoint keeps
falling (a new representation), while the training loss shows nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..probe import Probe
from ..sources.folder import CheckpointFolder
from ..trajectory import Trajectory
from ._run import DemoRun, demo_folder, demo_size, save_checkpoint, training_bar

#: The demo's name: `repscope demo grokking`, its folder, its run.
NAME = "grokking"

#: (modulus p, training steps, checkpoint every, probe pairs) per size.
SIZES = {"small": (59, 1800, 100, 600), "full": (59, 2400, 50, 1500)}


class ModularAdder(torch.nn.Module):
    """Embed ``a`` and ``b``, concatenate, one hidden ReLU layer, logits over ``p`` classes.

    Parameters
    ----------
    p : int
    dim : int, default 32
        Embedding width.
    hidden : int, default 128

    Examples
    --------
    >>> ModularAdder(7)(torch.tensor([[1, 2], [3, 6]])).shape
    torch.Size([2, 7])
    """

    def __init__(self, p: int, dim: int = 32, hidden: int = 128):
        super().__init__()
        self.embed = torch.nn.Embedding(p, dim)
        self.hidden = torch.nn.Sequential(torch.nn.Linear(2 * dim, hidden), torch.nn.ReLU())
        self.out = torch.nn.Linear(hidden, p)

    def forward(self, input_ids: torch.Tensor, attention_mask: Any = None) -> torch.Tensor:
        """``input_ids``: ``(N, 2)`` pairs ``(a, b)`` (the probe passes integer inputs as token
        ids, with a mask this model has no use for)."""
        e = self.embed(input_ids)  # (N, 2, dim)
        return self.out(self.hidden(e.flatten(1)))


def run(
    size: str | None = None,
    *,
    seed: int = 0,
    folder: str | Path | None = None,
    progress: bool = True,
) -> DemoRun:
    """Train the modular adder, save checkpoints, and measure the hidden layer.

    Parameters
    ----------
    size : {"small", "full"}, optional
        ``"full"``: p = 59, 2400 steps, a checkpoint every 50 (about 30 s in all on a laptop);
        ``"small"``: p = 59, 1800 steps, a checkpoint every 100, for tests. Default:
        ``$REPSCOPE_DEMO_SIZE``, else full.
    seed : int
    folder : str or Path, optional
        Where to save checkpoints (default: a new temporary folder).
    progress : bool, default True
        Show a bar while training (the step, the training loss, the time left) and while
        measuring the checkpoints.

    Returns
    -------
    DemoRun
        ``history`` has ``step``, ``loss``, ``train_acc``, ``test_acc``; the trajectory has
        RankMe, α-ReQ, DSE, DSMI (labels: the sum mod p) and CKA to the previous and the first
        checkpoint, for the layer ``hidden``. ``facts`` holds ``memorised_step`` (train accuracy
        first >= 99 %) and ``generalised_step`` (test accuracy first >= 90 %).
    """
    size = demo_size(size, "grokking.run")
    p, steps, every, n_probe = SIZES[size]
    root = demo_folder(folder, NAME)
    ckpts = root / "checkpoints"
    ckpts.mkdir(exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    pairs = torch.stack([a.flatten(), b.flatten()], 1)
    target = pairs.sum(1) % p
    order = torch.randperm(p * p, generator=gen)
    train, test = order[: p * p // 2], order[p * p // 2 :]
    rows = []
    with torch.random.fork_rng():  # seeded here, the caller's random state left as it was
        torch.manual_seed(seed)
        model = ModularAdder(p)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1.0, betas=(0.9, 0.98))
        with training_bar(steps, f"train {NAME}", progress) as bar:
            for step in range(steps + 1):
                if step % every == 0:
                    save_checkpoint(model, ckpts, step)
                    rows.append(_evaluate(model, pairs, target, train, test, step))
                    bar.set_postfix(loss=f"{rows[-1]['loss']:.4f}", refresh=False)
                if step == steps:
                    break
                loss = torch.nn.functional.cross_entropy(model(pairs[train]), target[train])
                opt.zero_grad()
                loss.backward()
                opt.step()
                bar.update(1)
    history = pd.DataFrame(rows)
    probe_idx = torch.randperm(p * p, generator=gen)[:n_probe]
    probe = Probe(
        pairs[probe_idx], layers=["hidden"], labels=target[probe_idx].numpy(), batch_size=1024
    )
    traj = Trajectory(
        CheckpointFolder(ckpts, model=lambda: ModularAdder(p)),
        probe,
        store=root / "geometry.sqlite",
        run="grokking",
        fit_range=(2, 40),
        dse=True,
        sigma=10.0,
    )
    traj.compute(progress=progress).add_cka()
    facts = {
        "memorised_step": _first(history, "train_acc", 0.99),
        "generalised_step": _first(history, "test_acc", 0.9),
        "p": p,
    }
    return DemoRun(NAME, {"grokking": traj}, history.assign(run="grokking"), root, facts)


def _evaluate(model: torch.nn.Module, pairs, target, train, test, step: int) -> dict[str, Any]:
    with torch.no_grad():
        logits = model(pairs)
        hit = (logits.argmax(1) == target).float()
        loss = torch.nn.functional.cross_entropy(logits[train], target[train])
    return {
        "step": step,
        "loss": float(loss),
        "train_acc": float(hit[train].mean()),
        "test_acc": float(hit[test].mean()),
    }


def _first(history: pd.DataFrame, column: str, level: float) -> int | None:
    hit = history[history[column] >= level]
    return int(hit.step.iloc[0]) if len(hit) else None
