"""Phase detection: synthetic curves with known turning points, labels that say what the
numbers did, few and linearly spaced checkpoints, and pure noise."""

import numpy as np
import pytest

from repscope.phases import (
    COLLAPSE,
    COMPRESSION,
    ENTROPY,
    EXPANSION,
    WARMUP,
    detect_phases,
    jitter,
    turning_points,
)

STEPS = np.unique(np.r_[0, np.geomspace(1, 4000, 48).astype(int)])


def three_phase_curves(steps, knots, noise, seed):
    """RankMe and α piecewise linear in log(step+1), turning at the given knot steps."""
    rng = np.random.default_rng(seed)
    x = np.log1p(steps)
    kx = np.log1p([0, *knots, steps[-1]])
    rank = np.interp(x, kx, [14, 7.5, 12.9, 11.0]) * np.exp(noise * rng.normal(size=len(x)))
    alpha = np.interp(x, kx, [0.5, 1.3, 0.6, 0.9]) + noise * rng.normal(size=len(x))
    return rank, alpha


def nearest_index(steps, step):
    return int(np.argmin(np.abs(np.log1p(steps) - np.log1p(step))))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("knots", [(50, 256), (30, 600), (100, 1000)])
def test_recovers_known_turning_points_within_one_checkpoint(seed, knots):
    rank, alpha = three_phase_curves(STEPS, knots, noise=0.005, seed=seed)
    phases = detect_phases(STEPS, rank, alpha, from_init=True)
    assert [p.name for p in phases] == [WARMUP, ENTROPY, COMPRESSION]
    index = {int(s): i for i, s in enumerate(STEPS)}
    for phase, knot in zip(phases[:2], knots, strict=True):
        assert abs(index[phase.end_step] - nearest_index(STEPS, knot)) <= 1, (phase, knot)
    # a phase covers the whole monotone change: from the first checkpoint, to the last
    assert phases[0].start_step == STEPS[0] and phases[-1].end_step == STEPS[-1]
    assert phases[0].end_step == phases[1].start_step and phases[1].end_step == phases[2].start_step


def test_evidence_is_the_change_between_a_phase_first_and_last_checkpoint():
    rank, alpha = three_phase_curves(STEPS, (50, 256), noise=0.01, seed=1)
    for p in detect_phases(STEPS, rank, alpha, from_init=True):
        i, j = list(STEPS).index(p.start_step), list(STEPS).index(p.end_step)
        ev = p.evidence
        assert ev["rankme_rel_change"] == pytest.approx(rank[j] / rank[i] - 1)
        assert ev["rankme_abs_change"] == pytest.approx(rank[j] - rank[i])
        assert ev["alpha_abs_change"] == pytest.approx(alpha[j] - alpha[i])
        assert ev["alpha_rel_change"] == pytest.approx((alpha[j] - alpha[i]) / alpha[i])


def test_a_label_says_what_the_numbers_did():
    """RankMe falls while α falls too: never a 'collapse', and the label says both fell."""
    x = np.log1p(STEPS)
    rank = np.interp(x, [0, 8.3], [30, 6])
    alpha_falls = np.interp(x, [0, 8.3], [2.1, 1.6])
    (p,) = detect_phases(STEPS, rank, alpha_falls, from_init=True)
    assert p.kind == "other" and p.name == p.label == "RankMe ↓, α ↓"
    assert p.evidence["alpha_abs_change"] < 0 and p.evidence["alpha_dir"] == -1
    flat = np.full_like(rank, 1.9) + 1e-4 * np.sin(np.arange(len(rank)))
    (p,) = detect_phases(STEPS, rank, flat, alpha_se=np.full_like(rank, 0.02))
    assert p.name == "RankMe ↓, α flat" and p.evidence["alpha_dir"] == 0


def test_the_paper_names_go_only_to_runs_from_initialisation():
    rank, alpha = three_phase_curves(STEPS, (50, 256), noise=0.01, seed=0)
    assert [p.name for p in detect_phases(STEPS, rank, alpha)] == [COLLAPSE, EXPANSION, COLLAPSE]
    late = STEPS > 60  # a run that starts from a trained model: named by what it shows
    names = [p.name for p in detect_phases(STEPS[late], rank[late], alpha[late])]
    assert names == [EXPANSION, COLLAPSE]


def test_at_most_one_warmup_collapse():
    """Two collapses with an expansion between and another collapse after: one warmup, one
    entropy-seeking, one compression-seeking, then names by what they show."""
    x = np.log1p(STEPS)
    kx = [0, 3, 4.5, 6, 7, 8.3]
    rank = np.interp(x, kx, [14, 7, 13, 9, 12, 8])
    alpha = np.interp(x, kx, [0.5, 1.2, 0.6, 1.0, 0.7, 1.1])
    names = [p.name for p in detect_phases(STEPS, rank, alpha, from_init=True)]
    assert names == [WARMUP, ENTROPY, COMPRESSION, EXPANSION, COLLAPSE]


def test_a_run_whose_first_phase_is_an_expansion_gets_no_warmup():
    x = np.log1p(STEPS)
    rank = np.interp(x, [0, 4, 8.3], [7, 14, 11])
    alpha = np.interp(x, [0, 4, 8.3], [1.2, 0.5, 0.8])
    names = [p.name for p in detect_phases(STEPS, rank, alpha, from_init=True)]
    assert names == [ENTROPY, COMPRESSION]  # the paper's order, without its first phase


@pytest.mark.parametrize("with_errors", [False, True])
def test_a_fall_of_half_the_rankme_over_five_checkpoints_is_never_missed(with_errors):
    """The second MiniLM fine-tune: RankMe 31.9 → 13.1 between steps 15 and 40 (every 5)."""
    steps = np.arange(5, 45, 5)
    rank = np.array([30.8, 31.5, 31.9, 27.0, 22.1, 18.0, 15.2, 13.1])
    alpha = np.array([1.9, 1.88, 1.9, 2.0, 2.1, 2.2, 2.25, 2.3])
    se = (np.full(8, 0.4), np.full(8, 0.02)) if with_errors else (None, None)
    phases = detect_phases(steps, rank, alpha, rankme_se=se[0], alpha_se=se[1])
    fall = [p for p in phases if p.evidence["rankme_dir"] < 0]
    # one fall that holds the whole drop (a rise of 3 % before it is within the noise)
    assert len(fall) == 1 and fall[0].start_step <= 15 and fall[0].end_step == 40
    assert fall[0].evidence["rankme_rel_change"] < -0.55


def test_the_minilm_fine_tune_reads_as_a_fall_with_alpha_down_then_up():
    """The first MiniLM run (a checkpoint every 5 steps): RankMe 34.7 at step 10, 6.7 at 25,
    2.0 at 50; α 2.09 → 1.78 → 1.95. One fall of RankMe from 10 to 50 (the drop 10 → 25 inside
    it), named by what it shows, with α's net change as measured."""
    steps = np.arange(5, 55, 5)
    rank = np.array([33.9, 34.7, 24.0, 14.1, 6.7, 4.6, 3.3, 2.6, 2.2, 2.0])
    alpha = np.array([2.07, 2.09, 1.95, 1.85, 1.78, 1.82, 1.86, 1.9, 1.93, 1.95])
    phases = detect_phases(steps, rank, alpha, alpha_se=np.full(10, 0.01))
    fall = [p for p in phases if p.evidence["rankme_dir"] < 0]
    assert len(fall) == 1 and fall[0].start_step <= 10 and fall[0].end_step == 50
    i = list(steps).index(fall[0].start_step)
    assert fall[0].evidence["alpha_abs_change"] == pytest.approx(1.95 - alpha[i])
    assert fall[0].name == "RankMe ↓, α ↓"  # α fell on balance: never called a collapse


@pytest.mark.parametrize("seed", range(6))
def test_adding_or_removing_the_first_checkpoint_moves_no_other_boundary(seed):
    rank, alpha = three_phase_curves(STEPS, (50, 256), noise=0.02, seed=seed)
    full = detect_phases(STEPS, rank, alpha)
    cut = detect_phases(STEPS[1:], rank[1:], alpha[1:])
    index = {int(s): i for i, s in enumerate(STEPS)}
    inner = lambda ps: [index[p.end_step] for p in ps[:-1]]  # noqa: E731
    assert len(inner(full)) == len(inner(cut))
    for a, b in zip(inner(full), inner(cut), strict=True):
        assert abs(a - b) <= 1


def test_linearly_spaced_checkpoints_as_a_trainer_saves_them():
    """save_steps=50 over 2000 steps: the same shapes as the log-spaced demo, found."""
    steps = np.arange(0, 2001, 50)
    rank = np.interp(steps, [0, 300, 900, 2000], [14, 7, 13, 11])
    alpha = np.interp(steps, [0, 300, 900, 2000], [0.5, 1.2, 0.6, 0.8])
    rng = np.random.default_rng(0)
    rank = rank * np.exp(0.005 * rng.normal(size=len(steps)))
    phases = detect_phases(steps, rank, alpha, from_init=True)
    assert [p.name for p in phases] == [WARMUP, ENTROPY, COMPRESSION]
    assert [p.end_step for p in phases] == [300, 900, 2000]


def test_noise_alone_is_no_phase():
    rng = np.random.default_rng(3)
    rank = 10 * np.exp(0.01 * rng.normal(size=len(STEPS)))
    alpha = 1 + 0.01 * rng.normal(size=len(STEPS))
    assert detect_phases(STEPS, rank, alpha, from_init=True) == []


def test_a_change_within_the_error_bars_is_no_phase():
    """A smooth 5 % drift of RankMe, when each value is uncertain by 5 %, is not a phase."""
    steps = np.arange(10)
    rank = np.linspace(10, 9.5, 10)
    assert detect_phases(steps, rank, np.ones(10), rankme_se=np.full(10, 0.5)) == []
    assert len(detect_phases(steps, rank, np.ones(10), rankme_se=np.full(10, 0.01))) == 1


def test_turning_points_and_jitter_on_known_curves():
    y = np.array([0, 1, 2, 3, 2, 1, 0, 1, 2.0])
    assert turning_points(y, threshold=0.5) == [3, 6]
    assert turning_points(y, threshold=5.0) == []  # nothing that prominent
    wiggle = np.array([0, 1, 0.9, 2, 3.0])  # a dip of 0.1 is no turning point at 0.5
    assert turning_points(wiggle, threshold=0.5) == []
    line = np.linspace(0, 5, 20)
    assert jitter(line) == pytest.approx(0.0, abs=1e-12)  # a trend is no noise
    rng = np.random.default_rng(0)
    assert jitter(rng.normal(scale=0.1, size=4000)) == pytest.approx(0.1, rel=0.1)


def test_failed_checkpoints_are_skipped():
    rank, alpha = three_phase_curves(STEPS, (50, 256), noise=0.01, seed=0)
    rank[[5, 20]] = np.nan
    names = [p.name for p in detect_phases(STEPS, rank, alpha, from_init=True)]
    assert names == [WARMUP, ENTROPY, COMPRESSION]


def test_too_short_a_trajectory_gives_no_phase():
    assert detect_phases([1, 2], [3, 1], [1, 2]) == []


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        (dict(steps=[3, 2, 1], rankme=[1, 2, 3], alpha=[1, 2, 3]), "steps"),
        (dict(steps=[1, 2, 3], rankme=[1, 2], alpha=[1, 2, 3]), "rankme"),
        (dict(steps=[[1, 2]], rankme=[1, 2], alpha=[1, 2]), "steps"),
        (dict(steps=[1, 2, 3], rankme=[3, 2, 1], alpha=[1, 2, 3], rankme_se=[1, 2]), "rankme_se"),
    ],
)
def test_bad_curves_raise_in_the_grammar(kwargs, arg):
    with pytest.raises(ValueError, match=rf"^The '{arg}' argument of detect_phases must be"):
        detect_phases(**kwargs)


@pytest.mark.parametrize(
    ("inputs", "start", "named"),
    [
        ("tokens", "init", True),  # a language model from initialisation: the paper's names
        ("values", "init", False),  # an MLP on vectors: what the numbers show
        ("tokens", "pretrained", False),  # a fine-tune
        ("tokens", "unknown", False),
    ],
)
def test_the_papers_names_go_to_language_models_from_initialisation(inputs, start, named):
    """The same three-phase curves, stored for a trajectory, are named by the paper only for a
    probe of token ids on a run that starts at initialisation; and read back from the store
    (no probe object), the rule is the same."""
    import torch

    import repscope
    from repscope.probe import Probe
    from repscope.store import Record, Store
    from repscope.trajectory import Trajectory

    n = 12
    probe = Probe(
        {"input_ids": torch.arange(n * 4).reshape(n, 4), "attention_mask": torch.ones(n, 4)}
        if inputs == "tokens"
        else torch.randn(n, 4),
        layers=["h"],
    )
    assert probe.input_kind == inputs
    rank, alpha = three_phase_curves(STEPS, (50, 256), noise=0.002, seed=0)
    store = Store(":memory:")
    traj = Trajectory(None, probe, store=store, run="r", start=start, errors="none")
    traj.describe()
    store.put(
        *(
            Record(
                run="r",
                checkpoint=f"c{s}",
                layer="h",
                step=int(s),
                measures={"effective_rank": float(r), "alpha": float(a)},
                **traj.key(),
            )
            for s, r, a in zip(STEPS, rank, alpha, strict=True)
        )
    )
    store.set_run_start("r", start)
    paper = [WARMUP, ENTROPY, COMPRESSION]
    for t in (traj, repscope.open(store).trajectory("r")):
        names = [p.name for p in t.phases()]
        assert len(names) == 3
        assert (names == paper) is named, names
        if not named:
            assert names == [COLLAPSE, EXPANSION, COLLAPSE]


def test_phases_read_any_pair_of_measures_the_user_picks():
    """A measure added to the store that falls to step 7 and rises after, against RankMe: two
    phases turning at step 7, labelled with the measure's name, never the paper's names."""
    from repscope.synthetic import synthetic_trajectory

    traj = synthetic_trajectory(n_steps=14, layers=("h",), n_points=60)
    steps = traj.steps
    turn = steps[7]
    x = np.log1p(np.asarray(steps, dtype=float))
    toy = np.abs(x - x[7]) * 3 - 2.0  # negative near the turn: read on its values, not its log
    traj.store.add_measures(
        (r, {"toy": float(v)})
        for r in traj.records()
        for s, v in zip(steps, toy, strict=True)
        if r.step == s
    )
    found = traj.phases("h", measures=("toy", "effective_rank"))
    assert [(p.start_step, p.end_step) for p in found] == [(steps[0], turn), (turn, steps[-1])]
    assert [p.label.split(",")[0] for p in found] == ["toy ↓", "toy ↑"]
    assert all(p.names == ("toy", "RankMe") for p in found)
    table = traj.phase_table("h", measures=("toy", "effective_rank"))
    assert table.rankme_abs_change.tolist() == pytest.approx([toy[7] - toy[0], toy[-1] - toy[7]])
    with pytest.raises(ValueError, match=r"'measures' argument of RunReader\.phases"):
        traj.phases("h", measures=("nothing", "alpha"))
    with pytest.raises(TypeError, match=r"'measures' argument of RunReader\.phases"):
        traj.phases("h", measures="toy")


def test_detect_phases_names_the_curves_it_reads():
    steps = np.arange(0, 60, 5)
    x = np.linspace(0, 1, len(steps))
    first = np.where(x < 0.5, 5 - 8 * x, 1 + 8 * (x - 0.5))
    second = np.ones_like(x)
    found = detect_phases(steps, first, second, names=("LLC", "RankMe"), from_init=True)
    assert [p.name for p in found] == ["LLC ↓, RankMe flat", "LLC ↑, RankMe flat"]
    with pytest.raises(TypeError, match="'names' argument of detect_phases"):
        detect_phases(steps, first, second, names=("LLC",))
