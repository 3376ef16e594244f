"""Layers of equal width are measured in one batched spectrum call, with the same results."""

import numpy as np
import pytest
import torch

from repscope.config import MeasureConfig
from repscope.probe import Probe
from repscope.scan import batched_spectra, layer_record, measure_checkpoint
from repscope.sources.folder import CheckpointFolder

from .models import mlp, save_mlp_checkpoints


@pytest.fixture
def matrices():
    g = torch.Generator().manual_seed(0)
    scale = torch.arange(1, 25, dtype=torch.float64) ** -0.7
    return {
        "a": torch.randn(80, 24, generator=g, dtype=torch.float64) * scale,
        "b": torch.randn(80, 24, generator=g, dtype=torch.float64) * scale.flip(0),
        "c": torch.randn(80, 24, generator=g, dtype=torch.float64),
        "narrow": torch.randn(80, 5, generator=g, dtype=torch.float64),
    }


def test_a_batch_gives_each_layer_the_spectrum_it_has_alone(matrices):
    from repscope import geometry

    spectra = batched_spectra(matrices, MeasureConfig())
    assert set(spectra) == {"a", "b", "c"}  # "narrow" is alone in its shape: measured alone
    for name, spec in spectra.items():
        alone = geometry.spectrum(matrices[name])
        assert not spec.batched and spec.values.shape == alone.values.shape
        np.testing.assert_allclose(
            spec.values.numpy(), alone.values.numpy(), rtol=1e-10, atol=1e-15
        )
        np.testing.assert_allclose(spec.total.numpy(), alone.total.numpy(), rtol=1e-12)


def test_a_layer_with_nan_leaves_the_batch_and_fails_alone(matrices):
    matrices["b"] = matrices["b"].clone()
    matrices["b"][3, 4] = float("nan")
    spectra = batched_spectra(matrices, MeasureConfig())
    assert set(spectra) == {"a", "c"}
    probe = Probe(torch.zeros(80, 2), layers=list(matrices))
    base = dict(run="r", checkpoint="c", probe="p", params="{}", step=0)
    record = layer_record("b", matrices["b"], probe, MeasureConfig(), None, base)
    assert record.status == "failed" and "NaN/Inf" in record.error


def test_a_checkpoint_measured_with_batches_equals_one_measured_layer_by_layer(tmp_path):
    """mlp()'s layers 1 and 3 are both 24 wide: one batch. Each record equals the record of
    that layer measured on its own."""
    save_mlp_checkpoints(tmp_path, [4])
    probe = Probe(torch.randn(60, 6, generator=torch.Generator().manual_seed(0)), layers=["1", "3"])
    config = MeasureConfig(fit_range=(2, 10))
    (ckpt,) = list(CheckpointFolder(tmp_path, model=mlp))
    batched = measure_checkpoint(ckpt, run="r", fingerprint="f", probe=probe, config=config)
    assert len(batched_spectra(probe.capture(ckpt.load()), config)) == 2  # they were batched
    acts = probe.capture(ckpt.load())
    base = dict(run="r", checkpoint="f", probe=probe.fingerprint(), params=config.key(), step=4)
    for record in batched:
        alone = layer_record(record.layer, acts[record.layer], probe, config, None, base)
        assert record.status == alone.status == "ok"
        assert record.measures.keys() == alone.measures.keys()
        for key, value in alone.measures.items():
            assert record.measures[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        np.testing.assert_allclose(record.spectrum, alone.spectrum, rtol=1e-9, atol=1e-15)
