"""The browser tests' shared fixtures: one ``jupyter lab`` server and one headless Chromium per
test module (``lab.py`` starts and stops them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import lab


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab.JupyterServer]:
    """A JupyterLab server (which serves Notebook 7 too) in its own folders."""
    with lab.jupyter_server("lab", base_dir=tmp_path_factory.mktemp("jupyter")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless system Chromium (the modules skip themselves when there is none)."""
    playwright_sync = pytest.importorskip("playwright.sync_api")
    chromium_path = lab.find_chromium()
    if chromium_path is None:
        pytest.skip("no Chromium (apt-get install -y chromium)")
    with playwright_sync.sync_playwright() as playwright:
        chromium = lab.launch_chromium(playwright, executable_path=chromium_path)
        try:
            yield chromium
        finally:
            chromium.close()
