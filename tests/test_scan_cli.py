"""`repscope scan` end to end, in real processes: results, resume after a kill, failures, help."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from repscope import Probe, Store, Trajectory
from repscope.cli import build_parser
from repscope.sources import CheckpointFolder, HubRevisions

from .fixtures_hf import hub_cache  # noqa: F401  (a fixture)
from .models import mlp, save_mlp_checkpoints

ROOT = Path(__file__).resolve().parents[1]


def scan(*args, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "repscope", "scan", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def probe_file(tmp_path):
    path = tmp_path / "probe.safetensors"
    save_file({"inputs": torch.randn(60, 6, generator=torch.Generator().manual_seed(0))}, path)
    return path


def rows(store):
    with sqlite3.connect(store) as conn:
        try:
            return conn.execute("SELECT step, layer, status, created FROM results").fetchall()
        except sqlite3.OperationalError:  # the scan has created the file but not its tables yet
            return []


def test_scan_fills_the_store_and_prints_phases(tmp_path, probe_file):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, [0, 1, 2, 4, 8])
    store = tmp_path / "s.sqlite"
    args = [
        folder,
        "--model",
        "tests.models:mlp",
        "--probe",
        probe_file,
        "--layers",
        "1,3",
        "--store",
        store,
        "--fit-range",
        "2,10",
        "--no-progress",
    ]
    done = scan(*args)
    assert done.returncode == 0, done.stderr
    assert "5 to measure" in done.stdout and "phases of layer 3" in done.stdout
    # the stored values are the library's own, computed in this process
    probe = Probe(torch.randn(60, 6, generator=torch.Generator().manual_seed(0)), layers=["1", "3"])
    direct = (
        Trajectory(CheckpointFolder(folder, model=mlp), probe, fit_range=(2, 10))
        .compute(progress=False)
        .metrics
    )
    with Store(store) as s:
        stored = Trajectory(None, probe, store=s, run="ckpts", fit_range=(2, 10)).metrics
    assert stored.equals(direct)
    again = scan(*args)
    assert again.returncode == 0
    assert "5 already in" in again.stdout and "0 to measure" in again.stdout


def test_a_killed_scan_resumes_and_keeps_every_finished_row(tmp_path, probe_file):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    steps = list(range(0, 40, 2))
    save_mlp_checkpoints(folder, steps)
    store = tmp_path / "s.sqlite"
    args = [
        "-m",
        "repscope",
        "scan",
        folder,
        "--model",
        "tests.models:slow_mlp",
        "--probe",
        probe_file,
        "--layers",
        "1,3",
        "--store",
        store,
        "--fit-range",
        "2,10",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        [sys.executable, *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        if store.exists() and len(rows(store)) >= 10:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {(s, layer): created for s, layer, _, created in rows(store)}
    assert 10 <= len(before) < 2 * len(steps)
    assert all(n == 2 for n in _per_step(before).values())  # whole checkpoints only
    done = scan(
        folder,
        "--model",
        "tests.models:slow_mlp",
        "--probe",
        probe_file,
        "--layers",
        "1,3",
        "--store",
        store,
        "--fit-range",
        "2,10",
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr
    assert f"{len(before) // 2} already in" in done.stdout
    after = {(s, layer): created for s, layer, _, created in rows(store)}
    assert sorted({s for s, _ in after}) == steps
    assert all(after[key] == created for key, created in before.items())  # not recomputed


def _per_step(keys):
    counts = {}
    for step, _layer in keys:
        counts[step] = counts.get(step, 0) + 1
    return counts


def test_a_bad_checkpoint_is_reported_and_the_exit_status_says_partial(tmp_path, probe_file):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, [0, 1, 2])
    (folder / "step_1.pt").write_bytes(b"PK\x03\x04 not really a zip")
    done = scan(
        folder,
        "--model",
        "tests.models:mlp",
        "--probe",
        probe_file,
        "--layers",
        "1",
        "--store",
        tmp_path / "s.sqlite",
        "--fit-range",
        "2,10",
        "--no-progress",
    )
    assert done.returncode == 3
    assert "failed: step 1:" in done.stdout and "step_1.pt" in done.stdout


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        ([], 1, "give the probe inputs"),
        (["--probe", "missing.safetensors"], 1, "error"),
        (["--probe", "P", "--fit-range", "twelve"], 2, "expected FIRST,LAST"),
        (["--probe", "P", "--layers", "9"], 1, "nothing could be measured"),
    ],
)
def test_bad_input_gives_a_clear_message_and_status(tmp_path, probe_file, extra, status, message):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, [0, 1])
    extra = [probe_file if e == "P" else e for e in extra]
    done = scan(
        folder,
        "--model",
        "tests.models:mlp",
        "--store",
        tmp_path / "s.sqlite",
        "--no-progress",
        *extra,
    )
    assert done.returncode == status
    assert message in done.stdout + done.stderr


def test_help_documents_every_option():
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices["scan"]
    text = sub.format_help()
    for action in sub._actions:
        for flag in action.option_strings:
            assert flag in text
        if action.option_strings and action.help != "==SUPPRESS==":
            assert action.help, action.option_strings


def test_help_says_each_default_once():
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices["scan"]
    for action in sub._actions:
        help_text = sub._get_formatter()._expand_help(action) if action.help else ""
        assert help_text.count("default") <= 1, (action.option_strings, help_text)
        assert "(default: None)" not in help_text and "(default: False)" not in help_text
    text = " ".join(sub.format_help().split())
    assert "tokens per probe text (default: 64)" in text
    assert "(default: every block) (default" not in text


def test_probe_labels_and_a_file_that_is_not_utf8_name_the_file(tmp_path):
    texts = tmp_path / "probe.txt"
    texts.write_bytes(b"caf\xe9 au lait\n")  # Latin-1, not UTF-8
    folder = tmp_path / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, [0, 1])
    done = scan(
        folder,
        "--model",
        "tests.models:mlp",
        "--probe-texts",
        texts,
        "--tokenizer",
        "x",
        "--store",
        tmp_path / "s.sqlite",
        "--no-progress",
    )
    assert done.returncode == 1
    assert f"--probe-texts {texts}: not UTF-8 text (byte 3" in done.stderr, done.stderr
    texts.write_text("one\ntwo\nthree\n")
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    done = scan(
        folder,
        "--model",
        "tests.models:mlp",
        "--probe-texts",
        texts,
        "--probe-labels",
        labels,
        "--tokenizer",
        "x",
        "--store",
        tmp_path / "s.sqlite",
        "--no-progress",
    )
    assert done.returncode == 1
    assert f"--probe-labels {labels} has 2 labels for 3 probe texts" in done.stderr, done.stderr


def test_scan_of_hub_revisions_offline(tmp_path, hub_cache):  # noqa: F811
    ids = torch.randint(0, 64, (24, 10), generator=torch.Generator().manual_seed(1))
    probe_path = tmp_path / "probe.safetensors"
    save_file({"input_ids": ids}, probe_path)
    env = {"HF_HUB_CACHE": str(hub_cache.root), "HF_HUB_OFFLINE": "1"}
    done = scan(
        f"hf:{hub_cache.repo_id}",
        "--steps",
        "0,1,2,4",
        "--probe",
        probe_path,
        "--store",
        tmp_path / "s.sqlite",
        "--fit-range",
        "2,6",
        "--no-progress",
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    probe = Probe(ids)
    direct = Trajectory(
        HubRevisions(hub_cache.repo_id, steps=[0, 1, 2, 4]), probe, fit_range=(2, 6)
    ).compute(progress=False)
    with Store(tmp_path / "s.sqlite") as store:
        traj = Trajectory(None, probe, store=store, run=hub_cache.repo_id, fit_range=(2, 6))
        assert traj.steps == [0, 1, 2, 4]
        assert traj.layers == ["gpt_neox.layers.0", "gpt_neox.layers.1"]
        assert traj.metrics.equals(direct.metrics)


def test_dtype_and_dse_method_reach_the_stored_key(tmp_path, probe_file):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, [0, 1])
    store = tmp_path / "s.sqlite"
    done = scan(
        folder,
        "--model",
        "tests.models:mlp",
        "--probe",
        probe_file,
        "--layers",
        "3",
        "--store",
        store,
        "--fit-range",
        "2,10",
        "--no-progress",
        "--dse",
        "--sigma",
        "median",
        "--dtype",
        "float32",
        "--dse-method",
        "lanczos",
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(store) as conn:
        keys = {row[0] for row in conn.execute("SELECT params FROM results")}
    (key,) = keys
    assert '"dtype":"float32"' in key and '"dse_method":"lanczos"' in key
    bad = scan(
        folder,
        "--model",
        "tests.models:mlp",
        "--probe",
        probe_file,
        "--layers",
        "3",
        "--store",
        store,
        "--dtype",
        "float16",
    )
    assert bad.returncode == 2 and "--dtype" in bad.stderr and "float16" in bad.stderr
