"""The Scrubber in a real browser: JupyterLab 4, Notebook 7 and the exported page.

Headless system Chromium driven by Playwright (``tests/browser/lab.py``), WebGL2 through
SwiftShader. One ``jupyter lab`` server for the module serves both front ends. What is checked is
what a person sees: each panel's width against its box on first display and after a resize,
the tick labels, the spectrum's axis, the controls, the keys, play, the overview's click, the
lasso (and that Python sees each of them), many views on one page, a live run, and a panel
registered from Python. Skipped when Chromium or Playwright is missing.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import lab, view

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

LAYERS = ["bert.embeddings"] + [f"bert.encoder.layer.{i}" for i in range(6)]
SHORT = ["embeddings"] + [f"encoder.layer.{i}" for i in range(6)]
N_STEPS, N_POINTS = 10, 300

# A run as a fine-tuned BERT stores it: long layer names, labels, the Trainer's scalars, and two
# numerically zero eigenvalues per spectrum (as a LayerNorm output has).
SETUP = f"""\
import dataclasses
import numpy as np
from repscope.synthetic import synthetic_trajectory
from repscope.widgets import Scrubber
import ipywidgets as W
traj = synthetic_trajectory(n_steps={N_STEPS}, layers={LAYERS!r}, n_points={N_POINTS})
for step in range(0, 40, 4):
    traj.store.put_scalars(traj.run, step, {{"loss": 5 / (1 + step), "learning_rate": 1e-3}})
for r in list(traj.store.records(run=traj.run, points=True, **traj.key())):
    v = r.spectrum.copy(); v[-2:] = 1e-19
    traj.store.put(dataclasses.replace(r, spectrum=v))
"""
# Python's view of the state, shown in the page: what the kernel received.
MIRROR = """\
def mirror(s):
    out = W.HTML()
    out.add_class("py-state")
    def show(_=None):
        out.value = f"{s.step}|{s.layer}|{len(s.selected)}|{','.join(s.measures)}|{s.playing}"
    s.observe(show, names=["step", "layer", "selected", "measures", "playing"])
    show()
    return W.VBox([s, out])
"""
CELL = SETUP + MIRROR + "s = Scrubber(traj)\nmirror(s)"


@pytest.fixture(scope="module")
def expected():
    """The trajectory the notebooks build, built here too: its steps, curves and phases."""
    import dataclasses

    from repscope.synthetic import synthetic_trajectory

    traj = synthetic_trajectory(n_steps=N_STEPS, layers=LAYERS, n_points=N_POINTS)
    for r in list(traj.store.records(run=traj.run, points=True, **traj.key())):
        v = r.spectrum.copy()
        v[-2:] = 1e-19
        traj.store.put(dataclasses.replace(r, spectrum=v))
    curves = [*sorted(set(traj.metrics.measure)), "learning_rate", "loss"]
    hidden = {"alpha_r2", "alpha_fit_first", "alpha_fit_last"}
    return {
        "steps": list(traj.steps),
        "curves": [c for c in curves if c not in hidden],
        "traj": traj,
    }


@contextlib.contextmanager
def new_page(browser, width=1600, height=1000, *, offline=False) -> Iterator[tuple]:
    """A page in a fresh context; ``offline``: every request but ``file://`` is refused."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(30_000)
    blocked: list[str] = []
    if offline:

        def route(request_route) -> None:
            if request_route.request.url.startswith("file://"):
                request_route.continue_()
            else:
                blocked.append(request_route.request.url)
                request_route.abort()

        context.route("**/*", route)
    page = context.new_page()
    errors: list[str] = []

    def ours(error) -> None:  # the front end's own errors (the host's are not ours to judge)
        stack = getattr(error, "stack", "") or ""
        if "blob:" in stack or "repscope" in stack or "blob:" in str(error):
            errors.append(f"{error}\n{stack}")

    page.on("pageerror", ours)
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    try:
        yield page, errors, blocked
    finally:
        context.close()


@contextlib.contextmanager
def failure_report(page, tmp_path: Path, name: str, server=None) -> Iterator[None]:
    """On an exception: a screenshot into ``tmp_path`` and the server log's tail, then fail."""
    try:
        yield
    except Exception as error:
        shot = lab.screenshot(page, tmp_path / f"{name}.png")
        parts = [f"{type(error).__name__}: {error}", f"screenshot: {shot}"]
        with contextlib.suppress(Exception):
            errors = lab.cell_errors(page)
            if errors:
                parts.append("cell errors:\n" + "\n".join(errors))
        if server is not None:
            parts.append(f"server log ({server.log_path}), last lines:\n{server.log_tail(40)}")
        pytest.fail("\n".join(parts), pytrace=True)


def run_notebook(page, server, name, cells, front_end="lab", *, views=1, timeout=120):
    name = server.write_notebook(name, cells)
    lab.open_notebook(page, server, name, front_end, reset=True)
    lab.run_all_cells(page, timeout=timeout)
    assert not lab.cell_errors(page), lab.cell_errors(page)
    view.wait_drawn(page, count=views, timeout=timeout)


def python_state(page):
    """What the kernel's Scrubber holds: step, layer, selected count, measures, playing."""
    return page.locator(".py-state .widget-html-content").first.text_content()


def wait_python(page, predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    text = None
    while time.monotonic() < deadline:
        text = python_state(page)
        if text and predicate(text.split("|")):
            return text.split("|")
        page.wait_for_timeout(100)
    raise TimeoutError(f"Python's state never matched; last {text!r}")


def as_number(label: str) -> float:
    units = {"k": 1e3, "M": 1e6, "G": 1e9}
    return float(label[:-1]) * units[label[-1]] if label[-1] in units else float(label)


# -- what the MiniLM look found --------------------------------------------------------------------
def check_fills(page, timeout: float = 5.0) -> None:
    """Every panel drew at its box's width (waiting out a redraw after a resize)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _check_fills(page)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.wait_for_timeout(100)


def _check_fills(page) -> None:
    (panels,) = view.widths(page)
    names = [p["name"] for p in panels]
    assert names == ["overview", "curves", "training", "spectrum", "points"], names
    root = page.locator(".repscope").first.bounding_box()["width"]
    for p in panels:
        assert p["drawn"] >= 0.97 * p["box"], p  # the figure fills its box
        share = {"spectrum": 0.4, "points": 0.6}.get(p["name"], 1.0)
        assert p["box"] >= share * root - 20, (p, root)


def test_first_display_fills_every_box_and_follows_a_resize(server, browser, tmp_path):
    """At 1000 px on first display, then at 1600 after a resize (the first display at 1600 is
    checked by the next test)."""
    with new_page(browser, 1000) as (page, errors, _):
        with failure_report(page, tmp_path, "fill", server):
            run_notebook(page, server, "fill", [CELL])
            check_fills(page)  # on first display, no resize needed
            assert view.overlapping_titles(page) == [], view.overlapping_titles(page)
            before = view.widths(page)[0][0]["box"]
            page.set_viewport_size({"width": 1600, "height": 1000})
            deadline = time.monotonic() + 10
            while view.widths(page)[0][0]["box"] == before and time.monotonic() < deadline:
                page.wait_for_timeout(100)
            assert view.widths(page)[0][0]["box"] != before
            check_fills(page)
            assert not errors, errors


def test_axes_controls_and_spectrum_read_well(server, browser, tmp_path, expected):
    with new_page(browser, 1600) as (page, errors, _):
        with failure_report(page, tmp_path, "reads-well", server):
            run_notebook(page, server, "reads_well", [CELL])
            check_fills(page)  # the first display at 1600 px
            steps = expected["steps"]
            # log-step axes: step numbers (0, 1, 10, 100, 1k), increasing, minors unlabelled
            for panel in ("curves", "overview"):
                labels = view.tick_labels(page, panel, "x")
                assert all(re.fullmatch(r"\d+(\.\d)?[kMG]?", t) for t in labels), labels
                numbers = [as_number(t) for t in labels]
                assert len(numbers) >= 4, (panel, labels)
                firsts = numbers[: numbers.index(max(numbers)) + 1]
                assert firsts == sorted(set(firsts)), (panel, labels)
                assert {"0", "10", "100"} <= set(labels), (panel, labels)  # steps run to 316
                assert max(numbers) <= steps[-1] * 1.01
            # the spectrum: one tick style, and the axis stops at the numerical floor
            ylabels = view.tick_labels(page, "spectrum", "y")
            assert ylabels and all(
                re.fullmatch(r"(\d(\.\d)?×)?10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+", t) for t in ylabels
            ), ylabels
            exponents = [
                int(t.split("10")[-1].translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")))
                for t in ylabels
            ]
            assert min(exponents) > -10, ylabels  # not stretched down to 1e-19
            assert page.locator(".rs-panel-spectrum .rs-floor-marks").count() == 1
            # error bars: the curves of RankMe and α carry their band
            assert page.locator(".rs-panel-curves path.rs-band").count() >= 1
            assert "band: 90 % interval" in view.text(page, ".rs-panel-curves .rs-row-title")
            assert "below the numerical floor" in view.text(
                page, ".rs-panel-spectrum .rs-panel-note"
            )
            colours = page.evaluate("""() => {
                const dots = document.querySelector('.rs-spectrum-dots');
                const fit = document.querySelector('.rs-fit');
                const order = Array.from(fit.parentNode.children);
                return [dots.getAttribute('stroke'), fit.getAttribute('stroke'),
                        order.indexOf(fit) > order.indexOf(dots)];
            }""")
            assert colours[0] != colours[1] and colours[2], colours  # contrasting, drawn over
            # controls: a full-width slider, short layer names (the full one on hover), every curve
            root = page.locator(".repscope").first.bounding_box()["width"]
            assert page.locator(".rs-step").first.bounding_box()["width"] > 0.6 * root
            options = page.evaluate(
                "() => Array.from(document.querySelectorAll('.rs-layer option'),"
                " (o) => [o.textContent, o.title])"
            )
            assert options == [list(p) for p in zip(SHORT, LAYERS, strict=True)]
            boxes = page.evaluate(
                "() => Array.from(document.querySelectorAll('.rs-measure input'),"
                " (b) => [b.value, b.getBoundingClientRect().width > 0])"
            )
            assert sorted(v for v, _ in boxes) == sorted(expected["curves"])
            assert all(visible for _, visible in boxes)
            assert not errors, errors


# -- the keys, play, the overview, the lasso: in both front ends, and Python sees them -----------
def interact(page, steps, *, python: bool) -> None:
    slider = page.locator(".rs-step").first
    slider.focus()
    for i in (1, 2):
        page.keyboard.press("ArrowRight")
        view.wait_state(page, step=steps[i])
    assert view.text(page, ".rs-points-title") == f"step {steps[2]} · layer {LAYERS[-1]}"
    if python:
        wait_python(page, lambda s: s[0] == str(steps[2]))
    # play, then pause
    page.locator(".rs-play").first.click()
    page.wait_for_timeout(1200)
    page.locator(".rs-play").first.click()
    # a step set by the last tick is drawn on the next animation frame: wait for it to settle
    reached, settled = int(view.state(page)["step"]), 0
    while settled < 3:
        page.wait_for_timeout(100)
        now = int(view.state(page)["step"])
        reached, settled = now, (settled + 1 if now == reached else 0)
    assert reached >= steps[5], reached
    if python:
        wait_python(page, lambda s: s[4] == "False" and s[0] == str(reached))
    # the layer picker, then a measure
    page.locator(".rs-layer").first.select_option(LAYERS[2])
    view.wait_state(page, layer=LAYERS[2])
    rows = page.locator(".rs-panel-curves .rs-row").count()
    page.locator(".rs-measure", has_text="participation ratio").first.click()
    deadline = time.monotonic() + 10
    while page.locator(".rs-panel-curves .rs-row").count() == rows and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert page.locator(".rs-panel-curves .rs-row").count() == rows + 1
    if python:
        wait_python(page, lambda s: s[1] == LAYERS[2] and "participation_ratio" in s[3])
    # the overview: a click on the top row's last column goes there
    page.locator(".rs-panel-overview .rs-overlay-svg").first.scroll_into_view_if_needed()
    canvas = page.locator(".rs-panel-overview .rs-overlay-svg").first.bounding_box()
    right, row_height = page.evaluate(
        "() => { const r = document.querySelector('.rs-panel-overview rect.rs-overview-layer')"
        ".getBoundingClientRect(); return [r.right, r.height]; }"
    )  # the layer's row spans the plot: its right end is the last column
    page.mouse.click(right - 4, canvas["y"] + 6 + row_height / 2)
    view.wait_state(page, step=steps[-1], layer=LAYERS[-1])
    if python:
        wait_python(page, lambda s: s[0] == str(steps[-1]) and s[1] == LAYERS[-1])
    # a lasso over the points panel selects inputs, and the selection stays through a step
    page.locator(".rs-panel-points .rs-overlay-svg").first.scroll_into_view_if_needed()
    box = page.locator(".rs-panel-points .rs-overlay-svg").first.bounding_box()
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    corners = [(0.1, 0.05), (0.9, 0.05), (0.9, 0.85), (0.1, 0.85), (0.1, 0.05)]
    page.mouse.move(x0 + corners[0][0] * w, y0 + corners[0][1] * h)
    page.mouse.down()
    for fx, fy in corners[1:]:
        page.mouse.move(x0 + fx * w, y0 + fy * h, steps=6)
    page.mouse.up()
    label = view.wait_text(page, ".rs-selection", r"\d+ probe inputs? selected")
    found = re.search(r"(\d+) probe inputs? selected", label)
    assert found and 0 < int(found.group(1)) <= N_POINTS, label
    page.locator(".rs-step").first.focus()
    page.keyboard.press("Home")
    view.wait_state(page, step=steps[0])
    assert view.text(page, ".rs-selection") == label  # still selected at another step
    if python:
        wait_python(page, lambda s: s[2] == found.group(1))


@pytest.mark.parametrize("front_end", lab.FRONT_ENDS)
def test_keys_play_pickers_overview_and_lasso_reach_python(
    server, browser, tmp_path, expected, front_end
):
    """Notebook 7 takes the arrow keys for its own shortcuts unless the widget is marked
    ``data-lm-suppress-shortcuts`` (jupyter/notebook#7716): the keys must work in both."""
    with new_page(browser, 1400) as (page, errors, _):
        with failure_report(page, tmp_path, f"interact-{front_end}", server):
            run_notebook(page, server, f"interact_{front_end}", [CELL], front_end)
            interact(page, expected["steps"], python=True)
            assert not errors, errors


EVIL = '<img src=x onerror=alert(1)> "quoted" %{y}'


def test_the_exported_page_is_the_widget(browser, tmp_path, expected):
    """Offline from file://, no kernel: the same pickers, keys, play, overview and lasso; a
    user string that looks like markup is shown as text."""
    from repscope.widgets import export_html

    traj = expected["traj"]
    traj.store.put_scalars(traj.run, 0, {"loss": 5.0})
    out = export_html({EVIL: traj}, tmp_path / "page.html")
    with new_page(browser, 1400, offline=True) as (page, errors, blocked):
        with failure_report(page, tmp_path, "page"):
            page.goto(out.as_uri(), wait_until="load")
            view.wait_drawn(page)
            check_fills(page)
            interact(page, expected["steps"], python=False)
            assert page.evaluate("() => document.querySelectorAll('img').length") == 0
            assert not errors and not blocked, (errors, blocked)


# -- many views on one page ------------------------------------------------------------------------
def test_twelve_scrubbers_in_a_notebook_all_draw_their_points(server, browser, tmp_path):
    cells = [SETUP] + ["Scrubber(traj, measures=['effective_rank'])"] * 12
    with new_page(browser, 1400, 1000) as (page, errors, _):
        with failure_report(page, tmp_path, "twelve", server):
            run_notebook(page, server, "twelve", cells, views=12, timeout=240)
            pixels = view.point_pixels(page)
            assert len(pixels) == 12 and min(pixels) > 500, pixels
            assert not errors, errors


def test_a_page_of_twelve_exported_views_draws_them_all(browser, tmp_path, expected):
    from repscope.widgets import embed_html

    traj = expected["traj"]
    fragments = "\n".join(
        embed_html(traj, layers=[LAYERS[-1]], measures=["alpha"]) for _ in range(12)
    )
    out = tmp_path / "twelve.html"
    out.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{fragments}</body></html>"
    )
    with new_page(browser, 1200, offline=True) as (page, errors, blocked):
        with failure_report(page, tmp_path, "twelve-page"):
            page.goto(out.as_uri(), wait_until="load")
            view.wait_drawn(page, count=12)
            pixels = view.point_pixels(page)
            assert len(pixels) == 12 and min(pixels) > 500, pixels
            assert not errors and not blocked, (errors, blocked)


# -- live ------------------------------------------------------------------------------------------
LIVE_CELL = """\
from repscope.synthetic import replay, synthetic_trajectory
from repscope.widgets import Scrubber
done = synthetic_trajectory(n_steps=16, layers=('h.0',), n_points=60)
live = replay(done, delay=0.4)
s = Scrubber(live, poll=0.2, measures=["effective_rank", "alpha"])
s"""


def test_a_live_run_appends_steps_without_rebuilding_and_replaces_its_phases(
    server, browser, tmp_path
):
    from repscope.synthetic import synthetic_trajectory

    done = synthetic_trajectory(n_steps=16, layers=("h.0",), n_points=60)
    phases = done.phases("h.0")
    assert len(phases) == 3
    with new_page(browser, 1400) as (page, errors, _):
        with failure_report(page, tmp_path, "live", server):
            name = server.write_notebook("live", [LIVE_CELL])
            lab.open_notebook(page, server, name, "lab", reset=True)
            lab.run_all_cells(page, timeout=120)
            view.wait_drawn(page, timeout=60)
            page.evaluate(
                "() => document.querySelectorAll('.rs-panel, canvas, svg')"
                ".forEach((n) => { n.__kept = true; })"
            )
            view.wait_state(page, step=done.steps[-1], timeout=60)  # it follows the newest step
            page.wait_for_timeout(1000)  # the last refresh, and the phases detected on it
            kept = page.evaluate(
                "() => Array.from(document.querySelectorAll('.rs-panel, canvas, svg'))"
                ".every((n) => n.__kept)"
            )
            assert kept, "the view was rebuilt instead of extended"
            rows = page.evaluate("""() => Array.from(
                document.querySelectorAll('.rs-panel-curves .rs-row'),
                (r) => r.querySelectorAll('rect.rs-phase').length)""")
            assert rows == [len(phases)] * 2, rows  # replaced at each refresh, never stacked
            labels = page.evaluate(
                "() => Array.from(document.querySelectorAll('.rs-panel-curves .rs-phase-label'),"
                " (t) => t.firstChild.textContent)"
            )
            assert labels == [p.name for p in phases]
            assert "16 of 16 checkpoints" in view.text(page, ".rs-progress-label")
            assert not errors, errors


# -- a panel registered from Python ---------------------------------------------------------------
PANEL = """\
import numpy as np
from repscope.widgets import Panel, register_panel
class TopShare(Panel):
    def __init__(self):
        super().__init__("top_share", "lines", title="top eigenvalue", options={"source": "series"})
    def run_data(self, run, feed):
        spectra = [run.spectrum(int(s), run.layers[-1]) for s in run.steps]
        return {"series": [{"name": "top", "label": "λ₁ / Σλ",
                            "steps": run.steps.astype(np.float64),
                            "values": np.array([v.values[0] for v in spectra], dtype=np.float32)}]}
register_panel(TopShare(), before="spectrum")
"""


def test_a_registered_panel_is_drawn_by_the_widget_and_the_page(server, browser, tmp_path):
    cells = [
        SETUP + PANEL,
        "s = Scrubber(traj)\ns",
        "from repscope.widgets import export_html\nexport_html(traj, 'panel.html')",
    ]
    with new_page(browser, 1400) as (page, errors, _):
        with failure_report(page, tmp_path, "panel", server):
            run_notebook(page, server, "panel", cells)
            check_top_share(page)
            assert not errors, errors
    with new_page(browser, 1400, offline=True) as (page, errors, blocked):
        with failure_report(page, tmp_path, "panel-page"):
            page.goto((server.root_dir / "panel.html").as_uri())
            view.wait_drawn(page)
            check_top_share(page)
            assert not errors and not blocked, (errors, blocked)


def check_top_share(page) -> None:
    box = page.locator(".rs-panel-top_share").first
    assert box.locator(".rs-row-title").first.text_content() == "λ₁ / Σλ"
    assert len(box.locator("path.rs-line").first.get_attribute("d")) > 20
