"""Kernel-side responsiveness of the Scrubber, beside the naive way, printed as JSON.

Run from the repository root::

    .venv/bin/python benchmarks/widgets.py               # 150 checkpoints × 6 layers × 2000 points
    .venv/bin/python benchmarks/widgets.py --quick       # 30 checkpoints: a smoke run
    .venv/bin/python benchmarks/widgets_browser.py       # keypress → redraw in a real browser

Setup: :func:`repscope.synthetic.synthetic_trajectory` with 150 checkpoints, 6 layers, 2000
probe points (64 features, 4 labels): measures, spectra and 2-D points computed by the scan's own
code and stored in an in-memory SQLite store. Widgets are given a recording comm (as a kernel
would give them a real one), so every message is serialised as it would be for the front end.

Sections:

``step_update``
    ``scrubber.slider.value = step`` for 60 random steps (coalescing off, so each is drawn at
    once): the time until every figure is updated, the figures' messages per step and their
    bytes. Baseline: drawing each step as new ``FigureWidget`` s (what re-running a plotting
    function, or ``interact``, does). Target: <= 20 ms, one ``Plotly.update`` message per
    figure per step (points and spectrum: data; curves and overview: their cursor only).
``drag``
    A drag across all 150 steps: a thread posts one slider value every 4 ms (faster than any
    pointer) into a queue that this thread, standing in for the kernel's message loop, applies
    one by one. Measured: the delay from the last event to the final step on screen, and how many
    draws ran. Baseline: the same drag with coalescing off (every event drawn). Target: final
    step drawn within 300 ms of the last event, no backlog.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import comm
from _common import emit_report, log

from repscope.synthetic import synthetic_trajectory


class RecordingComm(comm.base_comm.BaseComm):
    """A comm that serialises every message as the kernel would, and keeps its size."""

    log: ClassVar[list[tuple[str | None, int, bool]]] = []

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        size = len(json.dumps(data, default=str)) + sum(
            len(memoryview(b).cast("B")) for b in buffers or ()
        )
        state = (data or {}).get("state", {})
        is_update = state.get("_py2js_update") is not None  # a Plotly.update (not its reset)
        RecordingComm.log.append((self.comm_id, size, is_update))


def install_recording_comm() -> None:
    comm.create_comm = lambda **kwargs: RecordingComm(**kwargs)
    import ipywidgets.widgets.widget as widget_module

    widget_module.comm.create_comm = comm.create_comm


def step_update(traj, steps: list[int]) -> dict:
    from repscope.widgets import Scrubber

    s = Scrubber(traj, interval=0)
    figure_ids = {fig.comm.comm_id for fig in s.figures.values()}
    order = random.Random(0).sample(steps, min(60, len(steps)))
    times, messages, sizes = [], [], []
    for step in order:
        RecordingComm.log.clear()
        start = time.perf_counter()
        s.slider.value = step
        times.append(time.perf_counter() - start)
        mine = [(size, upd) for cid, size, upd in RecordingComm.log if cid in figure_ids]
        messages.append(sum(upd for _, upd in mine))
        sizes.append(sum(size for size, _ in mine))
        assert s.figure.layout.title.text.startswith(f"step {step} ")
        assert "could not draw" not in s.message.value, s.message.value
    # Baseline: new figure widgets per step.
    naive = []
    for step in order[:20]:
        start = time.perf_counter()
        figures = s.panels.figures(s.layer.value, step, widget=True)
        naive.append(time.perf_counter() - start)
        for fig in figures.values():
            fig.close()
    ours, base = statistics.median(times), statistics.median(naive)
    updates = max(messages)
    return {
        "section": "step_update",
        "median_ms": 1e3 * ours,
        "p90_ms": 1e3 * sorted(times)[int(0.9 * len(times))],
        "baseline_new_figure_median_ms": 1e3 * base,
        "ratio": base / ours,
        "plotly_update_messages_per_step": updates,
        "figure_bytes_per_step": statistics.median(sizes),
        "target_ms": 20,
        "pass": 1e3 * ours <= 20 and updates == len(figure_ids),
    }


def drag(traj, steps: list[int], *, coalesce: bool) -> dict:
    from repscope.widgets import Scrubber

    s = Scrubber(traj) if coalesce else Scrubber(traj, interval=0)  # the default: 0.15 s
    drawn: list[tuple[float, int]] = []
    render = s._coalescer._render

    def timed(step):
        render(step)
        drawn.append((time.perf_counter(), step))

    s._coalescer._render = timed
    events: queue.Queue = queue.Queue()
    sent: list[float] = []

    def pointer():
        for step in steps[1:]:
            events.put(step)
            sent.append(time.perf_counter())
            time.sleep(0.004)
        events.put(None)

    thread = threading.Thread(target=pointer)
    thread.start()
    while (step := events.get()) is not None:  # the kernel's loop: one message at a time
        s.slider.value = step
    thread.join()
    deadline = time.perf_counter() + 5
    while (not drawn or drawn[-1][1] != steps[-1]) and time.perf_counter() < deadline:
        time.sleep(0.002)
    delay = drawn[-1][0] - sent[-1]
    return {
        "coalesce": coalesce,
        "events": len(steps) - 1,
        "draws": len(drawn),
        "final_step_drawn": drawn[-1][1] == steps[-1],
        "last_event_to_final_draw_ms": 1e3 * delay,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 checkpoints")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    load = os.getloadavg()
    install_recording_comm()
    n_steps = 30 if args.quick else 150
    log(f"building a synthetic trajectory: {n_steps} checkpoints × 6 layers × 2000 points")
    start = time.perf_counter()
    traj = synthetic_trajectory(
        n_steps=n_steps, layers=[f"h.{i}" for i in range(6)], n_points=2000, n_features=64
    )
    setup = time.perf_counter() - start
    steps = traj.steps
    records = [step_update(traj, steps)]
    log(f"step update: {records[0]['median_ms']:.1f} ms")
    fast, slow = drag(traj, steps, coalesce=True), drag(traj, steps, coalesce=False)
    records.append(
        {
            "section": "drag",
            **{f"coalesced_{k}": v for k, v in fast.items()},
            **{f"baseline_{k}": v for k, v in slow.items()},
            "ratio": slow["last_event_to_final_draw_ms"] / fast["last_event_to_final_draw_ms"],
            "target_ms": 300,
            "pass": fast["final_step_drawn"] and fast["last_event_to_final_draw_ms"] <= 300,
        }
    )
    log(
        f"drag: {fast['last_event_to_final_draw_ms']:.0f} ms coalesced, "
        f"{slow['last_event_to_final_draw_ms']:.0f} ms not"
    )
    emit_report(
        {
            "benchmark": "widgets",
            "checkpoints": len(steps),
            "layers": 6,
            "points": 2000,
            "setup_s": setup,
        },
        records=records,
        notes=[
            "Times are kernel-side (serialising included, transport excluded); the "
            "browser's redraw is measured by benchmarks/widgets_browser.py."
        ],
        load_at_start=load,
        threads=1,
        out=args.out,
    )


if __name__ == "__main__":
    main()
