"""Approximate (``method="lanczos"``) against exact DSE at large n: error, time, peak memory.

    .venv/bin/python benchmarks/_dse_approx_check.py                 # n = 8000 and 20000
    .venv/bin/python benchmarks/_dse_approx_check.py --sizes 3000    # a quick run
    .venv/bin/python benchmarks/_dse_approx_check.py --reuse-exact earlier.jsonl  # skip exact

Every measurement runs in its own subprocess, so that its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which includes the ~0.4 GB of Python and torch)
is its own. The exact spectrum is computed once per data set and serves both t. One JSON
record per line on stdout; progress on stderr. Exact DSE at n = 20000 takes several minutes.
"""

from __future__ import annotations

import argparse
import inspect
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
D = 128
T_VALUES = (1.0, 10.0)
# name -> (sigma, sizes it runs at): Gaussian data as in the task, and two data sets where the
# kernel is far from constant, so that DSE at t = 10 is not ~0.
DATA = {
    "gaussian": (10.0, None),
    "gaussian_median": ("median", (8000,)),
    "clusters": (3.0, None),
    "manifold": (3.0, (8000,)),
}


def make(name: str, n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    if name.startswith("gaussian"):
        return rng.standard_normal((n, D))
    if name == "clusters":  # 30 clusters, unit-variance centres, within-cluster std 0.5
        centres = rng.standard_normal((30, D))
        return centres[rng.integers(0, 30, n)] + 0.5 * rng.standard_normal((n, D))
    latent = rng.standard_normal((n, 4))  # a curved 4-D manifold in 128-D, plus noise
    return np.tanh(latent @ rng.standard_normal((4, D))) + 0.1 * rng.standard_normal((n, D))


def worker(kind: str, name: str, n: int, t: float | None) -> dict:
    sys.path.insert(0, str(ROOT))
    from repscope.geometry.diffusion import diffusion_spectrum, dse, dse_from_eigenvalues
    from repscope.geometry.diffusion_approx import lanczos_entropy

    x = torch.from_numpy(make(name, n))
    sigma = DATA[name][0]
    load = float(Path("/proc/loadavg").read_text().split()[0])
    start = time.perf_counter()
    if kind == "exact":
        spectrum = diffusion_spectrum(x, sigma=sigma)
        seconds = time.perf_counter() - start
        values = {str(t): dse_from_eigenvalues(spectrum, t=t) for t in T_VALUES}
        extra = {"dse": values}
    else:
        options = {
            k: v.default
            for k, v in inspect.signature(dse).parameters.items()
            if k in ("n_top", "n_probes", "n_steps", "seed")
        }  # dse's defaults
        value, info = lanczos_entropy(x, sigma, t, **options)
        seconds = time.perf_counter() - start
        extra = {"t": t, "dse": float(value), **info}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return {
        "method": kind,
        "data": name,
        "n": n,
        "d": D,
        "sigma": sigma,
        "seconds": seconds,
        "peak_rss_gib": round(peak, 3),
        "loadavg_before": load,
        "threads": torch.get_num_threads(),
        **extra,
    }


def run(*args: str) -> dict:
    command = [sys.executable, __file__, "--worker", *args]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[8000, 20000])
    parser.add_argument(
        "--reuse-exact",
        type=Path,
        metavar="JSONL",
        help="take the exact records from this earlier output where it has them",
    )
    parser.add_argument("--worker", nargs=4, metavar=("KIND", "DATA", "N", "T"))
    args = parser.parse_args()
    if args.worker:
        kind, name, n, t = args.worker
        print(json.dumps(worker(kind, name, int(n), float(t) if t != "-" else None)))
        return
    earlier = {}
    if args.reuse_exact:
        records = map(json.loads, args.reuse_exact.read_text().splitlines())
        earlier = {(r["data"], r["n"]): r for r in records if r["method"] == "exact"}
    for n in args.sizes:
        for name, (_, sizes) in DATA.items():
            if sizes is not None and n not in sizes:
                continue
            print(f"n={n} {name}: exact", file=sys.stderr, flush=True)
            exact = earlier.get((name, n)) or run("exact", name, str(n), "-")
            print(json.dumps(exact), flush=True)
            for t in T_VALUES:
                print(f"n={n} {name}: lanczos t={t:g}", file=sys.stderr, flush=True)
                approx = run("lanczos", name, str(n), str(t))
                reference = exact["dse"][str(t)]
                approx["exact_dse"] = reference
                approx["abs_error"] = approx["dse"] - reference
                approx["rel_error"] = approx["abs_error"] / reference if reference else None
                approx["speedup"] = exact["seconds"] / approx["seconds"]
                print(json.dumps(approx), flush=True)


if __name__ == "__main__":
    main()
