"""The probe: which rows it captures from sequence outputs, batching, errors, fingerprints."""

import numpy as np
import pytest
import torch

from repscope.probe import Probe, ProbeError, ProbeWarning, default_layers

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
        lambda m, i, o: out.setdefault("h", o)
    )
    with torch.no_grad():
        model(input_ids=ids, attention_mask=mask)
    handle.remove()
    return out["h"]


@pytest.mark.parametrize("left", [False, True])
def test_last_token_is_the_last_non_padding_position(model, left):
    ids, mask, lengths = tokens_with_padding(left=left)
    full = reference_outputs(model, ids, mask)
    got = Probe(
        {"input_ids": ids, "attention_mask": mask}, layers=["blocks.2"], batch_size=4
    ).capture(model)["blocks.2"]
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


def test_feature_maps_are_flattened_by_default_and_said_so():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU())
    x = torch.randn(5, 1, 6, 6)
    probe = Probe(x, layers=["0"])
    with pytest.warns(
        ProbeWarning, match=r"'0' outputs a feature map \(N × 2 × 4 × 4\).*flattened"
    ):
        got = probe.capture(net)["0"]
    torch.testing.assert_close(got, net[0](x).detach().reshape(5, -1))
    assert probe.reductions["0"] == "flattened from N × 2 × 4 × 4 to 32 features"
    assert probe.describe()["reductions"] == probe.reductions


@pytest.mark.parametrize(("spatial", "pool"), [("mean", torch.mean), ("max", torch.amax)])
def test_feature_maps_can_be_pooled_over_space(spatial, pool):
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.ReLU())
    x = torch.randn(5, 1, 6, 6)
    probe = Probe(x, layers=["0"], spatial=spatial)
    got = probe.capture(net)["0"]  # no warning: the reduction was chosen
    torch.testing.assert_close(got, pool(net[0](x).detach(), dim=(2, 3)))
    assert probe.reductions["0"].startswith(f"{spatial}-pooled over space")
    assert probe.fingerprint() != Probe(x, layers=["0"]).fingerprint()


def test_first_token_is_an_encoders_cls():
    emb = torch.nn.Embedding(30, 4)
    ids = torch.randint(0, 30, (6, 5))
    mask = torch.ones_like(ids)
    mask[:2, 3:] = 0
    probe = Probe({"input_ids": ids, "attention_mask": mask}, layers=["0"], representation="first")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.add_module("0", emb)

        def forward(self, input_ids, attention_mask):
            return getattr(self, "0")(input_ids)

    got = probe.capture(Net())["0"]
    torch.testing.assert_close(got, emb(ids[:, 0]).detach())


def test_texts_that_end_in_the_separator_warn_for_last_token():
    class Tok:
        pad_token, eos_token, sep_token, sep_token_id = "[PAD]", "[SEP]", "[SEP]", 2
        name_or_path = "toy-bert"

        def __call__(self, texts, **kw):
            ids = torch.tensor([[1, 5, 6, 2, 0], [1, 7, 2, 0, 0]])
            return {"input_ids": ids, "attention_mask": (ids != 0).long()}

    with pytest.warns(
        ProbeWarning, match=r"100% of the probe texts end with the separator \[SEP\]"
    ):
        Probe.from_texts(["a b", "c"], Tok(), max_length=5)
    Probe.from_texts(["a b", "c"], Tok(), max_length=5, representation="first")  # no warning


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
        (dict(inputs=torch.zeros(4, 3), representation="cls"), "representation"),
        (dict(inputs=torch.zeros(4, 3), spatial="avg"), "spatial"),
        (dict(inputs=torch.zeros(4, 3), batch_size=0), "batch_size"),
        (dict(inputs=torch.zeros(4, 3), labels=np.arange(3)), "labels"),
    ],
)
def test_bad_arguments_raise_in_the_grammar(kwargs, arg):
    with pytest.raises(ValueError, match=rf"^The '{arg}' argument of Probe must be"):
        Probe(**kwargs)


# -- stopping the forward pass after the last captured layer -----------------------------------


class CountingHead(torch.nn.Linear):
    """A language-model head that counts the rows it is run on."""

    rows = 0

    def forward(self, x):
        self.rows += x.shape[0]
        return super().forward(x)


class ShuffledModel(torch.nn.Module):
    """Modules registered in another order than they run (head first); blocks run in the order
    2, 0, 1, 0 (block 0 twice); a counting head last."""

    def __init__(self, vocab=50, dim=12):
        super().__init__()
        self.head = CountingHead(dim, vocab)
        self.blocks = torch.nn.ModuleList(torch.nn.Linear(dim, dim) for _ in range(3))
        self.embed = torch.nn.Embedding(vocab, dim)

    def forward(self, input_ids, attention_mask=None):
        h = self.embed(input_ids)
        for i in (2, 0, 1, 0):
            h = torch.tanh(self.blocks[i](h))
        return self.head(h)


def shuffled_model(seed):
    torch.manual_seed(seed)
    return ShuffledModel().eval()


def full_forward_rows(model, ids, mask, layers):
    """Every call of each layer in one full forward pass, last non-padding token of each row."""
    calls = {name: [] for name in layers}
    modules = dict(model.named_modules())
    handles = [
        modules[name].register_forward_hook(lambda m, i, o, name=name: calls[name].append(o))
        for name in layers
    ]
    with torch.no_grad():
        model(input_ids=ids, attention_mask=mask)
    for handle in handles:
        handle.remove()
    last = mask.sum(1) - 1
    rows = torch.arange(len(ids))
    return {name: torch.cat([o[rows, last] for o in outs]) for name, outs in calls.items()}


def test_the_head_never_runs_and_the_rows_are_those_of_a_full_forward():
    ids, mask, _ = tokens_with_padding(n=9)
    layers = ["blocks.1", "blocks.0"]  # blocks.0 runs twice, the second time after blocks.1
    probe = Probe({"input_ids": ids, "attention_mask": mask}, layers=layers, batch_size=9)
    model = shuffled_model(0)
    got = probe.capture(model)
    # the first capture learns the calls from one full pass of the first two inputs
    assert model.head.rows == 2
    want = full_forward_rows(model, ids, mask, layers)
    assert model.head.rows == 2 + 9  # the reference ran the head
    for name in layers:
        assert torch.equal(got[name], want[name])
    assert got["blocks.0"].shape == (18, 12)  # both calls of block 0, as without stopping
    # the next checkpoint of the same architecture: the head does not run at all
    later = shuffled_model(1)
    got = probe.capture(later)
    assert later.head.rows == 0
    want = full_forward_rows(later, ids, mask, layers)
    for name in layers:
        assert torch.equal(got[name], want[name])


def test_stopping_early_changes_no_value_at_any_batch_size():
    ids, mask, _ = tokens_with_padding(n=11)
    inputs = {"input_ids": ids, "attention_mask": mask}
    model = shuffled_model(2)
    for batch_size in (1, 4, 11):
        for layers in (["blocks.2"], ["blocks.0"], ["blocks.1", "blocks.2"], ["embed"]):
            early = Probe(inputs, layers=layers, batch_size=batch_size).capture(model)
            rows = model.head.rows
            full = Probe(inputs, layers=layers, batch_size=batch_size, stop_early=False).capture(
                model
            )
            assert model.head.rows == rows + 11  # the reference did run the head
            for name in layers:
                assert torch.equal(early[name], full[name])


def test_a_real_gpt_neox_stops_before_its_head():
    pytest.importorskip("transformers")
    from transformers import GPTNeoXForCausalLM

    from .fixtures_hf import tiny_config

    torch.manual_seed(0)
    model = GPTNeoXForCausalLM(tiny_config()).eval()
    ran = {"head": 0, "last_block": 0}
    model.get_output_embeddings().register_forward_hook(
        lambda *_: ran.__setitem__("head", ran["head"] + 1)
    )
    model.gpt_neox.layers[1].register_forward_hook(
        lambda *_: ran.__setitem__("last_block", ran["last_block"] + 1)
    )
    ids, mask, _ = tokens_with_padding(n=10, t=12)
    inputs = {"input_ids": ids, "attention_mask": mask}
    probe = Probe(inputs, layers=["gpt_neox.layers.0"], batch_size=5)
    probe.capture(model)  # learns the calls (one full pass of two inputs)
    ran.update(head=0, last_block=0)
    got = probe.capture(model)["gpt_neox.layers.0"]
    assert ran == {"head": 0, "last_block": 0}
    full = Probe(inputs, layers=["gpt_neox.layers.0"], batch_size=5, stop_early=False).capture(
        model
    )["gpt_neox.layers.0"]
    assert ran == {"head": 2, "last_block": 2}
    assert torch.equal(got, full)


def test_a_layer_the_forward_never_calls_is_named(model):
    model.unused = torch.nn.Linear(12, 12)
    probe = Probe(torch.randint(0, 50, (4, 5)), layers=["blocks.0", "unused"])
    with pytest.raises(ProbeError, match=r"layer 'unused' never ran in the model's forward"):
        probe.capture(model)


# -- autocast ----------------------------------------------------------------------------------


def test_bf16_autocast_on_the_cpu_differs_by_bf16_rounding_only(model):
    ids, mask, _ = tokens_with_padding(n=16)
    inputs = {"input_ids": ids, "attention_mask": mask}
    exact = Probe(inputs, layers=["blocks.1", "blocks.2"]).capture(model)
    for autocast in ("bf16", torch.bfloat16):
        mixed = Probe(inputs, layers=["blocks.1", "blocks.2"], autocast=autocast).capture(model)
        for name, acts in mixed.items():
            assert acts.dtype == torch.float32
            # each row is a bf16 output upcast: exactly representable in bf16
            assert torch.equal(acts, acts.bfloat16().float())
            diff = (acts - exact[name]).abs().max().item()
            assert 0 < diff < 0.05  # tanh outputs of size ~1; bf16 has 8 bits of mantissa
    # the mean over tokens is taken in float32, not bf16
    mean = Probe(inputs, layers=["blocks.2"], representation="mean", autocast="bf16").capture(
        model
    )["blocks.2"]
    assert not torch.equal(mean, mean.bfloat16().float())


def test_autocast_is_part_of_the_fingerprint_only_when_set():
    ids = torch.randint(0, 50, (4, 5), generator=torch.Generator().manual_seed(1))
    plain = Probe(ids, layers=["a"]).fingerprint()
    assert Probe(ids, layers=["a"], autocast=None).fingerprint() == plain
    bf16 = Probe(ids, layers=["a"], autocast="bf16").fingerprint()
    assert bf16 != plain
    assert Probe(ids, layers=["a"], autocast=torch.bfloat16).fingerprint() == bf16
    assert Probe(ids, layers=["a"], autocast="fp16").fingerprint() not in (plain, bf16)
    # options that do not change values are not part of it
    assert (
        Probe(ids, layers=["a"], batch_size=3, stop_early=False, memory_budget=10).fingerprint()
        == plain
    )
    assert Probe(ids, layers=["a"], autocast="bf16").describe()["autocast"] == "bf16"
    assert "autocast" not in Probe(ids, layers=["a"]).describe()


@pytest.mark.parametrize(
    ("value", "error"), [("int8", ValueError), (torch.float32, ValueError), (16, TypeError)]
)
def test_a_bad_autocast_is_named(value, error):
    with pytest.raises(
        error,
        match=r"^The 'autocast' argument of Probe must be None, 'bf16', "
        r"'fp16', torch.bfloat16 or torch.float16; got ",
    ):
        Probe(torch.zeros(4, 3), autocast=value)


# -- batch sizes from memory -------------------------------------------------------------------


def test_auto_batch_size_follows_the_memory_budget():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3), torch.nn.Tanh()
    )
    x = torch.randn(10, 4)
    # One example up to the captured layer "2": outputs of 8 + 8 + 3 float32 = 76 bytes; its
    # captured row is 12 bytes, kept twice for every input: 2 * 10 * 12 = 240 bytes.
    sizes = {
        budget: Probe(x, layers=["2"], memory_budget=budget).batch_size_for(net)
        for budget in (1, 240 + 3 * 76, 240 + 5 * 76 + 75, 10**9)
    }
    assert sizes == {1: 1, 240 + 3 * 76: 3, 240 + 5 * 76 + 75: 5, 10**9: 10}
    # without stopping early the pass goes on: the Tanh's 12 bytes and the Sequential's 12
    full = Probe(x, layers=["2"], memory_budget=240 + 3 * 100, stop_early=False)
    assert full.batch_size_for(net) == 3
    assert Probe(x, layers=["2"], batch_size=7).batch_size_for(net) == 7


def test_auto_batch_size_changes_no_value(model):
    ids, mask, _ = tokens_with_padding(n=11)
    inputs = {"input_ids": ids, "attention_mask": mask}
    layers = ["blocks.0", "blocks.2"]
    calls = []
    model.register_forward_pre_hook(
        lambda m, a, k: calls.append(len(k["input_ids"])), with_kwargs=True
    )
    small = Probe(inputs, layers=layers, memory_budget=10_000)  # 4 inputs a batch
    chosen = small.batch_size_for(model)
    assert 1 < chosen < 11
    calls.clear()
    got = small.capture(model)
    assert calls == [chosen] * (11 // chosen) + ([11 % chosen] if 11 % chosen else [])
    roomy = Probe(inputs, layers=layers)  # the default: "auto" from the available memory
    assert roomy.batch_size == "auto" and roomy.batch_size_for(model) == 11
    for other in (roomy.capture(model), Probe(inputs, layers=layers, batch_size=1).capture(model)):
        for name in layers:
            torch.testing.assert_close(got[name], other[name], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("value", "error"), [("big", ValueError), (2.5, TypeError), (-1, ValueError)]
)
def test_a_bad_batch_size_is_named(value, error):
    with pytest.raises(
        error,
        match=r"^The 'batch_size' argument of Probe must be an integer "
        r">= 1 or 'auto'; got ",
    ):
        Probe(torch.zeros(4, 3), batch_size=value)


# -- fingerprints of any dtype on any device ---------------------------------------------------


def old_fingerprint(inputs, layers, representation="last_token"):
    """The fingerprint formula of repscope 0.1 (``tensor.numpy().tobytes()``), written out."""
    import hashlib

    digest = hashlib.sha256()
    for key in sorted(inputs):
        array = np.ascontiguousarray(inputs[key].numpy())
        digest.update(f"{key}|{inputs[key].dtype}|{tuple(array.shape)}|".encode())
        digest.update(array.tobytes())
    digest.update(f"{layers}|{representation}".encode())
    return "probe:" + digest.hexdigest()[:32]


def test_fingerprints_of_stored_probes_are_unchanged():
    gen = torch.Generator().manual_seed(5)
    ids, mask, _ = tokens_with_padding(n=6)
    tokens = {"input_ids": ids, "attention_mask": mask}
    assert Probe(tokens, layers=["blocks.0"]).fingerprint() == old_fingerprint(tokens, ["blocks.0"])
    x = torch.randn(7, 3, 2, generator=gen)
    assert Probe(x, layers=["0", "2"], representation="mean").fingerprint() == old_fingerprint(
        {"": x}, ["0", "2"], "mean"
    )
    assert Probe(x.numpy(), layers=None).fingerprint() == old_fingerprint({"": x}, None)
    # a non-contiguous tensor hashes as its contiguous copy
    t = torch.randn(3, 8, generator=gen).T
    assert Probe(t, layers=["0"]).fingerprint() == Probe(t.contiguous(), layers=["0"]).fingerprint()


def test_fingerprints_of_bf16_and_device_probes():
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(6))
    bf16 = Probe(x.bfloat16(), layers=["0"]).fingerprint()
    assert bf16 == Probe(x.bfloat16().clone(), layers=["0"]).fingerprint()
    assert bf16 != Probe(x, layers=["0"]).fingerprint()
    assert bf16 != Probe((x + 1).bfloat16(), layers=["0"]).fingerprint()
    # the bytes hashed are bf16's own: its float32 upcast's low 16 bits are zero
    from repscope.sources.base import tensor_bytes

    raw = np.frombuffer(tensor_bytes(x.bfloat16()), dtype=np.uint16)
    assert np.array_equal(raw, x.bfloat16().float().numpy().view(np.uint32).ravel() >> 16)
    assert tensor_bytes(torch.tensor(1.5)) == np.float32(1.5).tobytes()  # 0-d
    if torch.cuda.is_available():
        assert Probe(x.cuda(), layers=["0"]).fingerprint() == Probe(x, layers=["0"]).fingerprint()
