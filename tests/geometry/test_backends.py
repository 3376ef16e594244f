"""Batched input, numpy/torch in and out, devices, and precision."""

import numpy as np
import pytest
import torch

from repscope.geometry import (
    alpha_req,
    effective_rank,
    linear_cka,
    numerical_rank,
    participation_ratio,
    spectral_summary,
    spectrum,
    stable_rank,
)

from ..conftest import DEVICES

SCALAR_MEASURES = [effective_rank, participation_ratio, stable_rank, numerical_rank]


@pytest.fixture
def stack(rng):
    return np.stack(
        [rng.normal(size=(90, 40)) * np.arange(1, 41) ** -(0.3 + 0.1 * b) for b in range(4)]
    )


@pytest.mark.parametrize("measure", SCALAR_MEASURES)
def test_batched_equals_looped(stack, measure):
    batched = measure(stack)
    assert isinstance(batched, np.ndarray) and batched.shape == (4,)
    np.testing.assert_allclose(batched, [measure(m) for m in stack], rtol=1e-10)


def test_batched_alpha_and_summary_equal_looped(stack):
    fit = alpha_req(stack, fit_range=(2, 30))
    for b, m in enumerate(stack):
        single = alpha_req(m, fit_range=(2, 30))
        assert fit.alpha[b] == pytest.approx(single.alpha, rel=1e-10)
        assert fit.r2[b] == pytest.approx(single.r2, rel=1e-10)
    summary = spectral_summary(stack, fit_range=(2, 30))
    np.testing.assert_allclose(summary.effective_rank, effective_rank(stack), rtol=1e-12)
    assert summary.spectrum.eigenvalues().shape == (4, 40)


def test_batched_cka_equals_looped(stack, rng):
    other = stack + rng.normal(size=stack.shape)
    looped = [linear_cka(a, b) for a, b in zip(stack, other, strict=True)]
    np.testing.assert_allclose(linear_cka(stack, other), looped, rtol=1e-10)


@pytest.mark.parametrize("device", DEVICES)
def test_torch_in_torch_out_on_the_same_device(stack, device):
    x = torch.from_numpy(stack).to(device)
    out = effective_rank(x)
    assert isinstance(out, torch.Tensor) and out.device.type == device and out.shape == (4,)
    np.testing.assert_allclose(out.cpu().numpy(), effective_rank(stack), rtol=1e-10)
    assert isinstance(effective_rank(x[0]), float)
    assert spectrum(x).eigenvalues().device.type == device


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16])
def test_half_precision_is_upcast(rng, half):
    x = torch.from_numpy(rng.normal(size=(200, 16))).to(half)
    reference = effective_rank(x.to(torch.float64).numpy())
    assert effective_rank(x) == pytest.approx(reference, rel=1e-12)


def test_float32_opt_in_is_close_to_float64(rng):
    """float32 eigenvalues carry ~1e-7·λ_max error: RankMe and α agree to ~1e-5 relative."""
    x = rng.normal(size=(2000, 256)) * np.arange(1, 257) ** -0.5
    s64 = spectral_summary(x)
    s32 = spectral_summary(x, dtype=torch.float32)
    assert s32.spectrum.values.dtype == torch.float32
    assert s32.effective_rank == pytest.approx(s64.effective_rank, rel=1e-5)
    assert s32.alpha.alpha == pytest.approx(s64.alpha.alpha, rel=1e-4)


def test_integer_input_is_accepted(rng):
    x = rng.integers(0, 10, size=(50, 5))
    assert effective_rank(x) == pytest.approx(effective_rank(x.astype(float)), rel=1e-12)


#: A fit range the stack's 40 components reach (the default 12…100 would adapt, with a warning
#: that pytest's settings turn into an error).
STACK_FIT = (2, 20)


def test_the_stack_reaches_the_fit_range_used_on_cuda(stack):
    """The CUDA test below runs this CPU line too: it must not warn."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = spectral_summary(stack, fit_range=STACK_FIT).alpha
    assert fit.fit_range == STACK_FIT


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(stack):
    cpu = spectral_summary(stack, fit_range=STACK_FIT)
    gpu = spectral_summary(torch.from_numpy(stack).cuda(), fit_range=STACK_FIT)
    assert gpu.effective_rank.device.type == "cuda"
    np.testing.assert_allclose(gpu.effective_rank.cpu().numpy(), cpu.effective_rank, rtol=1e-9)
    np.testing.assert_allclose(gpu.alpha.alpha.cpu().numpy(), cpu.alpha.alpha, rtol=1e-8)
