"""The core needs no extra: scikit-learn is only in the ``sklearn`` (and ``demos``) extra, and the
two places that use it say the exact ``pip install`` command when it is missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_sklearn(monkeypatch):
    """``import sklearn`` (and any of its modules) fails, as where it is not installed."""
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)


def test_dsmi_of_vector_labels_names_the_extra_to_install(no_sklearn):
    from repscope.geometry import dsmi

    x = np.random.default_rng(0).normal(size=(40, 5))
    with pytest.raises(ImportError, match=r'pip install "repscope\[sklearn\]"') as raised:
        dsmi(x, np.random.default_rng(1).normal(size=(40, 3)), kind="vector", n_clusters=3)
    assert "kind='vector'" in str(raised.value) and raised.value.name == "sklearn"
    # class labels need no scikit-learn: two far-apart groups carry about one bit
    groups = np.arange(40) % 2
    assert dsmi(x + 20 * groups[:, None], groups, sigma=1.0, t=50) > 0.8


def test_the_digits_demo_names_the_extra_to_install(no_sklearn):
    from repscope.demos.digits import load_digits_split

    with pytest.raises(ImportError, match=r'pip install "repscope\[demos\]"'):
        load_digits_split(0)


def test_the_extras_hold_scikit_learn_and_the_core_does_not():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert not [d for d in project["dependencies"] if d.startswith("scikit-learn")]
    assert any(d.startswith("scikit-learn") for d in extras["sklearn"])
    assert "repscope[widgets,sklearn]" in extras["demos"]  # make demo, Binder, notebooks 01-05
    assert any("sklearn" in d for d in extras["dev"])


# A fresh interpreter is the point here: what importing the package pulls in.
WITHOUT_SKLEARN = """
import sys
sys.modules["sklearn"] = None  # as if not installed: any import of it fails
import tempfile
from pathlib import Path

import numpy as np
import torch

import repscope
import repscope.geometry as g
from repscope import CheckpointFolder, Probe, Trajectory
from tests.models import mlp, save_mlp_checkpoints

folder = Path(tempfile.mkdtemp())
save_mlp_checkpoints(folder, [0, 1, 2])
probe = Probe(torch.randn(40, 6), layers=["1", "3"], labels=np.arange(40) % 3)
traj = Trajectory(CheckpointFolder(folder, model=mlp), probe, fit_range=(2, 10)).compute(
    progress=False
)
assert traj.failures.empty, traj.failures
assert traj.steps == [0, 1, 2]
assert traj.curve("dsmi", "3").notna().all()
assert g.effective_rank(np.random.default_rng(0).normal(size=(30, 4))) > 1
assert not [m for m in sys.modules if m.startswith("sklearn.")]
print("ok")
"""


def test_the_core_imports_and_scans_without_scikit_learn():
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WITHOUT_SKLEARN)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"
