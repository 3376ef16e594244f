import os

import numpy as np
import pytest
import torch

from tests.commands import run_cli


def pytest_configure(config):
    """Under pytest-xdist, each worker (and every process it starts: kernels, the CLI, Jupyter)
    gets its share of the cores, so that two workers never oversubscribe them."""
    worker_count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if os.environ.get("PYTEST_XDIST_WORKER") and worker_count > 1:
        share = str(max(1, (os.cpu_count() or 1) // worker_count))
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[name] = share
        torch.set_num_threads(int(share))


@pytest.fixture(autouse=True)
def _deterministic_linear_algebra():
    """Tests compare against float64 references: no TF32 anywhere."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture
def cli():
    """``cli(*args)``: ``repscope ARGS`` in this process (``tests/commands.run_cli``), with
    ``.returncode``, ``.stdout`` and ``.stderr`` as a fresh process gives them. A test whose point
    is the separate process (a kill, an interrupt, what a process holds until it ends) starts one
    itself."""
    return run_cli


#: The longest files first, in this order (durations of a full run on 2 cores), so that the
#: other worker runs everything else beside them. xdist gives the first worker the full recipe
#: and, behind it, the third file; the second worker starts the second file and takes the rest as
#: it goes. With ``--dist loadfile``, xdist keeps this order only with ``--no-loadscope-reorder``
#: (pyproject's addopts): by default it sorts files by their number of tests, and a long file of
#: one test would start last.
_FIRST = (
    "tests/demos/test_full_recipe.py",  # ~550 s, one test
    "tests/browser/test_notebooks_browser.py",  # ~150 s
    "tests/test_binder.py",  # ~100 s: a fresh venv
    "tests/demos/test_three_phases.py",  # ~75 s: the small demo, twice
    "tests/test_docs.py",  # ~50 s: the site
    "tests/test_notebooks.py",  # ~60 s
    "tests/demos/test_small_demos.py",  # ~50 s
    "tests/browser/test_scrubber_browser.py",
    "tests/sources/test_minilm.py",
    "tests/sources/test_trainer.py",
    "tests/test_scan_cli.py",
    "tests/test_dask.py",
)


def pytest_collection_modifyitems(config, items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return _FIRST.index(path) if path in _FIRST else len(_FIRST)

    items.sort(key=rank)  # stable: the rest keeps its order
