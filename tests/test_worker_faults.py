"""Executor faults are contained: a task that raises is run once more, then stored as a failed
checkpoint, and every other checkpoint is still measured — with real worker processes that die
(``os._exit`` in a checkpoint's load) and a real executor that is shut down mid-run."""

import concurrent.futures as cf
import threading
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from repscope.executors import run_contained
from repscope.probe import Probe
from repscope.sources.folder import CheckpointFolder
from repscope.trajectory import Trajectory

from .dying import DyingSource
from .models import mlp, save_mlp_checkpoints

STEPS = [0, 1, 2, 4, 8, 16]
FIT = (2, 10)


@pytest.fixture
def run(tmp_path):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, STEPS)
    probe = Probe(torch.randn(60, 6, generator=torch.Generator().manual_seed(0)), layers=["1", "3"])
    serial = Trajectory(CheckpointFolder(folder, model=mlp), probe, fit_range=FIT).compute(
        progress=False
    )
    return SimpleNamespace(folder=folder, probe=probe, serial=serial, marker=tmp_path / "die")


@pytest.mark.parametrize("once", [True, False], ids=["dies-once", "dies-always"])
def test_a_process_pool_worker_that_dies_fails_only_its_checkpoint(run, once):
    run.marker.touch()
    source = DyingSource(CheckpointFolder(run.folder, model=mlp), 4, run.marker, once=once)
    with cf.ProcessPoolExecutor(2) as pool:
        traj = Trajectory(source, run.probe, fit_range=FIT).compute(pool, progress=False)
    if once:  # it killed its worker (and broke the pool), then was measured on its retry
        assert not run.marker.exists()
        assert traj.failures.empty
        pd.testing.assert_frame_equal(traj.metrics, run.serial.metrics)
        return
    failures = traj.failures
    assert failures[["step", "layer"]].values.tolist() == [[4, "*"]]
    assert "BrokenProcessPool" in failures.error[0] and "step_4.pt" in failures.error[0]
    expected = run.serial.metrics.query("step != 4").reset_index(drop=True)
    pd.testing.assert_frame_equal(traj.metrics, expected)
    assert traj.steps == STEPS  # the failed step is a gap with its reason, not missing


def _checkpoints(n):
    return [(SimpleNamespace(step=s, name=f"step_{s}.pt"), f"fp{s}") for s in range(n)]


def _fail(ckpt, *, fingerprint, error):
    return [("failed", ckpt.step, fingerprint, error)]


@pytest.mark.parametrize("raises", [1, 2], ids=["first-try", "both-tries"])
def test_a_task_that_raises_is_run_once_more_then_recorded_failed(raises):
    calls = {}

    def job(ckpt, *, fingerprint):
        calls[ckpt.step] = calls.get(ckpt.step, 0) + 1
        if ckpt.step == 2 and calls[2] <= raises:
            raise ConnectionError(f"worker lost, try {calls[2]}")
        return [("ok", ckpt.step, fingerprint)]

    with cf.ThreadPoolExecutor(2) as pool:
        out = sorted(
            r for records in run_contained(job, _checkpoints(5), pool, _fail) for r in records
        )
    assert calls == {0: 1, 1: 1, 2: 2, 3: 1, 4: 1}  # retried once, never more
    assert [r[:3] for r in out if r[1] != 2] == [("ok", s, f"fp{s}") for s in (0, 1, 3, 4)]
    (two,) = [r for r in out if r[1] == 2]
    if raises == 1:
        assert two == ("ok", 2, "fp2")
    else:
        assert two[:3] == ("failed", 2, "fp2")
        assert two[3] == "step_2.pt: ConnectionError: worker lost, try 2 (on its second try)"


def test_cancelled_tasks_of_a_shut_down_executor_are_recorded_failed():
    pool = cf.ThreadPoolExecutor(1)
    submitted = threading.Event()

    def todo():
        yield from _checkpoints(4)
        submitted.set()  # run_contained has submitted every task

    def job(ckpt, *, fingerprint):
        if ckpt.step == 0:  # the executor goes away under the scan: queued tasks are cancelled
            assert submitted.wait(60)
            pool.shutdown(wait=False, cancel_futures=True)
        return [("ok", ckpt.step, fingerprint)]

    out = sorted(
        (r for records in run_contained(job, todo(), pool, _fail) for r in records),
        key=lambda r: r[1],
    )
    pool.shutdown()
    assert out[0] == ("ok", 0, "fp0")
    assert [r[:3] for r in out[1:]] == [("failed", s, f"fp{s}") for s in (1, 2, 3)]
    for r in out[1:]:
        assert r[3].startswith(f"step_{r[1]}.pt: CancelledError")
        assert "refused to run it again (RuntimeError: cannot schedule new futures" in r[3]
