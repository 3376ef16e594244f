"""Each demo's qualitative claim, at the small size with fixed seeds (real training, real
checkpoints, the package's own scan). Training is the slow part: each demo is trained once per
module (grokking through ``repscope demo``, whose report is checked here too)."""

import re

import numpy as np
import pytest
import torch

from repscope.demos import dse_dsmi, grokking, rich_lazy
from tests.commands import run_cli
from tests.exported import exported_steps


def curve(traj, measure, layer):
    return traj.curve(measure, layer)


@pytest.fixture(scope="module")
def grok_command(tmp_path_factory):
    """``repscope demo grokking --size small`` (seed 0), in this process, with what it printed
    and the run it trained (the same as ``grokking.run("small", seed=0)``)."""
    folder = tmp_path_factory.mktemp("grok")
    original, trained = grokking.run, []

    def run(*args, **kwargs):  # the command's own call, its result kept for the tests below
        trained.append(original(*args, **kwargs))
        return trained[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grokking, "run", run)
        done = run_cli(
            *("demo", "grokking", "--size", "small"),
            *("--folder", folder / "run", "--html", folder / "grok.html"),
        )
    assert done.returncode == 0, done.stderr[-3000:]
    done.run, done.folder = trained[0], folder
    return done


@pytest.fixture(scope="module")
def grok(grok_command):
    return grok_command.run


@pytest.mark.slow
def test_demo_command_reports_and_exports(grok_command):
    """`repscope demo`: trains, reports what the demo shows, writes the scrubber to HTML."""
    done = grok_command
    match = re.search(
        r"train accuracy >= 99 % at step (\d+); test accuracy >= 90 % at step (\d+)", done.stdout
    )
    assert match and int(match.group(2)) > int(match.group(1)), done.stdout
    assert "make lab" in done.stdout
    # training shows its progress: the step out of all (small: 1800), the loss, the time left
    assert "train grokking" in done.stderr and "1800/1800" in done.stderr, done.stderr[-2000:]
    assert "loss=" in done.stderr and re.search(r"<\d\d:\d\d", done.stderr)
    steps = sorted(
        int(p.stem.split("_")[1])
        for p in (done.folder / "run" / "checkpoints").glob("step_*.safetensors")
    )
    assert steps and exported_steps(done.folder / "grok.html") == steps  # every checkpoint shown


@pytest.mark.slow
def test_grokking_generalises_long_after_it_memorises(grok):
    memorised, generalised = grok.facts["memorised_step"], grok.facts["generalised_step"]
    assert memorised is not None and generalised is not None
    assert generalised - memorised >= 500  # test accuracy jumps long after train accuracy
    h = grok.history.set_index("step")
    assert h.test_acc[memorised] < 0.05  # near chance when memorised (1/59 ≈ 0.017)
    assert (h.train_acc[h.index >= memorised] > 0.95).all()


@pytest.mark.slow
def test_the_training_history_is_in_the_store_for_the_widgets(grok):
    import repscope

    back = repscope.open(grok.trajectory.store).trajectory()
    stored = back.scalars.pivot(index="step", columns="name", values="value")
    history = grok.history.set_index("step")
    np.testing.assert_allclose(stored.loc[history.index, "test_acc"], history.test_acc)
    np.testing.assert_allclose(stored.loc[history.index, "train_acc"], history.train_acc)


@pytest.mark.slow
def test_grokking_geometry_marks_the_transition(grok):
    traj, mem, gen = grok.trajectory, grok.facts["memorised_step"], grok.facts["generalised_step"]
    rank = curve(traj, "effective_rank", "hidden")
    before = rank[(rank.index >= mem) & (rank.index <= gen)]
    peak = before.idxmax()
    assert mem < peak < gen  # RankMe grows while memorised, then compresses through the jump
    assert rank[gen] < 0.96 * rank[peak] and rank.iloc[-1] < rank[gen]
    dsmi = curve(traj, "dsmi", "hidden")
    assert dsmi[mem] < 0.01 and dsmi[gen] > dsmi[mem] + 0.03  # class information arrives
    cka = curve(traj, "cka_first", "hidden")
    assert cka[gen] < cka[mem] - 0.2  # the generalising representation is a new one
    assert set(curve(traj, "cka_previous", "hidden").index) == set(rank.index[1:])


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return dse_dsmi.run("small", seed=0, folder=tmp_path_factory.mktemp("digits"))


@pytest.mark.slow
def test_dsmi_rises_with_true_labels_and_stays_low_with_shuffled(digits):
    true, shuffled = (digits.trajectories[name] for name in dse_dsmi.RUNS)
    t_dsmi, s_dsmi = curve(true, "dsmi", dse_dsmi.LAYER), curve(shuffled, "dsmi", dse_dsmi.LAYER)
    assert t_dsmi.iloc[-1] > t_dsmi.iloc[0] + 0.5
    assert t_dsmi.iloc[-1] > 4 * s_dsmi.iloc[-1]
    assert s_dsmi.max() < 0.3
    h = digits.history
    last = h[h.step == h.step.max()].set_index("run").test_acc
    assert last["true labels"] > 0.85 and last["shuffled labels"] < 0.25


@pytest.mark.slow
def test_dse_rises_while_the_network_learns(digits):
    dse = curve(digits.trajectories["true labels"], "dse", dse_dsmi.LAYER)
    assert dse.iloc[-1] > 10 * dse.iloc[0]
    assert np.corrcoef(np.log1p(dse.index), dse.to_numpy())[0, 1] > 0.8


@pytest.fixture(scope="module")
def richlazy(tmp_path_factory):
    return rich_lazy.run("small", seed=0, folder=tmp_path_factory.mktemp("rl"))


@pytest.mark.slow
def test_rich_weights_and_representation_move_far_lazy_ones_do_not(richlazy):
    moved = richlazy.facts["weights_moved"]
    for layer in ("0", "2"):
        assert moved["low-rank init"][layer] > 0.5 > 0.2 > moved["high-rank init"][layer]
        assert moved["low-rank init"][layer] > 5 * moved["high-rank init"][layer]
    rich, lazy = (richlazy.trajectories[k] for k in rich_lazy.RUNS)
    assert curve(rich, "cka_first", rich_lazy.LAYER).iloc[-1] < 0.6
    assert curve(lazy, "cka_first", rich_lazy.LAYER).iloc[-1] > 0.85
    assert curve(rich, "effective_rank", rich_lazy.LAYER).iloc[0] < 3  # starts low-rank
    assert curve(lazy, "effective_rank", rich_lazy.LAYER).iloc[0] > 15
    s = richlazy.scrubber()  # one comparison widget, both runs
    assert [r.name for r in s.runs] == list(rich_lazy.RUNS)


def test_a_bad_size_is_a_clear_error():
    with pytest.raises(ValueError, match=r"'size' argument of grokking\.run must be one of"):
        grokking.run("medium")


def test_digit_training_shows_its_progress_with_the_loss_and_the_time_left(tmp_path, capsys):
    import re

    from repscope.demos.digits import digits_mlp, load_digits_split, train_digits

    def build():
        model = digits_mlp()
        return model, torch.optim.SGD(model.parameters(), lr=0.05)

    log = train_digits(
        tmp_path, build, load_digits_split(0), 30, {0, 30}, 0, progress=True, desc="train x"
    )
    err = capsys.readouterr().err
    assert "train x" in err and "30/30" in err and "loss=" in err
    assert re.search(r"<\d\d:\d\d", err)  # tqdm's estimate of the time left
    assert log.step.tolist() == [0, 30]
    # and silent without
    train_digits(tmp_path, build, load_digits_split(0), 10, {0}, 0)
    assert capsys.readouterr().err == ""
