"""The Pythia demo's hub check and its offline stand-in (no network: ``HF_HUB_OFFLINE=1``)."""

import pytest

from repscope import CheckpointFolder, Trajectory
from repscope.demos import pythia

LOG_STEPS = (0, 1, 2, 4, 8, 16, 32, 64)


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def no_network_call(monkeypatch):
    """Fail the test if the hub is asked anything."""
    import huggingface_hub

    def refuse(*args, **kwargs):
        raise AssertionError("the hub was contacted although HF_HUB_OFFLINE is set")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", refuse)


def test_offline_env_means_unreachable_without_a_request(offline, no_network_call):
    reachable, why = pythia.hub_reachable("EleutherAI/pythia-70m")
    assert not reachable and "HF_HUB_OFFLINE" in why


def test_a_failing_request_means_unreachable(monkeypatch):
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def down(self, repo_id, **kwargs):
        assert kwargs.get("timeout") == 5.0  # a cheap check, never a long hang
        raise ConnectionError("no route to host")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", down)
    reachable, why = pythia.hub_reachable("EleutherAI/pythia-70m")
    assert not reachable and why == "ConnectionError: no route to host"


@pytest.fixture(scope="module")
def fallback(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        folder = tmp_path_factory.mktemp("pythia")
        source, probe, note = pythia.revisions(steps=LOG_STEPS, folder=folder, size="small")
    return source, probe, note, folder


def test_the_offline_fallback_is_taken_and_said(fallback):
    source, _probe, note, folder = fallback
    assert isinstance(source, CheckpointFolder)
    assert note.startswith("Offline: the Hugging Face hub cannot be reached (HF_HUB_OFFLINE")
    assert "tiny GPTNeoX" in note and "EleutherAI/pythia-70m" in note
    # Trainer-style folders, as save_pretrained writes them
    names = sorted(p.name for p in (folder / "checkpoints").iterdir())
    assert names == sorted(f"checkpoint-{s}" for s in LOG_STEPS)
    assert (folder / "checkpoints" / "checkpoint-64" / "config.json").is_file()


def test_the_source_yields_the_requested_log_steps(fallback):
    source = fallback[0]
    assert [c.step for c in source] == list(LOG_STEPS)


def test_a_trajectory_over_the_fallback_computes_with_no_failures(fallback):
    source, probe = fallback[:2]
    traj = Trajectory(source, probe, fit_range=pythia.FIT_RANGE).compute(progress=False)
    assert traj.failures.empty
    assert traj.steps == list(LOG_STEPS)
    assert traj.layers == ["gpt_neox.layers.0", "gpt_neox.layers.1"]
    rank = traj.curve("effective_rank", "gpt_neox.layers.1")
    assert list(rank.index) == list(LOG_STEPS) and (rank > 1).all()
    assert traj.curve("alpha", "gpt_neox.layers.1").notna().all()
    assert len(traj.metrics) > 0


def test_steps_beyond_the_offline_training_are_left_out_and_said(
    offline, no_network_call, tmp_path, monkeypatch
):
    monkeypatch.setattr(pythia, "OFFLINE_SIZES", {"small": (8, 4, 16), "full": (8, 4, 16)})
    source, probe, note = pythia.revisions(steps=(0, 2, 8, 16, 1000), folder=tmp_path, size="small")
    assert [c.step for c in source] == [0, 2, 8]
    assert "Steps 16 … 1000 are beyond its training" in note
    assert probe.n_samples == 16


def test_the_hub_path_when_reachable(monkeypatch):
    """Reachable hub: HubRevisions of the requested steps and a probe of the sentences (the
    tokenizer faked, so nothing is downloaded)."""
    import transformers

    from repscope.sources import HubRevisions

    monkeypatch.setattr(pythia, "hub_reachable", lambda model: (True, ""))
    monkeypatch.setattr(
        transformers.AutoTokenizer,
        "from_pretrained",
        classmethod(lambda cls, name: _WordTokenizer()),
    )
    source, probe, note = pythia.revisions("EleutherAI/pythia-70m", steps=(0, 512, 143000))
    assert isinstance(source, HubRevisions)
    assert [c.revision for c in source] == ["step0", "step512", "step143000"]
    assert probe.n_samples == len(pythia.SENTENCES) and probe.texts[0] == pythia.SENTENCES[0]
    assert note.startswith("Hub: 3 revisions of EleutherAI/pythia-70m")


def test_a_hub_that_answers_but_cannot_serve_falls_back(tmp_path, monkeypatch):
    import transformers

    def broken(cls, name):
        raise OSError("We couldn't connect to 'https://huggingface.co'\nmore detail")

    monkeypatch.setattr(pythia, "hub_reachable", lambda model: (True, ""))
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", classmethod(broken))
    monkeypatch.setattr(pythia, "OFFLINE_SIZES", {"small": (4, 4, 16), "full": (4, 4, 16)})
    source, _probe, note = pythia.revisions(steps=(0, 4), folder=tmp_path, size="small")
    assert [c.step for c in source] == [0, 4]
    assert "cannot be reached (OSError: We couldn't connect to 'https://huggingface.co')" in note
    assert "With a network connection" in note


def test_bad_steps_are_a_clear_error():
    with pytest.raises(ValueError, match="'steps' argument of revisions"):
        pythia.revisions(steps=(), offline=True)


class _WordTokenizer:
    """Enough of a tokenizer for Probe.from_texts: one id per word, right padding."""

    pad_token, eos_token = None, "<eos>"

    def __call__(self, texts, *, padding, truncation, max_length, return_tensors):
        import torch

        ids = torch.zeros(len(texts), max_length, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, text in enumerate(texts):
            words = text.split()[:max_length]
            ids[i, : len(words)] = torch.tensor([hash(w) % 1000 + 1 for w in words])
            mask[i, : len(words)] = 1
        return {"input_ids": ids, "attention_mask": mask}
