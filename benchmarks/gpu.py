"""Time repscope on a CUDA GPU beside its CPU path, numpy and dse_dsmi in one run, print JSON.

Run from the repository root, on a machine with a CUDA GPU::

    .venv/bin/python benchmarks/gpu.py --out gpu.json   # every item, full sizes
    .venv/bin/python benchmarks/gpu.py --quick          # smaller sizes
    .venv/bin/python benchmarks/gpu.py --dry-run        # no GPU needed: tiny sizes on the CPU

The full run is sized to take ~5 min on one H100 with 16 CPU cores, most of it the CPU and
reference sides (an estimate: it has not been run on a GPU yet); ``--quick`` about half that.

Without a CUDA device (and without ``--dry-run``) it prints one JSON object saying so and exits 0.
``--dry-run`` runs every item at tiny sizes with the CPU standing in for the device, so that every
code path runs on any machine (``tests/test_gpu_benchmark.py``); it exits 0 only if every item ran
and the paths' values agree. A GPU run exits 0 on the same condition (speed is reported, never
judged).

Items (``--only``):

``spectra``
    ``repscope.geometry.spectrum`` of a batch of B = 6 layers ``(6, N, D)``, D = 512, 2048, 8192,
    float32 activations (power-law column scales), eigendecomposed in float64 (the default) and in
    float32 (``dtype=``), already on the device as a scan's activations are. Paths: ``device``
    (CUDA), ``cpu`` (the same call on CPU tensors), ``numpy`` (``numpy.linalg.eigvalsh`` of the
    centred ``D × D`` or ``N × N`` second moment, whichever is smaller, batched, in the same
    dtype: the same algorithm without repscope). Values: RankMe of every layer (the same formula
    on every path's spectrum) and the normalised spectrum, each path against ``device``.
``dse``
    ``repscope.geometry.dse`` of N(0, 1) points in 128-D, σ = 10, t = 1 (the official defaults),
    N = 2000, 8000, 20000, 50000. Paths: exact in float64 and float32 and ``method="lanczos"`` on
    the device; exact (float64) and lanczos on the CPU; the official ``dse_dsmi`` 1.1
    ``diffusion_spectral_entropy`` (numpy, ``max_N`` raised to N) as the reference, when it is
    installed (in the venv, or in ``.bench/site`` where ``benchmarks/geometry.py`` puts it). An
    exact path runs up to its cap (``Sizes.exact_caps``, O(N³): 20000 on the device,
    ``--exact-max-n`` to change it, 8000 on the CPU and for the reference) and where repscope's
    memory guard allows it (``InsufficientMemoryError``); a skipped path is listed with the
    reason, and what the guard would say of it.
``scan``
    A Pythia-70m-shaped GPTNeoX (``benchmarks/scan.py``'s ``pythia-70m``: 6 layers, hidden 512,
    8 heads, vocab 50304; random weights, nothing downloaded) saved as 3 Trainer checkpoints;
    ``Trajectory(CheckpointFolder(folder), Probe(1024 sequences of 64 tokens), device=...)
    .compute()`` with the default measures (float64 spectra, jackknife error bars). Paths:
    ``device`` (float32 forward pass), ``device_bf16`` (``Probe(..., autocast="bf16")``) and
    ``cpu``. Each call is a fresh in-memory store, so it loads, fingerprints, probes and measures
    every checkpoint. Values: RankMe and α of every checkpoint and layer against the CPU's.

Timing: each path is first called once untimed on a small input (a warm-up that loads the
libraries and creates the CUDA context and cuBLAS/cuSOLVER handles), then timed with
``time.perf_counter`` between two ``torch.cuda.synchronize()`` calls, up to ``--repeats`` times;
a path stops repeating when one more call would take its timed calls past 20 s
(``Sizes.repeat_budget_s``: the CPU side of the largest sizes runs once). ``best_s`` is the
fastest call, ``median_s`` the median, ``calls`` how many; ``peak_gib`` the CUDA memory peak of
the timed calls. ``ratios["cpu/device"]`` is the CPU's ``best_s`` over the device's (> 1: the GPU
is faster). CPU calls follow a 0.25 s rest (``--pause``; see ``_common.time_calls``). The JSON
goes to stdout (and ``--out``, rewritten after every item, so that an interrupted run keeps what
finished), progress to stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import _common
import numpy as np
import threadpoolctl
import torch
from _common import emit, log, machine_info, rel_diff, use_all_cores
from _tracing import tracing_rankme

from repscope.geometry import InsufficientMemoryError, dse, spectrum
from repscope.geometry._memory import check_memory, square_bytes

ROOT = Path(__file__).resolve().parent.parent
BENCH_SITE = ROOT / ".bench" / "site"  # where benchmarks/geometry.py installs dse_dsmi
OFFICIAL_DSE = "dse-dsmi==1.1"
SEED = 0
CPU = torch.device("cpu")
DSE_SIGMA, DSE_T = 10.0, 1.0
#: Relative tolerances of the agreement checks (values of two paths of one item).
TOLERANCE = {
    "float64": 1e-9,  # the same float64 computation on two devices (or numpy, or dse_dsmi)
    "float32": 1e-3,  # a float32 eigendecomposition against another
    "lanczos": 1e-3,  # lanczos against exact (documented: <= 4e-4) and lanczos on two devices
    "scan": 1e-4,  # RankMe and α of a float32 forward pass on two devices (benchmarks/scan.py)
    "scan_bf16": 5e-2,  # ... with a bf16 forward pass against float32 (AUTOCAST_TOLERANCE there)
}


@dataclass(frozen=True)
class Sizes:
    spectra: tuple[tuple[int, int, int], ...]  # (layers, samples, features)
    dse_n: tuple[int, ...]
    dse_d: int
    exact_caps: dict[str, int]  # largest N of each exact path
    lanczos: dict[str, int] = field(default_factory=dict)  # dse(method="lanczos") options
    model: str = "pythia-70m"  # a model of benchmarks/scan.py
    checkpoints: int = 3
    sequences: int = 1024
    tokens: int = 64
    repeat_budget_s: float = 20.0  # a path stops repeating once its timed calls took this long


SIZES = {
    "full": Sizes(
        spectra=((6, 4096, 512), (6, 4096, 2048), (6, 2048, 8192)),
        dse_n=(2000, 8000, 20000, 50000),
        dse_d=128,
        exact_caps={"device": 20000, "cpu": 8000, "reference": 8000},
    ),
    "quick": Sizes(
        spectra=((6, 4096, 512), (6, 2048, 2048)),
        dse_n=(2000, 8000, 20000),
        dse_d=128,
        exact_caps={"device": 8000, "cpu": 2000, "reference": 2000},
        checkpoints=2,
        sequences=256,
    ),
    "dry": Sizes(  # tiny; the largest N skips the capped paths, so the skips run too
        spectra=((3, 120, 48), (3, 40, 96)),
        dse_n=(200, 400),
        dse_d=16,
        exact_caps={"device": 400, "cpu": 200, "reference": 200},
        lanczos={"n_top": 32, "n_probes": 8, "n_steps": 10},
        model="tiny",
        checkpoints=2,
        sequences=48,
        tokens=12,
        repeat_budget_s=0.5,
    ),
}
NOTES: list[str] = []


# ---------------------------------------------------------------------------------------------
# timing


@dataclass(frozen=True)
class Timed:
    best: float
    median: float
    calls: int
    result: Any
    peak_gib: float | None

    def summary(self) -> dict[str, Any]:
        out = {"best_s": round(self.best, 6), "median_s": round(self.median, 6)}
        out["calls"] = self.calls
        if self.peak_gib is not None:
            out["peak_gib"] = round(self.peak_gib, 3)
        return out


@dataclass(frozen=True)
class Bench:
    """Where the device path runs, how often to time, and the rest before a CPU call."""

    device: torch.device
    sizes: Sizes
    repeats: int
    pause: float

    def time(self, call: Callable[[], Any], warmup: Callable[[], Any], device: torch.device):
        """Warm up, then time ``call`` (synchronised) up to ``repeats`` times (see the module)."""
        cuda = device.type == "cuda"
        warmup()
        sync(device)
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        times: list[float] = []
        while True:
            if not cuda:
                time.sleep(self.pause)
            sync(device)
            start = time.perf_counter()
            result = call()
            sync(device)
            times.append(time.perf_counter() - start)
            if len(times) >= self.repeats or sum(times) + times[-1] > self.sizes.repeat_budget_s:
                break
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if cuda else None
        return Timed(min(times), statistics.median(times), len(times), result, peak)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def free_memory(device: torch.device) -> None:
    """Give cached CUDA blocks back, so that repscope's memory guard sees what is free."""
    if device.type == "cuda":
        torch.cuda.empty_cache()


def ratios(timed: dict[str, Timed], pairs: list[tuple[str, str]]) -> dict[str, float]:
    """``"slow/fast": slow best_s / fast best_s`` for each pair that both ran."""
    return {
        f"{slow}/{fast}": round(timed[slow].best / timed[fast].best, 3)
        for slow, fast in pairs
        if slow in timed and fast in timed
    }


def record(
    item: str,
    setup: dict[str, Any],
    timed: dict[str, Timed],
    pairs: list[tuple[str, str]],
    checks: dict[str, bool],
    **results: Any,
) -> dict[str, Any]:
    """One JSON record: what ran, its times and ratios, its values; ``pass`` when every agreement
    check holds."""
    return {
        "item": item,
        **setup,
        "seconds": {name: t.summary() for name, t in timed.items()},
        "ratios": ratios(timed, pairs),
        **results,
        "checks": checks,
        "pass": all(checks.values()),
    }


def agreement(diffs: dict[str, float], tolerance: dict[str, float]) -> dict[str, bool]:
    return {f"{name} <= {tolerance[name]:g}": diffs[name] <= tolerance[name] for name in diffs}


# ---------------------------------------------------------------------------------------------
# spectra: batched spectrum on the device, on the CPU, and numpy's eigvalsh


def repscope_spectrum(x: Any, dtype: torch.dtype) -> torch.Tensor:
    return spectrum(x, dtype=dtype).values


def numpy_spectrum(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Normalised, descending eigenvalues of the centred second moment, per matrix of ``x``."""
    x = x.astype(dtype)
    x -= x.mean(axis=1, keepdims=True)
    xt = x.transpose(0, 2, 1)
    eig = np.linalg.eigvalsh(xt @ x if x.shape[2] <= x.shape[1] else x @ xt)[:, ::-1]
    eig = eig.clip(min=0)
    return eig / eig.sum(axis=1, keepdims=True)


def as_numpy(values: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def spectra_values(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """The normalised spectra ``(B, K)`` and RankMe of each row, in float64 numpy."""
    values = as_numpy(values)
    return values, np.array([tracing_rankme(row) for row in values])


def run_spectra(bench: Bench) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(SEED)
    records = []
    for b, n, d in bench.sizes.spectra:
        scales = torch.arange(1, d + 1, dtype=torch.float32) ** -0.5
        cpu_x = torch.randn(b, n, d, generator=gen) * scales
        dev_x, np_x = cpu_x.to(bench.device), cpu_x.numpy()
        for dtype in (torch.float64, torch.float32):
            name = str(dtype).removeprefix("torch.")
            log(f"spectra {b}x{n}x{d}, eigendecomposition in {name}: device, cpu, numpy")
            paths = {
                "device": (lambda x=dev_x, t=dtype: repscope_spectrum(x, t), dev_x, bench.device),
                "cpu": (lambda x=cpu_x, t=dtype: repscope_spectrum(x, t), cpu_x, CPU),
                "numpy": (lambda x=np_x, t=name: numpy_spectrum(x, t), np_x, CPU),
            }
            timed = {}
            for path, (call, x, device) in paths.items():
                warm = x[:1, : min(n, 64), : min(d, 64)]
                warmup = (
                    (lambda w=warm, t=name: numpy_spectrum(w, t))
                    if path == "numpy"
                    else (lambda w=warm, t=dtype: repscope_spectrum(w, t))
                )
                timed[path] = bench.time(call, warmup, device)
                log(f"  {path}: {timed[path].best:.4f} s")
            values = {path: spectra_values(t.result) for path, t in timed.items()}
            ref_spec, ref_rankme = values["device"]
            diffs = {}
            for path in ("cpu", "numpy"):
                spec, rankme = values[path]
                diffs[f"rankme_{path}_vs_device"] = max(
                    rel_diff(a, r) for a, r in zip(rankme, ref_rankme, strict=True)
                )
                diffs[f"spectrum_{path}_vs_device"] = float(
                    np.max(np.abs(spec - ref_spec)) / np.max(ref_spec)
                )
            tolerance = {key: TOLERANCE[name] for key in diffs}
            records.append(
                record(
                    "spectra",
                    {"shape": [b, n, d], "input_dtype": "float32", "compute_dtype": name},
                    timed,
                    [("cpu", "device"), ("numpy", "device")],
                    agreement(diffs, tolerance),
                    rankme_device=[round(float(v), 6) for v in ref_rankme],
                    max_rel_diff=diffs,
                )
            )
            del timed, values
            free_memory(bench.device)
        del cpu_x, dev_x, np_x
        free_memory(bench.device)
    return records


# ---------------------------------------------------------------------------------------------
# dse: exact and lanczos on the device and the CPU, and the official dse_dsmi


def official_dse() -> Callable[..., Any] | None:
    """The official ``diffusion_spectral_entropy`` (from the venv or .bench/site), or None."""
    if importlib.util.find_spec("dse_dsmi") is None and (BENCH_SITE / "dse_dsmi").is_dir():
        sys.path.append(str(BENCH_SITE))
    if importlib.util.find_spec("dse_dsmi") is None:
        NOTES.append(
            f"dse reference skipped: dse_dsmi is not installed (`python -m pip install "
            f"{OFFICIAL_DSE}`, or run benchmarks/geometry.py once: it installs it into "
            f"{BENCH_SITE.relative_to(ROOT)})"
        )
        return None
    from geometry import matplotlib_stub  # benchmarks/geometry.py: dse_dsmi imports pyplot

    # dse_dsmi.diffusion calls warnings.filterwarnings("ignore") on import: keep it local.
    with warnings.catch_warnings(), matplotlib_stub():
        from dse_dsmi import diffusion_spectral_entropy
    NOTES.append(f"dse reference: dse_dsmi from {Path(sys.modules['dse_dsmi'].__file__).parent}")
    return diffusion_spectral_entropy


def memory_verdict(n: int, device: torch.device) -> str:
    """What repscope's memory guard says of an exact float64 DSE of ``n`` points on ``device``."""
    need = square_bytes(1, n, torch.float64, 2)  # what dse(method="exact") asks the guard for
    try:
        check_memory(need, func="dse", got=f"{n} points", what="", device=device, advice="")
    except InsufficientMemoryError:
        return f"the memory guard would refuse it ({need / 1e9:.3g} GB on {device})"
    return f"the memory guard would allow it ({need / 1e9:.3g} GB on {device})"


def dse_paths(bench: Bench, x: torch.Tensor, official: Callable | None) -> dict[str, tuple]:
    """``name: (call, warm-up, device, reason to skip or None)`` for N = ``len(x)``."""
    n, caps, options = x.shape[0], bench.sizes.exact_caps, bench.sizes.lanczos
    dev_x, np_x = x.to(bench.device), x.numpy()
    warm_n = min(n, 4 * options.get("n_top", 256) + 64)  # above 4 n_top lanczos is lanczos

    def exact(points: Any, dtype: torch.dtype) -> float:
        return float(dse(points, sigma=DSE_SIGMA, t=DSE_T, dtype=dtype))

    def lanczos(points: Any) -> float:
        return float(dse(points, sigma=DSE_SIGMA, t=DSE_T, method="lanczos", **options))

    def cap(path: str) -> str | None:
        if n <= caps[path]:
            return None
        why = f"N = {n} > {caps[path]}, the cap of the {path}'s exact DSE at this size (O(N^3)"
        if path == "reference":  # numpy; it subsamples to its max_N = 10000 points anyway
            return f"{why})"
        if path == "device":
            why += "; --exact-max-n raises it"
        return f"{why}); {memory_verdict(n, bench.device if path == 'device' else CPU)}"

    no_ref = "dse_dsmi is not installed" if official is None else None
    return {
        "device_exact_f64": (
            lambda: exact(dev_x, torch.float64),
            lambda: exact(dev_x[:256], torch.float64),
            bench.device,
            cap("device"),
        ),
        "device_exact_f32": (
            lambda: exact(dev_x, torch.float32),
            lambda: exact(dev_x[:256], torch.float32),
            bench.device,
            cap("device"),
        ),
        "device_lanczos": (
            lambda: lanczos(dev_x),
            lambda: lanczos(dev_x[:warm_n]),
            bench.device,
            None,
        ),
        "cpu_exact_f64": (
            lambda: exact(x, torch.float64),
            lambda: exact(x[:256], torch.float64),
            CPU,
            cap("cpu"),
        ),
        "cpu_lanczos": (lambda: lanczos(x), lambda: lanczos(x[:warm_n]), CPU, None),
        "reference": (
            lambda: float(official(np_x, gaussian_kernel_sigma=DSE_SIGMA, t=DSE_T, max_N=n)),
            lambda: official(np_x[:256], gaussian_kernel_sigma=DSE_SIGMA, t=DSE_T),
            CPU,
            no_ref or cap("reference"),
        ),
    }


def dse_diffs(values: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """Relative differences of the pairs of paths that both ran, and their tolerances."""
    exact = "device_exact_f64" if "device_exact_f64" in values else "cpu_exact_f64"
    pairs = {  # (path, against): tolerance
        ("cpu_exact_f64", "device_exact_f64"): TOLERANCE["float64"],
        ("reference", exact): TOLERANCE["float64"],
        ("device_exact_f32", "device_exact_f64"): TOLERANCE["float32"],
        ("cpu_lanczos", "device_lanczos"): TOLERANCE["lanczos"],
        ("device_lanczos", exact): TOLERANCE["lanczos"],
        ("cpu_lanczos", exact): TOLERANCE["lanczos"],
    }
    diffs, tolerance = {}, {}
    for (path, against), tol in pairs.items():
        if path in values and against in values:
            key = f"{path}_vs_{against}"
            diffs[key], tolerance[key] = rel_diff(values[path], values[against]), tol
    return diffs, tolerance


def run_dse(bench: Bench) -> list[dict[str, Any]]:
    official = official_dse()
    gen = torch.Generator().manual_seed(SEED)
    records = []
    for n in bench.sizes.dse_n:
        x = torch.randn(n, bench.sizes.dse_d, generator=gen, dtype=torch.float64)
        timed, skipped, errors = {}, {}, {}
        for path, (call, warmup, device, skip) in dse_paths(bench, x, official).items():
            if skip:
                skipped[path] = skip
                continue
            log(f"dse N={n}: {path}")
            free_memory(device)
            try:
                timed[path] = bench.time(call, warmup, device)
            except InsufficientMemoryError as err:  # the guard refused before allocating
                skipped[path] = f"refused by repscope's memory guard: {err}"
                continue
            except Exception as err:  # reported; the other paths still run
                errors[path] = f"{type(err).__name__}: {str(err)[:300]}"
                log(f"  {path} failed: {errors[path]}")
                continue
            finally:
                free_memory(device)
            log(f"  {timed[path].best:.4f} s, DSE {timed[path].result:.9f} bits")
        values = {path: t.result for path, t in timed.items()}
        diffs, tolerance = dse_diffs(values)
        checks = {**agreement(diffs, tolerance), "no errors": not errors}
        ran = {"device_exact_f64", "device_lanczos"} & set(timed)
        checks["device exact or lanczos ran"] = bool(ran)
        records.append(
            record(
                "dse",
                {
                    "n_samples": n,
                    "n_features": bench.sizes.dse_d,
                    "sigma": DSE_SIGMA,
                    "t": DSE_T,
                    "lanczos_options": bench.sizes.lanczos or "dse's defaults",
                },
                timed,
                [
                    ("cpu_exact_f64", "device_exact_f64"),
                    ("reference", "device_exact_f64"),
                    ("device_exact_f64", "device_exact_f32"),
                    ("cpu_lanczos", "device_lanczos"),
                    ("device_exact_f64", "device_lanczos"),
                    ("reference", "device_lanczos"),
                ],
                checks,
                dse_bits=values,
                max_rel_diff=diffs,
                skipped=skipped,
                errors=errors,
            )
        )
    return records


# ---------------------------------------------------------------------------------------------
# scan: a Pythia-70m-shaped model over checkpoints, on the device (float32, bf16) and the CPU


def run_scan(bench: Bench) -> list[dict[str, Any]]:
    import scan as scan_bench  # benchmarks/scan.py: the model, its checkpoints and its probe
    import transformers

    from repscope import CheckpointFolder, Trajectory

    transformers.utils.logging.disable_progress_bar()
    sizes = bench.sizes
    scan_bench.select_model(sizes.model)
    with tempfile.TemporaryDirectory(prefix="repscope-bench-gpu-") as tmp:
        folder = Path(tmp)
        steps = scan_bench.log_steps(sizes.checkpoints)
        log(f"scan: writing {len(steps)} checkpoints of a {sizes.model}-shaped GPTNeoX")
        scan_bench.write_checkpoints(folder, steps)
        inputs = scan_bench.probe_inputs(sizes.sequences, sizes.tokens)
        few = {key: value[:128] for key, value in inputs.items()}  # the warm-ups' probe

        def compute(device: torch.device, autocast: str | None, probe_inputs=inputs, **kw):
            traj = Trajectory(
                CheckpointFolder(folder),
                scan_bench.make_probe(probe_inputs, autocast),
                device=str(device),
                fit_range=scan_bench.FIT_RANGE,
                **kw,
            )
            traj.compute(progress=False)
            return traj

        paths = {
            "device": (bench.device, None),
            "device_bf16": (bench.device, "bf16"),
            "cpu": (CPU, None),
        }
        timed = {}
        for path, (device, autocast) in paths.items():
            log(f"scan: {path} ({device}, autocast={autocast})")
            timed[path] = bench.time(
                lambda d=device, a=autocast: compute(d, a),
                lambda d=device, a=autocast: compute(d, a, few, errors="none"),
                device,
            )
            log(f"  {timed[path].best:.3f} s")
            free_memory(device)
    values = {path: scan_bench.repscope_values(t.result) for path, t in timed.items()}
    failures = {path: len(t.result.failures) for path, t in timed.items()}
    diffs, tolerance = {}, {}
    for path, tol in (("device", TOLERANCE["scan"]), ("device_bf16", TOLERANCE["scan_bf16"])):
        if set(values[path]) != set(values["cpu"]):
            raise RuntimeError(f"{path} and cpu measured different (step, layer) pairs")
        for i, measure in enumerate(("rankme", "alpha")):
            key = f"{measure}_{path}_vs_cpu"
            diffs[key] = max(rel_diff(v[i], values["cpu"][k][i]) for k, v in values[path].items())
            tolerance[key] = tol
    checks = {**agreement(diffs, tolerance), "no failed records": not any(failures.values())}
    return [
        record(
            "scan",
            {
                "model": {
                    "name": sizes.model,
                    "class": "GPTNeoXForCausalLM",
                    "weights": "random (seeded), nothing downloaded",
                    **scan_bench.MODEL,
                },
                "checkpoints": len(steps),
                "sequences": sizes.sequences,
                "tokens": sizes.tokens,
                "layers": scan_bench.probe_layers(scan_bench.MODEL["num_hidden_layers"]),
                "fit_range": list(scan_bench.FIT_RANGE),
                "measures": "defaults: float64 spectra, jackknife error bars",
            },
            timed,
            [("cpu", "device"), ("cpu", "device_bf16"), ("device_bf16", "device")],
            checks,
            per_checkpoint_s={path: round(t.best / len(steps), 4) for path, t in timed.items()},
            max_rel_diff=diffs,
            failed_records=failures,
        )
    ]


# ---------------------------------------------------------------------------------------------
# command line

ITEMS = {"spectra": run_spectra, "dse": run_dse, "scan": run_scan}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes (~2 min on an H100)")
    size.add_argument(
        "--dry-run",
        action="store_true",
        help="tiny sizes on the CPU (standing in for the device): every code path, no GPU",
    )
    parser.add_argument(
        "--only",
        type=items_arg,
        default=list(ITEMS),
        metavar="ITEM[,ITEM]",
        help=f"run only these items, among {', '.join(ITEMS)} (default: all)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, metavar="N", help="timed calls per path (at most)"
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=None,
        metavar="S",
        help=f"rest before each CPU call (default {_common.PAUSE_S}; 0 with --dry-run)",
    )
    parser.add_argument(
        "--exact-max-n",
        type=int,
        default=None,
        metavar="N",
        help="largest N of the device's exact DSE (default: the size's, 20000 in full; "
        "50000 takes minutes and ~40 GB)",
    )
    parser.add_argument("--out", metavar="FILE", help="also write the JSON to this file")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.pause is not None and args.pause < 0:
        parser.error("--pause must be at least 0")
    if args.exact_max_n is not None and args.exact_max_n < 2:
        parser.error("--exact-max-n must be at least 2")
    if args.pause is None:
        args.pause = 0.0 if args.dry_run else _common.PAUSE_S
    return args


def items_arg(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(ITEMS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown item(s) {unknown}; choose among {', '.join(ITEMS)}"
        )
    return [name for name in ITEMS if name in names]


def device_info(device: torch.device, dry_run: bool) -> dict[str, Any]:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return {
            "type": "cuda",
            "name": props.name,
            "capability": f"{props.major}.{props.minor}",
            "memory_gib": round(props.total_memory / 2**30, 1),
            "torch_cuda": torch.version.cuda,
            "devices_visible": torch.cuda.device_count(),
        }
    what = "dry run: the CPU stands in for the device" if dry_run else "CPU"
    return {"type": "cpu", "name": f"{platform.processor() or platform.machine()} ({what})"}


def write_partial(report: dict[str, Any], out: str | None) -> None:
    """Rewrite ``out`` with what has finished (the final report replaces it)."""
    if out:
        Path(out).write_text(json.dumps(report, indent=2, allow_nan=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    head = {
        "benchmark": "gpu",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "dry_run": args.dry_run,
    }
    if not args.dry_run and not torch.cuda.is_available():
        emit(
            {
                **head,
                "cuda": False,
                "message": "no CUDA device: nothing timed (torch "
                f"{torch.__version__}, CUDA build {torch.version.cuda}); --dry-run runs every "
                "item at tiny sizes on the CPU",
            },
            args.out,
        )
        return 0
    device = CPU if args.dry_run else torch.device("cuda", torch.cuda.current_device())
    size = "dry" if args.dry_run else "quick" if args.quick else "full"
    sizes = SIZES[size]
    if args.exact_max_n is not None:
        sizes = replace(sizes, exact_caps={**sizes.exact_caps, "device": args.exact_max_n})
        NOTES.append(f"--exact-max-n {args.exact_max_n}: the device's exact DSE cap")
    bench = Bench(device, sizes, args.repeats, args.pause)
    threads = use_all_cores()
    if args.dry_run:  # one thread: tiny calls on a shared machine wait less on each other
        threads = 1
        torch.set_num_threads(threads)
        threadpoolctl.threadpool_limits(limits=threads)
        NOTES.append(
            "--dry-run: tiny sizes, the CPU as the device, one thread; the times say "
            "nothing of a GPU"
        )
    report: dict[str, Any] = {
        **head,
        "cuda": device.type == "cuda",
        "size": size,
        "device": device_info(device, args.dry_run),
        "repeats": args.repeats,
        "warmup": "one untimed call per path on a small input",
        "statistic": "best_s: fastest timed call (synchronised); median_s: their median; "
        "ratios from best_s (> 1: the second path is faster)",
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "threads": threads,
        "load_average_start": os.getloadavg(),
        "machine": machine_info(),
        "notes": NOTES,
        "items": {},
    }
    for name in args.only:
        start = time.perf_counter()
        try:
            report["items"][name] = ITEMS[name](bench)
        except Exception as err:  # reported, and the other items still run
            traceback.print_exc()
            report["items"][name] = [
                {"item": name, "error": f"{type(err).__name__}: {err}", "pass": False}
            ]
        log(f"{name}: {time.perf_counter() - start:.1f} s")
        write_partial(report, args.out)
    records = [r for item in report["items"].values() for r in item]
    report["load_average_end"] = os.getloadavg()
    report["passed"] = sum(r["pass"] for r in records)
    report["failed"] = [
        f"{r['item']} {r.get('shape') or r.get('n_samples') or ''}".strip()
        for r in records
        if not r["pass"]
    ]
    report["ok"] = bool(records) and not report["failed"]
    emit(report, args.out)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
