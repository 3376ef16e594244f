"""The teaching notebooks: committed clean, and each runs top to bottom on a fresh kernel
showing what its text says.

Each notebook is executed with nbclient (``tests/notebook_run.py``) with its ``SIZE`` cell set to
``"small"`` (the tests' size; ``benchmarks/notebook_times.py`` times both sizes) and with the hub
unreachable (``HF_HUB_OFFLINE=1``), in a temporary folder, on a kernel of this very Python. Two
last cells, added here and never committed, report what each displayed scrubber holds (its
runs, their checkpoints against the number expected, the 2-D points of the layer shown and
whether they are coloured by label) and the kernel's peak memory.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from .notebook_run import (
    CLASS,
    NOTEBOOKS,
    check_report,
    execute,
    report_cell,
    report_of,
    size_cell,
    texts,
    with_size,
)

WIDGET = "application/vnd.jupyter.widget-view+json"
CELL_TIMEOUT = 300  # seconds per cell

ids = [p.stem for p in NOTEBOOKS]


def in_a_browser(config) -> bool:
    """Whether ``tests/browser/test_notebooks_browser.py`` runs the class notebooks in this
    session: a Chromium and Playwright are here, and the browser tests are not deselected."""
    import importlib.util

    from .browser.lab import find_chromium

    markers = config.option.markexpr or ""
    return (
        find_chromium() is not None
        and importlib.util.find_spec("playwright") is not None
        and "not browser" not in markers
        and "not slow" not in markers
    )


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


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch, request):
    if path in CLASS and in_a_browser(request.config):
        pytest.skip("run in JupyterLab, with the same checks: tests/browser/test_notebooks_browser")
    pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    monkeypatch.setenv("REPSCOPE_DEMO_SIZE", "small")  # 06's offline stand-in; 02-05: SIZE
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    nb = nbformat.read(path, as_version=4)
    if path.stem[:2] in ("02", "03", "04", "05"):
        assert size_cell(nb) is not None, "a demo notebook without its visible SIZE cell"
    with_size(nb, "small")
    n_cells = len(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(report_cell()))
    start = time.perf_counter()
    execute(nb, tmp_path, timeout=CELL_TIMEOUT)  # raises CellExecutionError on the first error
    seconds = time.perf_counter() - start

    code = [c for c in nb.cells[:n_cells] if c.cell_type == "code"]
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(WIDGET in o.get("data", {}) for o in outputs), "no widget displayed"
    assert any(t.strip() for t in texts(outputs)), "no text output"
    assert all(c.execution_count is not None for c in code), "a cell did not run"
    report = report_of("".join(texts(nb.cells[-1].outputs)))
    check_report(path.stem, report)
    timing = {"notebook": path.stem, "seconds": round(seconds, 1), "peak_rss_mb": report["peak_mb"]}
    print(json.dumps(timing))


def about(seconds: float) -> str:
    """How a measured time is quoted: to 5 s under 100 s, else to a tenth of a minute."""
    return (
        f"about {5 * round(seconds / 5):.0f} s"
        if seconds < 100
        else f"about {seconds / 60:.1f} min"
    )


TIMES = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "notebook_times.json"


@pytest.mark.parametrize("path", CLASS, ids=[p.stem for p in CLASS])
def test_each_class_notebook_quotes_its_measured_times(path):
    """The notebook's "How long" cell, before its SIZE cell, and the README quote the times
    ``benchmarks/notebook_times.py`` measured (``benchmarks/results/notebook_times.json``)."""
    nbformat = pytest.importorskip("nbformat")
    records = [r for r in json.loads(TIMES.read_text())["records"] if r["notebook"] == path.stem]
    assert records, f"{path.stem} was not timed"
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "markdown" and "How long" in c.source]
    assert len(cells) == 1, "one 'How long' cell"
    if size_cell(nb) is not None:  # right before the SIZE cell, where the choice is made
        assert nb.cells[nb.cells.index(size_cell(nb)) - 1] is cells[0]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    row = [line for line in readme.splitlines() if f"notebooks/{path.name}" in line and "|" in line]
    assert len(row) == 1, f"one README row for {path.name}"
    for r in records:
        assert about(r["seconds"]) in cells[0].source, (r, cells[0].source)
        assert about(r["seconds"]) in row[0], (r, row[0])
