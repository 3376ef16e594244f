"""``repscope check STORE``: is a store sound, and which rows would a reader skip?

It opens the store for reading only (nothing is written), runs SQLite's ``PRAGMA
integrity_check`` and checks every row as a reader decodes it (:mod:`repscope.store_rows`),
then prints what it found. Exit status 0 when the store is clean, 3 when anything is wrong, 1
when the file cannot be opened as a store (not a store, a newer or older repscope's, locked).

Examples
--------
>>> import tempfile, pathlib
>>> from repscope.cli import main
>>> from repscope.synthetic import synthetic_trajectory
>>> path = pathlib.Path(tempfile.mkdtemp()) / "run.sqlite"
>>> _ = synthetic_trajectory(n_steps=3, layers=("h.0",), n_points=20, store=path)
>>> main(["check", str(path)])  # doctest: +ELLIPSIS
/.../run.sqlite: SQLite integrity check: ok
/.../run.sqlite: 3 results, 0 scalars, 1 runs, 1 probes: every row reads
0
"""

from __future__ import annotations

import argparse

#: Exit statuses: clean, and something wrong (as ``repscope scan``'s partial result).
EXIT_CLEAN, EXIT_FOUND = 0, 3


def add_check(commands) -> None:
    check = commands.add_parser(
        "check",
        help="check a store: SQLite's integrity check and every row as readers decode it",
        description="Open a store for reading only (nothing is written), run SQLite's "
        "integrity check and check every row as readers decode it (a bad row is one that "
        "repscope.open, ls, export and the widgets skip with a warning). Prints what it "
        "found. Exit status 0 when clean, 3 when anything is wrong, 1 when the file cannot be "
        "opened as a store.",
    )
    check.add_argument("store", help="a SQLite file written by repscope")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    from ._terminal import printable
    from .store import DamagedStoreError, Store

    path = args.store
    rows_error = None
    with Store(path, read_only=True) as store:
        integrity = store.integrity()
        try:
            counts, bad = store.row_counts(), store.bad_rows()
        except DamagedStoreError as err:
            counts, bad, rows_error = {}, [], str(err)
    print(f"{path}: SQLite integrity check: " + ("ok" if not integrity else "FAILED"))
    for line in integrity[:50]:
        print(f"  {printable(line)}")
    if rows_error is not None:
        print(f"{path}: the rows could not all be read: {printable(rows_error)}")
        return EXIT_FOUND
    for row in bad:
        print(f"{path}: bad row: {printable(str(row))}")
    held = ", ".join(f"{n} {table}" for table, n in counts.items())
    if bad:
        print(f"{path}: {held}: {len(bad)} bad row(s), which readers skip (with a warning)")
    else:
        print(f"{path}: {held}: every row reads")
    return EXIT_FOUND if integrity or bad else EXIT_CLEAN
