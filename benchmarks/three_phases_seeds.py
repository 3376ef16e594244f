"""The three-phases demo at full size over several seeds: are all three phases found at each?

Runs :func:`repscope.demos.three_phases.run` (the measured recipe: training, checkpoints, scan,
phase detection) once per seed and prints JSON: per seed the phases found with their first and
last step, the change of RankMe and α over each (and in noise units), the RankMe trough and peak
with their jackknife standard errors, the top eigenvalue's share at the peak and at the end, and
the wall time of training and of the scan.

With ``--lenses`` (the default; ``--no-lenses`` leaves them out) two more lenses read each run
(issue 22): WeightWatcher's ESD α of six weight matrices (each block's ``qkv``, ``fc1`` and
``fc2``) at all checkpoints, from a weights-view scan into the demo's store, and the local
learning coefficient (LLC, :func:`repscope.llc.add_llc`) at ``--llc-points`` checkpoints
(log-spaced; step 0, the last and the phase boundaries always among them), on 8 seeded batches
of 32 × 64 tokens of the demo's language, next-token cross-entropy, with the settings measured
for this model (``docs/llc.md``). Per seed: the LLC values with their standard errors, the ESD α
curves (and their mean over layers), and where each lens changes slope (against
``log(step + 1)``) relative to the phase boundaries: a change within ±1 checkpoint of a boundary
(on the 25-checkpoint grid) counts as at it. A summary counts, per boundary, the seeds where each
lens changes there. ``--size small`` (400 steps; two phases) checks the pipeline quickly.

Beside today's detector, the previous one (PELT segments, commit ``--baseline``, read from git)
reads the same curves: the phases it found are reported too, so that a change of the detector is
seen side by side with the original on the recipe's runs.

    python benchmarks/three_phases_seeds.py                  # seeds 0-4
    python benchmarks/three_phases_seeds.py --seeds 0-9 --jobs 2 --threads 1 --out seeds.json
    python benchmarks/three_phases_seeds.py --seeds 0-1 --size small --jobs 2   # a quick check

``--jobs`` runs that many seeds at once (one process each); each trains on ``--threads`` torch
threads (the recipe was measured with 1; the demo's default is 2 where there are 2 cores). The
run passes when every seed shows warmup collapse, entropy-seeking and compression-seeking, in
that order.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import functools
import io
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import emit_report, log

from repscope.demos import three_phases as three_phases_demo

EXPECTED = ["warmup collapse", "entropy-seeking", "compression-seeking"]
#: The last commit with the previous detector (PELT segments, before issue 18).
BASELINE = "0ec7bc0"
#: The weight matrices whose ESD α is read: the demo's own choice (notebook 02 reads the same).
ESD_LAYERS = three_phases_demo.weight_layers()
#: The LLC's data: batches of sequences of the training context, drawn from the demo's
#: language with this seed (the demo's language, probe and held-out set use 0, 1 and 2), the
#: same batches for every run seed.
LLC_DATA_SEED, LLC_BATCHES, LLC_BATCH = 3, 8, 32
#: A slope change within this many checkpoints (on the demo's grid) of a boundary is at it.
NEAR = 1


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


def llc_batches() -> list[Any]:
    """``LLC_BATCHES`` batches of ``LLC_BATCH`` sequences of the training context (+1 for the
    targets), drawn from the demo's language as ``three_phases.train`` draws its own. (Drawn
    with ``default_rng(LLC_DATA_SEED)``, as the recorded seeds 0-4 were; the demo's
    ``llc_inputs`` seeds with ``[LLC_DATA_SEED, seed]``: other batches of the same law.)"""
    import torch

    from repscope.demos import three_phases

    rng = np.random.default_rng(LLC_DATA_SEED)
    data = three_phases.language().sample(LLC_BATCHES * LLC_BATCH, three_phases.CONTEXT + 1, rng)
    return list(torch.from_numpy(data).split(LLC_BATCH))


def boundaries_of(phases: list[dict[str, Any]], grid: list[int]) -> dict[str, int]:
    """``{name: step}`` of the phase boundaries: where one phase ends and the next starts, and
    a first phase's start or a last phase's end that is not the first or last checkpoint."""
    out: dict[str, int] = {}
    if not phases:
        return out
    if phases[0]["start_step"] != grid[0]:
        out[f"start of {phases[0]['phase']}"] = phases[0]["start_step"]
    for before, after in itertools.pairwise(phases):
        if before["end_step"] == after["start_step"]:
            out[f"{before['phase']} → {after['phase']}"] = before["end_step"]
        else:  # a flat stretch between them
            out[f"end of {before['phase']}"] = before["end_step"]
            out[f"start of {after['phase']}"] = after["start_step"]
    if phases[-1]["end_step"] != grid[-1]:
        out[f"end of {phases[-1]['phase']}"] = phases[-1]["end_step"]
    return out


def llc_subset(grid: list[int], boundaries: list[int], n: int) -> list[int]:
    """``n`` checkpoints of ``grid`` (log-spaced: evenly in grid index): the first, the last and
    each boundary, then the widest gap (in index) between those chosen split at its middle (the
    later gap on a tie: the LLC means more where the model is near a minimum) until there are
    ``n``.

    >>> llc_subset([0, 1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512,
    ...             724, 1024, 1448, 2048, 2896, 4000], [45, 256], 8)
    [0, 3, 8, 45, 128, 256, 1024, 4000]
    """
    chosen = {0, len(grid) - 1} | {grid.index(b) for b in boundaries if b in grid}
    while len(chosen) < min(n, len(grid)):
        ends = sorted(chosen)
        a, b = max(itertools.pairwise(ends), key=lambda g: (g[1] - g[0], g[0]))
        chosen.add((a + b + 1) // 2)
    return [grid[i] for i in sorted(chosen)]


def near(step: int, boundaries: dict[str, int], grid: list[int]) -> str | None:
    """The boundary within ``NEAR`` checkpoints of ``step`` on the grid (the closest), or
    ``None``."""
    index = grid.index(step)
    close = [(abs(index - grid.index(b)), name) for name, b in boundaries.items() if b in grid]
    close = [c for c in close if c[0] <= NEAR]
    return min(close)[1] if close else None


def slope_changes(
    steps: list[int], values: list[float], boundaries: dict[str, int], grid: list[int]
) -> dict[str, Any]:
    """Slopes of ``values`` against ``log(step + 1)`` between consecutive checkpoints (NaN ones
    left out), and at each inner checkpoint the change of slope: every sign change, and the
    largest change, each with the boundary within ±``NEAR`` checkpoints, if any."""
    keep = [(s, v) for s, v in zip(steps, values, strict=True) if np.isfinite(v)]
    if len(keep) < 3:
        return {"slopes": [], "sign_changes": [], "largest_change": None}
    s = np.array([k[0] for k in keep])
    y = np.array([k[1] for k in keep], dtype=float)
    slopes = np.diff(y) / np.diff(np.log1p(s))
    turns = []
    for k in range(1, len(s) - 1):
        before, after = slopes[k - 1], slopes[k]
        turns.append(
            {
                "step": int(s[k]),
                "interval": [int(s[k - 1]), int(s[k + 1])],
                "slopes": [round(float(before), 4), round(float(after), 4)],
                "change": round(float(after - before), 4),
                "sign_change": bool(np.sign(before) != np.sign(after)),
                "near_boundary": near(int(s[k]), boundaries, grid),
            }
        )
    return {
        "slopes": [
            {"from": int(a), "to": int(b), "slope": round(float(m), 4)}
            for a, b, m in zip(s[:-1], s[1:], slopes, strict=True)
        ],
        "sign_changes": [t for t in turns if t["sign_change"]],
        "largest_change": max(turns, key=lambda t: abs(t["change"])),
    }


def turning_steps(phases: list[Any], grid: list[int]) -> list[int]:
    """The inner ends of detected phases: the steps where the curve turned or began to move."""
    ends = {p.start_step for p in phases} | {p.end_step for p in phases}
    return sorted(e for e in ends if e not in (grid[0], grid[-1]))


def lenses(
    demo: Any, grid: list[int], phases: list[dict], threads: int | None, points: int
) -> dict[str, Any]:
    """ESD α of ``ESD_LAYERS`` at every checkpoint and the LLC at ``points`` of them, with
    where each changes slope relative to the phase boundaries; seconds of each part."""
    import pandas as pd
    import torch

    from repscope.demos import three_phases
    from repscope.phases import detect_phases
    from repscope.probe import Probe
    from repscope.sources.folder import CheckpointFolder
    from repscope.trajectory import Trajectory

    if threads is not None:  # else the process's (the demo's scan uses them too)
        torch.set_num_threads(threads)
    root, traj = Path(demo.folder), demo.trajectories[three_phases.RUN]
    bounds = boundaries_of(phases, grid)
    seconds: dict[str, Any] = {}

    # -- ESD α: a weights-view scan of the same checkpoints into the demo's store ----------------
    start = time.perf_counter()
    rng = np.random.default_rng(three_phases.PROBE_SEED)
    ids = torch.from_numpy(three_phases.language().sample(8, three_phases.CONTEXT, rng))
    weights = Trajectory(
        CheckpointFolder(root / "checkpoints", model=three_phases.model, run=three_phases.RUN),
        Probe({"input_ids": ids}, layers=ESD_LAYERS),  # the weights view reads no inputs
        store=traj.store,
        view="weights",
        errors="none",
        fit_range=three_phases.FIT_RANGE,
    ).compute(progress=False)
    seconds["weights_scan"] = round(time.perf_counter() - start, 2)
    curves = pd.DataFrame({layer: weights.curve("esd_alpha", layer) for layer in ESD_LAYERS})
    mean = curves.mean(axis=1)
    detected = {
        layer: weights.phases(layer, measures=("esd_alpha", "esd_alpha")) for layer in ESD_LAYERS
    }
    on_mean = detect_phases(
        mean.index.to_numpy(), mean.to_numpy(), mean.to_numpy(), names=("ESD α", "ESD α")
    )
    turns = {layer: turning_steps(found, grid) for layer, found in detected.items()}
    turns_mean = turning_steps(on_mean, grid)

    # -- LLC at a log-spaced subset, one checkpoint per call (timed each) ------------------------
    subset = llc_subset(grid, list(bounds.values()), points)
    settings, batches = three_phases.LLC_SETTINGS, llc_batches()
    assert traj.source is not None, "the demo's trajectory has its folder as source after the scan"
    start, loaded = time.perf_counter(), "devinterp.slt.sampling" in sys.modules
    import devinterp.slt.sampling  # noqa: F401  (what estimate_llc imports: once per process)

    # None: something had imported it already (its cost is then in an earlier part)
    seconds["llc_import"] = None if loaded else round(time.perf_counter() - start, 2)
    per_step, failed = [], {}
    for step in subset:
        start = time.perf_counter()
        try:
            traj.add_llc(batches, three_phases.next_token_loss, settings, steps=[step])
        except FloatingPointError as err:
            failed[step] = str(err)
        per_step.append(round(time.perf_counter() - start, 2))
    seconds["llc_per_checkpoint"] = per_step
    seconds["llc_total"] = round(sum(per_step), 2)
    layer = three_phases.LAYER
    llc = traj.curve("llc", layer).reindex(subset)
    llc_se = traj.curve("llc_se", layer).reindex(subset)
    init_loss = traj.curve("llc_init_loss", layer).reindex(subset)
    alpha_subset = mean.reindex(subset)

    def at(turn_steps: list[int]) -> list[dict[str, Any]]:
        return [{"step": t, "near_boundary": near(t, bounds, grid)} for t in turn_steps]

    return {
        "boundaries": bounds,
        "llc": {
            "settings": settings.as_dict(),
            "data": f"{LLC_BATCHES} batches of {LLC_BATCH} × {three_phases.CONTEXT} tokens, "
            f"seed {LLC_DATA_SEED}",
            "steps": subset,
            "llc": [round(float(v), 3) for v in llc],
            "llc_se": [round(float(v), 3) for v in llc_se],
            "init_loss": [round(float(v), 4) for v in init_loss],
            "failed": failed,
            "slope": slope_changes(subset, llc.tolist(), bounds, grid),
        },
        "esd_alpha": {
            "layers": ESD_LAYERS,
            "steps": [int(s) for s in mean.index],
            "mean": [round(float(v), 4) for v in mean],
            "per_layer": {c: [round(float(v), 4) for v in curves[c]] for c in ESD_LAYERS},
            "turning_points_mean": at(turns_mean),
            "turning_points": {c: at(t) for c, t in turns.items()},
            "phases_mean": [
                {"phase": p.name, "start_step": p.start_step, "end_step": p.end_step}
                for p in on_mean
            ],
            "slope_mean": slope_changes([int(s) for s in mean.index], mean.tolist(), bounds, grid)[
                "largest_change"
            ],
            "slope_at_llc_steps": slope_changes(subset, alpha_subset.tolist(), bounds, grid),
        },
        "seconds": seconds,
    }


def one_seed(
    seed: int,
    threads: int,
    baseline: str,
    size: str = "full",
    with_lenses: bool = True,
    points: int = 8,
) -> dict[str, Any]:
    from repscope.demos import three_phases

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        demo = three_phases.run(size, seed=seed, folder=folder, threads=threads)
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
        if with_lenses:
            grid = three_phases.checkpoint_steps(three_phases.SIZES[size][0])
            record["lenses"] = lenses(demo, grid, record["phases"], threads, points)
    record["wall_s"] = round(time.perf_counter() - start, 1)
    record["pass"] = table.phase.tolist() == EXPECTED
    return record


def lens_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per boundary (by name), how many seeds show each lens changing slope within ±``NEAR``
    checkpoints of it."""
    out: dict[str, Any] = {}
    for record in records:
        found = record.get("lenses")
        if not found:
            continue
        llc, esd = found["llc"]["slope"], found["esd_alpha"]
        at_subset = esd["slope_at_llc_steps"]
        for name in found["boundaries"]:
            row = out.setdefault(
                name,
                {
                    "seeds": 0,
                    "llc_sign_change": 0,
                    "llc_largest_change": 0,
                    "esd_alpha_mean_turning_point": 0,
                    "esd_alpha_sign_change_at_llc_steps": 0,
                    "esd_alpha_largest_change_at_llc_steps": 0,
                    "esd_alpha_largest_change_all_steps": 0,
                    "esd_alpha_layers_turning_here": [],
                },
            )
            row["seeds"] += 1
            row["llc_sign_change"] += any(t["near_boundary"] == name for t in llc["sign_changes"])
            row["llc_largest_change"] += bool(
                llc["largest_change"] and llc["largest_change"]["near_boundary"] == name
            )
            row["esd_alpha_mean_turning_point"] += any(
                t["near_boundary"] == name for t in esd["turning_points_mean"]
            )
            row["esd_alpha_sign_change_at_llc_steps"] += any(
                t["near_boundary"] == name for t in at_subset["sign_changes"]
            )
            row["esd_alpha_largest_change_at_llc_steps"] += bool(
                at_subset["largest_change"] and at_subset["largest_change"]["near_boundary"] == name
            )
            row["esd_alpha_largest_change_all_steps"] += bool(
                esd["slope_mean"] and esd["slope_mean"]["near_boundary"] == name
            )
            row["esd_alpha_layers_turning_here"].append(
                sum(
                    any(t["near_boundary"] == name for t in turns)
                    for turns in esd["turning_points"].values()
                )
            )
    return out


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
    parser.add_argument(
        "--size", default="full", choices=["small", "full"], help="the demo's size (small: quick)"
    )
    parser.add_argument(
        "--lenses",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also read ESD α (weights view) and the LLC of each run (default on)",
    )
    parser.add_argument(
        "--llc-points", type=int, default=8, help="checkpoints at which the LLC is estimated"
    )
    args = parser.parse_args()
    load = os.getloadavg()
    seeds = seeds_of(args.seeds)
    records = []
    with cf.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {
            pool.submit(
                one_seed, s, args.threads, args.baseline, args.size, args.lenses, args.llc_points
            ): s
            for s in seeds
        }
        for future in cf.as_completed(futures):
            record = future.result()
            log(
                f"seed {record['seed']}: {[p['phase'] for p in record['phases']]} "
                f"({record['wall_s']} s)"
            )
            if "lenses" in record:
                found = record["lenses"]
                log(
                    f"  LLC at {found['llc']['steps']}: {found['llc']['llc']} "
                    f"({found['seconds']['llc_total']} s)"
                )
            records.append(record)
            if len(records) < len(seeds):  # in case the run is stopped before the end
                write_report(args, seeds, records, load, partial=True)
    write_report(args, seeds, records, load)


def write_report(
    args: argparse.Namespace,
    seeds: list[int],
    records: list[dict[str, Any]],
    load: Any,
    *,
    partial: bool = False,
) -> None:
    """The report of the seeds done (JSON on stdout, and to ``--out``); ``partial``: written to
    ``--out`` only, after each seed, so that a run stopped early leaves the seeds it finished."""
    records = sorted(records, key=lambda r: r["seed"])
    notes = ["A seed passes when its phase table reads exactly: " + ", ".join(EXPECTED) + "."]
    head: dict[str, Any] = {
        "benchmark": "three_phases_seeds",
        "seeds": seeds,
        "size": args.size,
        "jobs": args.jobs,
        "expected": EXPECTED,
    }
    if partial or len(records) < len(seeds):
        head["partial"] = True
        head["seeds_done"] = [r["seed"] for r in records]
    if args.lenses:
        head["lens_summary"] = lens_summary(records)
        notes += [
            "Lenses: ESD α (WeightWatcher, weights view, errors='none') of "
            + ", ".join(ESD_LAYERS)
            + " at every checkpoint; the LLC (repscope.llc.add_llc, settings in each record) "
            f"at {args.llc_points} checkpoints: step 0, the last, the phase boundaries, the rest "
            "filled evenly in checkpoint index. The first phase starts at step 0, so the "
            "boundaries are where one phase ends and the next starts.",
            "Slopes are against log(step + 1) between consecutive checkpoints; a slope change "
            f"at a checkpoint counts as at a boundary when it lies within ±{NEAR} checkpoint of "
            "it on the demo's grid. The LLC is compared at its own checkpoints; ESD α at the "
            "same checkpoints (slope_at_llc_steps), at all of them (slope_mean: the largest "
            "change) and by the phase detector (RunReader.phases with measures=('esd_alpha', "
            "'esd_alpha') per layer, detect_phases on the mean).",
            "With the boundaries among the LLC checkpoints, a slope change at any one of the "
            "inner LLC checkpoints lands on a given boundary's ±1 window by chance about once "
            f"in {max(args.llc_points - 2, 1)} (when no other LLC checkpoint falls in it).",
            "The LLC is an estimate at a local minimum; before the loss has settled (the first "
            "~100 steps) the chains still descend and it may be negative (docs/llc.md).",
        ]
    report = functools.partial(
        emit_report,
        head,
        records=records,
        load_at_start=load,
        threads=args.threads or 0,
        out=args.out,
        notes=notes,
    )
    if not partial:
        report()
    elif args.out:
        with contextlib.redirect_stdout(io.StringIO()):  # the file only
            report()


if __name__ == "__main__":
    main()
