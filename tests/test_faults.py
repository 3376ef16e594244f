"""Hostile input: each fault of docs/reliability.md that is not a geometry property
(tests/geometry/test_properties.py) or a store fault (tests/test_store.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repscope import CheckpointFolder, Probe, Trajectory, geometry
from repscope.geometry import InsufficientMemoryError
from repscope.geometry import _memory as memory
from repscope.sources.folder import SkippedCheckpointWarning
from tests.models import mlp, save_mlp_checkpoints


def one_line_error(done):
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def run_folder(tmp_path):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, [0, 2, 4])
    from safetensors.torch import save_file

    probe = tmp_path / "probe.safetensors"
    save_file({"inputs": torch.randn(40, 6, generator=torch.Generator().manual_seed(0))}, probe)
    return folder, probe


# -- raw exceptions instead of the house's error ----------------------------------------------
def test_float128_input_is_computed_as_float64():
    x = np.random.default_rng(0).normal(size=(50, 6))
    assert geometry.effective_rank(x.astype(np.longdouble)) == pytest.approx(
        geometry.effective_rank(x)
    )
    assert geometry.effective_rank(x.astype(np.uint32)) == pytest.approx(
        geometry.effective_rank(x.astype(np.uint32).astype(float))
    )


def test_dsmi_with_more_clusters_than_points_is_a_clear_error():
    rng = np.random.default_rng(0)
    with pytest.raises(
        ValueError,
        match=r"^The 'n_clusters' argument of dsmi must be fewer "
        r"than the number of points \(20\)",
    ):
        geometry.dsmi(rng.normal(size=(20, 3)), rng.normal(size=(20, 2)), n_clusters=25)


@pytest.mark.parametrize("labels", [3, "abc", [[1, 2], [3]], {"a": 1}])
def test_probe_labels_must_be_an_array(labels):
    with pytest.raises((TypeError, ValueError), match=r"^The 'labels' argument of Probe must"):
        Probe(torch.randn(10, 4), labels=labels)


def test_probe_labels_from_a_tensor_of_any_dtype():
    probe = Probe(torch.randn(4, 2), labels=torch.tensor([0.5, 1, 2, 3], dtype=torch.bfloat16))
    np.testing.assert_allclose(probe.labels, [0.5, 1, 2, 3])


# -- the command line -----------------------------------------------------------------------------
def test_a_missing_model_function_is_one_line(run_folder, tmp_path, cli):
    folder, probe = run_folder
    line = one_line_error(
        cli(
            "scan",
            folder,
            "--model",
            "tests.models:missing_function",
            "--probe",
            probe,
            "--store",
            tmp_path / "s.sqlite",
        )
    )
    assert "has no function 'missing_function'" in line


def test_a_probe_that_is_not_safetensors_is_one_line(run_folder, tmp_path, cli):
    folder, _ = run_folder
    fake = tmp_path / "probe.safetensors"
    fake.write_text("not tensors")
    line = one_line_error(
        cli(
            "scan",
            folder,
            "--model",
            "tests.models:mlp",
            "--probe",
            fake,
            "--store",
            tmp_path / "s.sqlite",
        )
    )
    assert "not a readable safetensors file" in line


def test_a_store_path_that_is_a_folder_is_one_line(run_folder, tmp_path, cli):
    folder, probe = run_folder
    line = one_line_error(
        cli("scan", folder, "--model", "tests.models:mlp", "--probe", probe, "--store", tmp_path)
    )
    assert "is a folder, not a store file" in line


def test_bad_options_are_refused_before_any_model_loads(run_folder, tmp_path, cli):
    folder, probe = run_folder
    store = tmp_path / "s.sqlite"
    for option, message in (
        (["--dse", "--sigma", "-5"], "'sigma' argument"),
        (["--phase-layer", "9", "--layers", "1,3"], "is not one of"),
    ):
        line = one_line_error(
            cli(
                "scan",
                folder,
                "--model",
                "tests.models:slow_mlp",
                "--probe",
                probe,
                "--store",
                store,
                *option,
            )
        )
        assert message in line
        assert not store.exists()  # refused before the store, and before any model
    # a flag whose text does not parse is a usage error (argparse's exit status 2)
    done = cli(
        "scan",
        folder,
        "--model",
        "tests.models:slow_mlp",
        "--probe",
        probe,
        "--store",
        store,
        "--sigma",
        "wide",
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "argument --sigma: expected a number, 'median' or 'sqrt_dim'; got 'wide'" in done.stderr
    assert not store.exists()


def test_an_unknown_phase_layer_after_the_scan_is_an_error(run_folder, tmp_path, cli):
    folder, probe = run_folder
    done = cli(
        "scan",
        folder,
        "--model",
        "tests.models:mlp",
        "--probe",
        probe,
        "--store",
        tmp_path / "s.sqlite",
        "--fit-range",
        "2,10",
        "--phase-layer",
        "nope",
        "--layers",
        "1,3",
        "--no-progress",
    )
    assert "is not one of --layers ['1', '3']" in one_line_error(done)
    done = cli(
        "scan",
        folder,
        "--model",
        "tests.models:mlp",
        "--probe",
        probe,
        "--store",
        tmp_path / "t.sqlite",
        "--fit-range",
        "2,10",
        "--phase-layer",
        "nope",
        "--no-progress",
    )  # default layers: known only once scanned
    assert done.returncode == 1 and "nothing could be measured" in done.stderr


def test_nothing_measured_exits_1(run_folder, tmp_path, cli):
    """Every checkpoint diverged (NaN weights): nothing is measured, the status says so."""
    folder, probe = run_folder
    for path in folder.glob("*.pt"):
        state = torch.load(path, weights_only=True)
        torch.save({k: torch.full_like(v, float("nan")) for k, v in state.items()}, path)
    done = cli(
        "scan",
        folder,
        "--model",
        "tests.models:mlp",
        "--probe",
        probe,
        "--layers",
        "1,3",
        "--store",
        tmp_path / "s.sqlite",
        "--no-progress",
    )
    assert done.returncode == 1 and "nothing could be measured" in done.stderr


# -- loading ---------------------------------------------------------------------------------------
def test_weight_files_with_dots_or_upper_case_suffixes_are_read(tmp_path):
    names = {"run.v2.step_4.safetensors": 4, "lr0.001_step_5.pt": 5, "step_8.PT": 8}
    from safetensors.torch import save_file

    for name in names:
        state = mlp().state_dict()
        if name.endswith(".safetensors"):
            save_file(state, tmp_path / name)
        else:
            torch.save(state, tmp_path / name)
    source = CheckpointFolder(tmp_path, model=mlp)
    assert [c.step for c in source] == sorted(names.values()) and source.skipped == []
    assert all(c.load() is not None for c in source)


def test_skipped_weight_files_are_said(tmp_path):
    torch.save(mlp().state_dict(), tmp_path / "step_1.pt")
    torch.save(mlp().state_dict(), tmp_path / "final.pt")
    with pytest.warns(SkippedCheckpointWarning, match=r"skipped 1 file\(s\): final\.pt: no step"):
        source = CheckpointFolder(tmp_path, model=mlp)
    assert [c.step for c in source] == [1]
    assert source.skipped[0][0] == "final.pt"


def test_a_different_model_factory_never_reuses_stored_results(run_folder, tmp_path):
    folder, _ = run_folder
    probe = Probe(torch.randn(30, 6, generator=torch.Generator().manual_seed(0)), layers=["1"])
    store = tmp_path / "s.sqlite"
    Trajectory(CheckpointFolder(folder, model=mlp), probe, store=store, fit_range=(2, 10)).compute(
        progress=False
    )

    def other():  # another architecture for the same files
        return mlp()

    with pytest.raises(
        ValueError,
        match=r"was filled from folder .* with model tests\.models:mlp"
        r".*this source is .* with model ",
    ):
        Trajectory(
            CheckpointFolder(folder, model=other), probe, store=store, fit_range=(2, 10)
        ).compute(progress=False)


# -- memory before N × N ---------------------------------------------------------------------
def test_an_operator_too_big_for_memory_is_refused_before_allocating(monkeypatch):
    import repscope.geometry.diffusion as diffusion

    def attempted(*args, **kwargs):
        raise AssertionError("the N × N operator was attempted")

    monkeypatch.setattr(diffusion, "operator", attempted)  # refused, not attempted
    x = torch.zeros(200_000, 2)  # 200,000 points: a 320 GB float64 operator
    with pytest.raises(
        InsufficientMemoryError,
        match=r"^The 'x' argument of dse must be small "
        r"enough .* 200000 points: .* needs 640 GB"
        r".*method='lanczos'",
    ):
        geometry.dse(x)
    with pytest.raises(InsufficientMemoryError, match="subsample"):
        geometry.dse(x, method="lanczos")
    with pytest.raises(InsufficientMemoryError, match=r"'x' argument of resolve_sigma"):
        geometry.resolve_sigma(x)
    with pytest.raises(InsufficientMemoryError, match=r"'x' argument of dsmi"):
        geometry.dsmi(x, np.zeros(200_000, dtype=int))


def test_the_memory_guard_uses_what_is_available(monkeypatch):
    x = np.random.default_rng(0).normal(size=(300, 4))
    monkeypatch.setattr(memory, "available_bytes", lambda device: 1_000_000)  # 1 MB
    with pytest.raises(InsufficientMemoryError, match=r"needs 1.44 MB, and 1 MB is available"):
        geometry.dse(x)  # 2 × 300² × 8 bytes
    assert geometry.dse(x[:200]) > 0  # 640 kB: allowed
    monkeypatch.undo()
    assert memory.available_bytes("cpu") > 1e6  # this machine's RAM, read from the OS
