"""How much a layer's representation changed between checkpoints: linear CKA across steps.

A scan measures each checkpoint alone, and activations are never stored. CKA needs two
checkpoints' activations of the same probe, so :func:`add_cka` walks the checkpoints in step
order, probes each once, keeps the previous (and the first) activations in memory, and adds
``cka_previous`` (to the checkpoint before) and ``cka_first`` (to the first checkpoint) to the
stored records' measures. ``1 - CKA`` says how far the layer moved; a dip in ``cka_previous``
marks a reorganisation (as at a grokking transition).
"""

from __future__ import annotations

from typing import Any

from ._validation import fail
from .geometry import linear_cka
from .probe import ProbeError
from .sources.loading import CheckpointError


def add_cka(trajectory: Any, *, layers: list[str] | None = None) -> Any:
    """Add ``cka_previous`` and ``cka_first`` to every measured (step, layer) of a trajectory.

    Parameters
    ----------
    trajectory : Trajectory
        With a source (the checkpoints are probed again, one at a time, in step order).
    layers : list of str, optional
        Default: every measured layer.

    Returns
    -------
    Trajectory
        The same trajectory; its ``metrics`` now hold the two measures. The first checkpoint has
        ``cka_first = 1`` and no ``cka_previous``. A checkpoint that fails to load is skipped:
        the next one is compared with the last one that loaded.

    Examples
    --------
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from repscope import CheckpointFolder, Probe, Trajectory
    >>> folder = Path(tempfile.mkdtemp())
    >>> net = lambda: torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh())
    >>> for step in (0, 1, 2):
    ...     _ = torch.manual_seed(step // 2)  # steps 0 and 1 share their weights
    ...     torch.save(net().state_dict(), folder / f"step_{step}.pt")
    >>> probe = Probe(torch.randn(40, 4), layers=["1"])
    >>> traj = Trajectory(CheckpointFolder(folder, model=net), probe, fit_range=(2, 4))
    >>> m = add_cka(traj.compute(progress=False)).metrics
    >>> m[m.measure == "cka_previous"].value.round(6).tolist()[0]
    1.0
    """
    if trajectory.source is None:
        fail(
            "trajectory",
            "add_cka",
            "a trajectory with a source of checkpoints to probe",
            "a trajectory read back from a store (source=None)",
        )
    records = {(r.step, r.layer): r for r in trajectory.records() if r.status == "ok"}
    wanted = layers or trajectory.layers
    for name in wanted:
        if name not in trajectory.layers:
            fail("layers", "add_cka", f"measured layers, from {trajectory.layers}", repr(name))
    first: dict[str, Any] = {}
    previous: dict[str, Any] = {}
    updated = []
    for ckpt in sorted(trajectory.source, key=lambda c: c.step):
        if not any((ckpt.step, name) in records for name in wanted):
            continue
        try:
            model = ckpt.load()
            acts = trajectory.probe.capture(model, check_finite=False)
            del model
        except (CheckpointError, ProbeError):
            continue
        for name in wanted:
            rec = records.get((ckpt.step, name))
            if rec is None:
                continue
            x = acts[name].double()
            first.setdefault(name, x)
            extra = {"cka_first": float(linear_cka(x, first[name]))}
            if name in previous:
                extra["cka_previous"] = float(linear_cka(x, previous[name]))
            previous[name] = x
            updated.append((rec, extra))
    # only the measures change: the stored spectra and 2-D points stay
    trajectory.store.add_measures(updated)
    return trajectory
