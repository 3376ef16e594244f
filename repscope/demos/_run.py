"""What every demo returns, and the pieces every demo's training loop shares."""

from __future__ import annotations

import concurrent.futures as cf
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from .._validation import check_option

SIZES = ("small", "full")
#: Notebooks and tests set this to "small" to run every demo at its test size.
SIZE_VARIABLE = "REPSCOPE_DEMO_SIZE"


def demo_size(size: str | None, func: str) -> str:
    """``size``, else ``$REPSCOPE_DEMO_SIZE``, else ``"full"``."""
    return check_option(
        size or os.environ.get(SIZE_VARIABLE) or "full", name="size", func=func, options=SIZES
    )


def demo_folder(folder: str | Path | None, name: str) -> Path:
    path = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix=f"{name}-"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def training_bar(total: int, desc: str, progress: bool) -> Any:
    """A progress bar of training steps (``tqdm.auto``: a bar widget in a notebook, text in a
    terminal) with the time left; ``progress=False``: a silent one. The training loop calls
    ``bar.update(1)`` per step and ``bar.set_postfix(loss=…)`` now and then."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=not progress, mininterval=0.5)


def save_checkpoint(model: torch.nn.Module, folder: Path, step: int) -> Path:
    """``step_<step>.safetensors``: the state dict, as :class:`~repscope.CheckpointFolder`
    reads it."""
    from safetensors.torch import save_file

    path = folder / f"step_{step}.safetensors"
    save_file({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, path)
    return path


@dataclass
class DemoRun:
    """A demo's result: its trajectories (one per run), the training log, the folder.

    Attributes
    ----------
    name : str
    trajectories : dict of str to Trajectory
        One per run (two for a comparison demo), in the order they are best shown.
    history : pandas.DataFrame
        The training log: ``run``, ``step`` and the demo's own columns (loss, accuracies).
    folder : Path
        Where the checkpoints were saved (one sub-folder per run) and the store lives.
    facts : dict
        What the demo found (its phase table, the steps where accuracy jumped, …).
    shown : list of str, optional
        The curves the scrubber shows first (measures and training scalars), when they differ
        from the widgets' default.
    """

    name: str
    trajectories: dict[str, Any]
    history: pd.DataFrame
    folder: Path
    facts: dict[str, Any] = field(default_factory=dict)
    shown: list[str] | None = None
    _future: cf.Future | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.record_history()

    def record_history(self) -> None:
        """Store the numeric columns of :attr:`history` as each run's training scalars, so
        that the widgets draw them beside the geometry and the store alone holds them."""
        history = self.history
        if history.empty or "step" not in history:
            return
        numeric = [
            c
            for c in history.columns
            if c not in ("step", "run") and pd.api.types.is_numeric_dtype(history[c])
        ]
        for name, traj in self.trajectories.items():
            rows = history[history.run == name] if "run" in history else history
            for row in rows.itertuples(index=False):
                values = {c: float(getattr(row, c)) for c in numeric if pd.notna(getattr(row, c))}
                if values:
                    traj.store.put_scalars(traj.run, int(row.step), values)

    def start(self, work: Callable[[], Any], trajectory: Any) -> None:
        """Run ``work`` in a background thread; ``trajectory.filling`` is its Future, so that a
        scrubber watches the store until it is done."""
        pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"repscope-{self.name}")
        self._future = trajectory.filling = pool.submit(work)
        pool.shutdown(wait=False)

    @property
    def running(self) -> bool:
        """Whether a live demo is still training or scanning."""
        return self._future is not None and not self._future.done()

    def wait(self, timeout: float | None = None) -> DemoRun:
        """Block until a live demo has finished (re-raising its error, if any); ``self``."""
        if self._future is not None:
            self._future.result(timeout)
        return self

    @property
    def trajectory(self) -> Any:
        """The first (or only) run's trajectory."""
        return next(iter(self.trajectories.values()))

    def scrubber(self, **options: Any) -> Any:
        """A :class:`~repscope.widgets.Scrubber` of the demo's runs (all of them, compared)."""
        from ..widgets import Scrubber

        runs = self.trajectories if len(self.trajectories) > 1 else self.trajectory
        if self.shown is not None:
            options.setdefault("measures", self.shown)
        return Scrubber(runs, **options)

    def export_html(self, path: str | Path, **options: Any) -> Path:
        """:func:`~repscope.widgets.export_html` of the demo's runs, with the demo's curves."""
        from ..widgets import export_html

        runs = self.trajectories if len(self.trajectories) > 1 else self.trajectory
        if self.shown is not None:
            options.setdefault("measures", self.shown)
        return export_html(runs, path, **options)
