"""float32 geometry at full precision, whatever the training code set.

``torch.set_float32_matmul_precision("medium")`` lets float32 products run in bfloat16 passes on
CPUs whose oneDNN supports it (this one: AMX), as "high" runs them in TF32 on CUDA GPUs: about
1e-3 relative error in a Gram matrix, carried into every eigenvalue. The geometry switches that
off for its own products and restores the caller's setting.
"""

import numpy as np
import pytest
import torch

from repscope import geometry


@pytest.fixture
def x():
    rng = np.random.default_rng(0)
    return torch.from_numpy(rng.normal(size=(600, 256)) * np.arange(1, 257) ** -0.6).float()


@pytest.fixture
def reduced_precision():
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def product_error(x):
    """How far this machine's float32 product is from float64 at the current setting."""
    gram = (x.T @ x).double()
    exact = x.double().T @ x.double()
    return float((gram - exact).abs().max() / exact.abs().max())


def test_float32_geometry_ignores_a_reduced_matmul_precision(x, reduced_precision):
    reduced = product_error(x)
    reference = {}
    torch.set_float32_matmul_precision("highest")
    full = product_error(x)
    reference["spectrum"] = geometry.spectrum(x, dtype=torch.float32).values.numpy()
    reference["dse"] = geometry.dse(x, sigma="median", dtype=torch.float32)
    reference["lanczos"] = geometry.dse(x, sigma="median", dtype=torch.float32, method="lanczos")
    reference["cka"] = geometry.linear_cka(x, x[:, :100])
    torch.set_float32_matmul_precision("medium")
    if reduced <= 10 * full:
        pytest.skip(
            "this CPU computes float32 products at full precision under 'medium' "
            "(no bfloat16 matmul in oneDNN): nothing to reproduce"
        )
    np.testing.assert_allclose(
        geometry.spectrum(x, dtype=torch.float32).values.numpy(),
        reference["spectrum"],
        rtol=1e-5,
        atol=1e-9,
    )
    assert geometry.dse(x, sigma="median", dtype=torch.float32) == pytest.approx(
        reference["dse"], rel=1e-6
    )
    assert geometry.dse(x, sigma="median", dtype=torch.float32, method="lanczos") == pytest.approx(
        reference["lanczos"], rel=1e-6
    )
    assert geometry.linear_cka(x, x[:, :100]) == pytest.approx(reference["cka"], rel=1e-6)
    assert torch.get_float32_matmul_precision() == "medium"  # the caller's setting is back


def test_the_newer_per_backend_switch_is_honoured_and_restored(x):
    """torch's newer API (``torch.backends.mkldnn.matmul.fp32_precision = "bf16"``, or
    ``cuda.matmul`` "tf32") cannot be read through the legacy one once set; the geometry uses
    whichever the caller used, and puts it back."""
    switch = getattr(getattr(torch.backends, "mkldnn", None), "matmul", None)
    if switch is None or not hasattr(switch, "fp32_precision"):
        pytest.skip("this torch has no per-backend fp32_precision switch")
    before = switch.fp32_precision
    reference = geometry.spectrum(x, dtype=torch.float32).values.numpy()
    try:
        switch.fp32_precision = "bf16"
        if product_error(x) < 1e-6:
            pytest.skip("this CPU computes float32 products at full precision under 'bf16'")
        np.testing.assert_allclose(
            geometry.spectrum(x, dtype=torch.float32).values.numpy(),
            reference,
            rtol=1e-5,
            atol=1e-9,
        )
        assert switch.fp32_precision == "bf16"
    finally:
        switch.fp32_precision = before
