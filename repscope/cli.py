"""The ``repscope`` command line: ``tour``, ``scan``, ``ls``, ``export`` and ``demo``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def _fit_range(text: str) -> tuple[int, int]:
    try:
        first, last = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected FIRST,LAST (e.g. 12,100); got {text!r}") from None
    return first, last


def _add_scan(commands) -> None:
    scan = commands.add_parser(
        "scan",
        help="fill a store with the geometry of every checkpoint of a run; print its phases",
        description="Load each checkpoint of SOURCE in turn, run the probe through it, measure "
        "the chosen layers and store the results in a SQLite file. A scan that is interrupted "
        "resumes where it stopped; checkpoints already in the store are not recomputed. A "
        "checkpoint that fails is reported and skipped. Exit status: 0 all checkpoints measured, "
        "3 some failed (the rest are stored), 1 nothing could be measured or bad input.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    scan.add_argument("source", help="a folder of checkpoints (weight files or Trainer "
                      "checkpoint-<step>/ folders), or hf:ORG/NAME for hub revisions")
    scan.add_argument("--store", required=True, help="the SQLite file to fill (created if new)")
    scan.add_argument("--probe", help="a .safetensors file of probe tensors: 'input_ids' "
                      "(+ 'attention_mask', 'labels') for language models, or 'inputs'")
    scan.add_argument("--probe-texts", help="a text file, one probe text per line "
                      "(needs --tokenizer)")
    scan.add_argument("--tokenizer", help="tokenizer name or folder for --probe-texts")
    scan.add_argument("--max-length", type=int, default=64, help="tokens per probe text")
    scan.add_argument("--layers", help="comma-separated module names (default: every block)")
    scan.add_argument("--model", help="MODULE:FUNCTION returning a fresh torch.nn.Module, for "
                      "folders of bare weight files")
    scan.add_argument("--steps", default="pythia", help="hub source: comma-separated steps, or "
                      "'pythia' for Pythia's 154 revisions")
    scan.add_argument("--revision", default="step{step}", help="hub source: revision format")
    scan.add_argument("--run", help="run name in the store (default: the source's name)")
    scan.add_argument("--representation", default="last_token",
                      choices=["last_token", "mean", "all"],
                      help="for sequence outputs: the last non-padding token, the mean over "
                      "tokens, or every token")
    scan.add_argument("--view", default="activations",
                      choices=["activations", "weights", "gradients"],
                      help="measure the probe's activations, the layers' weight matrices, or "
                      "their gradients under the model's own loss")
    scan.add_argument("--kind", choices=["covariance", "singular"],
                      help="spectrum convention (default: covariance for activations)")
    scan.add_argument("--fit-range", type=_fit_range, default=(12, 100),
                      help="alpha-ReQ fit ranks FIRST,LAST (1-based)")
    scan.add_argument("--dse", action="store_true", help="also compute DSE (and DSMI with labels)")
    scan.add_argument("--sigma", default="10", help="DSE kernel width: a number, median, sqrt_dim")
    scan.add_argument("--t", type=float, default=1.0, help="DSE diffusion time")
    scan.add_argument("--workers", type=int, default=0,
                      help="checkpoints measured in parallel processes (0: in this process)")
    scan.add_argument("--device", help="e.g. cuda (default: where the model loads, the CPU)")
    scan.add_argument("--phase-layer", help="layer whose phases are printed (default: the last)")
    scan.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="repscope",
        description="Watch the spectral geometry of neural-network representations over training.",
    )
    parser.add_argument("--version", action="version", version=f"repscope {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "tour",
        help="every measure on constructed data with a known answer, computed beside expected",
        description="Compute every measure on data whose answer is known and print a table of "
        "expected against computed values. Exits 1 if any row disagrees.",
    )
    _add_scan(commands)
    from .demo_cli import add_demo
    from .store_cli import add_store_commands

    add_store_commands(commands)
    add_demo(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "tour":
        from .tour import main as tour

        return tour()
    if args.command == "scan":
        from .scan_cli import run_scan

        try:
            return run_scan(args)
        except (ValueError, TypeError, OSError, RuntimeError, ImportError) as err:
            print(f"repscope scan: error: {err}", file=sys.stderr)
            return EXIT_ERROR
    if args.command in ("ls", "export"):
        from .store_cli import run_export, run_ls

        try:
            return (run_ls if args.command == "ls" else run_export)(args)
        except (ValueError, TypeError, OSError, RuntimeError) as err:
            print(f"repscope {args.command}: error: {err}", file=sys.stderr)
            return EXIT_ERROR
    if args.command == "demo":
        from .demo_cli import run_demo

        return run_demo(args)
    parser.print_help()
    return EXIT_USAGE
