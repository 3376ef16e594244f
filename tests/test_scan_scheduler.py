"""`repscope scan --scheduler`: its errors, with or without Dask installed (the scan on a real
cluster is in test_dask.py)."""

import sqlite3
import sys

import pytest
import torch
from safetensors.torch import save_file

from repscope.cli import build_parser, main

from .models import save_mlp_checkpoints


@pytest.fixture
def scan_args(tmp_path):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, [0, 1])
    probe = tmp_path / "probe.safetensors"
    save_file({"inputs": torch.randn(30, 6, generator=torch.Generator().manual_seed(0))}, probe)
    store = tmp_path / "s.sqlite"
    return store, [
        "scan",
        str(folder),
        "--model",
        "tests.models:mlp",
        "--probe",
        str(probe),
        "--store",
        str(store),
        "--fit-range",
        "2,10",
        "--no-progress",
    ]


def test_scheduler_and_workers_are_exclusive(capsys):
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(
            [
                "scan",
                "ckpts",
                "--store",
                "s.sqlite",
                "--workers",
                "2",
                "--scheduler",
                "tcp://10.0.0.5:8786",
            ]
        )
    assert stopped.value.code == 2
    assert "argument --scheduler: not allowed with argument --workers" in capsys.readouterr().err


def measured(store):
    with sqlite3.connect(store) as conn:
        return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]


def test_scheduler_without_distributed_says_what_to_install(scan_args, monkeypatch, capsys):
    store, args = scan_args
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    assert main([*args, "--scheduler", "tcp://127.0.0.1:8786"]) == 1
    err = capsys.readouterr().err
    assert "--scheduler needs Dask's distributed scheduler" in err
    assert "install repscope[dask]" in err
    assert measured(store) == 0  # nothing was measured in this process instead


def test_a_blank_scheduler_address_is_refused(scan_args, capsys):
    store, args = scan_args
    assert main([*args, "--scheduler", " "]) == 1
    assert "--scheduler must be a Dask scheduler's address" in capsys.readouterr().err
    assert measured(store) == 0
