"""Adding a measure is what CONTRIBUTING.md says: a function and one ``register(...)``.

The worked example's measure, the top eigenvalue's share λ₁ / Σλ, is defined here, registered
through the registry's public API (and unregistered after), and followed to every place a
measure shows: a real scan of a tiny model, the SQLite rows, ``repscope ls``, the widget's
measure picker and the public-API walker. No other file names it. The worked example's three
snippets are run as CONTRIBUTING.md writes them, and give this measure.
"""

from __future__ import annotations

import doctest
import json
import re
import sqlite3
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import repscope.geometry as geometry
import repscope.geometry.measures as measures_module
import repscope.measure_registry as registry_module
from repscope import DegenerateInputWarning
from repscope.cli import main
from repscope.config import MeasureConfig
from repscope.geometry._arrays import warn_no_variance
from repscope.geometry.measures import as_spectrum, zero_rows
from repscope.measure_registry import MEASURES, Inputs, Measure, registered
from repscope.probe import Probe
from repscope.sources.folder import CheckpointFolder
from repscope.trajectory import Trajectory

from .geometry import test_public_api as api
from .models import mlp, save_mlp_checkpoints

NAME, DISPLAY = "top_share", "top eigenvalue share"
STEPS, LAYERS = (0, 1, 2), ("1", "3")
CONTRIBUTING = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"


def top_share(x: Any, *, convention: str | None = None, dtype: torch.dtype | None = None) -> Any:
    """CONTRIBUTING.md's step 1, word for word: ``λ₁ / Σλ`` of a spectrum or of data."""
    spec = as_spectrum(x, func="top_share", kind=convention, dtype=dtype)
    warn_no_variance(zero_rows(spec), "top_share", "the top eigenvalue's share is 0")
    return spec.output(spec.values[..., 0])  # the values are normalised: Σλ = 1


def _compute(inputs) -> dict[str, float]:
    return {NAME: top_share(inputs.spectrum)}


@pytest.fixture(scope="module")
def measure():
    """CONTRIBUTING.md's step 3, through the public API; gone again after this module."""
    m = Measure(NAME, DISPLAY, _compute, axis_options=lambda config: config.spectrum_kind)
    with registered(m):
        yield m
    assert NAME not in MEASURES


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, measure):
    """A real scan of a tiny model: three checkpoints in a folder, two layers, a SQLite store."""
    tmp_path = tmp_path_factory.mktemp("adding_a_measure")
    folder = tmp_path / "ckpts"
    folder.mkdir()
    states = save_mlp_checkpoints(folder, list(STEPS))
    inputs = torch.randn(60, 6, generator=torch.Generator().manual_seed(0))
    store = tmp_path / "run.sqlite"
    traj = Trajectory(
        CheckpointFolder(folder, model=mlp),
        Probe(inputs, layers=list(LAYERS)),
        store=store,
        fit_range=(2, 10),
    ).compute(progress=False)
    return traj, store, states, inputs


def _share_of_activations(state, inputs, layer: str) -> float:
    """λ₁ / Σλ of the layer's centred covariance, from a forward pass and numpy (no repscope)."""
    model = mlp()
    model.load_state_dict(state)
    with torch.no_grad():
        acts = model[: int(layer) + 1](inputs).double().numpy()
    lam = np.linalg.eigvalsh(np.cov(acts, rowvar=False))
    return float(lam.max() / lam.sum())


def test_the_function_is_lambda_one_over_the_trace(rng):
    """CONTRIBUTING.md's step 2: the reference test, against numpy."""
    x = rng.normal(size=(200, 12)) * np.arange(1, 13) ** -1.0
    lam = np.linalg.eigvalsh(np.cov(x, rowvar=False))
    assert top_share(x) == pytest.approx(lam.max() / lam.sum(), rel=1e-10)
    with pytest.warns(DegenerateInputWarning, match="top_share: the data have no variance"):
        assert top_share(np.full((10, 3), 0.1)) == 0.0  # the house policy (architecture.md)


def test_a_scan_stores_it_for_every_layer_of_every_checkpoint(scanned):
    traj, _, states, inputs = scanned
    table = traj.metrics.query("measure == @NAME").set_index(["step", "layer"]).value
    assert sorted(table.index) == [(s, layer) for s in STEPS for layer in LAYERS]
    for step in STEPS:
        for layer in LAYERS:
            expected = _share_of_activations(states[step], inputs, layer)
            assert table[(step, layer)] == pytest.approx(expected, rel=1e-6)
            spectrum = traj.spectrum(step, layer)  # and the stored spectrum says the same
            assert table[(step, layer)] == pytest.approx(spectrum[0] / spectrum.sum(), rel=1e-9)
    curve = traj.curve(NAME, "3")
    assert curve.index.tolist() == list(STEPS) and np.isfinite(curve.to_numpy()).all()


def test_the_store_rows_hold_it(scanned):
    traj, store, _, _ = scanned
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT step, layer, measures FROM results WHERE status = 'ok'")
        stored = {(step, layer): json.loads(m) for step, layer, m in rows}
    assert set(stored) == {(s, layer) for s in STEPS for layer in LAYERS}
    metrics = traj.metrics.query("measure == @NAME").set_index(["step", "layer"]).value
    for key, measures in stored.items():
        assert measures[NAME] == metrics[key]
        assert 0 < measures[NAME] <= 1


def test_repscope_ls_lists_it(scanned, capsys):
    _, store, _, _ = scanned
    assert main(["ls", str(store)]) == 0
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.lstrip().startswith("measures ")]
    listed = line.split(None, 1)[1].split(", ")
    assert NAME in listed and "effective_rank" in listed


def test_the_measure_picker_offers_it_with_its_display_name(scanned):
    pytest.importorskip("anywidget")
    from repscope.widgets import Scrubber
    from repscope.widgets.data import RunData, curve_names, display_name
    from repscope.widgets.feed import Feed
    from repscope.widgets.panels import panels_for
    from repscope.widgets.protocol import unpack

    traj = scanned[0]
    runs = [RunData(traj)]
    assert NAME in runs[0].measures and NAME in curve_names(runs)
    assert display_name(NAME) == DISPLAY
    feed = Feed(runs, panels_for(runs))
    (message,) = feed.answer({"type": "hello"})
    (run,) = unpack(*message)["runs"]
    assert {
        "name": NAME,
        "label": DISPLAY,
        "axis": f"{DISPLAY} (covariance)",
        "kind": "measure",
        "band": "90 % interval over the probe inputs",  # the registry's default
    } in (run["curves"])
    table = run["measures"]  # what the curves and the overview heatmap draw
    row = table["names"].index(NAME)
    for i, layer in enumerate(run["layers"]):
        values = traj.curve(NAME, layer).to_numpy()
        np.testing.assert_allclose(table["values"][row, i], values, rtol=1e-6)  # float32
    s = Scrubber(traj, measures=[NAME])  # and the widget takes it as a choice
    assert s.measures == [NAME]


def test_a_store_still_shows_it_where_it_is_not_registered(scanned, capsys, monkeypatch):
    """The store describes itself: a reader where the measure is not registered (another
    process, a later session) still lists it, under its stored name."""
    pytest.importorskip("anywidget")
    from repscope.catalog import open as open_store
    from repscope.widgets.data import RunData, display_name
    from repscope.widgets.feed import Feed
    from repscope.widgets.panels import panels_for
    from repscope.widgets.protocol import unpack

    _, store, _, _ = scanned
    monkeypatch.delitem(MEASURES, NAME)
    assert main(["ls", str(store)]) == 0
    assert NAME in capsys.readouterr().out
    runs = [RunData(open_store(store).trajectory())]
    assert NAME in runs[0].measures and display_name(NAME) == NAME
    (run,) = unpack(*Feed(runs, panels_for(runs)).answer({"type": "hello"})[0])["runs"]
    curve = {"name": NAME, "label": NAME, "axis": NAME, "kind": "measure", "band": "90 % interval"}
    assert curve in run["curves"]  # unregistered: what its interval is over is not known


def test_the_public_api_walker_walks_it_once_exported(monkeypatch):
    """CONTRIBUTING.md's "export it from repscope/geometry/__init__.py": the walker of
    tests/geometry/test_public_api.py picks it up and it passes every check, with no line
    added there."""
    assert NAME not in api.public_functions()
    monkeypatch.setattr(geometry, NAME, top_share, raising=False)
    monkeypatch.setattr(geometry, "__all__", [*geometry.__all__, NAME])
    assert NAME in api.public_functions() and NAME in api.walked_on_x()
    api.check_good_input(NAME)
    for x, error, fragment in api.BAD_X:
        api.check_bad_x(NAME, x, error, fragment)
    api.check_bad_dtype(NAME)
    assert api.options_of(NAME) == ["convention", "dtype"]
    for option in api.options_of(NAME):
        api.check_wrong_kind(NAME, option)


def _worked_example() -> list[str]:
    """The Python snippets of CONTRIBUTING.md's "Worked example: adding a measure"."""
    text = CONTRIBUTING.read_text(encoding="utf-8")
    section = text[text.index("## Worked example: adding a measure") :]
    section = section[: section.index("\n## ")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_worked_example_runs_as_written_and_is_this_measure(rng, monkeypatch):
    """Step 1 in the namespace of repscope/geometry/measures.py, its doctest, step 2, and
    step 3 in the namespace of repscope/measure_registry.py: the same values as here."""
    function, reference, registration = _worked_example()
    home = dict(vars(measures_module))
    exec(function, home)
    written = home["top_share"]
    x = rng.normal(size=(50, 7)) * np.arange(1, 8) ** -0.5
    batch = rng.normal(size=(3, 30, 5))
    assert written(x) == pytest.approx(top_share(x), rel=1e-12)
    np.testing.assert_allclose(written(batch), top_share(batch), rtol=1e-12)
    assert written(x, convention="singular") == pytest.approx(
        top_share(x, convention="singular"), rel=1e-12
    )
    monkeypatch.setattr(geometry, NAME, written, raising=False)  # "Export it"
    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(written, NAME, globs={}):
        runner.run(test)
    assert tuple(runner.summarize(verbose=False)) == (0, 4)  # no failure, four examples

    tests: dict[str, Any] = {"np": np, "pytest": pytest, "geometry": geometry}
    exec(reference, tests)
    (check,) = [f for name, f in tests.items() if name.startswith("test_")]
    check(rng)

    made: list[Measure] = []
    registry = dict(vars(registry_module), register=made.append)
    registry["geometry"] = types.SimpleNamespace(top_share=written)
    exec(registration, registry)
    (entry,) = made
    assert (entry.name, entry.display, entry.hidden) == (NAME, DISPLAY, ())
    config = MeasureConfig(view="weights")
    assert entry.axis_title(config) == f"{DISPLAY} (singular)"
    spectrum = geometry.spectrum(x)
    inputs = Inputs(matrix=torch.from_numpy(x), spectrum=spectrum, config=MeasureConfig())
    assert entry.applies(inputs) and entry.compute is not None
    assert entry.compute(inputs) == pytest.approx(_compute(inputs), rel=1e-12)
