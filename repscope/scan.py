"""The unit of work of a scan: one checkpoint → its layers' matrices → geometry → store records.

:func:`measure_checkpoint` is what an executor runs, one call per checkpoint. It never raises for
a bad checkpoint: a checkpoint that cannot be loaded or probed becomes a ``failed`` record with
the reason, and a layer with NaN activations fails alone, so the rest of the run still fills in.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import multiprocessing as mp
import os
import warnings
from typing import Any

import numpy as np
import torch

from . import geometry
from ._validation import DegenerateInputWarning, fail
from .config import MeasureConfig
from .geometry._arrays import centre
from .geometry.spectrum import Spectrum
from .measure_registry import Inputs, compute_all
from .probe import Probe, ProbeError
from .sources.base import Checkpoint, safe_name
from .sources.loading import CheckpointError
from .store import WHOLE_CHECKPOINT, Record
from .weights_and_gradients import gradient_matrices, weight_matrices


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


def measures_of(
    matrix: torch.Tensor,
    config: MeasureConfig,
    labels: Any,
    reference: torch.Tensor | None,
    spectrum: Spectrum | None = None,
) -> tuple[dict[str, float], np.ndarray, str | None]:
    """Every registered measure (:mod:`repscope.measure_registry`) of one matrix (rows =
    samples), its normalised spectrum, and a note saying why a measure is missing (α-ReQ of a
    spectrum too short to fit), or ``None``. ``spectrum``: the matrix's spectrum, if already
    computed (in a batch with other layers, :func:`batched_spectra`)."""
    spec = (
        spectrum
        if spectrum is not None
        else geometry.spectrum(
            matrix,
            kind=config.spectrum_kind,
            max_components=config.max_components,
            dtype=config.torch_dtype,
        )
    )
    inputs = Inputs(matrix=matrix, spectrum=spec, config=config, labels=labels, reference=reference)
    if _no_variance(matrix, spec, config):  # said once in the record, not by every measure
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateInputWarning)
            values, notes = compute_all(inputs)
        notes.insert(0, NO_VARIANCE)
    else:
        values, notes = compute_all(inputs)
    return values, spec.eigenvalues().cpu().numpy(), "; ".join(notes) or None


#: The note of a layer whose activations have no variance (a dead layer, a constant output).
NO_VARIANCE = (
    "no variance (every column constant, up to rounding): the ranks, ratios, DSE and DSMI "
    "are 0 and alpha is nan"
)


def _no_variance(matrix: torch.Tensor, spec: Spectrum, config: MeasureConfig) -> bool:
    """Whether the matrix has no variance, as the measures decide it
    (:func:`repscope.geometry._arrays.centre`): its covariance spectrum is all zeros."""
    if spec.kind == "covariance":
        return bool(spec.values[..., 0].le(0).all())
    return bool(centre(matrix.to(config.torch_dtype).unsqueeze(0))[2].all())


def _matrices(
    ckpt: Checkpoint, probe: Probe, config: MeasureConfig, loss_fn: Any, device: str | None
) -> dict[str, torch.Tensor]:
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
    ckpt: Checkpoint,
    *,
    run: str,
    fingerprint: str,
    probe: Probe,
    config: MeasureConfig,
    reference: Checkpoint | None = None,
    loss_fn: Any = None,
    device: str | None = None,
    threads: int | None = None,
) -> list[Record]:
    """Load one checkpoint, measure every layer, and return the records to store. Never raises
    for a bad checkpoint: the reason is returned as a failed record."""
    base = _base(ckpt, run, fingerprint, probe, config)
    with limited_threads(threads):
        try:
            matrices = _matrices(ckpt, probe, config, loss_fn, device)
            refs = _reference(reference, probe) if config.view == "weights" else {}
        except Exception as err:  # a model that breaks in its own forward pass, say
            why = (
                str(err)
                if isinstance(err, (CheckpointError, ProbeError))
                else f"{ckpt.name}: {type(err).__name__}: {err}"
            )
            return failed_checkpoint(
                ckpt, run=run, fingerprint=fingerprint, probe=probe, config=config, error=why
            )
        spectra = batched_spectra(matrices, config)
        return [
            layer_record(name, m, probe, config, refs.get(name), base, spectrum=spectra.get(name))
            for name, m in matrices.items()
        ]


def batched_spectra(
    matrices: dict[str, torch.Tensor], config: MeasureConfig
) -> dict[str, Spectrum]:
    """The spectra of the layers that share a shape, dtype and device, each group in one
    batched call ``(L, N, D)``: one copy, one finiteness check and one eigendecomposition call
    per group instead of one per layer. Layers alone in their group, with NaN/Inf values, or in a
    group whose batched call fails are left out: :func:`layer_record` computes (or reports) them
    one by one, so nothing is lost.

    Parameters
    ----------
    matrices : dict of str to torch.Tensor, each (n_samples, n_features)
    config : MeasureConfig

    Returns
    -------
    dict of str to Spectrum
        Unbatched spectra, by layer name.
    """
    groups: dict[tuple, list[str]] = {}
    for name, m in matrices.items():
        if m.dim() == 2:
            groups.setdefault((tuple(m.shape), m.dtype, m.device), []).append(name)
    out: dict[str, Spectrum] = {}
    for names in groups.values():
        if len(names) < 2:
            continue
        stacked = torch.stack([matrices[n] for n in names])
        finite = torch.isfinite(stacked).flatten(1).all(dim=1).tolist()  # one host sync
        keep = [i for i, ok in enumerate(finite) if ok]
        if len(keep) < 2:
            continue
        try:
            spec = geometry.spectrum(
                stacked[keep] if len(keep) < len(names) else stacked,
                kind=config.spectrum_kind,
                max_components=config.max_components,
                dtype=config.torch_dtype,
            )
        except Exception:  # each layer is then measured, or fails, on its own
            _free_device_memory(stacked.device)
            continue
        for row, i in enumerate(keep):
            out[names[i]] = spec.row(row)
    return out


def failed_checkpoint(
    ckpt: Checkpoint, *, run: str, fingerprint: str, probe: Probe, config: MeasureConfig, error: str
) -> list[Record]:
    """The records of a checkpoint that failed as a whole: one ``failed`` record of layer
    :data:`WHOLE_CHECKPOINT` with the reason (what :meth:`Trajectory.failures
    <repscope.trajectory.Trajectory.failures>` shows, and what the next compute tries again).

    Parameters
    ----------
    ckpt : Checkpoint
        The checkpoint (its step is the record's).
    run, fingerprint : str
        The run's name and the checkpoint's content hash (the store key).
    probe : Probe
        The probe it was measured with.
    config : MeasureConfig
        The measures' configuration.
    error : str
        Why it failed, for a person. A file name in it that is not UTF-8 is stored escaped
        (:func:`~repscope.sources.base.safe_name`).

    Returns
    -------
    list of Record
        The one failed record.
    """
    return [
        Record(
            layer=WHOLE_CHECKPOINT,
            status="failed",
            error=safe_name(error),
            **_base(ckpt, run, fingerprint, probe, config),
        )
    ]


def _base(
    ckpt: Checkpoint, run: str, fingerprint: str, probe: Probe, config: MeasureConfig
) -> dict[str, Any]:
    """The store key of a checkpoint's records, less the layer."""
    return dict(
        run=run,
        checkpoint=fingerprint,
        probe=probe.fingerprint(),
        params=config.key(),
        step=ckpt.step,
    )


def layer_record(
    name: str,
    matrix: torch.Tensor,
    probe: Probe,
    config: MeasureConfig,
    reference: torch.Tensor | None,
    base: dict[str, Any],
    spectrum: Spectrum | None = None,
) -> Record:
    """One layer's record. Never raises: an error in this layer's geometry (a cuSOLVER failure,
    an out-of-memory N × N operator) becomes a ``failed`` record of this layer alone, naming the
    device, dtype and size and what to try; on a GPU, a linear-algebra or memory failure is
    first retried on the CPU (cuSOLVER can fail on large low-rank float32 matrices,
    https://github.com/pytorch/pytorch/issues/94772). ``spectrum``: the layer's spectrum from
    :func:`batched_spectra` (its values were checked finite there)."""
    if spectrum is None and not bool(torch.isfinite(matrix).all()):
        return Record(
            layer=name,
            status="failed",
            error=f"layer {name!r}: NaN/Inf values ({config.view}) — a diverged checkpoint?",
            **base,
        )
    try:
        return _measured(name, matrix, probe, config, reference, base, spectrum)
    except ValueError as err:  # too few samples for any measure
        return Record(layer=name, status="failed", error=f"layer {name!r}: {err}", **base)
    except Exception as err:
        first = err
    _free_device_memory(matrix.device)
    if matrix.device.type != "cpu" and isinstance(first, _RETRY_ON_CPU):
        try:
            record = _measured(
                name,
                matrix.cpu(),
                probe,
                config,
                None if reference is None else reference.cpu(),
                base,
            )
        except Exception as err:
            first = err
        else:
            note = (
                f"layer {name!r}: computed on the CPU after {type(first).__name__} on "
                f"{matrix.device}"
            )
            return dataclasses.replace(record, error="; ".join(filter(None, [record.error, note])))
    return Record(layer=name, status="failed", error=_layer_failure(name, matrix, first), **base)


#: Errors of a device's linear algebra or memory, worth one more try on the CPU.
_RETRY_ON_CPU = (torch.linalg.LinAlgError, torch.OutOfMemoryError, MemoryError)


def _measured(name, matrix, probe, config, reference, base, spectrum=None) -> Record:
    values, eigenvalues, note = measures_of(matrix, config, probe.labels, reference, spectrum)
    return Record(
        layer=name,
        measures=values,
        spectrum=eigenvalues,
        points=principal_points(matrix, config),
        error=None if note is None else f"layer {name!r}: {note}",
        **base,
    )


def _layer_failure(name: str, matrix: torch.Tensor, err: Exception) -> str:
    """Why a layer failed, with where it ran and what to try."""
    n, d = (matrix.shape[-2], matrix.shape[-1]) if matrix.dim() >= 2 else (matrix.numel(), 1)
    return (
        f"layer {name!r}: {type(err).__name__}: {err} (on {matrix.device}, "
        f"{str(matrix.dtype).removeprefix('torch.')}, N = {n} samples × D = {d}). Try "
        "float64, DSE with method='lanczos' or fewer probe inputs, or the CPU."
    )


def _free_device_memory(device: torch.device) -> None:
    """Give cached CUDA blocks back after a failure, so the next layer starts clean."""
    if device.type == "cuda":
        torch.cuda.empty_cache()


def principal_points(matrix: torch.Tensor, config: MeasureConfig) -> np.ndarray | None:
    """The probe samples' first two principal coordinates (float32), for the 2-D view."""
    if config.view != "activations" or min(matrix.shape) < 2:
        return None
    return np.asarray(geometry.principal_coordinates(matrix.double()).cpu(), dtype=np.float32)


def process_pool(workers: int, device: str | None = None) -> cf.ProcessPoolExecutor:
    """A process pool for a scan: ``spawn`` start method when the device is CUDA (a forked
    child of a process that has started CUDA cannot use it), the platform's default otherwise.

    Examples
    --------
    >>> with process_pool(1, "cuda") as pool:
    ...     pool._mp_context.get_start_method()
    'spawn'
    """
    context = mp.get_context("spawn") if _is_cuda(device) else None
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=context)


def check_executor(executor: Any, device: str | None, func: str = "Trajectory.compute") -> None:
    """Refuse a forking process pool for a CUDA scan, before anything runs (every checkpoint
    would fail with "Cannot re-initialize CUDA in forked subprocess")."""
    context = getattr(executor, "_mp_context", None)
    if not _is_cuda(device) or context is None:
        return
    if context.get_start_method() == "fork":
        fail(
            "executor",
            func,
            "a process pool that spawns its workers for a CUDA device "
            "(ProcessPoolExecutor(mp_context=multiprocessing.get_context('spawn')), or "
            "repscope.scan.process_pool(n, device))",
            "a pool that forks (a forked child cannot re-initialise CUDA)",
        )


def _is_cuda(device: Any) -> bool:
    return device is not None and torch.device(device).type == "cuda"


def worker_threads(executor: Any) -> int | None:
    """BLAS/OpenMP threads for each task, so that the tasks running at once never use more
    threads than there are cores.

    Parameters
    ----------
    executor : concurrent.futures.Executor or None
        ``None``: the caller's own thread (its threads are left as they are). A pool with
        ``_max_workers`` (``ThreadPoolExecutor``, ``ProcessPoolExecutor``) runs that many tasks
        at once on this machine: each gets ``cores // workers``. A Dask cluster's executor
        (``client.get_executor()``) runs as many tasks at once on a host as its workers there
        have threads: each gets that host's cores ÷ those threads, the smallest over the hosts
        (1 where the cluster cannot say). Any other executor: 1.

    Returns
    -------
    int or None
        At least 1; ``None`` for no executor.
    """
    if executor is None:
        return None
    client = getattr(executor, "_client", None)
    if client is not None and type(executor).__module__.startswith("distributed"):
        return _dask_threads(client)
    workers = getattr(executor, "_max_workers", None) or os.cpu_count() or 1
    return max(1, (os.cpu_count() or 1) // workers)


def _dask_threads(client: Any) -> int:
    """Per host, its cores ÷ the threads of its workers (tasks at once); the smallest."""
    from distributed.comm import get_address_host

    try:
        threads = client.nthreads()  # {worker address: threads}
        cores = client.run(os.cpu_count)  # {worker address: that worker's host's cores}
    except Exception:  # a cluster that cannot answer now (no workers yet, say)
        return 1
    slots: dict[str, int] = {}
    host_cores: dict[str, int] = {}
    for address, n in threads.items():
        host = get_address_host(address)
        slots[host] = slots.get(host, 0) + n
        host_cores[host] = cores.get(address) or 1
    return max(1, min((host_cores[h] // slots[h] for h in slots), default=1))
