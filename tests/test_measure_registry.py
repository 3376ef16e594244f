"""The measure registry: the scan, the widgets and the axis titles all read it."""

import numpy as np
import pytest
import torch

from repscope.config import MeasureConfig
from repscope.measure_registry import MEASURES, Measure, hidden_values, register
from repscope.probe import Probe
from repscope.sources.folder import CheckpointFolder
from repscope.trajectory import Trajectory

from .models import mlp, save_mlp_checkpoints


@pytest.fixture
def scanned(tmp_path):
    save_mlp_checkpoints(tmp_path, [0, 1, 2])
    labels = np.arange(60) % 3
    probe = Probe(
        torch.randn(60, 6, generator=torch.Generator().manual_seed(0)),
        layers=["1", "3"],
        labels=labels,
    )
    return lambda **options: Trajectory(
        CheckpointFolder(tmp_path, model=mlp), probe, fit_range=(2, 10), **options
    ).compute(progress=False)


def stored_names(traj):
    return {name for r in traj.records() for name in r.measures}


def test_every_stored_value_is_a_registered_measure_or_part_of_one(scanned):
    names = stored_names(scanned(dse=True, sigma="median"))
    # α's error bar needs 16 inputs per feature: this probe has fewer
    assert names == (
        {
            "effective_rank",
            "alpha",
            "dse",
            "dsmi",
            "participation_ratio",
            "stable_rank",
            "numerical_rank",
        }
        | hidden_values()
    ) - {"alpha_se", "alpha_lo", "alpha_hi"}
    assert names <= set(MEASURES) | hidden_values()


@pytest.fixture
def top_share():
    """The worked example of CONTRIBUTING.md: the top eigenvalue's share λ₁ / Σλ."""
    measure = register(
        Measure(
            "top_share",
            "top eigenvalue share",
            lambda inputs: {"top_share": float(inputs.spectrum.values[0, 0])},
            axis_options=lambda config: config.spectrum_kind,
        )
    )
    try:
        yield measure
    finally:
        del MEASURES["top_share"]


def test_one_registered_measure_reaches_the_scan_and_the_widget(scanned, top_share):
    pytest.importorskip("ipywidgets")
    from repscope.widgets import Scrubber

    traj = scanned()
    for layer in ("1", "3"):  # the value is λ₁ / Σλ of the layer's own spectrum
        for step in traj.steps:
            spectrum = traj.spectrum(step, layer)
            record = next(r for r in traj.records() if r.step == step and r.layer == layer)
            assert record.measures["top_share"] == pytest.approx(spectrum[0] / spectrum.sum())
    s = Scrubber(traj, measures=["top_share"])
    assert s.measures == ["top_share"]
    s._on_msg(s, {"type": "hello"}, [])
    (run,) = s.feed.runs_message()[0]["runs"]
    (curve,) = [c for c in run["curves"] if c["name"] == "top_share"]
    assert curve == {
        "name": "top_share",
        "label": "top eigenvalue share",
        "axis": "top eigenvalue share (covariance)",
        "kind": "measure",
    }


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="'effective_rank' is already registered"):
        register(Measure("effective_rank", "again", None))


def test_axis_titles_carry_the_options_that_change_the_values():
    config = MeasureConfig(dse=True, sigma=2.5, t=3)
    assert MEASURES["dse"].axis_title(config) == "DSE (σ=2.5, t=3)"
    assert MEASURES["alpha"].axis_title(MeasureConfig(view="weights")) == "α-ReQ (singular)"
    assert MEASURES["stable_rank"].axis_title(config) == "stable rank"


def test_dse_has_error_bars_up_to_its_input_limit_and_rankme_beyond():
    """DSE's jackknife costs ten DSEs: it is given up to DSE_INTERVAL_MAX_INPUTS inputs only,
    while RankMe's (cheap: one pass over the data) is given at any size."""
    import torch

    from repscope.config import MeasureConfig
    from repscope.measure_registry import DSE_INTERVAL_MAX_INPUTS
    from repscope.scan import measures_of

    config = MeasureConfig(dse=True, sigma=10.0, fit_range=(2, 6))
    g = torch.Generator().manual_seed(0)
    for n, with_dse in ((200, True), (DSE_INTERVAL_MAX_INPUTS + 1, False)):
        values, _, _ = measures_of(torch.randn(n, 8, generator=g), config, None, None)
        assert ("dse_se" in values) is with_dse, n
        assert "dse" in values and "effective_rank_se" in values
        if with_dse:
            assert values["dse_lo"] < values["dse_hi"] and values["dse_se"] > 0
