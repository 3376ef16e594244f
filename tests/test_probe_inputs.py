"""A probe of NaN or Inf inputs is blamed as a bad probe, once, before any checkpoint runs: not
as "a diverged checkpoint?" on every layer of every checkpoint."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from repscope.config import MeasureConfig
from repscope.probe import Probe, ProbeError
from repscope.scan import WHOLE_CHECKPOINT, measure_checkpoint
from repscope.sources.folder import CheckpointFolder

from .models import mlp, save_mlp_checkpoints

GRAMMAR = r"^The 'inputs' argument of Probe must be finite .+; got .+\.$"


def _nan_inputs(n: int = 30) -> torch.Tensor:
    x = torch.randn(n, 6, generator=torch.Generator().manual_seed(0))
    x[3, 2], x[7, 0] = float("nan"), float("inf")
    return x


@pytest.mark.parametrize(
    "inputs",
    [
        _nan_inputs(),
        _nan_inputs().numpy(),
        _nan_inputs().to(torch.bfloat16),
        {"input_ids": torch.ones(30, 4, dtype=torch.long), "inputs_embeds": _nan_inputs()},
    ],
    ids=["tensor", "numpy", "bfloat16", "mapping"],
)
def test_a_probe_of_non_finite_inputs_is_refused_when_made(inputs):
    with pytest.raises(ValueError, match=GRAMMAR) as info:
        Probe(inputs, layers=["0"])
    assert "2 NaN/Inf value(s)" in str(info.value)


def test_a_probe_whose_inputs_turned_non_finite_is_blamed_not_the_checkpoint(tmp_path):
    save_mlp_checkpoints(tmp_path, [0])
    (ckpt,) = CheckpointFolder(tmp_path, model=mlp)
    probe = Probe(torch.randn(30, 6, generator=torch.Generator().manual_seed(0)), layers=["1", "3"])
    probe.inputs[""][5, 1] = float("nan")  # changed in place after the check
    with pytest.raises(ProbeError, match="the probe's inputs hold 1 NaN/Inf value"):
        probe.capture(ckpt.load())
    records = measure_checkpoint(
        ckpt, run="r", fingerprint="f", probe=probe, config=MeasureConfig(fit_range=(2, 6))
    )
    assert [(r.layer, r.status) for r in records] == [(WHOLE_CHECKPOINT, "failed")]
    assert "probe" in records[0].error and "diverged" not in records[0].error


def test_scan_with_a_probe_file_of_nan_inputs_says_so_before_measuring(tmp_path, cli):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, [0, 1])
    probe = tmp_path / "probe.safetensors"
    save_file({"inputs": _nan_inputs()}, probe)
    store = tmp_path / "s.sqlite"
    done = cli(
        *("scan", folder, "--model", "tests.models:mlp", "--probe", probe),
        *("--store", store, "--no-progress"),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert re.search(r"The 'inputs' argument of Probe must be finite", line), line
    assert "diverged" not in done.stdout + done.stderr
    assert not store.exists()  # refused before the store is made, before any model loads


def test_finite_probes_are_untouched():
    x = np.random.default_rng(0).normal(size=(10, 3))
    assert Probe(x, layers=["0"]).n_samples == 10
    ids = torch.randint(0, 9, (10, 4))  # integer inputs are never NaN
    assert Probe(ids, layers=["0"]).input_kind == "tokens"
