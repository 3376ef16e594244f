import numpy as np
import pytest
import torch


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
