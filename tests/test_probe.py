"""The probe: which rows it captures from sequence outputs, batching, errors, fingerprints."""

import numpy as np
import pytest
import torch

from repscope.probe import Probe, ProbeError, default_layers

from .models import TinySeqModel


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TinySeqModel().eval()


def tokens_with_padding(n=9, t=10, seed=0, left=False):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 50, (n, t), generator=g)
    lengths = torch.randint(2, t + 1, (n,), generator=g)
    positions = torch.arange(t).expand(n, t)
    mask = (positions >= t - lengths[:, None]) if left else (positions < lengths[:, None])
    return ids.masked_fill(~mask, 0), mask.long(), lengths


def reference_outputs(model, ids, mask, layer="blocks.2"):
    out = {}
    handle = dict(model.named_modules())[layer].register_forward_hook(
        lambda m, i, o: out.setdefault("h", o))
    with torch.no_grad():
        model(input_ids=ids, attention_mask=mask)
    handle.remove()
    return out["h"]


@pytest.mark.parametrize("left", [False, True])
def test_last_token_is_the_last_non_padding_position(model, left):
    ids, mask, lengths = tokens_with_padding(left=left)
    full = reference_outputs(model, ids, mask)
    got = Probe({"input_ids": ids, "attention_mask": mask}, layers=["blocks.2"],
                batch_size=4).capture(model)["blocks.2"]
    last = torch.full_like(lengths, ids.shape[1] - 1) if left else lengths - 1
    want = full[torch.arange(len(ids)), last]
    torch.testing.assert_close(got, want)


def test_mean_and_all_tokens_use_only_the_mask(model):
    ids, mask, lengths = tokens_with_padding()
    full = reference_outputs(model, ids, mask)
    inputs = {"input_ids": ids, "attention_mask": mask}
    mean = Probe(inputs, layers=["blocks.2"], representation="mean").capture(model)["blocks.2"]
    want = torch.stack([full[i, : lengths[i]].mean(0) for i in range(len(ids))])
    torch.testing.assert_close(mean, want)
    every = Probe(inputs, layers=["blocks.2"], representation="all").capture(model)["blocks.2"]
    assert every.shape == (int(lengths.sum()), 12)
    torch.testing.assert_close(every[: lengths[0]], full[0, : lengths[0]])


def test_batch_size_does_not_change_the_result(model):
    ids, mask, _ = tokens_with_padding(n=11)
    inputs = {"input_ids": ids, "attention_mask": mask}
    a = Probe(inputs, layers=["blocks.0", "blocks.1"], batch_size=2).capture(model)
    b = Probe(inputs, layers=["blocks.0", "blocks.1"], batch_size=100).capture(model)
    for name in a:
        torch.testing.assert_close(a[name], b[name])


def test_default_layers_are_the_blocks(model):
    assert default_layers(model) == ["blocks.0", "blocks.1", "blocks.2"]
    ids, _, _ = tokens_with_padding()
    assert list(Probe(ids).capture(model)) == ["blocks.0", "blocks.1", "blocks.2"]


def test_plain_tensor_inputs_are_flattened_per_sample():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU())
    x = torch.randn(5, 1, 6, 6)
    got = Probe(x, layers=["0"]).capture(net)["0"]
    torch.testing.assert_close(got, net[0](x).detach().reshape(5, -1))


def test_unknown_layer_lists_the_valid_names(model):
    probe = Probe(torch.randint(0, 50, (4, 5)), layers=["blocks.7"])
    with pytest.raises(ProbeError, match=r"no layer named 'blocks.7'.*Valid names: embed, blocks"):
        probe.capture(model)


def test_probe_longer_than_the_context_is_an_error(model):
    probe = Probe(torch.randint(0, 50, (4, 40)), layers=["blocks.0"])
    with pytest.raises(ProbeError, match="40 tokens but the model's context is 32"):
        probe.capture(model)


def test_nan_activations_are_reported_with_the_layer(model):
    with torch.no_grad():
        model.blocks[1].weight.fill_(float("nan"))
    probe = Probe(torch.randint(0, 50, (4, 5)), layers=["blocks.0", "blocks.1"])
    with pytest.raises(ProbeError, match=r"layer 'blocks\.1' produced NaN"):
        probe.capture(model)
    assert torch.isnan(probe.capture(model, check_finite=False)["blocks.1"]).all()


def test_fingerprint_tracks_inputs_layers_and_representation():
    ids = torch.randint(0, 50, (4, 5), generator=torch.Generator().manual_seed(1))
    base = Probe(ids, layers=["a"]).fingerprint()
    assert base == Probe(ids.clone(), layers=["a"]).fingerprint()
    assert base != Probe(ids + 1, layers=["a"]).fingerprint()
    assert base != Probe(ids, layers=["b"]).fingerprint()
    assert base != Probe(ids, layers=["a"], representation="mean").fingerprint()


def test_capture_runs_without_autograd(model):
    out = Probe(torch.randint(0, 50, (4, 5)), layers=["blocks.0"]).capture(model)["blocks.0"]
    assert not out.requires_grad


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        (dict(inputs=torch.zeros(1, 3)), "inputs"),
        (dict(inputs={"ids": torch.zeros(2, 3)}), "inputs"),
        (dict(inputs=torch.zeros(4, 3), representation="first"), "representation"),
        (dict(inputs=torch.zeros(4, 3), batch_size=0), "batch_size"),
        (dict(inputs=torch.zeros(4, 3), labels=np.arange(3)), "labels"),
    ],
)
def test_bad_arguments_raise_in_the_grammar(kwargs, arg):
    with pytest.raises(ValueError, match=rf"^The '{arg}' argument of Probe must be"):
        Probe(**kwargs)
