"""``repscope scan``: turn command-line arguments into a source, a probe and a trajectory."""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ._terminal import printable
from .config import MeasureConfig
from .options import Option
from .probe import REPRESENTATIONS, SPATIAL, Probe
from .scan import process_pool
from .sources.base import START_WORDS, Source
from .sources.registry import source_for
from .store import Store
from .trajectory import Trajectory

#: Exit statuses of ``repscope`` commands: all measured; nothing measured or bad input; a
#: usage error (argparse); some checkpoints failed and the rest are stored.
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


class DefaultsOnce(argparse.HelpFormatter):
    """``(default: X)`` after each help text that does not already say its default, and only
    for options that have one worth saying (not ``None``, not a switch's ``False``)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default in (None, False, argparse.SUPPRESS)
            or action.option_strings == []
        ):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        return f"{text} (default: {shown})"


def add_measure_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per measure option, made from :attr:`MeasureConfig.OPTIONS`: its spelling,
    parser, choices, default and help (:func:`measure_config` reads them back)."""
    group = parser.add_argument_group(
        "what is measured",
        "one flag per option of repscope.config.MeasureConfig (its docstring says more)",
    )
    for entry in MeasureConfig.OPTIONS.values():
        if entry.cli is None:
            continue
        flag: dict[str, Any] = dict(dest=entry.name, default=entry.default, help=entry.cli)
        if isinstance(entry.default, bool):
            flag["action"] = argparse.BooleanOptionalAction if entry.default else "store_true"
        else:
            flag.update(choices=entry.choices, metavar=entry.metavar, type=_flag_type(entry))
        group.add_argument(entry.flag_name, **flag)


def _flag_type(entry: Option):
    """``entry.parse`` as an argparse type: its ``ValueError`` is the usage error's message."""
    parse = entry.parse
    if parse is None:
        return None

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


def measure_config(args: argparse.Namespace) -> MeasureConfig:
    """The :class:`MeasureConfig` the measure flags name (:func:`add_measure_flags`)."""
    return MeasureConfig(
        **{name: getattr(args, name) for name, entry in MeasureConfig.OPTIONS.items() if entry.cli}
    )


def add_scan(commands) -> None:
    scan = commands.add_parser(
        "scan",
        help="fill a store with the geometry of every checkpoint of a run; print its phases",
        description="Load each checkpoint of SOURCE in turn, run the probe through it, measure "
        "the chosen layers and store the results in a SQLite file. A scan that is interrupted "
        "resumes where it stopped; checkpoints already in the store are not recomputed. A "
        "checkpoint that fails is reported and skipped. Exit status: 0 all checkpoints measured, "
        "3 some failed (the rest are stored), 1 nothing could be measured or bad input.",
        formatter_class=DefaultsOnce,
    )
    scan.set_defaults(func=run_scan)
    scan.add_argument(
        "source",
        help="a folder of checkpoints (weight files or Trainer "
        "checkpoint-<step>/ folders), or hf:ORG/NAME for hub revisions",
    )
    scan.add_argument("--store", required=True, help="the SQLite file to fill (created if new)")
    scan.add_argument(
        "--probe",
        help="a .safetensors file of probe tensors: 'input_ids' "
        "(+ 'attention_mask', 'labels') for language models, or 'inputs'",
    )
    scan.add_argument(
        "--probe-texts", help="a text file, one probe text per line (needs --tokenizer)"
    )
    scan.add_argument(
        "--probe-labels",
        help="a text file, one label per probe input, in order (colours the points; DSMI)",
    )
    scan.add_argument("--tokenizer", help="tokenizer name or folder for --probe-texts")
    scan.add_argument("--max-length", type=int, default=64, help="tokens per probe text")
    scan.add_argument("--layers", help="comma-separated module names (default: every block)")
    scan.add_argument(
        "--model",
        help="MODULE:FUNCTION returning a fresh torch.nn.Module, for folders of bare weight files",
    )
    scan.add_argument(
        "--steps",
        default="pythia",
        help="hub source: comma-separated steps, or 'pythia' for Pythia's 154 revisions",
    )
    scan.add_argument("--revision", default="step{step}", help="hub source: revision format")
    scan.add_argument("--run", help="run name in the store (default: the source's name)")
    scan.add_argument(
        "--representation",
        default="last_token",
        choices=list(REPRESENTATIONS),
        help="for sequence outputs: the last non-padding token (decoders), the first "
        "([CLS] of an encoder), the mean over tokens, or every token",
    )
    scan.add_argument(
        "--spatial",
        default="flatten",
        choices=list(SPATIAL),
        help="for feature maps (N, C, H, W): flatten to C*H*W features, or pool over space to C",
    )
    scan.add_argument(
        "--start",
        choices=["init", "pretrained"],
        help="whether the first checkpoint is an initialisation or a trained model (default: "
        "read from the folder: a Trainer config naming a pretrained model, or a first step "
        "above 0, is pretrained; otherwise unknown). The tracing paper's phase names are given "
        "only to runs that start at init",
    )
    add_measure_flags(scan)
    parallel = scan.add_mutually_exclusive_group()
    parallel.add_argument(
        "--workers",
        type=int,
        default=0,
        help="checkpoints measured in parallel processes (0: in this process)",
    )
    parallel.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="measure the checkpoints on a Dask cluster: its scheduler's "
        "address, e.g. tcp://10.0.0.5:8786 (needs repscope[dask]; the "
        "workers must be able to import --model and read SOURCE)",
    )
    scan.add_argument("--device", help="e.g. cuda (default: where the model loads, the CPU)")
    scan.add_argument("--phase-layer", help="layer whose phases are printed (default: the last)")
    scan.add_argument("--no-progress", action="store_true", help="no progress bar")


def _source(args: argparse.Namespace) -> Source:
    """The source SOURCE names (a scheme of ``repscope.sources.registry.SOURCES``, or a
    folder), given the source flags as text; each source reads its own."""
    return source_for(
        args.source, model=args.model, steps=args.steps, revision=args.revision, run=args.run
    )


def _lines(path: str, option: str) -> list[str]:
    """The non-empty lines of a UTF-8 text file (an error names the file and the option)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{option} {path}: not UTF-8 text (byte {err.start}: {err.reason}); save it as UTF-8."
        ) from None
    except OSError as err:
        raise ValueError(f"{option} {path}: cannot be read ({err.strerror}).") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _probe_labels(args: argparse.Namespace) -> list[int] | list[str] | None:
    if not args.probe_labels:
        return None
    labels = _lines(args.probe_labels, "--probe-labels")
    numeric = all(label.lstrip("-").isdigit() for label in labels)
    return [int(label) for label in labels] if numeric else labels


def _probe(args: argparse.Namespace) -> Probe:
    layers = args.layers.split(",") if args.layers else None
    options: dict = dict(layers=layers, representation=args.representation, spatial=args.spatial)
    labels: Any = _probe_labels(args)
    if args.probe_texts:
        if not args.tokenizer:
            raise ValueError("--probe-texts needs --tokenizer.")
        from transformers import AutoTokenizer

        texts = _lines(args.probe_texts, "--probe-texts")
        if labels is not None and len(labels) != len(texts):
            raise ValueError(
                f"--probe-labels {args.probe_labels} has {len(labels)} labels for "
                f"{len(texts)} probe texts: give one label per text, in order."
            )
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
        return Probe.from_texts(
            texts, tokenizer, max_length=args.max_length, labels=labels, **options
        )
    if not args.probe:
        raise ValueError("give the probe inputs: --probe FILE.safetensors or --probe-texts FILE.")
    from safetensors.torch import load_file

    try:
        tensors = load_file(args.probe)
    except Exception as err:  # safetensors raises its own error types
        raise ValueError(
            f"--probe {args.probe}: not a readable safetensors file ({type(err).__name__}: {err})."
        ) from None
    stored = tensors.pop("labels", None)
    if labels is None:
        labels = stored
    if "input_ids" in tensors:
        return Probe(tensors, labels=labels, **options)
    if "inputs" in tensors:
        return Probe(tensors["inputs"], labels=labels, **options)
    raise ValueError(f"{args.probe} holds {sorted(tensors)}; expected 'input_ids' or 'inputs'.")


@contextlib.contextmanager
def _executor(args: argparse.Namespace) -> Iterator[cf.Executor | None]:
    """Where the checkpoints are measured: a Dask cluster (``--scheduler``), a process pool
    (``--workers``), or this process (``None``)."""
    if args.scheduler is not None:
        with _dask_client(args.scheduler) as client:
            yield client.get_executor()
    elif args.workers:
        torch.set_num_threads(1)
        with process_pool(args.workers, args.device) as pool:  # spawn for CUDA
            yield pool
    else:
        yield None


def _dask_client(address: str):
    """A ``distributed.Client`` connected to the scheduler at ``address``."""
    if not address.strip():
        raise ValueError(
            "--scheduler must be a Dask scheduler's address, e.g. "
            f"tcp://10.0.0.5:8786; got {address!r}."
        )
    try:
        from distributed import Client
    except ImportError:
        raise ValueError(
            "--scheduler needs Dask's distributed scheduler, which is not "
            "installed: install repscope[dask] (pip install 'repscope[dask]')."
        ) from None
    try:
        return Client(address)
    except (OSError, TimeoutError, ValueError) as err:
        raise ValueError(
            f"--scheduler {address}: no Dask scheduler could be reached there "
            f"({type(err).__name__}: {' '.join(str(err).split())})."
        ) from None


def run_scan(args: argparse.Namespace) -> int:
    """Every option is checked before the first model is loaded; the exit status says what
    was measured (see :data:`EXIT_OK`, :data:`EXIT_PARTIAL`, :data:`EXIT_ERROR`)."""
    config = measure_config(args)
    layers = args.layers.split(",") if args.layers else None
    if args.phase_layer and layers and args.phase_layer not in layers:
        raise ValueError(f"--phase-layer {args.phase_layer!r} is not one of --layers {layers}.")
    source, probe = _source(args), _probe(args)
    store = Store(args.store)
    traj = Trajectory(
        source,
        probe,
        store=store,
        run=args.run,
        device=args.device,
        start=args.start,
        **config.options(),
    )
    pending = len(traj.pending())
    for name, why in source.skipped:
        print(printable(f"skipped: {name}: {why}"))
    print(
        printable(
            f"{traj.run}: {len(source)} checkpoints, {len(source) - pending} already in "
            f"{args.store}, {pending} to measure."
        )
    )
    with _executor(args) as executor:
        traj.compute(executor, progress=not args.no_progress)
    failures = traj.failures
    for row in failures.itertuples():
        print(
            printable(
                f"failed: step {row.step}"
                + ("" if row.layer == "*" else f", layer {row.layer}")
                + f": {row.error}"
            )
        )
    measured = sorted({r.layer for r in traj.records() if r.status == "ok"})
    if not measured:
        print("nothing could be measured: every checkpoint (or layer) failed.", file=sys.stderr)
        return EXIT_ERROR
    if args.phase_layer and args.phase_layer not in traj.layers:
        print(
            printable(
                f"--phase-layer {args.phase_layer!r} was not measured; the layers are "
                f"{traj.layers}."
            ),
            file=sys.stderr,
        )
        return EXIT_ERROR
    table = traj.phase_table(args.phase_layer)
    layer = args.phase_layer or traj.layers[-1]
    print()
    print(
        printable(
            f"phases of layer {layer} (RankMe: {traj.config.spectrum_kind} convention; the run "
            f"starts {START_WORDS[traj.start]}):"
        )
    )
    print(
        printable(table.to_string(index=False, float_format=lambda v: f"{v:+.3f}"), newlines=True)
        if len(table)
        else "no phase detected."
    )
    return EXIT_PARTIAL if len(failures) else EXIT_OK
