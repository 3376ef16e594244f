"""The ``repscope`` command line: ``tour``, ``scan``, ``ls``, ``export``, ``check`` and
``demo``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__
from ._terminal import escaped_warnings, printable
from .scan_cli import EXIT_ERROR, EXIT_USAGE, add_scan


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
    add_scan(commands)
    from .check_cli import add_check
    from .demo_cli import add_demo
    from .store_cli import add_store_commands

    add_store_commands(commands)
    add_check(commands)
    add_demo(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "tour":
        from .tour import main as tour

        return tour()
    if args.command in ("scan", "ls", "export", "check"):
        from .check_cli import run_check
        from .scan_cli import run_scan
        from .store_cli import run_export, run_ls

        run = {"scan": run_scan, "ls": run_ls, "export": run_export, "check": run_check}[
            args.command
        ]
        try:
            with escaped_warnings():
                return run(args)
        except KeyboardInterrupt:
            print(
                f"repscope {args.command}: interrupted; what was stored is kept.", file=sys.stderr
            )
            return EXIT_ERROR
        except Exception as err:  # one line on stderr, never a traceback
            if os.environ.get("REPSCOPE_DEBUG"):
                raise
            text = printable(" ".join(str(err).split()) or type(err).__name__)
            known = isinstance(err, (ValueError, TypeError, OSError, RuntimeError, MemoryError))
            print(
                f"repscope {args.command}: error: "
                + (text if known else f"{type(err).__name__}: {text}")
                + ("" if known else " (REPSCOPE_DEBUG=1 shows the traceback)"),
                file=sys.stderr,
            )
            return EXIT_ERROR
    if args.command == "demo":
        from .demo_cli import run_demo

        return run_demo(args)
    parser.print_help()
    return EXIT_USAGE
