"""``benchmarks/gpu.py`` runs, as a user runs it: the dry run exercises every item on the CPU.

The GPU timings themselves need a CUDA machine; here the script's code paths run at tiny sizes
with the CPU standing in for the device (``--dry-run``), and without CUDA the plain command says
so and exits 0. Nothing here asserts on a time, only that each one was measured.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu.py"
ITEMS = {
    "spectra": {"device", "cpu", "numpy"},
    "dse": {"device_exact_f64", "device_exact_f32", "device_lanczos", "cpu_lanczos"},
    "scan": {"device", "device_bf16", "cpu"},
}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-bench") / "gpu.json"
    done = run("--dry-run", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), out


@pytest.mark.slow
def test_dry_run_runs_every_item_and_the_paths_agree(dry_run):
    report, _ = dry_run
    assert report["dry_run"] is True and report["ok"] is True
    assert report["failed"] == []
    assert report["device"]["type"] == "cpu"
    assert set(report["items"]) == set(ITEMS)
    for item, paths in ITEMS.items():
        records = report["items"][item]
        assert records, item
        for record in records:
            assert "error" not in record, record
            assert record["pass"] is True and record["checks"], record
            assert all(record["checks"].values()), record["checks"]
            assert paths <= set(record["seconds"]), (item, sorted(record["seconds"]))
            for path, times in record["seconds"].items():
                assert times["calls"] >= 1, (item, path)
                for key in ("best_s", "median_s"):
                    assert math.isfinite(times[key]) and times[key] > 0, (item, path, times)
            assert record["ratios"], record
            assert all(math.isfinite(r) and r > 0 for r in record["ratios"].values())
            diffs = record["max_rel_diff"].values()
            assert diffs and all(math.isfinite(d) for d in diffs), record["max_rel_diff"]


@pytest.mark.slow
def test_dry_run_compares_with_each_baseline_and_reports_skips(dry_run):
    report, _ = dry_run
    spectra = report["items"]["spectra"]
    assert {r["compute_dtype"] for r in spectra} == {"float64", "float32"}
    diffs = [key for r in spectra for key in r["max_rel_diff"]]
    assert {"rankme_cpu_vs_device", "rankme_numpy_vs_device"} <= set(diffs)
    dse = report["items"]["dse"]
    first, last = dse[0], dse[-1]
    assert "cpu_exact_f64_vs_device_exact_f64" in first["max_rel_diff"]
    assert "device_lanczos_vs_device_exact_f64" in first["max_rel_diff"]
    # The largest dry-run N is past the CPU's exact cap: skipped, with the reason.
    assert "cpu_exact_f64" not in last["seconds"]
    assert "cap" in last["skipped"]["cpu_exact_f64"]
    reference = "reference" in first["seconds"]
    assert reference or "reference" in first["skipped"]
    if reference:  # dse_dsmi is installed (venv or .bench/site)
        assert "reference_vs_device_exact_f64" in first["max_rel_diff"]
    scan = report["items"]["scan"][0]
    assert {"rankme_device_vs_cpu", "alpha_device_bf16_vs_cpu"} <= set(scan["max_rel_diff"])
    assert set(scan["failed_records"].values()) == {0}


@pytest.mark.slow
def test_dry_run_writes_the_report_to_out(dry_run):
    report, out = dry_run
    assert json.loads(out.read_text()) == report


@pytest.mark.slow
def test_without_cuda_it_says_so_and_exits_0():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the plain command would run the benchmark")
    done = run()
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["cuda"] is False
    assert "no CUDA device" in report["message"]
    assert "items" not in report
