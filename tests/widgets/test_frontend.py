"""The front end's own checks, run from the test suite: its unit tests (``node --test``) and the
committed module equal to a build of its sources. Skipped, with the reason, where Node.js (or
the front end's build tools, ``npm ci`` in ``js/``) is missing: a user's machine may have only
Python."""

import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[2] / "js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


def test_front_end_unit_tests_pass():
    done = subprocess.run([NODE, "--test", "test/"], cwd=JS, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout


def test_committed_module_matches_its_sources():
    if not (JS / "node_modules" / "esbuild").exists():
        pytest.skip("the front end's build tools are not installed (run `npm ci` in js/)")
    done = subprocess.run([NODE, "build.mjs", "--check"], cwd=JS, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
