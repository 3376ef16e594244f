"""The full three-phases recipe, as ``make demo`` runs it (a slow test of its own file, so that
a test worker starts it early)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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
