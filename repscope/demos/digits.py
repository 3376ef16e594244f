"""The digits task two demos share: scikit-learn's bundled 8×8 digits, an MLP, a training loop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ._run import save_checkpoint, training_bar


def digits_mlp() -> torch.nn.Sequential:
    """64 → 128 → 128 → 10, ReLU.

    Examples
    --------
    >>> digits_mlp()(torch.zeros(3, 64)).shape
    torch.Size([3, 10])
    """
    return torch.nn.Sequential(
        torch.nn.Linear(64, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )


def load_digits_split(seed: int = 0) -> tuple[torch.Tensor, ...]:
    """scikit-learn's digits scaled to [0, 1]: ``x_train, y_train, x_test, y_test`` (2:1)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError(
            "The digits demos load scikit-learn's digits, and scikit-learn is not installed. "
            'Install it with: pip install "repscope[demos]"',
            name="sklearn",
        ) from err

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    x = torch.tensor(x[order] / 16.0, dtype=torch.float32)
    y = torch.tensor(y[order])
    cut = 2 * len(y) // 3
    return x[:cut], y[:cut], x[cut:], y[cut:]


def train_digits(
    ckpts: Path,
    build: Callable[[], tuple[torch.nn.Module, torch.optim.Optimizer]],
    data: tuple[torch.Tensor, ...],
    steps: int,
    wanted: set[int],
    seed: int,
    *,
    progress: bool = False,
    desc: str = "train",
) -> pd.DataFrame:
    """Minibatches of 64 for ``steps`` steps, saving a checkpoint at each step in ``wanted``.

    ``build()`` makes the model and its optimiser (called with torch seeded by ``seed``; the
    caller's random state is restored afterwards). ``data`` is ``x, y, x_test, y_test``.
    Returns the log: ``step``, ``loss``, ``train_acc``, ``test_acc`` at each checkpoint.
    ``progress``: a bar named ``desc`` with the step, the training loss and the time left.
    """
    x, y, x_test, y_test = data
    gen = torch.Generator().manual_seed(seed + 1)
    rows = []
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model, opt = build()
        bar = training_bar(steps, desc, progress)
        for step in range(steps + 1):
            if step in wanted:
                save_checkpoint(model, ckpts, step)
                with torch.no_grad():
                    rows.append(
                        {
                            "step": step,
                            "loss": float(torch.nn.functional.cross_entropy(model(x), y)),
                            "train_acc": float((model(x).argmax(1) == y).float().mean()),
                            "test_acc": float((model(x_test).argmax(1) == y_test).float().mean()),
                        }
                    )
            batch = torch.randint(0, len(y), (64,), generator=gen)
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step < steps:
                bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        bar.close()
    return pd.DataFrame(rows)
