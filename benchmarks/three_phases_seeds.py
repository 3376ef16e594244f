"""The three-phases demo at full size over several seeds: are all three phases found at each?

Runs :func:`repscope.demos.three_phases.run` (the measured recipe: training, checkpoints, scan,
phase detection) once per seed and prints JSON: per seed the phases found with their first and
last step, the change of RankMe and α over each, the RankMe trough and peak, the top
eigenvalue's share at the peak and at the end, and the wall time of training and of the scan.

    python benchmarks/three_phases_seeds.py                  # seeds 0-4
    python benchmarks/three_phases_seeds.py --seeds 0-9 --jobs 2 --threads 1 --out seeds.json

``--jobs`` runs that many seeds at once (one process each); each trains on ``--threads`` torch
threads (the recipe was measured with 1; the demo's default is 2 where there are 2 cores). The
run passes when every seed shows warmup collapse, entropy-seeking and compression-seeking, in
that order.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import tempfile
import time
from typing import Any

from _common import emit_report, log

EXPECTED = ["warmup collapse", "entropy-seeking", "compression-seeking"]


def one_seed(seed: int, threads: int) -> dict[str, Any]:
    from repscope.demos import three_phases

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        demo = three_phases.run("full", seed=seed, folder=folder, threads=threads)
        traj, layer = demo.trajectory, three_phases.LAYER
        rank = traj.curve("effective_rank", layer)
        table = demo.facts["phases"]
        peak = int(rank[rank.index > rank.idxmin()].idxmax())
        last = int(rank.index[-1])
        record = {
            "seed": seed,
            "phases": [
                {
                    "phase": row.phase,
                    "start_step": int(row.start_step),
                    "end_step": int(row.end_step),
                    "rankme_change": round(row.rankme_change, 4),
                    "alpha_change": round(row.alpha_change, 4),
                }
                for row in table.itertuples()
            ],
            "rankme": {
                "step_0": round(float(rank.iloc[0]), 3),
                "trough_step": int(rank.idxmin()),
                "trough": round(float(rank.min()), 3),
                "peak_step": peak,
                "peak": round(float(rank[peak]), 3),
                "end": round(float(rank.iloc[-1]), 3),
            },
            "top_eigenvalue_share": {
                "peak": round(float(traj.spectrum(peak, layer)[0]), 4),
                "end": round(float(traj.spectrum(last, layer)[0]), 4),
            },
            "final_heldout_loss": round(float(demo.history.heldout_loss.iloc[-1]), 4),
            "seconds": {k: round(v, 1) for k, v in demo.facts["seconds"].items()},
        }
    record["wall_s"] = round(time.perf_counter() - start, 1)
    record["pass"] = table.phase.tolist() == EXPECTED
    return record


def seeds_of(text: str) -> list[int]:
    """``"0-4"`` or ``"0,3,7"``."""
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(s) for s in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0-4", help="a range (0-4) or a list (0,3,7)")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once (processes)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per training (default: the demo's, 2 on 2 cores)",
    )
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    load = os.getloadavg()
    seeds = seeds_of(args.seeds)
    records = []
    with cf.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(one_seed, s, args.threads): s for s in seeds}
        for future in cf.as_completed(futures):
            record = future.result()
            log(
                f"seed {record['seed']}: {[p['phase'] for p in record['phases']]} "
                f"({record['wall_s']} s)"
            )
            records.append(record)
    records.sort(key=lambda r: r["seed"])
    emit_report(
        {
            "benchmark": "three_phases_seeds",
            "seeds": seeds,
            "jobs": args.jobs,
            "expected": EXPECTED,
        },
        records=records,
        load_at_start=load,
        threads=args.threads or 0,
        out=args.out,
        notes=["A seed passes when its phase table reads exactly: " + ", ".join(EXPECTED) + "."],
    )


if __name__ == "__main__":
    main()
