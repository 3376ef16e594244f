"""Demo 1 at the small size: the tiny LM collapses during warmup, then seeks entropy.

The third phase (compression-seeking) is small and seed-dependent at this scale (see the
module's docstring), so it is not asserted here.
"""

import numpy as np
import pytest

from repscope.demos import three_phases


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return three_phases.run("small", seed=0, folder=tmp_path_factory.mktemp("lm"))


def test_phase_detection_finds_warmup_collapse_then_entropy_seeking(demo):
    table = demo.facts["phases"]
    names = table.phase.tolist()
    assert names[:2] == ["warmup collapse", "entropy-seeking"], table
    collapse, rise = table.iloc[0], table.iloc[1]
    assert collapse.rankme_change < -0.2 and collapse.alpha_change > 0.2
    assert rise.rankme_change > 0.5 and rise.alpha_change < -0.3
    assert collapse.end_step < rise.start_step


def test_rankme_collapses_early_and_recovers(demo):
    rank = demo.trajectory.curve("effective_rank", three_phases.LAYER)
    low = rank.idxmin()
    assert rank[low] < 0.5 * rank.iloc[0]  # deep collapse …
    assert low < 0.3 * rank.index[-1]  # … early in training …
    assert rank.iloc[-1] > 2 * rank[low]  # … and back up as the word pairs are learned
    loss = demo.history.set_index("step").loss
    assert loss.iloc[-1] < loss[low] - 0.2  # the loss keeps falling after the collapse


def test_the_language_is_zipfian_with_word_pairs():
    lang = three_phases.ZipfBigramLanguage(512, seed=1)
    text = lang.sample(4000, 20, np.random.default_rng(0))
    counts = np.bincount(text.ravel(), minlength=512)
    ranks = np.arange(1, 11)
    slope = np.polyfit(np.log(ranks), np.log(counts[:10] + 1), 1)[0]
    assert -1.5 < slope < -0.7  # Zipf(1.1) by word id = frequency rank
    follows = (lang.next[text[:, :-1]] == text[:, 1:, None]).any(-1)
    # Half the next words come from the successor list; of the other half (fresh Zipf draws),
    # the share that lands in the list anyway is the Zipf mass of the list.
    zipf = np.arange(1, 513, dtype=float) ** -1.1
    zipf /= zipf.sum()
    mass = np.array([zipf[np.unique(row)].sum() for row in lang.next])
    current = text[:, :-1].ravel()
    expected = 0.5 + 0.5 * mass[current].mean()
    assert follows.mean() == pytest.approx(expected, abs=0.02)


def test_checkpoints_are_log_spaced_and_skip_the_first_steps():
    steps = three_phases.checkpoint_steps(3000, 32)
    assert steps[0] == 0 and steps[1] == 10 and steps[-1] == 3000
    ratios = np.diff(np.log(steps[1:]))
    assert ratios.max() < 2.5 * ratios.min()
