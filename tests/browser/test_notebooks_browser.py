"""The class notebooks (01-05) in JupyterLab at 1440 × 900, a student's laptop, as a student
runs them: Run All, then look at every scrubber.

Each notebook runs at the tests' size (its ``SIZE`` cell set to ``"small"``;
``tests/notebook_run.py``; ``REPSCOPE_NOTEBOOK_SIZE=full`` runs the size a class uses). A last
cell, added here, writes a file when every cell before it has run (JupyterLab draws only the
cells near the screen, so their prompts cannot say that). Then,
for every scrubber the notebook shows: every panel drew something, no label is cut off, the
points are painted, and the checkpoint count reads "N of N" with every checkpoint there; and
what ``tests/test_notebooks.py`` checks of a notebook it executes (the kernel's report). Where
this test can run, that one leaves 01-05 to it. Skipped when Chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from ..notebook_run import CLASS, check_report, report_cell, report_of, with_size
from . import lab, view
from .test_scrubber_browser import failure_report, new_page

playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = lab.find_chromium()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install -y chromium)"),
]

#: The notebooks' size here: "small" (the tests'); REPSCOPE_NOTEBOOK_SIZE=full runs a class's.
SIZE = os.environ.get("REPSCOPE_NOTEBOOK_SIZE", "small")
#: The scrubbers each notebook shows, and the panels each must draw.
VIEWS = {"01": 1, "02": 1, "03": 1, "04": 1, "05": 1}
PANELS = {"overview", "curves", "spectrum", "points"}


def class_copy(path: Path, server: lab.JupyterServer, done: Path) -> str:
    """The notebook at the tests' size, with a last cell that writes its report to ``done``
    (what its scrubbers hold, the kernel's peak memory: ``tests/notebook_run.py``)."""
    import nbformat

    nb = with_size(nbformat.read(path, as_version=4), SIZE)
    nb.cells.append(nbformat.v4.new_code_cell(report_cell(to=done)))
    nbformat.write(nb, server.root_dir / path.name)
    return path.name


@pytest.mark.parametrize("path", CLASS, ids=[p.stem for p in CLASS])
def test_a_class_notebook_shows_every_panel_whole_at_1440(path, server, browser, tmp_path):
    done = tmp_path / "done"
    name = class_copy(path, server, done)
    with new_page(browser, 1440, 900) as (page, errors, _):
        with failure_report(page, tmp_path, path.stem, server):
            lab.open_notebook(page, server, name, "lab", reset=True)
            lab.run_all_cells(page, timeout=900, until=done)
            assert not lab.cell_errors(page), lab.cell_errors(page)
            check_report(path.stem, report_of(done.read_text()))  # as tests/test_notebooks.py
            views = page.locator(view.ROOT)
            deadline = time.monotonic() + 30
            while views.count() < VIEWS[path.stem[:2]] and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            assert views.count() == VIEWS[path.stem[:2]]
            for i in range(views.count()):
                views.nth(i).scroll_into_view_if_needed()
                view.wait_drawn(page, count=i + 1, timeout=60)
                every = r"^(\d+) (of \1 )?checkpoints"  # "N of N" at the end (or no total)
                progress = view.wait_text(page, ".rs-progress-label", every, i, 30)
                n = int(re.match(r"(\d+)", progress).group(1))  # over every run shown
                steps = re.search(r"of (\d+)$", view.text(page, ".rs-step-label", i))
                assert steps and 2 <= int(steps.group(1)) <= n, (progress, steps)
                drawn = view.marks(page, i)
                assert PANELS <= set(drawn), drawn
                assert all(drawn[p] > 0 for p in PANELS), drawn
                assert view.point_pixels(page)[i] > 50
                assert view.clipped(page, i) == [], view.clipped(page, i)
                assert view.overlapping_titles(page, i) == [], view.overlapping_titles(page, i)
                assert "compute()" not in views.nth(i).inner_text()
            assert not errors, errors
