"""The measure registry: the scan, the widgets and the axis titles all read it."""

import numpy as np
import pytest
import torch

from repscope.config import MeasureConfig
from repscope.geometry import spectrum
from repscope.measure_registry import (
    MEASURES,
    Inputs,
    Measure,
    hidden_values,
    register,
    registered,
    unregister,
)
from repscope.probe import Probe
from repscope.sources.folder import CheckpointFolder
from repscope.trajectory import Trajectory

from .models import mlp, save_mlp_checkpoints


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """``scanned(**options)``: a scan of three checkpoints of a tiny MLP, two layers, a probe
    with labels (each set of options scanned once per module)."""
    folder = tmp_path_factory.mktemp("registry_ckpts")
    save_mlp_checkpoints(folder, [0, 1, 2])
    labels = np.arange(60) % 3
    probe = Probe(
        torch.randn(60, 6, generator=torch.Generator().manual_seed(0)),
        layers=["1", "3"],
        labels=labels,
    )
    done = {}

    def scan(**options):
        key = tuple(sorted(options.items()))
        if key not in done:
            done[key] = Trajectory(
                CheckpointFolder(folder, model=mlp), probe, fit_range=(2, 10), **options
            ).compute(progress=False)
        return done[key]

    return scan


def ok_records(traj):
    return [r for r in traj.records() if r.status == "ok"]


def owners():
    """``{stored name: the measure that stores it}``, read from the registry."""
    return {n: m.name for m in MEASURES.values() for n in (m.name, *m.hidden)}


def what_applies(traj):
    """The registered measures computed in the scan for a layer of ``traj`` (activations: no
    reference), by their own ``applies``."""
    matrix = torch.randn(60, 24, generator=torch.Generator().manual_seed(1))
    inputs = Inputs(
        matrix=matrix,
        spectrum=spectrum(matrix),
        config=traj.config,
        labels=traj.probe.labels,
        reference=None,
    )
    return {m.name for m in MEASURES.values() if m.compute is not None and m.applies(inputs)}


@pytest.mark.parametrize("options", [{}, {"dse": True, "sigma": "median"}], ids=["plain", "dse"])
def test_every_measure_that_applies_is_stored_and_every_stored_value_is_registered(
    scanned, options
):
    """Derived from the registry, not listed: a measure registered later is held to it too."""
    traj = scanned(**options)
    owner, applying = owners(), what_applies(traj)
    assert len(ok_records(traj)) == 6
    for r in ok_records(traj):
        assert set(r.measures) <= set(owner), set(r.measures) - set(owner)
        assert {owner[n] for n in r.measures} == applying, (r.step, r.layer)


def test_which_measures_a_scan_stores_depends_on_its_options_and_inputs(scanned):
    """Independent of the registry's own ``applies``: what these two scans must hold."""
    for options, with_dse in (({}, False), ({"dse": True, "sigma": "median"}, True)):
        for r in ok_records(scanned(**options)):
            names = set(r.measures)
            spectral = {"effective_rank", "alpha", "participation_ratio", "stable_rank"}
            assert spectral | {"numerical_rank", "alpha_r2", "effective_rank_se"} <= names
            # DSE and DSMI (the probe has labels) only when asked for, with DSE's error bar
            dse = {"dse", "dsmi", "dse_se"}
            assert dse <= names if with_dse else not dse & names
            # weights and gradients views only; CKA only after the scan (add_cka)
            assert not {"relative_distance", "nuclear_norm", "cka_first", "cka_previous"} & names
            # α's error bar needs 16 inputs per feature: 60 inputs of 24 features are too few
            assert not {"alpha_se", "alpha_lo", "alpha_hi"} & names


def test_error_bar_values_follow_their_measure(scanned):
    """``<measure>_se``, ``_lo``, ``_hi`` are hidden, belong to a measure that is a curve of its
    own, and are stored together, beside it."""
    hidden = hidden_values()
    bars = {n.rsplit("_", 1)[0] for n in hidden if n.endswith(("_se", "_lo", "_hi"))}
    assert "effective_rank" in bars
    for measure in bars:
        assert measure in MEASURES and measure not in hidden
        assert {f"{measure}_se", f"{measure}_lo", f"{measure}_hi"} <= hidden
    for r in ok_records(scanned(dse=True, sigma="median")):
        m = r.measures
        for measure in bars:
            parts = {f"{measure}_{p}" for p in ("se", "lo", "hi")}
            if parts & set(m):
                assert parts <= set(m) and measure in m, (measure, sorted(m))
                assert m[f"{measure}_se"] > 0 and m[f"{measure}_lo"] < m[f"{measure}_hi"]


def test_a_registered_measure_is_unregistered_by_name_and_after_its_block():
    m = Measure("tmp_measure", "temporary", lambda inputs: {"tmp_measure": 1.0})
    with pytest.raises(RuntimeError, match="inside"):  # unregistered even when the block fails
        with registered(m):
            assert list(MEASURES)[-1] == "tmp_measure"
            raise RuntimeError("inside")
    assert "tmp_measure" not in MEASURES
    assert register(m) is m and unregister("tmp_measure") is m and "tmp_measure" not in MEASURES
    with pytest.raises(ValueError, match=r"^The 'name' argument of unregister must be .+'nope'"):
        unregister("nope")


def test_a_stored_name_cannot_be_registered_twice():
    """A measure named after another's hidden value (or hiding another's name) would overwrite
    it in every record: refused, and nothing is registered."""
    before = dict(MEASURES)
    with pytest.raises(ValueError, match=r"'alpha_r2' is already registered: .* 'alpha' stores"):
        register(Measure("alpha_r2", "again", None))
    with pytest.raises(ValueError, match=r"'dse' is already registered: .* 'dse' stores"):
        register(Measure("other", "other", None, hidden=("dse",)))
    with pytest.raises(TypeError, match="'measure' argument of register must be a Measure"):
        register({"name": "top_share"})
    assert MEASURES == before


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
