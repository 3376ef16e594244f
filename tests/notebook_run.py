"""Running the teaching notebooks as a student would, at a chosen size (shared by
``tests/test_notebooks.py`` and ``benchmarks/notebook_times.py``).

Each demo notebook has a visible size cell, ``SIZE = "full"  # or "small": …``; :func:`with_size`
sets it. :func:`execute` runs a notebook with nbclient on a kernel of this very Python (not
whatever ``python`` is first on the PATH), timing each code cell.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
#: The notebooks of a class (06 needs the hub, 07 the Hugging Face extra).
CLASS = [p for p in NOTEBOOKS if p.stem[:2] in ("01", "02", "03", "04", "05")]
SIZE_CELL = re.compile(r'^SIZE = "full"  # or "small"', re.M)


#: A kernel of a class notebook stays under this (Binder gives 1-2 GB).
PEAK_LIMIT_MB = 2048
#: What each notebook's scrubbers show: their runs, and whether points are coloured by label.
SHOWS = {
    "01_quickstart": (["synthetic"], True),
    "02_three_phases": (["three phases"], False),  # token sequences: no labels
    "03_grokking": (["grokking"], True),
    "04_dse_dsmi": (["true labels", "shuffled labels"], True),
    "05_rich_lazy": (["low-rank init", "high-rank init"], True),
    "06_pythia": (None, False),
    "07_your_run": (None, False),
}
_REPORT = """\
import json, resource, sys
from repscope.widgets import Scrubber
shown = []
for s in [v for v in Out.values() if isinstance(v, Scrubber)]:
    s.refresh()  # what the watcher sends next, at once
    for run in s.runs:
        points = run.points(s.layer)
        shown.append({
            "run": run.name, "layer": s.layer, "steps": len(run.steps),
            "expected": run.expected, "with_points": sum(p is not None for p in points),
            "coloured_by_label": run.label_codes is not None, "live": s.feed.live,
        })
report = json.dumps({
    "shown": shown, "prefix": sys.prefix,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
})
print("REPSCOPE_REPORT", report)
"""


def report_cell(to: Path | None = None) -> str:
    """A last cell (never committed) that reports what the notebook's scrubbers show (their
    runs, checkpoints against the number expected, 2-D points of the layer shown, colours by
    label) and the kernel's peak memory: printed, and written to ``to`` when given (JupyterLab
    draws only the cells near the screen: a file is read whatever it draws)."""
    write = "" if to is None else f"open({str(to)!r}, 'w').write(report)\n"
    return _REPORT + write


def report_of(text: str) -> dict[str, Any]:
    """The report a :func:`report_cell` printed (or wrote)."""
    return json.loads(text.split("REPSCOPE_REPORT", 1)[-1])


def check_report(stem: str, report: dict[str, Any]) -> None:
    """What a class notebook must show: its runs, every checkpoint there ("N of N"), 2-D points
    at each, colours by label where it has labels, no fill still running; a kernel that ran
    this Python and stayed under :data:`PEAK_LIMIT_MB`."""
    runs, labelled = SHOWS[stem]
    shown = report["shown"]
    assert shown, "no scrubber displayed"
    if runs is not None:
        assert [r["run"] for r in shown] == runs
    for r in shown:
        assert r["steps"] >= 2, r
        if r["expected"] is not None:  # the count reads "N of N checkpoints" at the end
            assert r["steps"] == r["expected"], r
        assert r["with_points"] == r["steps"], r  # 2-D points at every checkpoint
        assert r["coloured_by_label"] is labelled, r
        assert not r["live"], r  # every fill has ended by the last cell
    assert report["prefix"] == sys.prefix, f"the kernel ran {report['prefix']}, not this Python"
    assert report["peak_mb"] < PEAK_LIMIT_MB, report["peak_mb"]


def size_cell(nb: Any) -> Any | None:
    """The notebook's ``SIZE = …`` code cell, or ``None``."""
    found = [c for c in nb.cells if c.cell_type == "code" and SIZE_CELL.search(c.source)]
    return found[0] if found else None


def with_size(nb: Any, size: str) -> Any:
    """``nb`` with its size cell set to ``size`` (``"full"`` or ``"small"``), in place."""
    cell = size_cell(nb)
    if cell is not None:
        cell.source = SIZE_CELL.sub(f'SIZE = "{size}"  # or "small"', cell.source)
    return nb


def kernel_manager_class() -> type:
    """A kernel manager whose ``python3`` is this interpreter: the native kernel spec that
    ipykernel builds from ``sys.executable``, whatever kernel specs are installed elsewhere.
    (Passed as a class, not an instance, so that nbclient owns the kernel and shuts it down.)"""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class ThisPythonKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return KernelSpecManager(kernel_dirs=[])  # no installed specs: only the native one

    assert ThisPythonKernelManager(kernel_name="python3").kernel_spec.argv[0] == sys.executable
    return ThisPythonKernelManager


def execute(nb: Any, folder: Path, *, timeout: float = 300) -> dict[int, float]:
    """Run every cell of ``nb`` in ``folder`` (raising ``CellExecutionError`` on the first
    error); the seconds each code cell took, by cell index."""
    import nbclient

    seconds: dict[int, float] = {}

    class Timed(nbclient.NotebookClient):
        async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
            start = time.perf_counter()
            try:
                return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
            finally:
                if cell.cell_type == "code":
                    seconds[cell_index] = time.perf_counter() - start

    client = Timed(
        nb,
        kernel_manager_class=kernel_manager_class(),
        kernel_name="python3",
        timeout=timeout,
        allow_errors=False,
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()
    return seconds


def texts(outputs: list[Any]) -> list[str]:
    """The plain texts of a cell's outputs (streams, results, displays)."""
    out = []
    for o in outputs:
        if o.output_type == "stream":
            out.append(o.text)
        elif o.output_type in ("execute_result", "display_data") and "text/plain" in o.data:
            out.append(o.data["text/plain"])
    return out
