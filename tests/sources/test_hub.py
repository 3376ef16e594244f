"""HubRevisions on a real (offline) Hugging Face cache built from a tiny GPTNeoX."""

from __future__ import annotations

import itertools
import re

import pytest
import torch

from repscope.sources.hub import PYTHIA_STEPS, HubCheckpoint, HubRevisions
from repscope.sources.loading import CheckpointError
from tests.fixtures_hf import HUB_REPO, HUB_STEPS, build_hub_cache, tiny_gpt_neox

from .helpers import assert_same_state


def _loads_saved_weights(revs, cache) -> None:
    for ckpt in revs:
        model = ckpt.load()
        assert type(model).__name__ == "GPTNeoXForCausalLM"
        assert not model.training
        assert_same_state(model.state_dict(), cache.states[ckpt.revision])


# -- the cache the tests stand on -----------------------------------------------------------------


def test_the_cache_has_the_huggingface_layout(hub_cache):
    repo = hub_cache.root / "models--org--tiny"
    assert sorted(p.name for p in (repo / "refs").iterdir()) == [f"step{s}" for s in HUB_STEPS]
    for revision, commit in hub_cache.commits.items():
        assert re.fullmatch(r"[0-9a-f]{40}", commit)
        assert (repo / "refs" / revision).read_text() == commit
        snapshot = repo / "snapshots" / commit
        names = {p.name for p in snapshot.iterdir()}
        assert {"config.json", "model.safetensors"} <= names
        for file in snapshot.iterdir():
            assert file.resolve().parent == (repo / "blobs").resolve()
    assert len(set(hub_cache.commits.values())) == len(HUB_STEPS)


def test_huggingface_hub_itself_resolves_the_cache(hub_cache):
    """The layout is real: huggingface_hub's own offline lookup finds each revision's file."""
    from huggingface_hub import try_to_load_from_cache

    for revision, commit in hub_cache.commits.items():
        found = try_to_load_from_cache(
            HUB_REPO, "model.safetensors", revision=revision, cache_dir=hub_cache.root
        )
        assert found is not None and commit in str(found)


def test_revisions_hold_different_weights(hub_cache):
    first, second = hub_cache.states["step0"], hub_cache.states["step1"]
    assert not torch.equal(first["lm_head.weight"], second["lm_head.weight"])


# -- loading --------------------------------------------------------------------------------------


def test_each_revision_loads_its_weights_with_cache_dir(hub_cache):
    revs = HubRevisions(HUB_REPO, steps=[4, 0, 2, 1], cache_dir=hub_cache.root)
    assert [c.step for c in revs] == [0, 1, 2, 4]
    assert [c.revision for c in revs] == ["step0", "step1", "step2", "step4"]
    assert [c.name for c in revs] == [f"{HUB_REPO}@step{s}" for s in (0, 1, 2, 4)]
    assert revs.run == HUB_REPO
    _loads_saved_weights(revs, hub_cache)


def test_each_revision_loads_its_weights_from_the_default_cache(hub_cache):
    # HF_HUB_CACHE points at the cache (the fixture sets it): no cache_dir needed.
    revs = HubRevisions(HUB_REPO, steps=[0, 1, 2, 4], run="tiny")
    assert revs.run == "tiny" and len(revs) == 4
    _loads_saved_weights(revs, hub_cache)


def test_model_class_is_used(hub_cache):
    from transformers import GPTNeoXModel

    (ckpt,) = HubRevisions(HUB_REPO, steps=[2], model_class=GPTNeoXModel)
    model = ckpt.load()
    assert type(model) is GPTNeoXModel
    expected = {
        k.removeprefix("gpt_neox."): v
        for k, v in hub_cache.states["step2"].items()
        if k.startswith("gpt_neox.")
    }
    assert_same_state(model.state_dict(), expected)


def test_from_pretrained_kwargs_are_passed(hub_cache):
    (ckpt,) = HubRevisions(HUB_REPO, steps=[1], cache_dir=hub_cache.root, dtype=torch.float64)
    model = ckpt.load()
    assert model.lm_head.weight.dtype == torch.float64
    assert torch.equal(model.lm_head.weight, hub_cache.states["step1"]["lm_head.weight"].double())


def test_missing_revision(hub_cache):
    revs = HubRevisions(HUB_REPO, steps=[2, 8], cache_dir=hub_cache.root)
    present, missing = revs
    present.load()
    with pytest.raises(CheckpointError, match="step8"):
        missing.load()


def test_missing_repository(hub_cache):
    (ckpt,) = HubRevisions("org/absent", steps=[0], cache_dir=hub_cache.root)
    with pytest.raises(CheckpointError, match="org/absent"):
        ckpt.load()


def test_custom_revision_names(hub_cache):
    states = {f"ckpt-{s}": tiny_gpt_neox(seed=200 + s).state_dict() for s in (10, 20)}
    build_hub_cache(hub_cache.root, "org/custom", states, save_pretrained=False)
    revs = HubRevisions("org/custom", steps=[20, 10], revision="ckpt-{step}")
    assert [c.revision for c in revs] == ["ckpt-10", "ckpt-20"]
    for ckpt in revs:
        assert_same_state(ckpt.load().state_dict(), states[ckpt.revision])


def test_pickled_hub_weights_are_not_unpickled(hub_cache, payloads):
    """A revision with only a malicious ``pytorch_model.bin``: refused, and no code runs."""
    import io

    from .helpers import TouchOnUnpickle

    buffer = io.BytesIO()
    torch.save(
        {**tiny_gpt_neox(seed=3).state_dict(), "x": TouchOnUnpickle(payloads.marker)}, buffer
    )
    build_hub_cache(
        hub_cache.root,
        "org/evil",
        {"step0": None},
        extra_files={"step0": {"pytorch_model.bin": buffer.getvalue()}},
    )
    from huggingface_hub import try_to_load_from_cache

    # The file is there to be found: a failure is a refusal, not a missing file.
    assert try_to_load_from_cache("org/evil", "pytorch_model.bin", revision="step0") is not None
    (ckpt,) = HubRevisions("org/evil", steps=[0])
    with pytest.raises(CheckpointError, match="org/evil@step0"):
        ckpt.load()
    assert not payloads.marker.exists()


# -- fingerprints ---------------------------------------------------------------------------------


def test_fingerprints_name_the_weights_content(hub_cache):
    revs = HubRevisions(HUB_REPO, steps=list(HUB_STEPS))
    prints = [c.fingerprint() for c in revs]
    assert all(p.startswith("sha256:") for p in prints)
    assert len(set(prints)) == len(prints)  # one set of weights each


def test_revisions_that_serve_the_same_weights_share_a_fingerprint(hub_cache, tmp_path):
    """Pythia's hub serves the final weights under some early steps' names: their content is
    the same, their commits differ; the fingerprint follows the content."""
    same = tiny_gpt_neox(seed=7).state_dict()
    commits = build_hub_cache(
        hub_cache.root,
        "org/dup",
        {"step0": tiny_gpt_neox(0).state_dict(), "step1": same, "step9": same},
    )
    assert commits["step1"] != commits["step9"]
    a, b, c = HubRevisions("org/dup", steps=[0, 1, 9])
    assert b.fingerprint() == c.fingerprint() != a.fingerprint()
    # a copy instead of a symlink (no symlinks on the file system) hashes its bytes alike
    build_hub_cache(tmp_path, "org/dup", {"step1": same}, symlinks=False)
    (copied,) = HubRevisions("org/dup", steps=[1], cache_dir=tmp_path)
    assert copied.fingerprint() == b.fingerprint()


def test_fingerprint_follows_the_branch_when_it_moves(hub_cache):
    (ckpt,) = HubRevisions(HUB_REPO, steps=[1])
    before = ckpt.fingerprint()
    build_hub_cache(hub_cache.root, HUB_REPO, {"step1": tiny_gpt_neox(seed=999).state_dict()})
    assert ckpt.fingerprint() != before


def test_fingerprints_use_cache_dir(hub_cache, monkeypatch, tmp_path):
    import huggingface_hub.constants as hf_constants

    default = [c.fingerprint() for c in HubRevisions(HUB_REPO, steps=[0, 1])]
    elsewhere = tmp_path / "default-cache-is-empty"
    monkeypatch.setenv("HF_HUB_CACHE", str(elsewhere))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(elsewhere))
    revs = HubRevisions(HUB_REPO, steps=[0, 1], cache_dir=hub_cache.root)
    assert [c.fingerprint() for c in revs] == default
    assert [c.fingerprint() for c in HubRevisions(HUB_REPO, steps=[0, 1])] == [
        f"hf:{HUB_REPO}@step0",
        f"hf:{HUB_REPO}@step1",
    ]  # nothing cached there: the names


def test_fingerprint_of_an_uncached_revision_offline(hub_cache):
    (ckpt,) = HubRevisions(HUB_REPO, steps=[8])
    assert ckpt.fingerprint() == f"hf:{HUB_REPO}@step8"


# -- construction ---------------------------------------------------------------------------------


def test_construction_is_lazy(monkeypatch):
    """Nothing is downloaded or read when the revisions are listed."""

    def boom(*args, **kwargs):
        raise AssertionError("from_pretrained called while listing revisions")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(HubCheckpoint, "load", boom)
    revs = HubRevisions("EleutherAI/pythia-70m")
    assert len(revs) == len(PYTHIA_STEPS)
    assert [c.step for c in revs] == list(PYTHIA_STEPS)
    assert revs.checkpoints[-1].name == "EleutherAI/pythia-70m@step143000"


def test_steps_are_sorted_and_unique():
    revs = HubRevisions("org/tiny", steps=[4, 1, 4, 0])
    assert [c.step for c in revs] == [0, 1, 4]


@pytest.mark.parametrize(
    ("kwargs", "argument", "error"),
    [
        (dict(steps="every"), "steps", ValueError),
        (dict(steps=[]), "steps", ValueError),
        (dict(steps=[-1, 2]), "steps", ValueError),
        (dict(steps=[1, 2.5]), "steps", ValueError),  # was read as step 2
        (dict(steps=["5"]), "steps", ValueError),  # was int("5")
        (dict(steps=[True]), "steps", ValueError),  # was step 1
        (dict(steps=[2**70]), "steps", ValueError),  # no store holds it
        (dict(steps=5), "steps", TypeError),
        (dict(revision="main"), "revision", ValueError),
    ],
    ids=["every", "empty", "negative", "2.5", "'5'", "True", "2**70", "5", "no-{step}"],
)
def test_bad_arguments(kwargs, argument, error):
    with pytest.raises(error, match=rf"^The '{argument}' argument of HubRevisions must .+; got "):
        HubRevisions("org/tiny", **kwargs)


@pytest.mark.parametrize("repo_id", ["", None, 3])
def test_bad_repo_id(repo_id):
    with pytest.raises(TypeError, match=r"^The 'repo_id' argument of HubRevisions must "):
        HubRevisions(repo_id)


# -- Pythia's checkpoint schedule -----------------------------------------------------------------


def test_pythia_steps():
    expected = [0]
    step = 1
    while step < 1000:  # the log-spaced early checkpoints: 1, 2, 4, …, 512
        expected.append(step)
        step *= 2
    step = 1000
    while step <= 143_000:  # then one every 1000 steps
        expected.append(step)
        step += 1000
    assert len(PYTHIA_STEPS) == 154
    assert list(PYTHIA_STEPS) == expected
    assert list(PYTHIA_STEPS[:12]) == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]
    assert PYTHIA_STEPS[-1] == 143_000
    tail = PYTHIA_STEPS[PYTHIA_STEPS.index(1000) :]
    assert all(b - a == 1000 for a, b in itertools.pairwise(tail))
