"""``repscope demo``: train a classroom demo, scan it, print what it shows, export the scrubber."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .demos import DEMOS


def add_demo(commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="train a small model, scan its checkpoints, export the scrubber to HTML",
        description="Train one of the classroom demos on this machine (real training, real "
        "checkpoints), scan its checkpoints, print what it shows (the phase table for "
        "three-phases) and write the scrubber as one HTML file that opens in any browser.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument("name", nargs="?", default="three-phases", choices=sorted(DEMOS))
    demo.add_argument(
        "--size", choices=["small", "full"], default="full", help="small: the test-sized version"
    )
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--folder", help="where checkpoints and the store go (default: a temporary folder)"
    )
    demo.add_argument("--html", default="demo.html", help="the exported scrubber")
    demo.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from .widgets.page_file import check_page_path

    module = DEMOS[args.name]
    # before minutes of training: a page never goes over a store or a stranger's file
    check_page_path(args.html, name="--html", func="repscope demo", force="another file name")
    start = time.perf_counter()
    print(f"repscope demo {args.name} ({args.size}): training and scanning …", flush=True)
    result = module.run(args.size, seed=args.seed, folder=args.folder, progress=True)
    print(f"done in {time.perf_counter() - start:.0f} s; checkpoints and store in {result.folder}")
    _report(args.name, result)
    out = result.export_html(Path(args.html))
    print(
        f"\nwrote {out} ({out.stat().st_size / 1e6:.1f} MB): open it in a browser and drag the "
        "step slider (no kernel, no network needed)."
    )
    print(
        "The notebooks explain each demo beside the live widget: `make lab` opens them in "
        "JupyterLab (notebooks/02_three_phases.ipynb first)."
    )
    return 0


def _report(name: str, result) -> None:
    if name == "three-phases":
        _report_phases(result)
    elif name == "grokking":
        f = result.facts
        print(
            f"train accuracy >= 99 % at step {f['memorised_step']}; test accuracy >= 90 % at "
            f"step {f['generalised_step']}"
        )
    else:
        last = result.history[result.history.step == result.history.step.max()]
        print(last.to_string(index=False))
        if "weights_moved" in result.facts:
            print(
                "weights moved (relative Frobenius distance from the start):",
                result.facts["weights_moved"],
            )


def _report_phases(result) -> None:
    from .demos.three_phases import LAYER

    table = result.facts["phases"]
    print(
        f"\nphases of {LAYER} (RankMe = effective rank, α = eigenspectrum decay; changes "
        "from each phase's first to its last checkpoint):"
    )
    shown = ["phase", "label", "start_step", "end_step", "rankme_rel_change", "alpha_abs_change"]
    print(table[shown].to_string(index=False) if len(table) else "  none found")
    rank = result.trajectory.curve("effective_rank", LAYER)
    history = result.history.set_index("step")
    trough = int(rank.idxmin())
    peak = int(rank[rank.index > trough].idxmax()) if (rank.index > trough).any() else trough
    last = int(rank.index[-1])
    print(
        f"\nRankMe {rank.iloc[0]:.1f} at step 0 → {rank[trough]:.1f} at step {trough} "
        f"(collapse) → {rank[peak]:.1f} at step {peak} → {rank[last]:.1f} at step {last}"
    )
    print(
        "what the model knows (held-out, nats): loss / KL(unigram ‖ model) / KL(true law ‖ model)"
    )
    for step in dict.fromkeys((0, trough, peak, last)):
        row = history.loc[step]
        print(
            f"  step {step:>5}: {row.heldout_loss:.2f} / {row.kl_unigram:.2f} / {row.kl_true:.2f}"
        )
