"""Shared helpers of the benchmark scripts: timing, machine description, JSON output.

Not a module of repscope: the scripts in ``benchmarks/`` import it by file (``from _common import
...``), which works because a script's own folder is first on ``sys.path``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn
import threadpoolctl
import torch


@dataclass(frozen=True)
class Timing:
    """Best and median wall-clock seconds of the timed calls, and the last call's result."""

    best: float
    median: float
    result: Any


#: Seconds of rest before each timed call (see :func:`time_calls`).
PAUSE_S = 0.25


def time_calls(
    fns: dict[str, Callable[[], Any]], *, repeats: int, pause: float | None = None
) -> dict[str, Timing]:
    """Time several calls interleaved: one untimed warm-up each, then ``repeats`` rounds.

    Each round calls every function once, so a change in background load (other processes on the
    machine) hits every side of a comparison alike instead of one side's whole block. Before each
    timed call the process rests ``pause`` seconds (default :data:`PAUSE_S`; not timed): after a
    call, OpenBLAS's threads
    (numpy, scipy, sklearn) busy-wait for work for ~0.1 s, and OpenMP's (torch) for a while too,
    so a call started at once shares the cores with the previous call's spinning threads. Measured
    here without the rest: repscope's Gram product took 27 ms right after an sklearn PCA and 13 ms
    after its own call.
    """
    pause = PAUSE_S if pause is None else pause
    results = {name: fn() for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(pause)
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {
        name: Timing(min(times[name]), statistics.median(times[name]), results[name])
        for name in fns
    }


def use_all_cores() -> int:
    """Give torch and every BLAS/OpenMP pool all the cores (both sides of a comparison)."""
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    threadpoolctl.threadpool_limits(limits=threads)
    return threads


def machine_info() -> dict[str, Any]:
    """Platform, cores, library versions and the thread pools actually in use."""
    pools = [
        {key: pool.get(key) for key in ("user_api", "internal_api", "version", "num_threads")}
        for pool in threadpoolctl.threadpool_info()
    ]
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "torch_threads": torch.get_num_threads(),
        "thread_pools": pools,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }


def rel_diff(value: float, reference: float) -> float:
    """``|value - reference| / |reference|`` (absolute difference when the reference is 0)."""
    value, reference = float(value), float(reference)
    scale = abs(reference) if reference != 0 else 1.0
    return abs(value - reference) / scale


def log(message: str) -> None:
    """Progress goes to stderr, so that stdout holds only the JSON."""
    print(message, file=sys.stderr, flush=True)


def emit_report(
    head: dict[str, Any],
    *,
    records: list[dict[str, Any]],
    notes: list[str],
    load_at_start: Any,
    threads: int,
    out: str | None,
) -> None:
    """``head`` with machine, load, notes, records and pass counts, written by :func:`emit`."""
    emit(
        {
            **head,
            "load_average": {"start": load_at_start, "end": os.getloadavg()},
            "threads": threads,
            "machine": machine_info(),
            "notes": notes,
            "records": records,
            "passed": sum(r["pass"] for r in records),
            "failed": sum(not r["pass"] for r in records),
        },
        out,
    )


def emit(report: dict[str, Any], out: str | None) -> None:
    """Print the report as JSON on stdout, and write it to ``out`` when given."""
    text = json.dumps(report, indent=2, allow_nan=True)
    print(text)
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
