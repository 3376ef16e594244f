"""Keypress-to-redraw latency of the Scrubber in JupyterLab beside a bare ipywidgets slider, JSON.

Run from the repository root (needs Chromium at ``/usr/bin/chromium`` or on ``PATH``, and
Playwright; never ``playwright install``)::

    .venv/bin/python benchmarks/widgets_browser.py                 # 150 steps, 30 keypresses
    .venv/bin/python benchmarks/widgets_browser.py --quick         # 30 steps, 10 keypresses
    .venv/bin/python benchmarks/widgets_browser.py --n 50 --out widgets_browser.json

Setup: one throwaway ``jupyter lab`` server (``tests/browser/lab.py``: isolated Jupyter folders,
no token) and headless Chromium. Two notebooks, each opened in a fresh page (``?reset``: a clean
workspace) and run through "Run → Run All Cells":

``scrubber``
    ``Scrubber(synthetic_trajectory(n_steps=--steps, layers=<6 names>, n_points=--points))``.
    The latency is from the ``ArrowRight`` keydown on the focused step slider's handle to the
    plotly title (``.js-plotly-plot .gtitle``) holding the next step's text: ipywidgets sends
    the index to the kernel, the Scrubber (coalesced, ``interval=0.15``) sends the step's traces
    and layout to the ``FigureWidget``, plotly.js redraws.
``baseline``
    A bare ``ipywidgets.IntSlider`` observed by Python, whose callback sets an
    ``ipywidgets.HTML``'s value: the same round trip (front end → kernel → front end) with no
    work in it. The latency is to that HTML's text changing.

Each side: one warm-up keypress, then ``--n`` measured ones, 100 ms apart after each redraw.
Times are taken inside the page (``tests/browser/latency.py``: the keydown event's
``timeStamp`` to a ``MutationObserver`` seeing the new text, both on the page's clock), so
Playwright's round trips are not in them; paint is not either. ``ratio = scrubber median /
baseline median`` (> 1: the Scrubber is slower than a bare widget round trip). The baseline runs
first, then the Scrubber, in the same server and browser. JSON goes to stdout (and ``--out``),
progress to stderr.
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


def scrubber_cell(n_steps: int, n_points: int, max_points: int | None) -> str:
    return (
        "from repscope.synthetic import synthetic_trajectory\n"
        "from repscope.widgets import Scrubber\n"
        f"traj = synthetic_trajectory(n_steps={n_steps}, layers={LAYERS!r}, "
        f"n_points={n_points})\n"
        f"s = Scrubber(traj, max_points={max_points!r})\n"
        "s"
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


def summary(times: list[float]) -> dict[str, Any]:
    return {
        "median_ms": round(statistics.median(times), 2),
        "p90_ms": round(float(np.percentile(times, 90)), 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
        "samples_ms": [round(t, 2) for t in times],
    }


def measure(browser: Any, server: lab.JupyterServer, name: str, cell: str, *, selector: str,
            n: int, shots: Path | None) -> tuple[list[float] | None, str | None, float]:
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
        times = keypress_latencies(page, n, selector=selector, timeout=30)
        return times, None, ready
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
    parser.add_argument("--quick", action="store_true",
                        help="30 steps, 500 points, 10 keypresses: a smoke run")
    parser.add_argument("--n", type=int, default=None, help="measured keypresses (default 30)")
    parser.add_argument("--steps", type=int, default=None, help="checkpoints (default 150)")
    parser.add_argument("--points", type=int, default=None, help="probe points (default 2000)")
    parser.add_argument("--max-points", default="1000",
                        help="the Scrubber's max_points: drawn points (an int, or 'all')")
    parser.add_argument("--screenshots", metavar="DIR",
                        help="save a screenshot here when a side fails")
    parser.add_argument("--out", metavar="FILE", help="also write the JSON to this file")
    args = parser.parse_args(argv)
    args.n = args.n or (10 if args.quick else 30)
    args.steps = args.steps or (30 if args.quick else 150)
    args.points = args.points or (500 if args.quick else 2000)
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

    shots = Path(args.screenshots) if args.screenshots else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    load_at_start = os.getloadavg()
    sides: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="repscope-bench-widgets-") as tmp, \
            lab.jupyter_server("lab", base_dir=tmp) as server, \
            sync_playwright() as playwright:
        log(f"jupyter lab at {server.url}; extensions {server.labextensions()}")
        browser = lab.launch_chromium(playwright, executable_path=chromium)
        version = browser.version
        try:
            runs = {
                "baseline": (baseline_cell(), f".{BASELINE_CLASS} .widget-html-content"),
                "scrubber": (scrubber_cell(args.steps, args.points, args.max_points),
                             lab.PLOT_TITLE),
            }
            for name, (cell, selector) in runs.items():
                times, error, ready = measure(browser, server, name, cell, selector=selector,
                                              n=args.n, shots=shots)
                side: dict[str, Any] = {"notebook_ready_s": round(ready, 2)}
                if times is None:
                    log(f"{name}: FAILED: {error}")
                    side["error"] = error
                else:
                    side.update(summary(times))
                    log(f"{name}: median {side['median_ms']} ms, p90 {side['p90_ms']} ms")
                sides[name] = side
        finally:
            browser.close()

    ok = all("error" not in side for side in sides.values())
    scrubber, baseline = sides["scrubber"], sides["baseline"]
    record: dict[str, Any] = {
        "section": "keypress_redraw",
        "size": f"{args.steps} steps x {len(LAYERS)} layers x {args.points} points",
        "front_end": "JupyterLab",
        "n": args.n,
        "scrubber": scrubber,
        "baseline": baseline,
        "ratio": (round(scrubber["median_ms"] / baseline["median_ms"], 3) if ok else None),
        "target": "information: every keypress redraws; the ratio says what the Scrubber adds "
        "to a bare widget round trip",
        "checks": {"every_keypress_redrew": ok},
    }
    record["pass"] = all(record["checks"].values())
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
            "browser": {"executable": chromium, "version": version, "headless": True},
        },
    }
    emit_report(report, records=[record], notes=NOTES, load_at_start=load_at_start,
                threads=os.cpu_count() or 1, out=args.out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
