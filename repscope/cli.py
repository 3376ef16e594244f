"""The ``repscope`` command line: ``repscope tour`` (later: ``scan``, ``export``, ``demo``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from . import __version__

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "tour":
        from .tour import main as tour

        return tour()
    parser.print_help()
    return EXIT_USAGE
