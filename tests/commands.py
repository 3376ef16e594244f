"""``repscope ARGS`` run in the test's own process (the ``cli`` fixture of tests/conftest.py,
and module fixtures that train or scan once for several tests)."""

from __future__ import annotations

import contextlib
import io
import warnings
from types import SimpleNamespace


def run_cli(*args) -> SimpleNamespace:
    """``.returncode``, ``.stdout`` and ``.stderr`` of ``repscope ARGS``, as a fresh ``python -m
    repscope ARGS`` gives them, without the seconds a fresh process spends importing torch.
    Warnings are shown as a fresh interpreter shows them (the suite's filters turn the package's
    own into errors)."""
    from repscope.cli import main

    out, err = io.StringIO(), io.StringIO()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        warnings.resetwarnings()  # a fresh interpreter's filters
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning):
            warnings.simplefilter("ignore", category)
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit:  # argparse: --help, --version, a usage error
            code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())
