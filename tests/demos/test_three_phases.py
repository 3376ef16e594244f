"""Demo 1: the recipe as the issue states it, the language's known law, and the phases.

The small size shows warmup collapse then entropy-seeking; the full recipe (a slow test that
runs ``repscope demo three-phases`` exactly as ``make demo`` does) shows all three phases.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from repscope.demos import three_phases
from repscope.demos.zipf_bigram import ZipfBigramLanguage


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return three_phases.run("small", seed=0, folder=tmp_path_factory.mktemp("lm"))


@pytest.fixture(scope="module")
def lang():
    return three_phases.language()


# -- the recipe ---------------------------------------------------------------------------------
def test_the_model_has_the_recipes_parameter_count_and_initialisation():
    torch.manual_seed(0)
    net = three_phases.model()
    assert sum(p.numel() for p in net.parameters()) == 73_152  # the figure in the recipe
    assert len(net.blocks) == 2 and net.blocks[0].heads == 4 and net.tok.embedding_dim == 16
    assert net.pos.num_embeddings == 64 and net.head.bias is None
    residual = torch.cat(
        [b.proj.weight.ravel() for b in net.blocks] + [b.fc2.weight.ravel() for b in net.blocks]
    )
    assert residual.std().item() == pytest.approx(0.02 / math.sqrt(4), rel=0.05)
    assert net.blocks[0].qkv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert all(float(b.qkv.bias.abs().max()) == 0 for b in net.blocks)


def test_checkpoints_are_step_0_then_half_powers_of_two():
    expected = [
        0,
        1,
        2,
        3,
        4,
        6,
        8,
        11,
        16,
        23,
        32,
        45,
        64,
        91,
        128,
        181,
        256,
        362,
        512,
        724,
        1024,
        1448,
        2048,
        2896,
        4000,
    ]  # round(2^(k/2)) ≤ 4000, then 4000
    assert three_phases.checkpoint_steps(4000) == expected


def test_learning_rate_warms_up_linearly_then_decays_by_cosine_to_a_tenth():
    lr = three_phases.learning_rate
    assert lr(49, 4000) == pytest.approx(3e-3 * 50 / 100)
    assert lr(100, 4000) == pytest.approx(3e-3)
    middle = 100 + (4000 - 100) // 2
    assert lr(middle, 4000) == pytest.approx(3e-3 * 0.55, rel=1e-3)  # half-way down
    assert lr(4000, 4000) == pytest.approx(3e-4)


def test_the_probe_reads_ln_f_at_one_position_in_16_to_63(lang):
    probe = three_phases.probe(lang, 64)
    mask = probe.inputs["attention_mask"]
    positions = mask.sum(1) - 1
    assert probe.layers == ["ln_f"] and positions.min() >= 16 and positions.max() <= 63
    assert bool((mask[:, :1] == 1).all())  # a prefix of each sequence
    torch.manual_seed(0)
    net = three_phases.model().eval()
    captured = probe.capture(net)["ln_f"]
    with torch.no_grad():  # the final LayerNorm at that position, computed by hand
        x = net.tok(probe.inputs["input_ids"]) + net.pos(torch.arange(64))
        for block in net.blocks:
            x = block(x)
        expected = net.ln_f(x)[torch.arange(64), positions]
    torch.testing.assert_close(captured, expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(
        three_phases.probe(lang, 64).inputs["input_ids"], probe.inputs["input_ids"]
    )  # the same held-out set every time


# -- the language -------------------------------------------------------------------------------
def test_the_language_has_the_entropies_of_the_recipe(lang):
    h = lang.entropies()
    assert h["zipf"] == pytest.approx(5.07, abs=0.01)  # the recipe: H(unigram) ≈ 5.07 nats
    assert h["next"] == pytest.approx(2.60, abs=0.01)  # the recipe: H(next | cur) ≈ 2.60 nats
    assert h["next"] < h["unigram"] < h["zipf"]


def test_the_unigram_is_the_texts_word_frequencies(lang):
    np.testing.assert_allclose(lang.unigram @ lang.transition_matrix(), lang.unigram, atol=1e-12)
    text = lang.sample(4000, 64, np.random.default_rng(1))[:, 32:]  # long past the first word
    counts = np.bincount(text.ravel(), minlength=lang.vocab) / text.size
    top = np.argsort(lang.unigram)[::-1][:10]
    np.testing.assert_allclose(counts[top], lang.unigram[top], rtol=0.05)


def test_samples_follow_the_stated_law():
    lang = ZipfBigramLanguage(256, successors=8, seed=3)
    text = lang.sample(20_000, 12, np.random.default_rng(0))
    first = np.bincount(text[:, 0], minlength=256) / len(text)
    top = np.argsort(lang.zipf)[::-1][:5]
    np.testing.assert_allclose(first[top], lang.zipf[top], rtol=0.1)  # first word: Zipf
    ranked = np.sort(lang.zipf)[::-1]
    assert ranked[0] / ranked[9] == pytest.approx(10**1.1)  # Zipf(1.1) by rank
    assert not np.all(np.diff(lang.zipf) <= 0)  # ids are shuffled, not by rank
    cur, nxt = text[:, :-1].ravel(), text[:, 1:].ravel()
    in_list = (lang.successor_ids[cur] == nxt[:, None]).any(1)
    mass = np.array([lang.zipf[row].sum() for row in lang.successor_ids])
    assert in_list.mean() == pytest.approx(0.8 + 0.2 * mass[cur].mean(), abs=0.01)
    for row in lang.successor_ids[:20]:
        assert len(set(row)) == 8  # drawn without replacement


def test_divergences_are_zero_for_the_true_laws_and_the_loss_their_entropy(lang):
    ids = torch.from_numpy(lang.sample(200, 33, np.random.default_rng(5)))
    unigram = torch.log(torch.from_numpy(lang.unigram)).expand(200, 32, -1)
    at_unigram = lang.divergences(unigram, ids)
    assert at_unigram["kl_unigram"] == pytest.approx(0, abs=1e-9)
    true = torch.log(torch.from_numpy(lang.transition_matrix()))[ids[:, :-1]]
    at_truth = lang.divergences(true, ids)
    assert at_truth["kl_true"] == pytest.approx(0, abs=1e-9)
    h = lang.entropies()
    assert at_unigram["loss"] == pytest.approx(h["unigram"], abs=0.1)
    assert at_truth["loss"] == pytest.approx(h["next"], abs=0.1)
    # KL(true ‖ unigram model), computed naively from the matrix
    p = lang.transition_matrix()[ids[:, :-1].ravel().numpy()]
    naive = np.mean(np.sum(p * (np.log(p) - np.log(lang.unigram)), axis=1))
    assert at_unigram["kl_true"] == pytest.approx(naive, rel=1e-9)


# -- the small demo -----------------------------------------------------------------------------
@pytest.mark.slow
def test_small_demo_finds_warmup_collapse_then_entropy_seeking(demo):
    table = demo.facts["phases"]
    assert table.phase.tolist()[:2] == ["warmup collapse", "entropy-seeking"], table
    collapse, rise = table.iloc[0], table.iloc[1]
    assert collapse.rankme_rel_change < -0.3 and collapse.alpha_abs_change > 0.3
    assert rise.rankme_rel_change > 0.3 and rise.alpha_abs_change < -0.3
    assert collapse.label == "RankMe ↓, α ↑" and rise.label == "RankMe ↑, α ↓"
    assert collapse.start_step == 0  # the whole monotone fall, from initialisation
    assert collapse.end_step == rise.start_step  # the bands meet …
    rank = demo.trajectory.curve("effective_rank", three_phases.LAYER)
    assert collapse.end_step == rank.idxmin()  # … at the trough
    assert collapse.rankme_rel_change == pytest.approx(rank.min() / rank[collapse.start_step] - 1)


@pytest.mark.slow
def test_small_demo_records_what_the_model_learns(demo, lang):
    history = demo.history.set_index("step")
    h = lang.entropies()
    assert history.heldout_loss.iloc[0] > math.log(2048) - 0.8  # near uniform guessing
    assert h["next"] < history.heldout_loss.iloc[-1] < h["unigram"]  # more than frequencies
    assert history.kl_true.is_monotonic_decreasing
    trough = int(demo.trajectory.curve("effective_rank", three_phases.LAYER).idxmin())
    low = int(history.kl_unigram.idxmin())
    assert trough < low  # frequencies are learned through the collapse, pairs after it
    assert history.kl_unigram.iloc[-1] > history.kl_unigram[low] + 0.3
    stored = demo.trajectory.scalars.pivot(index="step", columns="name", values="value")
    np.testing.assert_allclose(stored.loc[history.index, "kl_true"], history.kl_true)


@pytest.mark.slow
def test_a_live_run_returns_at_once_and_ends_where_a_plain_run_does(demo, tmp_path):
    live = three_phases.run("small", seed=0, folder=tmp_path, live=True)
    assert live.running and live.trajectory.filling is not None
    scrubber = live.scrubber()
    assert scrubber.watching  # the widget follows the store while training goes on
    live.wait()
    assert not live.running
    assert live.trajectory.steps == demo.trajectory.steps
    np.testing.assert_allclose(
        live.trajectory.curve("effective_rank", "ln_f"),
        demo.trajectory.curve("effective_rank", "ln_f"),
        rtol=1e-6,
    )
    assert live.facts["phases"].phase.tolist() == demo.facts["phases"].phase.tolist()
    scrubber.stop()


def test_training_shows_its_progress_with_the_loss_and_the_time_left(lang, capsys):
    three_phases.train(lang, 3, 0, lambda step, net, scalars: None, progress=True)
    err = capsys.readouterr().err
    assert "train three-phases" in err and "3/3" in err and "loss=" in err
    assert re.search(r"<\d\d:\d\d", err)  # tqdm's estimate of the time left


# -- two other lenses: the weights' spectra and the LLC (notebook 02) ---------------------------
def test_the_weight_layers_are_linear_matrices_of_the_model():
    modules = dict(three_phases.model().named_modules())
    layers = three_phases.weight_layers()
    assert all(isinstance(modules[name], torch.nn.Linear) for name in layers)
    # as benchmarks/three_phases_seeds.py reads them: each block's qkv, fc1 and fc2
    assert layers == [f"blocks.{b}.{m}" for b in (0, 1) for m in ("qkv", "fc1", "fc2")]
    torch.manual_seed(0)
    before = torch.get_rng_state()
    three_phases.weight_layers()
    assert torch.equal(torch.get_rng_state(), before)  # names only: no weights drawn


def test_llc_steps_picks_the_ends_and_the_checkpoints_nearest_the_boundaries():
    steps = three_phases.checkpoint_steps(4000)
    picked = three_phases.llc_steps(steps, [0, 45, 256, 4000])
    assert len(picked) == 8 and picked == sorted(set(picked))
    assert {0, 45, 256, 4000} <= set(picked) and set(picked) <= set(steps)
    # a boundary between checkpoints: the nearest one
    assert 45 in three_phases.llc_steps(steps, [50], k=3)
    assert three_phases.llc_steps(steps, [50], k=3) == [0, 45, 4000]
    # the rest fill the largest gaps on a log axis: one checkpoint in each half-decade or so
    gaps = np.diff(np.log1p(picked))
    assert gaps.max() < 2.5 * np.median(gaps)
    assert three_phases.llc_steps([0, 1, 2], [], k=8) == [0, 1, 2]  # fewer than k: all of them
    assert three_phases.llc_steps([], [3]) == []
    assert three_phases.llc_steps([7], [0, 9]) == [7]


def test_llc_inputs_are_training_batches_and_the_training_loss(lang):
    batches, loss_fn = three_phases.llc_inputs(seed=0, n_batches=3)
    assert len(batches) == 3
    for batch in batches:
        assert batch.shape == (32, 65) and batch.dtype == torch.int64
        assert 0 <= int(batch.min()) and int(batch.max()) < 2048
    again, _ = three_phases.llc_inputs(seed=0, n_batches=3)
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))
    other, _ = three_phases.llc_inputs(seed=1, n_batches=3)
    assert not torch.equal(batches[0], other[0])
    # fresh text from the language: the first word Zipf-distributed, then the known law
    first = torch.cat([three_phases.llc_inputs(seed=s)[0][0][:, 0] for s in range(4)]).numpy()
    assert np.mean(np.isin(first, np.argsort(lang.zipf)[::-1][:20])) > 0.3
    # the loss is next-token cross-entropy, computed naively
    torch.manual_seed(0)
    net = three_phases.model()
    with torch.no_grad():
        logits = net(batches[0][:, :-1]).double()
        target = batches[0][:, 1:]
        naive = 0.0
        for i in range(32):
            for t in range(64):
                row = logits[i, t]
                naive += float(torch.logsumexp(row, 0) - row[target[i, t]])
        naive /= 32 * 64
        assert float(loss_fn(net, batches[0])) == pytest.approx(naive, rel=1e-5)


def test_llc_settings_are_the_measured_ones():
    full, small = three_phases.LLC_SETTINGS, three_phases.LLC_SETTINGS_SMALL
    assert (full.lr, full.localization, full.num_chains, full.num_draws) == (1e-4, 1000.0, 2, 96)
    assert full.num_burnin_steps == 40
    assert full.nbeta == pytest.approx(2048 / math.log(2048)) and round(full.nbeta) == 269
    assert small.num_chains >= 2  # a spread over chains: the error bar
    assert small.num_draws < full.num_draws and small.num_draws % 8 == 0  # whole cycles of batches
    assert (small.lr, small.localization, small.nbeta) == (full.lr, full.localization, full.nbeta)
    assert three_phases.llc_settings("full") is full
    assert three_phases.llc_settings("small") is small


@pytest.mark.slow
def test_the_weights_view_measures_esd_alpha_of_the_saved_weights(demo):
    from safetensors.torch import load_file

    from repscope.geometry import esd_alpha

    weights = three_phases.weights_trajectory(demo)
    assert weights.run == "three phases (weights)" and weights.config.view == "weights"
    assert weights.pending()  # not computed by weights_trajectory
    weights.compute(progress=False)
    assert weights.steps == demo.trajectory.steps
    assert weights.layers == three_phases.weight_layers()
    for step in (0, weights.steps[len(weights.steps) // 2], weights.steps[-1]):
        saved = load_file(demo.folder / "checkpoints" / f"step_{step}.safetensors")
        for layer in weights.layers:
            expected = esd_alpha(saved[f"{layer}.weight"].double())
            assert weights.curve("esd_alpha", layer)[step] == pytest.approx(expected, rel=1e-6)
    # beside the activations' run in the same store, which is left as it was
    assert set(demo.trajectory.store.runs()) >= {"three phases", "three phases (weights)"}
    assert demo.trajectory.layers == ["ln_f"]


@pytest.mark.slow
def test_the_llc_inputs_and_settings_run_through_add_llc(demo):
    pytest.importorskip("devinterp")
    from repscope.llc import LLCSettings, add_llc

    batches, loss_fn = three_phases.llc_inputs(n_batches=2)
    quick = LLCSettings(**{**three_phases.LLC_SETTINGS_SMALL.as_dict(), "num_draws": 8})
    quick = LLCSettings(**{**quick.as_dict(), "num_burnin_steps": 8})
    last = demo.trajectory.steps[-1]
    add_llc(demo.trajectory, batches, loss_fn, quick, steps=[last])
    llc = demo.trajectory.curve("llc", three_phases.LAYER)
    assert list(llc.index) == [last] and np.isfinite(llc[last])
    se = demo.trajectory.curve("llc_se", three_phases.LAYER)[last]
    assert se > 0  # two chains: a spread
