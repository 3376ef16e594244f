"""The Binder set-up: the files repo2docker reads, and an install of them into a fresh venv."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the dev extra installs tomli, the same module
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def requirement_lines():
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_requirements_take_a_cpu_torch_and_the_widget_stack():
    lines = requirement_lines()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    reqs = {Requirement(line).name: Requirement(line) for line in lines if not line.startswith("-")}
    assert str(reqs["torch"].specifier).endswith("+cpu")  # never the multi-GB CUDA build
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch_floor = next(Requirement(d) for d in declared["dependencies"] if d.startswith("torch"))
    pinned = str(reqs["torch"].specifier).lstrip("=")
    assert torch_floor.specifier.contains(pinned.split("+")[0])
    for name in ("jupyterlab", "ipywidgets", "anywidget"):
        assert name in reqs, name


def test_post_build_installs_this_package_with_what_01_to_05_need():
    """01-05 need the widgets and scikit-learn's digits (the ``demos`` extra), the LLC section
    of 02 devinterp (the ``llc`` extra) and matplotlib; 06 and 07 (the Hugging Face hub, a
    Trainer) say what to add."""
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK) and post.read_text().startswith("#!")
    line = next(x for x in post.read_text().splitlines() if "pip install" in x)
    assert re.search(r'-e "?\.\[demos,llc\]"?', line), line
    assert re.search(r'"?matplotlib(>=[\d.]+)?"?', line), line
    assert "hf" not in line
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["optional-dependencies"]["demos"] == ["repscope[widgets,sklearn]"]


def test_runtime_is_a_python_the_package_supports():
    version = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", version)
    assert match, version
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(match.group(1) + ".0")


def test_readme_badge_opens_the_three_phases_notebook_in_lab():
    readme = (ROOT / "README.md").read_text()
    match = re.search(
        r"https://mybinder\.org/v2/gh/[\w.-]+/[\w.-]+/HEAD\?labpath=([\w%./-]+)", readme
    )
    assert match, "no Binder badge with a labpath in the README"
    path = match.group(1).replace("%2F", "/")
    assert path == "notebooks/02_three_phases.ipynb" and (ROOT / path).exists()


@pytest.mark.slow
def test_binder_requirements_install_into_a_fresh_venv(tmp_path):
    """requirements.txt, then postBuild, as repo2docker runs them (as far as this machine's
    registries allow: the PyTorch CPU index may be unreachable; the same CPU build is then
    taken from the local registry)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PIP_RETRIES": "0",
        "PIP_TIMEOUT": "10",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    done = subprocess.run(
        [*pip, "-r", str(BINDER / "requirements.txt")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    done = subprocess.run(
        ["bash", str(BINDER / "postBuild")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    check = (
        "import importlib.util, torch, jupyterlab, repscope.widgets, repscope.synthetic; "
        "from repscope.demos import three_phases, grokking, dse_dsmi, rich_lazy; "
        "from repscope.demos.digits import load_digits_split; load_digits_split(0); "
        "import devinterp, matplotlib.pyplot; "  # notebook 02's LLC section and its figure
        # devinterp brings transformers; the hf extra's accelerate (07's Trainer) stays out
        "assert importlib.util.find_spec('accelerate') is None, 'more than 01-05 need'; "
        "print(torch.__version__, torch.cuda.is_available())"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", check],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    version, cuda = out.stdout.split()
    assert version.endswith("+cpu") and cuda == "False"
