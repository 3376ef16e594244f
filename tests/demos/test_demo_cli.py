"""`repscope demo`: trains, reports what the demo shows, writes the scrubber to HTML."""

import re
import subprocess
import sys
from pathlib import Path

from tests.exported import exported_steps

ROOT = Path(__file__).resolve().parents[2]


def test_demo_command_reports_and_exports(tmp_path):
    out = tmp_path / "grok.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "repscope",
            "demo",
            "grokking",
            "--size",
            "small",
            "--html",
            str(out),
            "--folder",
            str(tmp_path / "run"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    match = re.search(
        r"train accuracy >= 99 % at step (\d+); test accuracy >= 90 % at step "
        r"(\d+)",
        done.stdout,
    )
    assert match and int(match.group(2)) > int(match.group(1)), done.stdout
    assert "make lab" in done.stdout
    # training shows its progress: the step out of all (small: 1800), the loss, the time left
    assert "train grokking" in done.stderr and "1800/1800" in done.stderr, done.stderr[-2000:]
    assert "loss=" in done.stderr and re.search(r"<\d\d:\d\d", done.stderr)
    steps = sorted(
        int(p.stem.split("_")[1])
        for p in (tmp_path / "run" / "checkpoints").glob("step_*.safetensors")
    )
    assert steps and exported_steps(out) == steps  # every checkpoint on the slider


def test_unknown_demo_is_a_usage_error():
    done = subprocess.run(
        [sys.executable, "-m", "repscope", "demo", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "invalid choice: 'nope'" in done.stderr
