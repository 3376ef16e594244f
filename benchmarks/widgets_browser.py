"""Keypress-to-redraw latency of the Scrubber in JupyterLab at 2k-100k points, beside a bare
ipywidgets slider and jupyter-scatter, JSON.

Run from the repository root (needs Chromium at ``/usr/bin/chromium`` or on ``PATH``, and
Playwright; never ``playwright install``; jupyter-scatter for its side: ``pip install
"repscope[bench]"``)::

    .venv/bin/python benchmarks/widgets_browser.py                  # 2k, 10k, 20k, 100k points
    .venv/bin/python benchmarks/widgets_browser.py --quick          # 2k and 10k, 10 keypresses
    .venv/bin/python benchmarks/widgets_browser.py --points 20000 --out widgets_browser.json

Setup: one throwaway ``jupyter lab`` server (``tests/browser/lab.py``: isolated Jupyter folders,
no token) and headless Chromium (WebGL2 through SwiftShader: no GPU). One-cell notebooks, each
opened in a fresh page (``?reset``: a clean workspace) and run through "Run → Run All Cells":

``baseline``
    A bare ``ipywidgets.IntSlider`` observed by Python, whose callback sets an
    ``ipywidgets.HTML``'s value: the same round trip (front end → kernel → front end) with no
    work in it. The latency is to that HTML's text changing.
``scrubber_<n>``
    ``Scrubber(synthetic_trajectory(n_steps=--steps, layers=<6 names>, n_points=n),
    max_points=None)``: every point drawn (WebGL). The latency is from the ``ArrowRight`` keydown
    on the focused step slider's handle to the points figure's title holding the next step's
    text (it changes during the ``Plotly.update`` that redraws the points). Then ``drawn``:
    ``--n`` more keypresses, each timed to the end of every figure's update (plotly.js's
    ``plotly_update`` / ``plotly_relayout`` event on the figure, emitted once it has drawn):
    ``points``, ``spectrum``, ``curves`` (the cursor), ``overview`` (the cursor) and ``all``
    (the last of them: the whole view redrawn). The figures are patched in that order.
``jscatter_<n>``
    jupyter-scatter 1.x (regl-scatterplot, binary transfer): an ``IntSlider`` whose callback
    calls ``scatter.xy(...)`` with the next of 8 precomputed coordinate sets (no animation), then
    sets an HTML text. The latency is to the frame after that text changed: the coordinates
    arrived before the text, and regl-scatterplot draws on an animation frame; if it drew on a
    later frame than the next, this side would be a lower bound.

Each side: one warm-up keypress, then ``--n`` measured ones, 100 ms apart after each redraw.
Times are taken inside the page (``tests/browser/latency.py``: the keydown event's
``timeStamp`` to the frame after a ``MutationObserver`` sees the new text — a
``requestAnimationFrame`` then a task — both on the page's clock), so Playwright's round trips
are not in them, and a WebGL draw scheduled for the next frame is. jupyter-scatter's side is
timed the same way from its text, set after ``scatter.xy``. ``ratio = side median / baseline
median``. JSON goes to stdout (and ``--out``), progress to stderr.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import emit_report, log

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import lab  # noqa: E402
from tests.browser.latency import NoRedraw, keypress_latencies  # noqa: E402

LAYERS = tuple(f"blocks.{i}" for i in range(6))
BASELINE_CLASS = "repscope-bench-baseline"
NOTES: list[str] = []


JSCATTER_CLASS = "repscope-bench-jscatter"
GOAL_MS = {10_000: 150.0}  # the goal: <= 150 ms at 10k points


def scrubber_cell(n_steps: int, n_points: int, max_points: int | None) -> str:
    return (
        "from repscope.synthetic import synthetic_trajectory\n"
        "from repscope.widgets import Scrubber\n"
        f"traj = synthetic_trajectory(n_steps={n_steps}, layers={LAYERS!r}, "
        f"n_points={n_points})\n"
        f"s = Scrubber(traj, max_points={max_points!r})\n"
        "s"
    )


def jscatter_cell(n_points: int) -> str:
    return (
        "import numpy as np\n"
        "import ipywidgets as widgets\n"
        "import jscatter\n"
        "rng = np.random.default_rng(0)\n"
        f"frames = [rng.normal(size=({n_points}, 2)).astype('float32') for _ in range(8)]\n"
        "scatter = jscatter.Scatter(x=frames[0][:, 0], y=frames[0][:, 1])\n"
        "slider = widgets.IntSlider(min=0, max=10_000, value=0, description='step')\n"
        "html = widgets.HTML('value 0')\n"
        f"html.add_class({JSCATTER_CLASS!r})\n"
        "def moved(change):\n"
        "    f = frames[change['new'] % 8]\n"
        "    scatter.xy(f[:, 0], f[:, 1], animate=False)\n"
        "    html.value = f\"value {change['new']}\"\n"
        "slider.observe(moved, 'value')\n"
        "widgets.VBox([slider, html, scatter.show()])"
    )


def baseline_cell() -> str:
    return (
        "import ipywidgets as widgets\n"
        "slider = widgets.IntSlider(min=0, max=10_000, value=0, description='step')\n"
        "html = widgets.HTML('value 0')\n"
        f"html.add_class({BASELINE_CLASS!r})\n"
        "slider.observe(lambda change: setattr(html, 'value', f\"value {change['new']}\"), "
        "'value')\n"
        "widgets.VBox([slider, html])"
    )


# Arms one measurement of every figure: the time from the next keydown to the end of each
# figure's ``Plotly.update`` / ``Plotly.relayout`` (plotly.js emits ``plotly_update`` /
# ``plotly_relayout`` on the figure's element once the call has drawn), per figure box
# (``.repscope-<name>``).
_ARM_ALL_JS = """(names) => {
    window.__repscopeAll = {start: null, done: {}};
    const state = window.__repscopeAll;
    window.addEventListener('keydown', (e) => { if (state.start === null) state.start =
        e.timeStamp; }, {capture: true, once: true});
    for (const name of names) {
        const gd = document.querySelector('.repscope-' + name + ' .js-plotly-plot');
        if (!gd.__repscopeHooked) {
            const mark = () => {  // after the next frame: WebGL draws on animation frames
                const s = window.__repscopeAll;
                if (s.start === null || gd.__repscopeName in s.done) return;
                requestAnimationFrame(() => setTimeout(() => {
                    if (!(gd.__repscopeName in s.done))
                        s.done[gd.__repscopeName] = performance.now() - s.start;
                }, 0));
            };
            gd.on('plotly_update', mark);
            gd.on('plotly_relayout', mark);
            gd.__repscopeHooked = true;
        }
        gd.__repscopeName = name;
    }
}"""
FIGURES = ("points", "spectrum", "curves", "overview")


def every_figure_latencies(
    page: Any, n: int, *, settle_ms: float = 300.0, timeout: float = 15.0
) -> dict[str, list[float]]:
    """For each of ``n`` keypresses (the slider handle already focused): milliseconds from the
    keydown to each figure's update having drawn, and to the last of them (``"all"``). After
    each, ``settle_ms`` of quiet before the next keypress."""
    times: dict[str, list[float]] = {name: [] for name in (*FIGURES, "all")}
    for _ in range(n):
        page.evaluate(_ARM_ALL_JS, list(FIGURES))
        page.keyboard.press("ArrowRight")
        deadline = time.monotonic() + timeout
        done: dict[str, float] = {}
        while time.monotonic() < deadline and len(done) < len(FIGURES):
            page.wait_for_timeout(50)
            done = page.evaluate("() => window.__repscopeAll.done")
        if len(done) < len(FIGURES):
            raise NoRedraw(
                f"only {sorted(done)} of {FIGURES} drew within {timeout:g} s of a keypress"
            )
        page.wait_for_timeout(settle_ms)
        for name in FIGURES:
            times[name].append(done[name])
        times["all"].append(max(done.values()))
    return times


def summary(times: list[float]) -> dict[str, Any]:
    return {
        "median_ms": round(statistics.median(times), 2),
        "p90_ms": round(float(np.percentile(times, 90)), 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
        "samples_ms": [round(t, 2) for t in times],
    }


def measure(
    browser: Any,
    server: lab.JupyterServer,
    name: str,
    cell: str,
    *,
    selector: str,
    n: int,
    shots: Path | None,
) -> tuple[Any, str | None, float]:
    """Open and run a one-cell notebook in a fresh page, then time ``n`` keypresses."""
    notebook = server.write_notebook(name, [cell])
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    start = time.perf_counter()
    try:
        lab.open_notebook(page, server, notebook, "lab", reset=True)
        lab.run_all_cells(page, timeout=300)
        errors = lab.cell_errors(page)
        if errors:
            return None, "the cell raised:\n" + "\n".join(errors), time.perf_counter() - start
        lab.wait_for_plot_title(page, selector=selector, timeout=60)
        ready = time.perf_counter() - start
        log(f"{name}: ran in {ready:.1f} s; {n} keypresses")
        times = keypress_latencies(page, n, selector=selector, timeout=30, after_frame=True)
        if name.startswith("scrubber"):
            every = every_figure_latencies(page, n)
            return (times, every), None, ready
        return (times, None), None, ready
    except (NoRedraw, TimeoutError) as error:
        if shots is not None:
            log(f"{name}: screenshot {lab.screenshot(page, shots / f'{name}.png')}")
        messages = lab.widget_texts(page)
        detail = f"{type(error).__name__}: {error}"
        if messages:
            detail += "; widget messages: " + " | ".join(messages)
        return None, detail, time.perf_counter() - start
    finally:
        context.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="30 steps, 2k and 10k points, 10 keypresses: a smoke run",
    )
    parser.add_argument("--n", type=int, default=None, help="measured keypresses (default 30)")
    parser.add_argument("--steps", type=int, default=None, help="checkpoints (default 150)")
    parser.add_argument(
        "--points",
        default=None,
        help="probe point counts, comma-separated (default 2000,10000,20000,100000)",
    )
    parser.add_argument(
        "--max-points",
        default="all",
        help="the Scrubber's max_points: drawn points (an int, or 'all')",
    )
    parser.add_argument("--no-jscatter", action="store_true", help="skip the jupyter-scatter sides")
    parser.add_argument(
        "--screenshots", metavar="DIR", help="save a screenshot here when a side fails"
    )
    parser.add_argument("--out", metavar="FILE", help="also write the JSON to this file")
    args = parser.parse_args(argv)
    args.n = args.n or (10 if args.quick else 30)
    args.steps = args.steps or (30 if args.quick else 150)
    args.points = [
        int(p)
        for p in (args.points or ("2000,10000" if args.quick else "2000,10000,20000,100000")).split(
            ","
        )
    ]
    args.max_points = None if args.max_points == "all" else int(args.max_points)
    if args.n < 1:
        parser.error("--n must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        NOTES.append("--quick: a small trajectory and few keypresses; indicative only")
    chromium = lab.find_chromium()
    if chromium is None:
        log("no Chromium: install it with `apt-get install -y chromium` (Debian)")
        return 2
    from playwright.sync_api import sync_playwright

    jscatter = not args.no_jscatter
    if jscatter:
        try:
            import jscatter as _jscatter  # noqa: F401
        except ImportError:
            NOTES.append(
                "jupyter-scatter is not installed (pip install 'repscope[bench]'): "
                "its sides were skipped"
            )
            jscatter = False
    shots = Path(args.screenshots) if args.screenshots else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    load_at_start = os.getloadavg()
    sides: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="repscope-bench-widgets-") as tmp,
        lab.jupyter_server("lab", base_dir=tmp) as server,
        sync_playwright() as playwright,
    ):
        log(f"jupyter lab at {server.url}; extensions {server.labextensions()}")
        browser = lab.launch_chromium(playwright, executable_path=chromium)
        version = browser.version
        try:
            runs = {"baseline": (baseline_cell(), f".{BASELINE_CLASS} .widget-html-content")}
            for n_points in args.points:
                runs[f"scrubber_{n_points}"] = (
                    scrubber_cell(args.steps, n_points, args.max_points),
                    lab.PLOT_TITLE,
                )
            if jscatter:
                for n_points in args.points:
                    runs[f"jscatter_{n_points}"] = (
                        jscatter_cell(n_points),
                        f".{JSCATTER_CLASS} .widget-html-content",
                    )
            for name, (cell, selector) in runs.items():
                times, error, ready = measure(
                    browser, server, name, cell, selector=selector, n=args.n, shots=shots
                )
                side: dict[str, Any] = {"notebook_ready_s": round(ready, 2)}
                if times is None:
                    log(f"{name}: FAILED: {error}")
                    side["error"] = error
                else:
                    times, every = times
                    side.update(summary(times))
                    log(f"{name}: median {side['median_ms']} ms, p90 {side['p90_ms']} ms")
                    if every is not None:
                        side["drawn"] = {k: summary(v) for k, v in every.items()}
                        log(
                            f"{name}: drawn (median ms): "
                            + ", ".join(f"{k} {v['median_ms']}" for k, v in side["drawn"].items())
                        )
                sides[name] = side
        finally:
            browser.close()

    baseline = sides["baseline"]
    records = []
    for n_points in args.points:
        scrubber = sides[f"scrubber_{n_points}"]
        other = sides.get(f"jscatter_{n_points}")
        ok = "error" not in scrubber and "error" not in baseline
        record: dict[str, Any] = {
            "section": "keypress_redraw",
            "points": n_points,
            "size": f"{args.steps} steps x {len(LAYERS)} layers x {n_points} points",
            "front_end": "JupyterLab",
            "n": args.n,
            "scrubber": scrubber,
            "baseline": baseline,
            "ratio": round(scrubber["median_ms"] / baseline["median_ms"], 3) if ok else None,
            "checks": {"every_keypress_redrew": ok},
        }
        if other is not None:
            record["jscatter"] = other
            if ok and "error" not in other:
                record["scrubber_over_jscatter"] = round(
                    scrubber["median_ms"] / other["median_ms"], 3
                )
        goal = GOAL_MS.get(n_points)
        if goal is not None and "drawn" in scrubber:
            drawn = scrubber["drawn"]
            record["target"] = f"points drawn, median <= {goal:g} ms"
            record["checks"]["goal"] = ok and drawn["points"]["median_ms"] <= goal
            record["whole_view_within_goal"] = drawn["all"]["median_ms"] <= goal
        record["pass"] = all(record["checks"].values())
        records.append(record)
    ok = all("error" not in side for side in sides.values())
    report = {
        "benchmark": "widgets_browser",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "quick": args.quick,
        "warmup": 1,
        "statistic": "milliseconds from the ArrowRight keydown to the new text in the DOM, "
        "measured in the page; median and 90th percentile of --n keypresses",
        "setup": {
            "steps": args.steps,
            "layers": list(LAYERS),
            "points": args.points,
            "max_points": args.max_points,
            "jscatter": jscatter,
            "browser": {
                "executable": chromium,
                "version": version,
                "headless": True,
                "webgl": "SwiftShader (software)",
            },
        },
    }
    emit_report(
        report,
        records=records,
        notes=NOTES,
        load_at_start=load_at_start,
        threads=os.cpu_count() or 1,
        out=args.out,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
