"""A real Dask cluster (``LocalCluster``, two worker processes) gives exactly the serial
result, through ``traj.compute(client.get_executor())`` and ``repscope scan --scheduler``; a
worker killed mid-checkpoint costs only that checkpoint; tasks get their share of the cores.
Starting the cluster takes seconds: the tests that use it are ``slow``."""

import os
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from repscope import Probe, Store, Trajectory
from repscope.scan import worker_threads
from repscope.sources import CheckpointFolder

from .dying import DyingSource
from .models import mlp, save_mlp_checkpoints

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

STEPS = [0, 1, 2, 4, 8, 16]
FIT = (2, 10)


@pytest.fixture(scope="module")
def client():
    # A worker's death reaches repscope at once (Dask would otherwise rerun the task up to 3
    # times itself), and each worker holds one task at a time, so a death takes only the task
    # that caused it.
    config = {
        "distributed.scheduler.allowed-failures": 0,
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set(config):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    with cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture
def run(tmp_path):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, STEPS)
    inputs = torch.randn(60, 6, generator=torch.Generator().manual_seed(0))
    probe = Probe(inputs, layers=["1", "3"])
    serial = Trajectory(CheckpointFolder(folder, model=mlp), probe, fit_range=FIT).compute(
        progress=False
    )
    return SimpleNamespace(
        folder=folder,
        inputs=inputs,
        probe=probe,
        serial=serial,
        marker=tmp_path / "die",
        tmp=tmp_path,
    )


def stored(traj):
    """Every stored record's content (not its write time), and the 2-D points."""
    rows = [
        (
            r.step,
            r.layer,
            r.status,
            r.checkpoint,
            r.probe,
            r.params,
            r.error,
            r.measures,
            None if r.spectrum is None else r.spectrum.tolist(),
        )
        for r in traj.records()
    ]
    points = {layer: traj.points(layer) for layer in traj.layers}
    return rows, points


def assert_same_records(actual, expected):
    rows, points = stored(actual)
    want_rows, want_points = stored(expected)
    assert rows == want_rows
    assert points.keys() == want_points.keys()
    for layer, by_step in want_points.items():
        assert by_step.keys() == points[layer].keys()
        for step, p in by_step.items():
            np.testing.assert_array_equal(points[layer][step], p)


@pytest.mark.slow
def test_a_dask_cluster_gives_exactly_the_serial_result(client, run):
    with distributed.get_task_stream(client) as tasks:
        traj = Trajectory(
            CheckpointFolder(run.folder, model=mlp),
            run.probe,
            store=run.tmp / "dask.sqlite",
            fit_range=FIT,
        ).compute(client.get_executor(), progress=False)
    assert len(tasks.data) == len(STEPS)  # one task per checkpoint, run by the cluster
    assert {t["worker"] for t in tasks.data} <= set(client.nthreads())
    pd.testing.assert_frame_equal(traj.metrics, run.serial.metrics)
    assert_same_records(traj, run.serial)


@pytest.mark.slow
def test_worker_threads_are_each_hosts_cores_per_task(client):
    cores = os.cpu_count()
    client.wait_for_workers(2)
    assert worker_threads(client.get_executor()) == max(1, cores // 2)  # 2 workers × 1 thread
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as one,
        distributed.Client(one) as c,
    ):
        assert worker_threads(c.get_executor()) == cores  # 1 task at a time: every core


@pytest.mark.slow
def test_scan_with_scheduler_stores_the_serial_result(client, run, cli):
    probe_file = run.tmp / "probe.safetensors"
    save_file({"inputs": run.inputs}, probe_file)
    store = run.tmp / "scan.sqlite"
    with distributed.get_task_stream(client) as tasks:
        done = cli(
            *("scan", run.folder, "--model", "tests.models:mlp", "--probe", probe_file),
            *("--layers", "1,3", "--store", store, "--fit-range", "2,10", "--no-progress"),
            *("--scheduler", client.scheduler.address),
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(STEPS)} to measure" in done.stdout
    assert len(tasks.data) == len(STEPS)  # measured on the cluster, not in the scan's process
    with Store(store) as s:
        traj = Trajectory(None, run.probe, store=s, run="ckpts", fit_range=FIT)
        pd.testing.assert_frame_equal(traj.metrics, run.serial.metrics)
        assert_same_records(traj, run.serial)


def test_scan_with_an_unreachable_scheduler_names_the_option(run, cli):
    probe_file = run.tmp / "probe.safetensors"
    save_file({"inputs": run.inputs}, probe_file)
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        done = cli(
            *("scan", run.folder, "--model", "tests.models:mlp", "--probe", probe_file),
            *("--store", run.tmp / "s.sqlite", "--scheduler", "tcp://127.0.0.1:1"),
        )
    assert done.returncode == 1
    assert "--scheduler tcp://127.0.0.1:1: no Dask scheduler could be reached" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("once", [True, False], ids=["dies-once", "dies-always"])
def test_a_killed_worker_costs_only_its_checkpoint(client, run, once):
    run.marker.touch()
    source = DyingSource(CheckpointFolder(run.folder, model=mlp), 4, run.marker, once=once)
    traj = Trajectory(source, run.probe, fit_range=FIT).compute(
        client.get_executor(), progress=False
    )
    if once:  # its worker process died (Dask restarts it), and the retry measured it
        assert not run.marker.exists()
        assert traj.failures.empty
        pd.testing.assert_frame_equal(traj.metrics, run.serial.metrics)
        assert_same_records(traj, run.serial)
        return
    failures = traj.failures
    assert failures[["step", "layer"]].values.tolist() == [[4, "*"]]
    assert "KilledWorker" in failures.error[0] and "second try" in failures.error[0]
    expected = run.serial.metrics.query("step != 4").reset_index(drop=True)
    pd.testing.assert_frame_equal(traj.metrics, expected)
    assert traj.steps == STEPS
