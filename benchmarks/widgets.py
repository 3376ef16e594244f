"""The Scrubber on the kernel's side: what a step costs, and what the first scrubber costs, JSON.

Run from the repository root::

    .venv/bin/python benchmarks/widgets.py           # 154 checkpoints × 24 layers × 2000 points
    .venv/bin/python benchmarks/widgets.py --quick        # 20 × 6 × 2000: a smoke run
    .venv/bin/python benchmarks/widgets_browser.py        # keypress → painted frame in a browser

Sections:

``step``
    A step moved in the browser (the slider, a key, play) reaches the kernel as one state
    message; the kernel sends nothing back (the browser holds the step's data). Measured with a
    recording comm on a real ``Scrubber``: messages and bytes each way for 30 steps. Baseline in
    the same run: what a front end that asks for each step's data would receive (the block
    message of that step alone, as the feed builds it).
``cold_start``
    In a fresh Python each time: ``import repscope.widgets``, then ``Scrubber("run.sqlite")``
    (construction, then the answer to the front end's first message up to the message that
    lets it draw: runs, the layer, the step's block), the answer in full (with the phases), and a
    second scrubber. Baseline in the same run: the previous front end (four plotly
    ``FigureWidget`` s, commit ``--baseline``, checked out into a temporary worktree), whose
    constructor built the figures; skipped with a note when plotly is not installed
    (``pip install plotly``) or the commit is not in the repository.
``import_cuts``
    The imports taken off the path to a first scrubber, each timed in a fresh Python:
    ``ruptures`` and ``plotly.graph_objects`` (neither used any more; ``null`` where not
    installed), beside ``torch`` (still needed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import comm  # noqa: E402
from _common import emit_report, log  # noqa: E402
from store_read import build_store  # noqa: E402

#: The last commit with the plotly front end (the baseline of ``cold_start``).
BASELINE_COMMIT = "4b6c931"

NEW_SCRIPT = """
import sys, time
t0 = time.perf_counter()
import repscope.widgets
from repscope.widgets import Scrubber
t1 = time.perf_counter()
marks = {}
def run():
    s = Scrubber(sys.argv[1])
    built = time.perf_counter()
    seen = []
    def send(content, buffers=None):
        seen.append(content["type"])
        if len(seen) == 3:
            marks.setdefault(len(marks), time.perf_counter())
    s.send = send
    s._on_msg(s, {"type": "hello"}, [])
    return built, seen
start = time.perf_counter()
built, seen = run()
done = time.perf_counter()
first = marks[0]
t2 = time.perf_counter()
run()
second = time.perf_counter() - t2
print({"import_s": t1 - t0, "construct_s": built - start, "first_display_s": first - start,
       "complete_s": done - start, "second_s": second, "messages": seen})
"""

OLD_SCRIPT = """
import sys, time
t0 = time.perf_counter()
import repscope.widgets
from repscope.widgets import Scrubber
t1 = time.perf_counter()
s = Scrubber(sys.argv[1])
t2 = time.perf_counter()
s2 = Scrubber(sys.argv[1])
t3 = time.perf_counter()
print({"import_s": t1 - t0, "construct_s": t2 - t1, "first_display_s": t2 - t1,
       "complete_s": t2 - t1, "second_s": t3 - t2})
"""


class RecordingComm(comm.base_comm.BaseComm):
    """A comm that serialises every message as the kernel would, and keeps its size."""

    log: ClassVar[list[tuple[str, int, str]]] = []

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        size = len(json.dumps(data, default=str)) + sum(
            len(memoryview(b).cast("B")) for b in buffers or ()
        )
        RecordingComm.log.append((self.comm_id, size, (data or {}).get("method", msg_type)))


def step(path: Path, n: int = 30) -> dict:
    import ipywidgets.widgets.widget as widget_module

    from repscope.widgets import Scrubber

    widget_module.comm.create_comm = lambda **kwargs: RecordingComm(**kwargs)
    s = Scrubber(str(path))
    s._on_msg(s, {"type": "hello"}, [])  # what the browser holds after its first display
    steps = s.steps[:n]
    sent, received, baseline = [], [], []
    for value in steps[1:]:
        RecordingComm.log.clear()
        # the front end's state message, as ipywidgets delivers it
        s.set_state({"step": value})
        sent.append([size for cid, size, _ in RecordingComm.log if cid == s.comm.comm_id])
        received.append(1)  # the one state message the browser sent
        i = s.runs[0].index(value)
        size, _ = s.feed.blocks(0, s.layer)
        message, buffers = s.feed.block_message(0, s.layer, i // size)
        one_step = sum(b.nbytes for b in buffers) // message["count"]  # one step's share
        baseline.append(len(json.dumps(message)) + one_step)
    return {
        "section": "step",
        "kernel_to_browser_messages_per_step": max(len(x) for x in sent),
        "kernel_to_browser_bytes_per_step": max(sum(x) for x in sent),
        "browser_to_kernel_messages_per_step": max(received),
        "baseline_bytes_per_step_if_asked": statistics.median(baseline),
        "note": "ipywidgets 8 echoes a state change back to the front ends "
        "(JUPYTER_WIDGETS_ECHO): those messages, if any, are counted in kernel_to_browser",
        "pass": max(len(x) for x in sent) <= 1,
    }


def fresh(script: str, path: Path, pythonpath: str | None = None, repeats: int = 3) -> dict:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    runs = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", script, str(path)],
            capture_output=True,
            text=True,
            env=env,
            cwd=pythonpath or ROOT,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        runs.append(eval(done.stdout.strip().splitlines()[-1]))
    return {k: round(min(r[k] for r in runs), 3) for k in runs[0] if k != "messages"} | (
        {"messages": runs[0]["messages"]} if "messages" in runs[0] else {}
    )


def baseline_worktree(commit: str) -> Path | None:
    try:
        import plotly  # noqa: F401
    except ImportError:
        return None
    target = Path(tempfile.mkdtemp(prefix="repscope-baseline-"))
    done = subprocess.run(
        ["git", "worktree", "add", "--detach", str(target), commit],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return target if done.returncode == 0 else None


def import_time(module: str) -> float | None:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return round(float(done.stdout), 3) if done.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 checkpoints × 6 layers")
    parser.add_argument(
        "--baseline", default=BASELINE_COMMIT, help="the previous front end's commit"
    )
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    load = os.getloadavg()
    from repscope.sources.hub import PYTHIA_STEPS

    n_steps, n_layers = (20, 6) if args.quick else (154, 24)
    notes = []
    records = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.sqlite"
        build_store(path, list(PYTHIA_STEPS[:n_steps]), n_layers, 2000)
        log(f"store: {n_steps} × {n_layers} × 2000 points, {path.stat().st_size / 1e6:.0f} MB")
        records.append(step(path))
        log(f"step: {records[-1]}")
        new = fresh(NEW_SCRIPT, path)
        log(f"cold start, this front end: {new}")
        record = {
            "section": "cold_start",
            "scrubber": new,
            "goal": "first display <= 0.5 s after import",
        }
        worktree = baseline_worktree(args.baseline)
        if worktree is None:
            notes.append(
                f"baseline skipped: plotly not installed or commit {args.baseline} missing"
            )
        else:
            try:
                old = fresh(OLD_SCRIPT, path, pythonpath=str(worktree))
                log(f"cold start, previous front end ({args.baseline}): {old}")
                record["baseline"] = old
                record["ratio_first_display"] = round(
                    old["first_display_s"] / new["first_display_s"], 2
                )
                record["ratio_import"] = round(old["import_s"] / new["import_s"], 2)
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT)
        record["pass"] = new["first_display_s"] <= 0.5
        records.append(record)
    cuts = {
        m: import_time(m) for m in ("torch", "ruptures", "plotly.graph_objects", "repscope.widgets")
    }
    records.append({"section": "import_cuts", "seconds": cuts, "pass": True})
    log(f"imports: {cuts}")
    emit_report(
        {"benchmark": "widgets", "checkpoints": n_steps, "layers": n_layers, "points": 2000},
        records=records,
        notes=[
            *notes,
            "kernel side only (serialising included, transport excluded); the browser's side is "
            "benchmarks/widgets_browser.py",
            "each cold-start figure is the best of 3 fresh Pythons",
        ],
        load_at_start=load,
        threads=1,
        out=args.out,
    )


if __name__ == "__main__":
    main()
