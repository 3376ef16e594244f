"""The Scrubber in a real browser: JupyterLab 4 and Notebook 7, and the exported HTML file.

Headless system Chromium driven by Playwright (``tests/browser/lab.py``). One ``jupyter lab``
server for the module serves both front ends (``/lab/tree/...`` and Notebook 7's
``/notebooks/...``). Skipped when Chromium or Playwright is missing.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import lab

playwright_sync = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed (pip install playwright; the system Chromium is used, "
    "no `playwright install` needed)",
)

CHROMIUM = lab.find_chromium()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium at /usr/bin/chromium or on PATH: install it with "
        "`apt-get install -y chromium` (Debian) or your system's package manager",
    ),
]

N_STEPS = 8
LAYERS = ("h.0", "h.1")
N_POINTS = 100
CELL = (
    "from repscope.synthetic import synthetic_trajectory\n"
    "from repscope.widgets import Scrubber\n"
    f"traj = synthetic_trajectory(n_steps={N_STEPS}, layers={LAYERS!r}, n_points={N_POINTS})\n"
    "s = Scrubber(traj)\n"
    "s"
)
STEP_HANDLE = ".widget-slider .noUi-handle"


def title(step: int, layer: str) -> str:
    """The Scrubber's figure title for a step and layer, as the browser shows it."""
    return f"step {step} · layer {layer}"


@pytest.fixture(scope="module")
def steps() -> list[int]:
    """The trajectory's steps, from the trajectory itself (as the notebook builds it)."""
    from repscope.synthetic import synthetic_trajectory

    traj = synthetic_trajectory(n_steps=N_STEPS, layers=LAYERS, n_points=N_POINTS)
    assert len(traj.steps) >= 3, traj.steps
    return list(traj.steps)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab.JupyterServer]:
    with lab.jupyter_server("lab", base_dir=tmp_path_factory.mktemp("jupyter")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as playwright:
        chromium = lab.launch_chromium(playwright, executable_path=CHROMIUM)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@contextlib.contextmanager
def failure_report(
    page, tmp_path: Path, name: str, server: lab.JupyterServer | None = None
) -> Iterator[None]:
    """On an exception: a screenshot into ``tmp_path`` and the server log's tail, then fail."""
    try:
        yield
    except Exception as error:
        shot = lab.screenshot(page, tmp_path / f"{name}.png")
        print(f"screenshot: {shot}")
        parts = [f"{type(error).__name__}: {error}", f"screenshot: {shot}"]
        with contextlib.suppress(Exception):
            errors = lab.cell_errors(page)
            if errors:
                parts.append("cell errors:\n" + "\n".join(errors))
            messages = lab.widget_texts(page)
            if messages:
                parts.append("widget messages:\n" + "\n".join(messages))
        if server is not None:
            parts.append(f"server log ({server.log_path}), last lines:\n{server.log_tail(40)}")
        pytest.fail("\n".join(parts), pytrace=True)


def click_slider_at(page, handle_selector: str, fraction: float) -> None:
    """A real mouse click on an ipywidgets slider's track, ``fraction`` of the way along."""
    track = page.locator(handle_selector).first.locator(
        "xpath=ancestor::*[contains(@class, 'noUi-target')][1]"
    )
    box = track.bounding_box()
    assert box is not None, "the slider track is not visible"
    page.mouse.click(box["x"] + fraction * box["width"], box["y"] + box["height"] / 2)


@pytest.mark.parametrize("front_end", lab.FRONT_ENDS)
def test_slider_scrubs_the_figure(front_end, server, page, steps, tmp_path):
    """Run a notebook with a Scrubber; a click on the step slider's track moves the figure to
    the second step; then, the handle focused, ArrowRight twice moves it to the third and the
    fourth.

    Notebook 7 takes ArrowRight from a focused widget for a notebook shortcut
    (https://github.com/jupyter/notebook/issues/7716) unless the handle is marked
    ``data-lm-suppress-shortcuts``, which the Scrubber's ShortcutGuard does: the keys must work
    in both front ends.
    """
    from .latency import press_and_time

    name = server.write_notebook(f"scrubber_{front_end}", [CELL])
    layer = LAYERS[-1]  # the Scrubber starts at the first step and the last layer
    with failure_report(page, tmp_path, f"scrubber-{front_end}", server):
        lab.open_notebook(page, server, name, front_end)
        lab.run_all_cells(page)
        assert not lab.cell_errors(page), lab.cell_errors(page)
        lab.wait_for_plot_title(page, title(steps[0], layer))

        click_slider_at(page, STEP_HANDLE, 1 / (len(steps) - 1))
        lab.wait_for_plot_title(page, title(steps[1], layer), timeout=20)

        page.locator(STEP_HANDLE).first.click()
        focused = page.evaluate("() => document.activeElement.className")
        assert "noUi-handle" in focused, f"the slider handle did not take focus ({focused!r})"
        marked = page.evaluate("() => document.activeElement.dataset.lmSuppressShortcuts")
        assert marked == "true", "the ShortcutGuard did not mark the slider handle"
        for step in steps[2:4]:
            press_and_time(page, key="ArrowRight", timeout=20)
            lab.wait_for_plot_title(page, title(step, layer), timeout=20)


def test_exported_html_scrubs_offline(tmp_path, browser):
    """The exported page renders and scrubs from ``file://`` with the network blocked, and a
    ``<script>`` in a layer name is shown as text, never run; a ``"`` shows as ``"``."""
    from repscope.synthetic import synthetic_trajectory
    from repscope.widgets import export_html

    layer = '<script>alert(1)</script> "quoted"'
    traj = synthetic_trajectory(n_steps=5, layers=(layer,), n_points=50)
    steps = list(traj.steps)
    out = export_html(traj, tmp_path / "scrubber.html")

    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    blocked: list[str] = []
    dialogs: list[str] = []

    def route(request_route) -> None:
        if request_route.request.url.startswith("file://"):
            request_route.continue_()
        else:
            blocked.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        with failure_report(page, tmp_path, "export"):
            page.goto(out.as_uri(), wait_until="load")
            lab.wait_for_plot_title(page, title(steps[0], layer), timeout=30)
            labels = page.locator(".slider-container .slider-label-group")
            assert labels.count() == len(steps)
            for i in (1, 2):
                box = labels.nth(i).bounding_box()
                assert box is not None
                page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                lab.wait_for_plot_title(page, title(steps[i], layer), timeout=15)
            current = page.locator(
                ".slider-container .slider-current-value, .slider-container text.slider-label"
            ).first.text_content()
            assert re.search(rf"\b{steps[2]}\b", current or ""), current
            assert not dialogs, f"a JavaScript dialog opened: {dialogs}"
            assert page.evaluate("() => typeof Plotly") == "object", "plotly.js did not load"
            assert not blocked, f"the page asked the network for {blocked}"
    finally:
        context.close()


LIVE_STEPS = 16
LIVE_CELL = (
    "from repscope.synthetic import replay, synthetic_trajectory\n"
    "from repscope.widgets import Scrubber\n"
    f"done = synthetic_trajectory(n_steps={LIVE_STEPS}, layers=('h.0',), n_points=60)\n"
    "live = replay(done, delay=0.5)\n"
    "s = Scrubber(live, poll=0.2)\n"
    "s"
)
# Phase bands are the shapes drawn below the traces; their names are annotations.
_BANDS_JS = """() => {
    const plot = document.querySelector('.repscope-curves .js-plotly-plot');
    const bands = plot.querySelectorAll('.layer-below .shapelayer path');
    const notes = [...plot.querySelectorAll('g.annotation')].map(g => g.textContent.trim());
    return [bands.length, notes];
}"""


def test_live_scrubber_replaces_its_phase_bands(server, page, tmp_path):
    """A live Scrubber redraws the detected phases at each refresh while new steps arrive; when
    the run is done, the page shows one band and one name per phase of the final table (a
    refresh used to insert new bands over the old ones)."""
    from repscope.synthetic import synthetic_trajectory

    done = synthetic_trajectory(n_steps=LIVE_STEPS, layers=("h.0",), n_points=60)
    phases = done.phase_table().phase.tolist()
    assert len(phases) == 3, phases
    name = server.write_notebook("scrubber_live", [LIVE_CELL])
    with failure_report(page, tmp_path, "scrubber-live", server):
        lab.open_notebook(page, server, name, "lab", reset=True)  # no restored tabs
        lab.run_all_cells(page, timeout=180)
        assert not lab.cell_errors(page), lab.cell_errors(page)
        lab.wait_for_plot_title(page, title(done.steps[-1], "h.0"), timeout=60)
        deadline = time.monotonic() + 20
        while True:  # the last refresh lands just after the last step
            bands, notes = page.evaluate(_BANDS_JS)
            shown = [n for n in notes if n in phases]
            if (bands == len(phases) and shown == phases) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert bands == len(phases), (bands, notes)
        assert shown == phases, notes


BIG_POINTS = 20_000
BIG_CELL = (
    "from repscope.synthetic import synthetic_trajectory\n"
    "from repscope.widgets import Scrubber\n"
    f"traj = synthetic_trajectory(n_steps=6, layers=('h.0', 'h.1'), n_points={BIG_POINTS})\n"
    "s = Scrubber(traj)\n"
    "s"
)
_DRAWN_JS = """() => {
    const plot = document.querySelector('.repscope-points .js-plotly-plot');
    const drawn = plot._fullData.reduce((n, t) => n + (t.visible === true ? t.x.length : 0), 0);
    const types = [...new Set(plot._fullData.map(t => t.type))];
    const cell = plot.closest('.jp-OutputArea-output, .jp-Cell-outputArea');
    const width = (sel) => document.querySelector(sel).getBoundingClientRect().width;
    return {drawn, types, canvases: plot.querySelectorAll('canvas').length,
            cell: cell.getBoundingClientRect().width,
            curves: width('.repscope-curves .js-plotly-plot'),
            overview: width('.repscope-overview .js-plotly-plot')};
}"""


def test_20000_points_scrub_in_webgl_at_full_width_and_a_lasso_selects(server, page, tmp_path):
    """20,000 probe points, every one drawn by WebGL at every step; the figures fill the cell
    and follow the window when it narrows; a lasso drawn with the mouse on the points panel
    selects inputs, and the count reaches the page through Python."""
    from repscope.synthetic import synthetic_trajectory

    from .latency import press_and_time

    steps = list(synthetic_trajectory(n_steps=6, layers=("h.0",), n_points=20).steps)
    name = server.write_notebook("scrubber_big", [BIG_CELL])
    with failure_report(page, tmp_path, "scrubber-big", server):
        lab.open_notebook(page, server, name, "lab", reset=True)
        lab.run_all_cells(page, timeout=240)
        assert not lab.cell_errors(page), lab.cell_errors(page)
        lab.wait_for_plot_title(page, title(steps[0], "h.1"), timeout=90)
        page.locator(STEP_HANDLE).first.click()
        for step in steps[1:3]:
            press_and_time(page, key="ArrowRight", timeout=30)
            lab.wait_for_plot_title(page, title(step, "h.1"), timeout=30)
            state = page.evaluate(_DRAWN_JS)
            assert state["drawn"] == BIG_POINTS, state
            assert state["types"] == ["scattergl"] and state["canvases"] >= 1, state
        assert state["curves"] >= 0.95 * state["cell"], state  # the cell's width, not 700 px
        assert state["overview"] >= 0.95 * state["cell"], state
        before = state["curves"]
        page.set_viewport_size({"width": 1000, "height": 1000})
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            state = page.evaluate(_DRAWN_JS)
            if state["curves"] < before - 150:
                break
            page.wait_for_timeout(200)
        assert state["curves"] < before - 150, (before, state)  # it followed the window
        assert state["curves"] >= 0.95 * state["cell"], state

        plot = page.locator(".repscope-points .js-plotly-plot .nsewdrag").first
        box = plot.bounding_box()
        assert box is not None
        x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
        corners = [(0.1, 0.1), (0.6, 0.1), (0.6, 0.9), (0.1, 0.9), (0.1, 0.1)]
        page.mouse.move(x0 + corners[0][0] * w, y0 + corners[0][1] * h)
        page.mouse.down()
        for fx, fy in corners[1:]:
            page.mouse.move(x0 + fx * w, y0 + fy * h, steps=8)
        page.mouse.up()
        label = page.locator(".repscope-selection").first
        deadline = time.monotonic() + 20
        text = ""
        while time.monotonic() < deadline:
            text = label.text_content() or ""
            if "selected" in text:
                break
            page.wait_for_timeout(200)
        found = re.search(r"(\d+) probe input\(s\) selected", text)
        assert found and 0 < int(found.group(1)) < BIG_POINTS, text
