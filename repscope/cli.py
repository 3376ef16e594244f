"""The ``repscope`` command line: ``tour``, ``scan``, ``ls``, ``export``, ``check`` and
``demo``.

Each subcommand registers itself (``add_<name>(commands)`` adds its parser and
``set_defaults(func=run_<name>)``); :func:`main` runs the chosen one behind one error wrapper:
an error is one line on stderr naming the command, never a traceback (``REPSCOPE_DEBUG=1``
shows it), and an interrupt keeps what was stored.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__
from ._terminal import escaped_warnings, printable
from .check_cli import add_check
from .demo_cli import add_demo
from .scan_cli import EXIT_ERROR, EXIT_USAGE, add_scan
from .store_cli import add_store_commands
from .tour import add_tour

#: The subcommands, in the order ``repscope --help`` lists them.
SUBCOMMANDS = (add_tour, add_scan, add_store_commands, add_check, add_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="repscope",
        description="Watch the spectral geometry of neural-network representations over training.",
    )
    parser.add_argument("--version", action="version", version=f"repscope {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "func", None)
    if run is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        with escaped_warnings():
            return run(args)
    except KeyboardInterrupt:
        print(f"repscope {args.command}: interrupted; what was stored is kept.", file=sys.stderr)
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
