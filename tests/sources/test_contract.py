"""Every source in the table keeps the contract the scan and the catalogue rely on.

As scikit-learn's ``check_estimator`` walks estimators, :func:`check_source` walks each class of
``repscope.sources.registry.SOURCES`` on real checkpoints (weight files, Trainer folders, an
offline hub cache): built from text by the table, it iterates what it counts, in step order;
each checkpoint has a fingerprint and loads a model in eval mode; its description survives the
store and reads back through the table; its scalars, skipped list and start have their types.
A class registered here, in the test, is scanned by ``repscope scan`` and described by
``repscope ls`` and ``repscope.open`` with no other file changed.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from safetensors.torch import save_file

import repscope
from repscope.catalog import describe_source
from repscope.cli import main
from repscope.probe import Probe
from repscope.sources import registry
from repscope.sources.base import STARTS, FileCheckpoint, Source, step_problem
from repscope.sources.folder import CheckpointFolder, SkippedCheckpointWarning, factory_from_spec
from repscope.sources.hub import HubRevisions
from repscope.sources.registry import (
    SOURCES,
    as_source,
    described_class,
    register_source,
    source_class,
    source_for,
)
from repscope.store import Store
from repscope.trajectory import Trajectory
from tests.fixtures_hf import HUB_STEPS

from .helpers import seeded_state, small_net

SMALL_NET = "tests.sources.helpers:small_net"


# -- the contract ---------------------------------------------------------------------------------


def check_source(source: Any, cls: type, steps: list[int], tmp_path: Path) -> None:
    """Everything the scan (``repscope scan``, ``Trajectory``) and the catalogue
    (``repscope ls``, ``repscope.open``) ask of a source, checked on ``source``."""
    assert isinstance(source, Source) and type(source) is cls
    assert isinstance(source.run, str) and source.run

    checkpoints = list(source)
    assert len(source) == len(checkpoints) == len(steps)
    found = [c.step for c in checkpoints]
    assert found == steps, "the checkpoints come one per step, in ascending step order"
    for ckpt in checkpoints:
        assert type(ckpt.step) is int and step_problem(ckpt.step) is None
        assert isinstance(ckpt.name, str) and ckpt.name
        fingerprint = ckpt.fingerprint()
        assert isinstance(fingerprint, str) and fingerprint
        assert fingerprint == ckpt.fingerprint()
        model = ckpt.load()
        assert isinstance(model, torch.nn.Module)
        assert not any(m.training for m in model.modules()), f"{ckpt.name} is not in eval mode"
    fingerprints = {c.fingerprint() for c in checkpoints}
    assert len(fingerprints) == len(checkpoints), "each example's checkpoints differ"

    description = source.describe()
    text = json.dumps(description)  # plain JSON: no default=str needed
    assert json.loads(text) == description
    assert SOURCES.get(description["kind"]) is cls, "its kind is a scheme naming its class"
    assert isinstance(description.get("identity"), str) and description["identity"]

    with Store(tmp_path / "described.sqlite") as store:  # through the store and back
        store.describe_run(source.run, description)
        stored = store.run_source(source.run)
    assert stored is not None and described_class(stored) is cls
    line = describe_source(stored)
    assert line == cls.summary(description)
    assert isinstance(line, str) and line.strip() and "\n" not in line

    scalars = list(source.scalars())
    for step, name, value in scalars:
        assert type(step) is int and step_problem(step) is None
        assert isinstance(name, str) and type(value) is float
    skipped = source.skipped
    assert isinstance(skipped, list)
    assert all(isinstance(n, str) and isinstance(why, str) and why for n, why in skipped)
    assert source.start in STARTS


# -- one example per class in the table, built from text ------------------------------------------


class Example:
    """How to build a source of a scheme's class from text: ``build(tmp_path, request)``
    returns the text, its options, the steps it must yield, and what else the test checks."""

    def __init__(self, scheme: str, build: Callable[..., tuple[str, dict, list[int], dict]]):
        self.scheme, self.build = scheme, build


def _weight_files(tmp_path: Path, request) -> tuple[str, dict, list[int], dict]:
    folder = tmp_path / "weights"
    folder.mkdir()
    for step in (10, 0, 3):
        torch.save(seeded_state(step), folder / f"step_{step}.pt")
    torch.save(seeded_state(99), folder / "final.pt")  # no step: skipped, with a warning
    return str(folder), {"model": SMALL_NET}, [0, 3, 10], {"skipped": ["final.pt"]}


def _trainer_folders(tmp_path: Path, request) -> tuple[str, dict, list[int], dict]:
    folder = tmp_path / "trainer"
    log = [{"step": 1, "loss": 2.5, "learning_rate": 0.001}, {"step": 2, "loss": 2.25}]
    for step in (2, 1):
        ckpt = folder / f"checkpoint-{step}"
        ckpt.mkdir(parents=True)
        save_file(seeded_state(step), ckpt / "model.safetensors")
        state = {"global_step": step, "log_history": log[:step]}
        (ckpt / "trainer_state.json").write_text(json.dumps(state))
    scalars = [(1, "loss", 2.5), (1, "learning_rate", 0.001), (2, "loss", 2.25)]
    return f"folder:{folder}", {"model": SMALL_NET}, [1, 2], {"scalars": scalars}


def _hub_revisions(tmp_path: Path, request) -> tuple[str, dict, list[int], dict]:
    cache = request.getfixturevalue("hub_cache")  # offline: HF_HUB_OFFLINE=1
    steps = ",".join(str(s) for s in reversed(HUB_STEPS))
    return f"hf:{cache.repo_id}", {"steps": steps}, list(HUB_STEPS), {"start": "init"}


def _hub_by_its_stored_kind(tmp_path: Path, request) -> tuple[str, dict, list[int], dict]:
    cache = request.getfixturevalue("hub_cache")
    return f"hub:{cache.repo_id}", {"steps": "2,4"}, [2, 4], {"start": "pretrained"}


EXAMPLES = {
    "weight-files": Example("folder", _weight_files),  # a bare path: the default scheme
    "trainer-folders": Example("folder", _trainer_folders),
    "hf": Example("hf", _hub_revisions),
    "hub": Example("hub", _hub_by_its_stored_kind),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_source_in_the_table_keeps_the_contract(name, tmp_path, request):
    example = EXAMPLES[name]
    cls = SOURCES[example.scheme]
    text, options, steps, expected = example.build(tmp_path, request)
    assert source_class(text)[0] is cls
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = source_for(text, **options, run=None)
    assert [str(w.message) for w in caught if w.category is not SkippedCheckpointWarning] == []
    assert bool(caught) == bool(expected.get("skipped"))
    check_source(source, cls, steps, tmp_path)
    assert [n for n, _ in source.skipped] == expected.get("skipped", [])
    if "scalars" in expected:
        assert list(source.scalars()) == expected["scalars"]
    if "start" in expected:
        assert source.start == expected["start"]


def test_every_scheme_in_the_table_has_an_example():
    """A scheme added to the table without an example here fails: add one to EXAMPLES."""
    assert set(SOURCES) == {e.scheme for e in EXAMPLES.values()}
    assert registry.DEFAULT_SCHEME in SOURCES


# -- descriptions stored by older repscope still read ---------------------------------------------


@pytest.mark.parametrize(
    "stored, line",
    [
        (
            {
                "kind": "folder",
                "path": "/a/ckpts",
                "model": "pkg:make",
                "identity": "folder /a/ckpts with model pkg:make",
                "start": "unknown",
            },
            "folder /a/ckpts, model pkg:make",
        ),
        ({"kind": "folder", "path": "/a/ckpts", "model": None}, "folder /a/ckpts"),
        (
            {
                "kind": "hub",
                "repo_id": "EleutherAI/pythia-70m",
                "revision": "step{step}",
                "model": None,
                "identity": "hub EleutherAI/pythia-70m",
                "start": "init",
            },
            "hub EleutherAI/pythia-70m (step{step})",
        ),
        ({"kind": "live", "identity": "live run r"}, "live"),
        ({"kind": "synthetic", "identity": "synthetic (seed 0)"}, "synthetic"),
        ({"identity": None, "start": "init"}, "(not recorded)"),
        ({}, "(not recorded)"),
        ({"kind": ["not", "a", "scheme"]}, "['not', 'a', 'scheme']"),
    ],
)
def test_stored_descriptions_of_older_stores_read_the_same(stored, line):
    assert describe_source(stored) == line


# -- a new source, registered here, with no other file changed ------------------------------------


class Manifest(Source):
    """A run listed in a JSON file: ``{"model": "pkg:make", "checkpoints": {step: file}}``."""

    text_options = ("model", "run")

    def __init__(self, path: str | Path, *, model: str | None = None, run: str | None = None):
        self.path = Path(path).resolve()
        listing = json.loads(self.path.read_text())
        self.model = model or listing["model"]
        factory = factory_from_spec(self.model, func="Manifest")
        self.run = run or self.path.stem
        self.skipped = []
        self.checkpoints = []
        for key, file in sorted(listing["checkpoints"].items(), key=lambda kv: kv[0]):
            if not key.isdigit():
                self.skipped.append((file, f"{key!r} is not a step"))
                continue
            self.checkpoints.append(FileCheckpoint(int(key), self.path.parent / file, factory))
        self.checkpoints.sort(key=lambda c: c.step)
        self.losses = listing.get("loss", {})

    @classmethod
    def from_text(cls, target: str, *, model: str | None = None, run: str | None = None):
        return cls(target, model=model, run=run)

    def __iter__(self) -> Iterator[FileCheckpoint]:
        return iter(self.checkpoints)

    def __len__(self) -> int:
        return len(self.checkpoints)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "manifest",
            "path": str(self.path),
            "size": len(self.checkpoints),
            "identity": f"manifest {self.path}",
        }

    def scalars(self):
        return [(int(step), "loss", float(value)) for step, value in self.losses.items()]

    @property
    def start(self) -> str:
        return "init" if self.checkpoints[0].step == 0 else "pretrained"

    @classmethod
    def summary(cls, description):
        return f"manifest {description.get('path')} ({description.get('size')} checkpoints)"


@pytest.fixture
def table():
    """The table, restored after the test (a class registered in a test stays in it)."""
    saved = dict(SOURCES)
    yield SOURCES
    SOURCES.clear()
    SOURCES.update(saved)


def _manifest(tmp_path: Path) -> Path:
    for step in (0, 4, 7):
        torch.save(seeded_state(step), tmp_path / f"w{step}.pt")
    path = tmp_path / "listed.json"
    listing = {
        "model": SMALL_NET,
        "checkpoints": {"7": "w7.pt", "0": "w0.pt", "4": "w4.pt", "best": "w4.pt"},
        "loss": {"0": 3.0, "4": 1.5},
    }
    path.write_text(json.dumps(listing))
    return path


def test_a_registered_source_keeps_the_contract(table, tmp_path):
    register_source("manifest", Manifest)
    path = _manifest(tmp_path)
    source = source_for(f"manifest:{path}", steps="pythia", revision="step{step}", run=None)
    check_source(source, Manifest, [0, 4, 7], tmp_path)
    assert source.skipped == [("w4.pt", "'best' is not a step")]


def test_a_registered_source_is_scanned_and_described_with_no_other_file_changed(
    table, tmp_path, capsys
):
    path = _manifest(tmp_path)
    probe = tmp_path / "probe.safetensors"
    save_file({"inputs": torch.randn(40, 5, generator=torch.Generator().manual_seed(0))}, probe)
    store = tmp_path / "run.sqlite"
    scan = [
        "scan",
        f"manifest:{path}",
        "--probe",
        str(probe),
        "--store",
        str(store),
        "--layers",
        "0,2",
        "--fit-range",
        "2,5",
        "--errors",
        "none",
        "--no-progress",
    ]
    assert main(scan) == 1  # not a scheme yet: a folder path that does not exist
    assert "an existing folder of checkpoints" in capsys.readouterr().err

    register_source("manifest", Manifest)
    assert main(scan) == 0
    out = capsys.readouterr().out
    assert "skipped: w4.pt: 'best' is not a step" in out
    assert "listed: 3 checkpoints, 0 already in" in out

    with Store(store) as written:
        assert written.scalars("listed") == [(0, "loss", 3.0), (4, "loss", 1.5)]
    line = f"manifest {path.resolve()} (3 checkpoints)"
    catalog = repscope.open(store)
    assert list(catalog.table["source"]) == [line]
    assert list(catalog.table["start"]) == ["init"]
    assert catalog.trajectory().steps == [0, 4, 7]
    assert main(["ls", str(store)]) == 0
    assert line in capsys.readouterr().out


def test_register_source_refuses_what_it_cannot_use(table):
    with pytest.raises(ValueError, match=r"'scheme' argument of register_source .* got 'c'"):
        register_source("c", Manifest)  # one letter: C:\ckpts stays a path
    with pytest.raises(ValueError, match=r"'scheme' argument .* got 'My-Scheme'"):
        register_source("My-Scheme", Manifest)
    with pytest.raises(TypeError, match=r"'cls' argument .*\.Source; got the class builtins.dict"):
        register_source("mine", dict)
    with pytest.raises(ValueError, match=r"not yet taken .* HubRevisions\); got 'hf'"):
        register_source("hf", Manifest)
    assert SOURCES["hf"] is HubRevisions
    assert register_source("hf", Manifest, replace=True) is Manifest
    assert source_class("hf:x/y") == (Manifest, "x/y")


# -- reading text ---------------------------------------------------------------------------------


def test_text_without_a_registered_scheme_is_a_path():
    assert source_class("C:\\ckpts") == (CheckpointFolder, "C:\\ckpts")
    assert source_class("runs/a:b") == (CheckpointFolder, "runs/a:b")
    assert source_class("folder:runs/a") == (CheckpointFolder, "runs/a")
    assert source_class(Path("runs/hf:x")) == (CheckpointFolder, "runs/hf:x")
    with pytest.raises(TypeError, match=r"'text' argument of source_class .* got 3"):
        source_class(3)


def test_each_source_is_given_only_the_options_it_reads(tmp_path):
    torch.save(seeded_state(0), tmp_path / "step_0.pt")
    # the command line passes every source flag: a folder ignores --steps and --revision
    folder = source_for(str(tmp_path), model=SMALL_NET, steps="pythia", revision="r{step}")
    assert folder.model is small_net
    hub = source_for("hf:org/name", model=SMALL_NET, steps="4, 0", revision="r{step}", run="x")
    assert [c.revision for c in hub] == ["r0", "r4"] and hub.run == "x"
    assert len(source_for("hf:org/name")) == 154  # Pythia's steps by default


def test_options_that_no_source_reads_and_bad_steps_are_refused():
    with pytest.raises(TypeError, match=r"'step' argument of source_for must be one of .*steps"):
        source_for("hf:org/name", step="0,4")
    with pytest.raises(ValueError, match=r"'steps' argument of HubRevisions.from_text .* '0,x'"):
        source_for("hf:org/name", steps="0,x")
    with pytest.raises(ValueError, match=r"'steps' .* got '-1'"):
        source_for("hf:org/name", steps="-1")


@pytest.mark.parametrize(
    "spec, why",
    [
        ("tests.sources.helpers", r"got 'tests.sources.helpers'"),
        ("no_such_module_here:make", r"cannot be imported"),
        ("tests.sources.helpers:nothing", r"has no function 'nothing'"),
        ("tests.sources.helpers:pickle", r"has no function 'pickle'"),  # a module
    ],
)
def test_a_model_given_as_text_names_a_function(tmp_path, spec, why):
    torch.save(seeded_state(0), tmp_path / "step_0.pt")
    with pytest.raises(
        ValueError, match=r"'model' argument of CheckpointFolder.from_text .*" + why
    ):
        source_for(str(tmp_path), model=spec)


# -- a user's duck-typed iterable -----------------------------------------------------------------


class Listed:
    """A user's source: a run name and checkpoints, nothing else."""

    run = "listed"

    def __init__(self, checkpoints):
        self.checkpoints = checkpoints

    def __iter__(self):
        return iter(self.checkpoints)


def _listed(tmp_path: Path) -> Listed:
    for step in (0, 5):
        torch.save(seeded_state(step), tmp_path / f"w{step}.pt")
    return Listed([FileCheckpoint(s, tmp_path / f"w{s}.pt", small_net) for s in (0, 5)])


def test_a_duck_typed_iterable_is_accepted_by_trajectory(tmp_path):
    probe = Probe(torch.randn(40, 5, generator=torch.Generator().manual_seed(0)), layers=["0"])
    traj = Trajectory(_listed(tmp_path), probe, fit_range=(2, 5), errors="none")
    traj.compute(progress=False)
    assert traj.run == "listed" and traj.steps == [0, 5] and traj.start == "unknown"
    assert not traj.failures.shape[0]


def test_a_duck_typed_iterable_is_made_a_source(tmp_path):
    listed = _listed(tmp_path)
    source = as_source(listed)
    assert isinstance(source, Source) and as_source(source) is source
    assert source.run == "listed" and len(source) == 2 and [c.step for c in source] == [0, 5]
    assert source.start == "unknown" and source.skipped == [] and list(source.scalars()) == []
    description = source.describe()
    assert description["identity"] is None and description["kind"] == "iterable"
    assert description["class"] == "tests.sources.test_contract:Listed"
    assert described_class(description) is None and describe_source(description) == "iterable"
    with pytest.raises(TypeError, match=r"'source' argument of as_source .* got 'runs/a'"):
        as_source("runs/a")


def test_a_wrapped_source_keeps_what_it_has(tmp_path):
    torch.save(seeded_state(3), tmp_path / "step_3.pt")
    folder = CheckpointFolder(tmp_path, model=small_net, start="init")

    class Filtered:  # a duck-typed wrapper forwarding what its folder says
        run = folder.run
        start = folder.start
        skipped: ClassVar = [("x.pt", "left out")]

        def __iter__(self):
            return iter(folder)

        def describe(self):
            return folder.describe()

        def scalars(self):
            return [(3, "loss", 1.0)]

    source = as_source(Filtered())
    assert source.start == "init" and source.skipped == [("x.pt", "left out")]
    assert source.describe() == folder.describe() and list(source.scalars()) == [(3, "loss", 1.0)]
    assert len(source) == 1
