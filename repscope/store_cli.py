"""``repscope ls STORE`` and ``repscope export STORE``: a store to text, and to the scrubber.

Both need nothing but the store: it describes its runs, probes and configurations
(:func:`repscope.open`).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_store_commands(commands) -> None:
    ls = commands.add_parser(
        "ls",
        help="list what a store holds: runs, steps, layers, measures, failures",
        description="List each run of a store: its source, probe and configuration, its steps "
        "and layers, the measures and training scalars stored, failed checkpoints and steps "
        "whose weights are identical. Exit status 1 if the file is not a store.",
    )
    ls.add_argument("store", help="a SQLite file written by repscope")
    export = commands.add_parser(
        "export",
        help="write a store's scrubber as one HTML file",
        description="Write the scrubber of a store's runs (all of them, compared, or --run) as "
        "one HTML file that scrubs in any browser with no kernel. Exit status 1 if the store "
        "cannot be read or a choice (run, layer, measure) does not exist.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    export.add_argument("store", help="a SQLite file written by repscope")
    export.add_argument("--html", required=True, help="the HTML file to write")
    export.add_argument("--run", help="only this run (default: every run in the store)")
    export.add_argument("--layer", help="the layer shown (default: the last)")
    export.add_argument(
        "--measures",
        help="comma-separated curves (default: RankMe, α-ReQ, DSE and the loss, those stored)",
    )


def run_ls(args: argparse.Namespace) -> int:
    from .catalog import describe_source
    from .catalog import open as open_store
    from .config import config_summary
    from .sources.base import START_WORDS
    from .trajectory import layer_order

    catalog = open_store(args.store)
    combos = catalog.store.combinations()
    print(f"{args.store}: {len(catalog.runs)} run(s)")
    for run, probe, params, n_steps, n_failed in combos:
        traj = catalog.trajectory(run, probe=probe, config=params)
        steps = traj.steps
        measures = sorted(set(traj.metrics.measure))
        scalars = sorted(set(traj.scalars.name))
        print(f"\nrun {run!r}")
        source = catalog.store.run_source(run) or {}
        print(f"  source   {describe_source(source)}")
        print(f"  starts   {START_WORDS[source.get('start', 'unknown')]}")
        probe_info = traj.probe
        inputs = probe_info.n_samples if probe_info.n_samples is not None else "?"
        print(f"  probe    {probe} ({inputs} inputs, {probe_info.representation})")
        print(f"  config   {config_summary(params)}")
        span = f"{steps[0]} … {steps[-1]}" if steps else "none"
        print(f"  steps    {n_steps} ({span})")
        print(f"  layers   {', '.join(layer_order(traj.layers))}")
        print(f"  measures {', '.join(measures) or 'none'}")
        if scalars:
            print(f"  scalars  {', '.join(scalars)}")
        failures = traj.failures
        print(f"  failed   {n_failed} step(s)" if n_failed else "  failed   none")
        for row in failures.drop_duplicates("step").head(10).itertuples():
            print(f"    step {row.step}: {row.error}")
        same = traj.duplicates()
        if same:
            shown = ", ".join(f"{s} = {first}" for s, first in same.items())
            print(f"  identical weights at steps {shown}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from .catalog import open as open_store
    from .widgets import export_html

    catalog = open_store(args.store)
    runs = catalog.trajectories(args.run)
    measures = args.measures.split(",") if args.measures else None
    out = export_html(
        runs if len(runs) > 1 else next(iter(runs.values())),
        Path(args.html),
        layer=args.layer,
        measures=measures,
    )
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {', '.join(runs)}")
    return 0
