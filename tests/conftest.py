import os

import numpy as np
import pytest
import torch


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


#: The longest tests, started first so that a second worker runs everything else beside them.
_FIRST = ("tests/demos/test_full_recipe.py", "tests/test_binder.py")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return _FIRST.index(path) if path in _FIRST else len(_FIRST)

    items.sort(key=rank)  # stable: the rest keeps its order
