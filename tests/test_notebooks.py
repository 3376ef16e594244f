"""The teaching notebooks: committed clean, and each runs top to bottom on a fresh kernel.

Each notebook is executed with nbclient at the demos' small size (``REPSCOPE_DEMO_SIZE=small``)
and with the hub unreachable (``HF_HUB_OFFLINE=1``), in a temporary folder, on a kernel of this
very Python (not whatever ``python`` is first on the PATH). A last cell, added here and never
committed, reports the kernel's peak memory.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"
CELL_TIMEOUT = 300  # seconds per cell
PEAK_LIMIT_MB = 2048
PEAK_CELL = f"""\
import resource, sys
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
print("REPSCOPE_PEAK_RSS_MB", round(peak_mb), sys.prefix)
assert peak_mb < {PEAK_LIMIT_MB}, f"kernel peak RSS {{peak_mb:.0f}} MB"
"""

ids = [p.stem for p in NOTEBOOKS]


def test_there_are_seven_notebooks():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_committed_notebook_has_no_outputs(path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook with no code"
    for cell in code:
        assert cell.outputs == [], f"outputs committed in cell {cell.get('id')}"
        assert cell.execution_count is None, f"execution count committed in {cell.get('id')}"
    assert "widgets" not in nb.metadata, "widget state committed"
    assert nb.cells[0].cell_type == "markdown"


def _kernel_manager_class():
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


def _texts(outputs) -> list[str]:
    out = []
    for o in outputs:
        if o.output_type == "stream":
            out.append(o.text)
        elif o.output_type in ("execute_result", "display_data") and "text/plain" in o.data:
            out.append(o.data["text/plain"])
    return out


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    monkeypatch.setenv("REPSCOPE_DEMO_SIZE", "small")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    nb = nbformat.read(path, as_version=4)
    n_cells = len(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
    client = nbclient.NotebookClient(
        nb,
        kernel_manager_class=_kernel_manager_class(),
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, on the first error
    seconds = time.perf_counter() - start

    code = [c for c in nb.cells[:n_cells] if c.cell_type == "code"]
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(WIDGET in o.get("data", {}) for o in outputs), "no widget displayed"
    assert any(t.strip() for t in _texts(outputs)), "no text output"
    assert all(c.execution_count is not None for c in code), "a cell did not run"

    report = "".join(_texts(nb.cells[-1].outputs))
    match = re.search(r"REPSCOPE_PEAK_RSS_MB (\d+) (.+)", report)
    assert match, report
    peak_mb, prefix = int(match.group(1)), match.group(2).strip()
    assert prefix == sys.prefix, f"the kernel ran {prefix}, not this environment's Python"
    assert peak_mb < PEAK_LIMIT_MB
    timing = {"notebook": path.stem, "seconds": round(seconds, 1), "peak_rss_mb": peak_mb}
    print(json.dumps(timing))
