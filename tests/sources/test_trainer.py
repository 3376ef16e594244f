"""Your own run: real ``transformers.Trainer`` runs (a GPT-NeoX decoder and a BERT classifier),
through ``repscope scan`` → ``repscope.open`` → Scrubber → export, with the live callback in the
same runs. Each run trains a model: the file is ``slow`` (the callback and the folder source have
quick tests of their own in tests/sources/test_live.py and test_folder.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate (the hf extra)")

import repscope
from repscope import Probe, geometry
from repscope.demos import trainer_run as trainer_runs
from repscope.live import LiveRun
from tests.exported import exported_steps

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
KINDS = {
    "decoder": (trainer_runs.decoder_run, "last_token"),
    "encoder": (trainer_runs.encoder_run, "mean"),
}


@pytest.fixture(scope="module", params=sorted(KINDS))
def run(request, tmp_path_factory):
    """A Trainer run with a LiveRun callback, then ``repscope scan`` of its output folder."""
    make, representation = KINDS[request.param]
    root = tmp_path_factory.mktemp(request.param)
    tok = trainer_runs.tokenizer(root / "tokenizer")
    texts, labels = trainer_runs.sentences(40, 1)
    probe = Probe.from_texts(
        texts,
        tok,
        max_length=trainer_runs.MAX_LENGTH,
        representation=representation,
        labels=labels if request.param == "encoder" else None,
    )
    live = LiveRun(probe, every=2, store=root / "live.sqlite", run="live", fit_range=(2, 8))
    result = make(root, callbacks=[live.trainer_callback()])
    (root / "probe.txt").write_text("\n".join(texts) + "\n")
    scan = subprocess.run(  # a process of its own: what transformers prints reaches its stderr
        [
            *(sys.executable, "-m", "repscope", "scan", str(result.output_dir)),
            *("--probe-texts", str(root / "probe.txt"), "--tokenizer", str(result.tokenizer_dir)),
            *("--max-length", str(trainer_runs.MAX_LENGTH), "--representation", representation),
            *("--fit-range", "2,8", "--store", str(root / "run.sqlite"), "--no-progress"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return request.param, root, result, live, probe, scan


def test_scan_of_a_trainer_folder_stores_geometry_and_the_training_log(run):
    _, root, result, _, _, scan = run
    assert scan.returncode == 0, scan.stdout + scan.stderr
    traj = repscope.open(root / "run.sqlite").trajectory()  # nothing else typed
    assert traj.steps == result.steps == [2, 4, 6]
    assert traj.failures.empty
    assert len(traj.layers) == 2 and traj.probe.n_samples == 40
    assert traj.probe.texts[0] == result.texts[0]
    scalars = traj.scalars.pivot(index="step", columns="name", values="value")
    logged = {e["step"]: e for e in result.trainer.state.log_history if "loss" in e}
    assert sorted(logged) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(
        scalars.loc[sorted(logged), "loss"], [logged[s]["loss"] for s in sorted(logged)]
    )
    assert {"learning_rate", "grad_norm"} <= set(scalars.columns)


def test_the_live_callback_measures_step_0_and_every_checkpoint_like_the_scan(run):
    _, root, _, live, _, _ = run
    live.wait()
    measured = live.trajectory
    assert measured.steps == [0, 2, 4, 6]  # step 0 from on_train_begin
    scanned = repscope.open(root / "run.sqlite").trajectory()
    for layer in scanned.layers:
        np.testing.assert_allclose(
            measured.curve("effective_rank", layer)[[2, 4, 6]],
            scanned.curve("effective_rank", layer),
            rtol=1e-4,
        )
    scalars = measured.scalars
    assert set(scalars[scalars.name == "loss"].step) == {1, 2, 3, 4, 5, 6}


def test_step_0_is_the_untrained_model(run, tmp_path):
    kind, _, _, live, probe, _ = run
    make = KINDS[kind][0]
    import torch

    model = make(tmp_path, steps=1, save_steps=1).trainer.model  # for its class and config
    torch.manual_seed(0)  # the seed the run's model was built with: its initial weights
    untrained = type(model)(model.config).eval()
    acts = probe.capture(untrained)
    for layer, matrix in acts.items():
        expected = geometry.effective_rank(matrix.double())
        assert live.trajectory.curve("effective_rank", layer)[0] == pytest.approx(
            expected, rel=1e-4
        )


def test_the_store_opens_in_the_widget_and_exports(run, tmp_path, cli):
    pytest.importorskip("anywidget")
    from repscope.widgets import Scrubber

    kind, root, *_ = run
    s = Scrubber(str(root / "run.sqlite"))
    assert "loss" in s.measures and s.steps == [2, 4, 6]
    out = tmp_path / f"{kind}.html"
    done = cli("export", root / "run.sqlite", "--html", out)
    assert done.returncode == 0, done.stderr
    assert {2, 4, 6} <= set(exported_steps(out))


def test_where_the_run_starts_is_read_and_recorded(run, cli):
    """Both Trainer runs train a model built from a config. The live callback sees it at step
    0: an initialisation. The scan's folder starts at checkpoint-2: a trained model."""
    _, root, _, live, _, _ = run
    live.wait()
    assert live.trajectory.start == "init"
    assert repscope.open(root / "live.sqlite").trajectory().start == "init"
    scanned = repscope.open(root / "run.sqlite")
    assert scanned.trajectory().start == "pretrained"
    assert "starts from a trained model" in repr(scanned)
    listed = cli("ls", root / "run.sqlite")
    assert "starts   from a trained model" in listed.stdout, listed.stdout


def test_the_live_callback_and_the_scan_keep_the_same_training_scalars(run):
    _, root, _, live, _, _ = run
    live.wait()
    scanned = set(repscope.open(root / "run.sqlite").trajectory().scalars.name)
    observed = set(live.trajectory.scalars.name)
    assert scanned == observed == {"loss", "learning_rate", "grad_norm"}


def test_transformers_loading_bars_stay_out_of_a_scan(run):
    *_, scan = run
    assert "Loading weights" not in scan.stderr and "it/s" not in scan.stderr, scan.stderr
