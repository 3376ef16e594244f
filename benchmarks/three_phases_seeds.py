"""The three-phases demo at full size over several seeds: are all three phases found at each?

Runs :func:`repscope.demos.three_phases.run` (the measured recipe: training, checkpoints, scan,
phase detection) once per seed and prints JSON: per seed the phases found with their first and
last step, the change of RankMe and α over each (and in noise units), the RankMe trough and peak
with their jackknife standard errors, the top eigenvalue's share at the peak and at the end, and
the wall time of training and of the scan.

Beside today's detector, the previous one (PELT segments, commit ``--baseline``, read from git)
reads the same curves: the phases it found are reported too, so that a change of the detector is
seen side by side with the original on the recipe's runs.

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
#: The last commit with the previous detector (PELT segments, before issue 18).
BASELINE = "0ec7bc0"


def previous_detector(commit: str) -> Any:
    """``detect_phases`` of ``repscope/phases.py`` at ``commit`` (from git), or ``None``."""
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        ["git", "show", f"{commit}:repscope/phases.py"], cwd=root, capture_output=True, text=True
    )
    if done.returncode != 0:
        return None
    folder = Path(tempfile.mkdtemp())
    (folder / "old_phases.py").write_text(
        done.stdout.replace("from ._validation import", "from repscope._validation import")
    )
    spec = importlib.util.spec_from_file_location("old_phases", folder / "old_phases.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_phases"] = module
    spec.loader.exec_module(module)
    return module.detect_phases


def one_seed(seed: int, threads: int, baseline: str) -> dict[str, Any]:
    from repscope.demos import three_phases

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        demo = three_phases.run("full", seed=seed, folder=folder, threads=threads)
        traj, layer = demo.trajectory, three_phases.LAYER
        rank = traj.curve("effective_rank", layer)
        table = demo.facts["phases"]
        se = traj.curve("effective_rank_se", layer)
        peak = int(rank[rank.index > rank.idxmin()].idxmax())
        old = previous_detector(baseline)
        if old is not None:
            alpha = traj.curve("alpha", layer)
            previous = [
                {"phase": p.name, "start_step": p.start_step, "end_step": p.end_step}
                for p in old(rank.index.to_numpy(), rank.to_numpy(), alpha.to_numpy())
            ]
        else:
            previous = None
        last = int(rank.index[-1])
        record = {
            "seed": seed,
            "phases": [
                {
                    "phase": row.phase,
                    "start_step": int(row.start_step),
                    "end_step": int(row.end_step),
                    "label": row.label,
                    "rankme_rel_change": round(row.rankme_rel_change, 4),
                    "alpha_abs_change": round(row.alpha_abs_change, 4),
                    "rankme_z": round(row.rankme_z, 1),
                    "alpha_z": round(row.alpha_z, 1),
                }
                for row in table.itertuples()
            ],
            "rankme": {
                "step_0": round(float(rank.iloc[0]), 3),
                "trough_step": int(rank.idxmin()),
                "trough": round(float(rank.min()), 3),
                "trough_se": round(float(se[rank.idxmin()]), 4),
                "peak_step": peak,
                "peak": round(float(rank[peak]), 3),
                "peak_se": round(float(se[peak]), 4),
                "end": round(float(rank.iloc[-1]), 3),
            },
            "top_eigenvalue_share": {
                "peak": round(float(traj.spectrum(peak, layer)[0]), 4),
                "end": round(float(traj.spectrum(last, layer)[0]), 4),
            },
            "previous_detector": previous,
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
    parser.add_argument("--baseline", default=BASELINE, help="the previous detector's commit")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    load = os.getloadavg()
    seeds = seeds_of(args.seeds)
    records = []
    with cf.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(one_seed, s, args.threads, args.baseline): s for s in seeds}
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
