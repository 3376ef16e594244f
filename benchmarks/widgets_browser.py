"""Keydown → painted frame for the Scrubber's whole view, in JupyterLab and in the exported page,
at 2k-100k points, beside jupyter-scatter's bare scatter and a bare widget round trip, JSON.

Run from the repository root (needs Chromium at ``/usr/bin/chromium`` or on ``PATH``, and
Playwright; never ``playwright install``; jupyter-scatter for its side: ``pip install
"repscope[bench]"``)::

    .venv/bin/python benchmarks/widgets_browser.py                  # 2k, 10k, 20k, 100k points
    .venv/bin/python benchmarks/widgets_browser.py --quick          # 2k and 10k, 10 keypresses
    .venv/bin/python benchmarks/widgets_browser.py --points 20000 --out widgets_browser.json

Setup: a store of ``synthetic_trajectory(n_steps=--steps, layers=<6 names>, n_points=n)`` per
size, written once; one throwaway ``jupyter lab`` server (``tests/browser/lab.py``) and headless
Chromium (WebGL2 through SwiftShader: no GPU), 1280 × 1000. Each side in a fresh page:

``baseline``
    A bare ``ipywidgets.IntSlider`` observed by Python, whose callback sets an
    ``ipywidgets.HTML``'s value: the round trip front end → kernel → front end with no work.
``scrubber_<n>``
    ``Scrubber(store, max_points=None)`` in JupyterLab: every point drawn (WebGL). Timed from
    the ``ArrowRight`` keydown on the focused step slider to the frame after the *whole view*
    shows the next step: every panel redrawn (the view marks its root with the step once all
    panels have drawn, and the points panel with the step whose points are on screen; both are
    waited for), then ``requestAnimationFrame`` and a task, so the paint is included.
``page_<n>``
    The same store exported (``export_html(store, layers=[the layer shown], max_points=None)``),
    opened from ``file://``, timed the same way: no kernel at all.
``jscatter_<n>``
    jupyter-scatter 1.x (regl-scatterplot, binary transfer): an ``IntSlider`` whose callback
    calls ``scatter.xy(...)`` with the next of 8 precomputed coordinate sets (no animation), then
    sets an HTML text; timed to the frame after that text changed.

Each side: one warm-up keypress, then ``--n`` measured ones, 100 ms apart after each redraw.
Times are taken inside the page (the keydown event's ``timeStamp`` to ``performance.now()``), so
Playwright's round trips are not in them. ``ratio = scrubber median / jscatter median`` (goal:
<= 1.0 at 10k and 100k, and <= 150 ms at 20k).
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
JSCATTER_CLASS = "repscope-bench-jscatter"
NOTES: list[str] = []
GOAL_MS = {
    20_000: 150.0
}  # the goal: <= 150 ms at 20k points (and <= jscatter at 10k, 100k)

# Arms one measurement: resolves window.__rsTiming with the milliseconds from the next keydown to
# the frame after the view shows step `want` everywhere (root and points), or null on timeout.
_ARM_VIEW_JS = """([want, timeoutMs]) => {
  const root = document.querySelector('.repscope');
  const points = root.querySelector('.rs-panel-points');
  window.__rsTiming = new Promise((resolve) => {
    let start = null;
    const onKey = (e) => { if (start === null) start = e.timeStamp; };
    window.addEventListener('keydown', onKey, {capture: true, once: true});
    const done = () => root.dataset.step === want && points.dataset.drawn === want;
    let finished = false;
    const observer = new MutationObserver(() => {
      if (finished || start === null || !done()) return;
      finished = true;
      observer.disconnect();
      requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - start), 0));
    });
    observer.observe(root, {subtree: true, attributes: true,
                            attributeFilter: ['data-step', 'data-drawn']});
    setTimeout(() => { if (!finished) { observer.disconnect(); resolve(null); } }, timeoutMs);
  });
}"""


def view_latencies(
    page: Any, steps: list[int], n: int, *, warmup: int = 1, settle_ms: float = 100.0
) -> list[float]:
    """Milliseconds from each ArrowRight on the focused step slider to the painted whole view."""
    page.locator(".rs-step").first.focus()
    current = int(page.evaluate("() => document.querySelector('.repscope').dataset.step"))
    i = steps.index(current)
    times = []
    for k in range(warmup + n):
        want = str(steps[i + 1])
        page.evaluate(_ARM_VIEW_JS, [want, 30_000])
        page.keyboard.press("ArrowRight")
        ms = page.evaluate("() => window.__rsTiming")
        if ms is None:
            raise NoRedraw(f"the view did not show step {want} within 30 s")
        if k >= warmup:
            times.append(float(ms))
        i += 1
        page.wait_for_timeout(settle_ms)
    return times


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
    server: lab.JupyterServer | None,
    name: str,
    *,
    cell: str | None = None,
    url: str | None = None,
    selector: str | None = None,
    steps: list[int] | None = None,
    n: int,
    shots: Path | None,
) -> tuple[list[float] | None, str | None, float]:
    """Open a one-cell notebook (or a page) in a fresh page, then time ``n`` keypresses."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    start = time.perf_counter()
    try:
        if cell is not None:
            notebook = server.write_notebook(name, [cell])
            lab.open_notebook(page, server, notebook, "lab", reset=True)
            lab.run_all_cells(page, timeout=600)
            errors = lab.cell_errors(page)
            if errors:
                return None, "the cell raised:\n" + "\n".join(errors), time.perf_counter() - start
        else:
            page.goto(url, wait_until="load", timeout=600_000)
        if steps is not None:  # the scrubber, in JupyterLab or in a page
            page.wait_for_selector(".repscope .rs-panel-points[data-drawn]", timeout=600_000)
            ready = time.perf_counter() - start
            log(f"{name}: ready in {ready:.1f} s; {n} keypresses")
            return view_latencies(page, steps, n), None, ready
        lab.wait_for_plot_title(page, selector=selector, timeout=120)
        ready = time.perf_counter() - start
        log(f"{name}: ready in {ready:.1f} s; {n} keypresses")
        times = keypress_latencies(page, n, selector=selector, timeout=30, after_frame=True)
        return times, None, ready
    except (NoRedraw, TimeoutError, Exception) as error:  # a side that fails is reported
        if shots is not None:
            log(f"{name}: screenshot {lab.screenshot(page, shots / f'{name}.png')}")
        return None, f"{type(error).__name__}: {error}", time.perf_counter() - start
    finally:
        context.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="30 steps, 2k and 10k points, 10 keypresses"
    )
    parser.add_argument("--n", type=int, default=None, help="measured keypresses (default 30)")
    parser.add_argument("--steps", type=int, default=None, help="checkpoints (default 150)")
    parser.add_argument(
        "--points",
        default=None,
        help="probe point counts, comma-separated (default 2000,10000,20000,100000)",
    )
    parser.add_argument("--no-jscatter", action="store_true", help="skip the jupyter-scatter sides")
    parser.add_argument("--no-page", action="store_true", help="skip the exported-page sides")
    parser.add_argument(
        "--screenshots", metavar="DIR", help="save a screenshot here when a side fails"
    )
    parser.add_argument("--out", metavar="FILE", help="also write the JSON to this file")
    args = parser.parse_args(argv)
    args.n = args.n or (10 if args.quick else 30)
    args.steps = args.steps or (30 if args.quick else 150)
    default = "2000,10000" if args.quick else "2000,10000,20000,100000"
    args.points = [int(p) for p in (args.points or default).split(",")]
    if args.n < 1 or args.steps < args.n + 3:
        parser.error("--n must be at least 1, and --steps at least --n + 3")
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

    from repscope.synthetic import synthetic_trajectory
    from repscope.widgets import export_html

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
        stores: dict[int, tuple[Path, list[int], Path | None]] = {}
        for n_points in args.points:
            start = time.perf_counter()
            path = Path(tmp) / f"run_{n_points}.sqlite"
            traj = synthetic_trajectory(
                n_steps=args.steps, layers=LAYERS, n_points=n_points, store=path
            )
            page = None
            if not args.no_page:
                page = export_html(
                    traj, Path(tmp) / f"page_{n_points}.html", layers=[LAYERS[-1]], max_points=None
                )
            stores[n_points] = (path, list(traj.steps), page)
            size = f", page {page.stat().st_size / 1e6:.0f} MB" if page else ""
            log(f"{n_points} points: store in {time.perf_counter() - start:.0f} s{size}")
        browser = lab.launch_chromium(playwright, executable_path=chromium)
        version = browser.version
        try:
            runs: list[tuple[str, dict[str, Any]]] = [
                (
                    "baseline",
                    {
                        "cell": baseline_cell(),
                        "selector": f".{BASELINE_CLASS} .widget-html-content",
                    },
                )
            ]
            for n_points, (path, steps, page) in stores.items():
                cell = (
                    "from repscope.widgets import Scrubber\n"
                    f"Scrubber({str(path)!r}, max_points=None)"
                )
                runs.append((f"scrubber_{n_points}", {"cell": cell, "steps": steps}))
                if page is not None:
                    runs.append((f"page_{n_points}", {"url": page.as_uri(), "steps": steps}))
                if jscatter:
                    runs.append(
                        (
                            f"jscatter_{n_points}",
                            {
                                "cell": jscatter_cell(n_points),
                                "selector": f".{JSCATTER_CLASS} .widget-html-content",
                            },
                        )
                    )
            for name, options in runs:
                times, error, ready = measure(
                    browser, server, name, n=args.n, shots=shots, **options
                )
                side: dict[str, Any] = {"ready_s": round(ready, 2)}
                if times is None:
                    log(f"{name}: FAILED: {error}")
                    side["error"] = error
                else:
                    side.update(summary(times))
                    log(f"{name}: median {side['median_ms']} ms, p90 {side['p90_ms']} ms")
                sides[name] = side
        finally:
            browser.close()

    baseline = sides["baseline"]
    records = []
    for n_points in args.points:
        for host, prefix in (("JupyterLab", "scrubber"), ("exported page", "page")):
            ours = sides.get(f"{prefix}_{n_points}")
            if ours is None:
                continue
            other = sides.get(f"jscatter_{n_points}")
            ok = "error" not in ours
            record: dict[str, Any] = {
                "section": "keydown_to_painted_whole_view",
                "points": n_points,
                "size": f"{args.steps} steps x {len(LAYERS)} layers x {n_points} points",
                "host": host,
                "n": args.n,
                "scrubber": ours,
                "baseline_round_trip": baseline,
                "checks": {"every_keypress_drew_the_whole_view": ok},
            }
            if other is not None:
                record["jscatter"] = other
                if ok and "error" not in other:
                    record["ratio_scrubber_over_jscatter"] = round(
                        ours["median_ms"] / other["median_ms"], 3
                    )
                    if n_points in (10_000, 100_000):
                        record["checks"]["no_slower_than_jscatter"] = (
                            record["ratio_scrubber_over_jscatter"] <= 1.0
                        )
            goal = GOAL_MS.get(n_points)
            if goal is not None and ok:
                record["target"] = f"whole view painted, median <= {goal:g} ms"
                record["checks"]["goal"] = ours["median_ms"] <= goal
            record["pass"] = all(record["checks"].values())
            records.append(record)
    ok = all("error" not in side for side in sides.values())
    report = {
        "benchmark": "widgets_browser",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "quick": args.quick,
        "warmup": 1,
        "statistic": "milliseconds from the ArrowRight keydown to the frame after the whole view "
        "shows the next step (paint included), measured in the page; median and 90th percentile",
        "setup": {
            "steps": args.steps,
            "layers": list(LAYERS),
            "points": args.points,
            "jscatter": jscatter,
            "browser": {
                "executable": chromium,
                "version": version,
                "headless": True,
                "webgl": "SwiftShader (software)",
                "viewport": [1280, 1000],
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
