"""The unit of work of a scan: one checkpoint → its layers' matrices → geometry → store records.

:func:`measure_checkpoint` is what an executor runs, one call per checkpoint. It never raises for
a bad checkpoint: a checkpoint that cannot be loaded or probed becomes a ``failed`` record with
the reason, and a layer with NaN activations fails alone, so the rest of the run still fills in.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Any

import numpy as np
import torch

from . import geometry
from ._validation import RepscopeWarning
from .config import MeasureConfig
from .geometry.powerlaw import fit_power_law
from .probe import Probe, ProbeError
from .sources.base import Checkpoint
from .sources.loading import CheckpointError
from .store import Record
from .views import gradient_matrices, weight_matrices

#: Layer name of a record that stands for the whole checkpoint (it failed before any layer).
WHOLE_CHECKPOINT = "*"


@contextlib.contextmanager
def limited_threads(n: int | None):
    """Cap torch's and the BLAS/OpenMP pools' threads at ``n`` (``None``: leave them)."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)


def measures_of(matrix: torch.Tensor, config: MeasureConfig, labels: Any,
                reference: torch.Tensor | None) -> tuple[dict[str, float], np.ndarray, str | None]:
    """Every measure of one matrix (rows = samples), its normalised spectrum, and a note saying
    why a measure is missing (α-ReQ of a spectrum too short to fit), or ``None``."""
    spec = geometry.spectrum(matrix, kind=config.spectrum_kind,
                             max_components=config.max_components)
    values: dict[str, float] = {
        "effective_rank": geometry.effective_rank(spec, eps=config.eps),
        "participation_ratio": geometry.participation_ratio(spec),
        "stable_rank": geometry.stable_rank(spec),
        "numerical_rank": geometry.numerical_rank(spec),
    }
    note = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RepscopeWarning)  # the fit range used is recorded
            fit = fit_power_law(spec, config.fit_range)
        values.update(alpha=fit.alpha, alpha_r2=fit.r2, alpha_fit_first=fit.fit_range[0],
                      alpha_fit_last=fit.fit_range[1])
    except ValueError as err:
        note = str(err)
    if config.view == "gradients":  # nuclear norm Σσ from the normalised eigenvalues and ‖G‖_F²
        values["nuclear_norm"] = float((spec.values[0] * spec.total[0]).clamp_min(0).sqrt().sum())
    if reference is not None:
        moved = torch.linalg.matrix_norm(matrix.double() - reference.double())
        values["relative_distance"] = float(moved / torch.linalg.matrix_norm(reference.double()))
    if config.computes_dse:
        values["dse"] = geometry.dse(matrix, sigma=config.sigma, t=config.t)
        if labels is not None:
            values["dsmi"] = geometry.dsmi(matrix, labels, sigma=config.sigma, t=config.t)
    return ({k: float(v) for k, v in values.items()}, spec.eigenvalues().cpu().numpy(), note)


def _matrices(ckpt: Checkpoint, probe: Probe, config: MeasureConfig, loss_fn: Any,
              device: str | None) -> dict[str, torch.Tensor]:
    model = ckpt.load()
    if device is not None:
        model = model.to(device)
    try:
        if config.view == "activations":
            return probe.capture(model, check_finite=False)
        if config.view == "weights":
            return weight_matrices(model, probe.resolve_layers(model))
        return gradient_matrices(model, probe, probe.resolve_layers(model), loss_fn=loss_fn)
    finally:
        del model


_REFERENCE_CACHE: dict[str, dict[str, torch.Tensor]] = {}


def _reference(ckpt: Checkpoint | None, probe: Probe) -> dict[str, torch.Tensor]:
    """The first checkpoint's weight matrices (for the distance moved), cached per process."""
    if ckpt is None:
        return {}
    key = ckpt.fingerprint()
    if key not in _REFERENCE_CACHE:
        model = ckpt.load()
        _REFERENCE_CACHE.clear()
        _REFERENCE_CACHE[key] = weight_matrices(model, probe.resolve_layers(model))
    return _REFERENCE_CACHE[key]


def measure_checkpoint(
    ckpt: Checkpoint, *, run: str, fingerprint: str, probe: Probe, config: MeasureConfig,
    reference: Checkpoint | None = None, loss_fn: Any = None, device: str | None = None,
    threads: int | None = None,
) -> list[Record]:
    """Load one checkpoint, measure every layer, and return the records to store. Never raises
    for a bad checkpoint: the reason is returned as a failed record."""
    base = dict(run=run, checkpoint=fingerprint, probe=probe.fingerprint(), params=config.key(),
                step=ckpt.step)
    with limited_threads(threads):
        try:
            matrices = _matrices(ckpt, probe, config, loss_fn, device)
            refs = _reference(reference, probe) if config.view == "weights" else {}
        except (CheckpointError, ProbeError) as err:
            return [Record(layer=WHOLE_CHECKPOINT, status="failed", error=str(err), **base)]
        except Exception as err:  # a model that breaks in its own forward pass, say
            return [Record(layer=WHOLE_CHECKPOINT, status="failed",
                           error=f"{ckpt.name}: {type(err).__name__}: {err}", **base)]
        return [_layer_record(name, m, probe, config, refs.get(name), base)
                for name, m in matrices.items()]


def _layer_record(name, matrix, probe, config, reference, base) -> Record:
    if not bool(torch.isfinite(matrix).all()):
        return Record(layer=name, status="failed", error=f"layer {name!r}: NaN/Inf values "
                      f"({config.view}) — a diverged checkpoint?", **base)
    try:
        values, spectrum, note = measures_of(matrix, config, probe.labels, reference)
    except ValueError as err:  # too few samples for any measure
        return Record(layer=name, status="failed", error=f"layer {name!r}: {err}", **base)
    return Record(layer=name, measures=values, spectrum=spectrum, points=_points(matrix, config),
                  error=None if note is None else f"layer {name!r}: {note}", **base)


def _points(matrix: torch.Tensor, config: MeasureConfig) -> np.ndarray | None:
    """The probe samples' first two principal coordinates (float32), for the 2-D view."""
    if config.view != "activations" or min(matrix.shape) < 2:
        return None
    return np.asarray(geometry.principal_coordinates(matrix.double()).cpu(), dtype=np.float32)


def worker_threads(executor: Any) -> int | None:
    """Threads per worker so that workers × threads never exceeds the cores."""
    if executor is None:
        return None
    workers = getattr(executor, "_max_workers", None) or os.cpu_count() or 1
    return max(1, (os.cpu_count() or 1) // workers)
