"""``repscope ls STORE`` and ``repscope export STORE``: a store to text, and to the scrubber.

Both need nothing but the store: it describes its runs, probes and configurations
(:func:`repscope.open`). ``ls`` prints, for each run, probe and configuration, the
``--run``/``--probe``/``--config`` values that ``export`` takes: the probe as a prefix of its
fingerprint, the configuration as a prefix of its id (:func:`config_id`, a hash of its key),
each long enough to be unique in the store. ``export`` takes any unique prefix, or the full
value. Every stored string is printed through :func:`~repscope._terminal.printable`.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
from collections.abc import Iterable
from typing import Any

from ._terminal import printable

#: How ``repscope export`` names the arguments of :func:`repscope.widgets.export.record`.
EXPORT_OPTIONS = {
    "layer": "--layer",
    "measures": "--measures",
    "phase_measures": "--phases-from",
    "trajectory": "STORE",
}
_SHORT = 8  # the shortest prefix ``ls`` shows


def add_store_commands(commands) -> None:
    ls = commands.add_parser(
        "ls",
        help="list what a store holds: runs, steps, layers, measures, failures",
        description="List each run of a store: its source, probe and configuration, its steps "
        "and layers, the measures and training scalars stored, failed checkpoints and steps "
        "whose weights are identical, and the --run/--probe/--config values that choose it "
        "for `repscope export`. Exit status 1 if the file is not a store.",
    )
    ls.add_argument("store", help="a SQLite file written by repscope")
    ls.set_defaults(func=run_ls)
    export = commands.add_parser(
        "export",
        help="write a store's scrubber as one HTML file",
        description="Write the scrubber of a store's runs (all of them, compared, or --run) as "
        "one HTML file that scrubs in any browser with no kernel. A run with several probes or "
        "configurations needs --probe or --config (`repscope ls STORE` shows the values). The "
        "page never replaces a store, the input or a file that is not an HTML page; it "
        "replaces a page repscope exported, and another HTML page only with --force. Exit "
        "status 1 if the store cannot be read, a choice (run, probe, configuration, layer, "
        "measure) does not exist, or the file may not be replaced.",
    )
    export.add_argument("store", help="a SQLite file written by repscope")
    export.add_argument("--html", required=True, help="the HTML file to write")
    export.add_argument("--run", help="only this run (default: every run in the store)")
    export.add_argument(
        "--probe", help="the probe's fingerprint, or a unique prefix (see `repscope ls`)"
    )
    export.add_argument(
        "--config", help="the configuration's id, or a unique prefix (see `repscope ls`)"
    )
    export.add_argument("--layer", help="the layer shown first (default: the last)")
    export.add_argument(
        "--measures",
        help="comma-separated curves (default: RankMe, α-ReQ, DSE and the loss, those stored)",
    )
    export.add_argument(
        "--phases-from",
        metavar="FIRST,SECOND",
        help="the two stored measures the shaded phases are read from: the first's turning "
        "points make the phases, the second is read over each (default: "
        "effective_rank,alpha; e.g. llc,effective_rank)",
    )
    export.add_argument(
        "--force",
        action="store_true",
        help="replace an HTML page that repscope did not export (never a store or the input)",
    )
    export.set_defaults(func=run_export)


def config_id(key: str) -> str:
    """The id of a measure configuration: the SHA-256 of its key, in hex (``ls`` shows a
    prefix, ``export --config`` takes one)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def probe_id(fingerprint: str) -> str:
    """A probe fingerprint without its ``probe:`` prefix."""
    return fingerprint.removeprefix("probe:")


def short_ids(ids: Iterable[str]) -> dict[str, str]:
    """``{id: shortest prefix of at least 8 characters that no other id shares}``."""
    ids = sorted(set(ids))
    short = {}
    for i in ids:
        n = _SHORT
        while n < len(i) and any(o != i and o.startswith(i[:n]) for o in ids):
            n += 1
        short[i] = i[:n]
    return short


def run_ls(args: argparse.Namespace) -> int:
    from .catalog import describe_source
    from .catalog import open as open_store
    from .config import config_summary
    from .reading import layer_order
    from .sources.base import START_WORDS

    catalog = open_store(args.store)
    combos = catalog.store.combinations()
    probes = short_ids(probe_id(c[1]) for c in combos)
    configs = short_ids(config_id(c[2]) for c in combos)

    def say(line: str) -> None:
        print(printable(line))

    say(f"{args.store}: {len(catalog.runs)} run(s)")
    for run, probe, params, n_steps, n_failed in combos:
        traj = catalog.trajectory(run, probe=probe, config=params)
        steps = traj.steps
        measures = sorted(set(traj.metrics.measure))
        scalars = sorted(set(traj.scalars.name))
        print()
        say(f"run {run!r}")
        source = catalog.store.run_source(run) or {}
        say(f"  source   {describe_source(source)}")
        say(f"  starts   {START_WORDS.get(source.get('start', 'unknown'), 'unknown')}")
        probe_info = traj.probe
        inputs = probe_info.n_samples if probe_info.n_samples is not None else "?"
        say(f"  probe    {probe} ({inputs} inputs, {probe_info.representation})")
        say(f"  config   {config_summary(params)}")
        chosen = _options(run, probes[probe_id(probe)], configs[config_id(params)])
        say(f"  export   {chosen}")
        span = f"{steps[0]} … {steps[-1]}" if steps else "none"
        say(f"  steps    {n_steps} ({span})")
        say(f"  layers   {', '.join(layer_order(traj.layers))}")
        say(f"  measures {', '.join(measures) or 'none'}")
        if scalars:
            say(f"  scalars  {', '.join(scalars)}")
        failures = traj.failures
        say(f"  failed   {n_failed} step(s)" if n_failed else "  failed   none")
        for row in failures.drop_duplicates("step").head(10).itertuples():
            say(f"    step {row.step}: {row.error}")
        same = traj.duplicates()
        if same:
            shown = ", ".join(f"{s} = {first}" for s, first in same.items())
            say(f"  identical weights at steps {shown}")
    return 0


def _options(run: str, probe: str, config: str) -> str:
    return f"--run {shlex.quote(run)} --probe {probe} --config {config}"


def run_export(args: argparse.Namespace) -> int:
    from .catalog import open as open_store
    from .widgets.export import record, write_page
    from .widgets.page_file import check_page_path

    def target():
        return check_page_path(
            args.html,
            overwrite=args.force,
            inputs=[args.store],
            name="--html",
            func="repscope export",
            force="--force",
        )

    target()  # before the store is opened, and again before the page is written
    catalog = open_store(args.store)
    runs = {
        run: catalog.trajectory(run, probe=probe, config=config)
        for run, probe, config in select(catalog.store.combinations(), args)
    }
    measures = args.measures.split(",") if args.measures else None
    pair = args.phases_from.split(",") if args.phases_from else ["effective_rank", "alpha"]
    recorded = record(
        runs if len(runs) > 1 else next(iter(runs.values())),
        layer=args.layer,
        measures=measures,
        phase_measures=pair,
        func="repscope export",
        arguments=EXPORT_OPTIONS,
    )
    out = write_page(recorded, target())
    size = out.stat().st_size / 1e6
    print(printable(f"wrote {out} ({size:.1f} MB): {', '.join(runs)}"))
    return 0


def select(combos: list[tuple[Any, ...]], args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """The ``(run, probe, config)`` that ``--run``, ``--probe`` and ``--config`` choose: one per
    run. A choice that matches nothing, a prefix that matches several, or a run left with
    several probes or configurations is an error naming the option and the values to pass."""
    store = args.store
    every = left = [(c[0], c[1], c[2]) for c in combos]
    if not left:
        raise ValueError(f"{store} holds no results yet: nothing to export.")
    if args.run is not None:
        runs = sorted({c[0] for c in left})
        if args.run not in runs:
            raise ValueError(f"--run {args.run!r} is not a run of {store}: pass one of {runs}.")
        left = [c for c in left if c[0] == args.run]
    if args.probe is not None:
        chosen = _match("--probe", args.probe, {c[1]: probe_id(c[1]) for c in left}, store)
        left = [c for c in left if c[1] == chosen]
    if args.config is not None:
        chosen = _match("--config", args.config, {c[2]: config_id(c[2]) for c in left}, store)
        left = [c for c in left if c[2] == chosen]
    by_run: dict[str, list[tuple[str, str, str]]] = {}
    for c in left:
        by_run.setdefault(c[0], []).append(c)
    for run, several in by_run.items():
        if len(several) > 1:
            raise ValueError(_several(run, several, every, store))
    return [several[0] for several in by_run.values()]


def _match(option: str, given: str, ids: dict[str, str], store: str) -> str:
    """The one stored value whose id (or the value itself) ``given`` names, by prefix."""
    wanted = given.removeprefix("probe:") if option == "--probe" else given
    found = sorted({v for v, i in ids.items() if given == v or (wanted and i.startswith(wanted))})
    if len(found) == 1:
        return found[0]
    shown = sorted(short_ids(ids.values()).values())
    kind = {"--probe": "probe", "--config": "configuration"}[option]
    if not found:
        raise ValueError(
            f"{option} {given!r} matches no {kind} of the runs chosen in {store}; "
            f"pass one of {shown} (`repscope ls` lists them)."
        )
    raise ValueError(
        f"{option} {given!r} matches {len(found)} {kind}s in {store}: give more of it, "
        f"one of {shown}."
    )


def _several(run: str, several: list, every: list, store: str) -> str:
    """The error for a run left with several results: the options that tell them apart, with
    the values ``ls`` shows (prefixes unique in the whole store)."""
    from .config import config_summary

    probes = short_ids(probe_id(c[1]) for c in every)
    configs = short_ids(config_id(c[2]) for c in every)
    need = [
        name for name, k in (("--probe", 1), ("--config", 2)) if len({c[k] for c in several}) > 1
    ]
    choices = []
    for _, probe, config in several:
        parts = []
        if "--probe" in need:
            parts.append(f"--probe {probes[probe_id(probe)]}")
        if "--config" in need:
            parts.append(f"--config {configs[config_id(config)]} ({config_summary(config)})")
        choices.append(" ".join(parts))
    what = "pairs of probe and configuration"
    if len(need) == 1:
        what = {"--probe": "probes", "--config": "configurations"}[need[0]]
    return (
        f"run {run!r} of {store} has results under {len(several)} {what}: pass "
        f"{' and '.join(need)}, one of: {'; '.join(choices)} (`repscope ls` lists them)."
    )
