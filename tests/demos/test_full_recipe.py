"""The full three-phases recipe, as ``make demo`` runs it (a slow test of its own file, so that
a test worker starts it early)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def demo_env() -> dict[str, str]:
    """The environment ``make demo`` runs in; beside other test workers, one torch thread.

    The demo trains on two threads where there are two cores. While another worker keeps the
    cores busy, two threads wait on each other (a step 3.6× slower than on one:
    ``three_phases.torch_threads``), and one thread gives the same phases and values
    (``three_phases.run``, measured on seeds 0–4)."""
    env = dict(os.environ)
    if os.environ.get("PYTEST_XDIST_WORKER") and int(
        os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")
    ) >= (os.cpu_count() or 1):
        env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.mark.slow
def test_make_demo_prints_all_three_phases_in_order(tmp_path):
    """``repscope demo three-phases`` at full size, as ``make demo`` runs it."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "repscope",
            "demo",
            "three-phases",
            "--folder",
            str(tmp_path / "run"),
            "--html",
            str(tmp_path / "demo.html"),
        ],
        cwd=ROOT,
        env=demo_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = re.findall(
        r"^\s*(warmup collapse|entropy-seeking|compression-seeking)\s+"
        r"RankMe \S, α \S+\s+(\d+)\s+(\d+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s*$",
        done.stdout,
        re.M,
    )
    assert [r[0] for r in rows] == ["warmup collapse", "entropy-seeking", "compression-seeking"], (
        done.stdout
    )
    signs = [(float(r[3]) < 0, float(r[4]) > 0) for r in rows]
    assert signs == [(True, True), (False, False), (True, True)], done.stdout
    assert int(rows[0][2]) == int(rows[1][1]) and int(rows[1][2]) == int(rows[2][1])
    from tests.exported import exported_steps

    # the exported page holds every checkpoint of the run
    assert exported_steps(tmp_path / "demo.html") == sorted(
        int(p.stem.split("_")[1]) for p in (tmp_path / "run" / "checkpoints").glob("*.safetensors")
    )
