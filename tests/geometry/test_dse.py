"""Diffusion spectral entropy: against a naive implementation of the definition, known limits,
invariances, backends, the approximate method, and bad input."""

import math
import re

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist, squareform

from repscope import DegenerateInputWarning
from repscope.geometry.diffusion import (
    diffusion_operator,
    diffusion_spectrum,
    dse,
    dse_from_eigenvalues,
    kth_smallest,
    resolve_sigma,
)

from ..conftest import DEVICES

GRAMMAR = r"^The '{arg}' argument of {func} must be .+; got .+\.$"


def naive_eigenvalues(x, sigma):
    """Eigenvalues of the random walk P = D^-1 K (non-symmetric: an independent route)."""
    kernel = np.exp(-squareform(pdist(x, "sqeuclidean")) / (2 * sigma**2))
    walk = kernel / kernel.sum(axis=1, keepdims=True)
    return np.linalg.eigvals(walk)


def naive_dse(x, sigma, t):
    power = np.abs(naive_eigenvalues(x, sigma)) ** t
    p = power / power.sum()
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


@pytest.fixture
def points(rng):
    return rng.normal(size=(60, 5)) * np.array([3.0, 2.0, 1.0, 0.5, 0.2])


@pytest.mark.parametrize("sigma", [0.7, 2.0, 10.0])
@pytest.mark.parametrize("t", [1, 2.5, 10])
def test_matches_the_naive_definition(points, sigma, t):
    expected = naive_dse(points, sigma, t)
    assert expected > 1e-12  # a non-trivial case
    assert dse(points, sigma=sigma, t=t) == pytest.approx(expected, rel=1e-8)


def test_spectrum_and_operator_match_the_definition(points):
    ev = diffusion_spectrum(points, sigma=2.0)
    assert np.all(np.diff(ev) <= 0)  # descending
    expected = np.sort(naive_eigenvalues(points, 2.0).real)[::-1]
    np.testing.assert_allclose(ev, expected, rtol=0, atol=1e-12)
    m = diffusion_operator(points, sigma=2.0)
    kernel = np.exp(-(squareform(pdist(points)) ** 2) / 8.0)
    d = kernel.sum(axis=1)
    np.testing.assert_allclose(m, kernel / np.sqrt(np.outer(d, d)), rtol=1e-12)


def test_several_t_from_one_spectrum(points):
    ev = diffusion_spectrum(points, sigma=2.0)
    for t in (0.5, 1, 3, 10):
        assert dse_from_eigenvalues(ev, t=t) == pytest.approx(naive_dse(points, 2.0, t), rel=1e-8)


def test_entropy_of_known_spectra():
    assert dse_from_eigenvalues(np.ones(16)) == pytest.approx(4.0, abs=1e-12)
    assert dse_from_eigenvalues([1.0, 0.0, 0.0]) == 0.0
    assert dse_from_eigenvalues([1.0, -1.0, 0.0, 0.0]) == pytest.approx(1.0, abs=1e-12)
    # p = (1, 1/2^t) / (1 + 1/2^t) at t = 2: -(0.8 log2 0.8 + 0.2 log2 0.2)
    assert dse_from_eigenvalues([1.0, 0.5], t=2) == pytest.approx(0.7219280948873623, rel=1e-12)
    batched = dse_from_eigenvalues(np.array([[1.0, 1.0], [1.0, 0.0]]))
    np.testing.assert_allclose(batched, [1.0, 0.0], atol=1e-12)


def test_limits_in_sigma(points):
    n = points.shape[0]
    for t in (1, 3):
        assert dse(points, sigma=1e-3, t=t) == pytest.approx(math.log2(n), abs=1e-12)
        assert 0 <= dse(points, sigma=1e6, t=t) < 1e-6


def test_scale_relation_and_median_is_scale_free(points):
    for c in (0.01, 7.0):
        assert dse(c * points, sigma=3.0) == pytest.approx(dse(points, sigma=3.0 / c), rel=1e-10)
        for t in (1, 10):
            assert dse(c * points, sigma="median", t=t) == pytest.approx(
                dse(points, sigma="median", t=t), rel=1e-9
            )
    by_name = dse(points, sigma="sqrt_dim")
    assert by_name == pytest.approx(dse(points, sigma=math.sqrt(5)), rel=1e-12)


@pytest.mark.parametrize("n", [5, 6, 7, 8])  # 10, 15, 21, 28 pairs: even and odd counts
def test_median_sigma_is_the_median_pairwise_distance(rng, n):
    x = rng.normal(size=(n, 3))
    assert resolve_sigma(x) == pytest.approx(float(np.median(pdist(x))), rel=1e-12)
    assert dse(x, sigma="median") == pytest.approx(
        naive_dse(x, float(np.median(pdist(x))), 1), rel=1e-8
    )


def test_order_statistics_of_large_inputs_are_exact(rng):
    flat = torch.from_numpy(rng.exponential(size=5_000_001))
    flat[:1000] = 0.0  # ties
    ks = [1, 1000, 1001, 2_500_000, 5_000_001]
    expected = np.sort(flat.numpy())[np.array(ks) - 1]
    np.testing.assert_array_equal(kth_smallest(flat, ks), expected)


def test_invariant_to_rotation_translation_and_permutation(points, rng):
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    reference = dse(points, sigma=2.0, t=2)
    moved = [points @ rotation, points + 100.0 * rng.normal(size=5), points[rng.permutation(60)]]
    for x in moved:
        assert dse(x, sigma=2.0, t=2) == pytest.approx(reference, rel=1e-9)


def test_batched_equals_looped(rng):
    stack = rng.normal(size=(3, 50, 4)) * np.array([1.0, 2.0, 4.0])[:, None, None]
    for sigma in (2.0, "median"):
        batched = dse(stack, sigma=sigma, t=2)
        assert isinstance(batched, np.ndarray) and batched.shape == (3,)
        np.testing.assert_allclose(batched, [dse(x, sigma=sigma, t=2) for x in stack], rtol=1e-12)
    spectra = diffusion_spectrum(stack, sigma=2.0)
    assert spectra.shape == (3, 50)
    np.testing.assert_allclose(dse_from_eigenvalues(spectra), dse(stack, sigma=2.0), rtol=1e-12)
    np.testing.assert_allclose(resolve_sigma(stack), [np.median(pdist(x)) for x in stack])


def test_float32_within_the_documented_tolerance(points):
    for t, rel in ((1, 5e-6), (2.5, 5e-6)):
        exact = dse(points, sigma=2.0, t=t)
        assert dse(points, sigma=2.0, t=t, dtype=torch.float32) == pytest.approx(exact, rel=rel)
    half = points.astype(np.float16)
    assert dse(half) == dse(half.astype(np.float64))


@pytest.mark.parametrize("device", DEVICES)
def test_torch_in_torch_out_on_the_same_device(points, device):
    x = torch.from_numpy(np.stack([points, 2 * points])).to(device)
    out = dse(x, sigma=2.0)
    assert isinstance(out, torch.Tensor) and out.device.type == device and out.shape == (2,)
    np.testing.assert_allclose(
        out.cpu().numpy(), [dse(points, sigma=2.0), dse(points, sigma=1.0)], rtol=1e-10
    )
    assert isinstance(dse(x[0]), float) and isinstance(dse(points), float)
    ev = diffusion_spectrum(x[0], sigma="median")
    assert isinstance(ev, torch.Tensor) and ev.device.type == device
    assert isinstance(dse_from_eigenvalues(ev), float)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(points):
    x = torch.from_numpy(points).cuda()
    assert dse(x, sigma="median", t=3) == pytest.approx(dse(points, sigma="median", t=3), rel=1e-9)


def test_degenerate_inputs_have_documented_values(points, rng):
    duplicated = np.concatenate([points, points[:10]])
    value = dse(duplicated, sigma=2.0)
    assert math.isfinite(value)
    assert value == pytest.approx(naive_dse(duplicated, 2.0, 1), rel=1e-6)
    constant = np.full((30, 4), 3.0)
    for sigma in (2.0, "median"):
        with pytest.warns(DegenerateInputWarning, match="the points coincide and DSE is 0"):
            assert dse(constant, sigma=sigma) == 0.0
    with pytest.warns(DegenerateInputWarning, match="All points coincide"):
        assert resolve_sigma(constant) == 1.0
    mostly = np.concatenate([np.zeros((20, 2)), rng.normal(size=(5, 2))])
    positive = pdist(mostly)[pdist(mostly) > 0]
    with pytest.warns(DegenerateInputWarning, match="positive distance"):
        assert resolve_sigma(mostly) == pytest.approx(float(np.median(positive)), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "arg", "error"),
    [
        ({"t": 0}, "t", ValueError),
        ({"t": -1.0}, "t", ValueError),
        ({"t": float("nan")}, "t", ValueError),
        ({"t": "1"}, "t", TypeError),
        ({"sigma": 0.0}, "sigma", ValueError),
        ({"sigma": -2}, "sigma", ValueError),
        ({"sigma": "bogus"}, "sigma", ValueError),
        ({"sigma": None}, "sigma", TypeError),
        ({"method": "bogus"}, "method", ValueError),
        ({"dtype": torch.int32}, "dtype", ValueError),
        ({"n_probes": 0}, "n_probes", ValueError),
        ({"n_top": 2.5}, "n_top", TypeError),
        ({"seed": -1}, "seed", ValueError),
    ],
)
def test_bad_options_raise_in_the_grammar(points, kwargs, arg, error):
    with pytest.raises(error, match=GRAMMAR.format(arg=arg, func="dse")):
        dse(points, **kwargs)


@pytest.mark.parametrize(
    ("x", "fragment"),
    [
        (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), "non-finite"),
        (np.ones((1, 4)), "n_samples >= 2"),
        (np.ones(3), "shape (3,)"),
    ],
)
def test_bad_x_raises_in_the_grammar(x, fragment):
    for func, call in (("dse", dse), ("diffusion_spectrum", diffusion_spectrum)):
        with pytest.raises(ValueError, match=GRAMMAR.format(arg="x", func=func)) as info:
            call(x)
        assert fragment in str(info.value)


def test_bad_eigenvalues_raise_in_the_grammar():
    func = "dse_from_eigenvalues"
    for bad, fragment in (
        ([0.0, 0.0], "all zeros"),
        (np.ones((2, 2, 2)), "shape (2, 2, 2)"),
        ([1.0, np.nan], "non-finite"),
    ):
        with pytest.raises(ValueError, match=GRAMMAR.format(arg="eigenvalues", func=func)) as e:
            dse_from_eigenvalues(bad)
        assert fragment in str(e.value)
    with pytest.raises(ValueError, match=re.escape("must be a finite real number > 0")):
        dse_from_eigenvalues([1.0], t=0)


# ---------------------------------------------------------------------------------------------
# The approximate method (exact DSE at large n takes minutes: compared here at n = 1500).


@pytest.fixture(scope="module")
def approx_cases():
    """Data where the kernel is far from constant, so DSE is not ~0 even at t = 10."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(12, 32))
    clustered = centres[rng.integers(0, 12, 1500)] + 0.4 * rng.normal(size=(1500, 32))
    latent = rng.normal(size=(1500, 3))
    curved = np.tanh(latent @ rng.normal(size=(3, 32))) + 0.05 * rng.normal(size=(1500, 32))
    return {"clustered": (clustered, 2.0), "curved": (curved, 1.0)}


@pytest.mark.parametrize("case", ["clustered", "curved"])
def test_lanczos_is_within_one_percent_of_exact(approx_cases, case):
    x, sigma = approx_cases[case]
    spectrum = diffusion_spectrum(x, sigma=sigma)
    for t in (1, 10):
        exact = dse_from_eigenvalues(spectrum, t=t)
        assert exact > 0.5
        approx = dse(x, sigma=sigma, t=t, method="lanczos", seed=3)
        assert approx == pytest.approx(exact, rel=3e-3)  # measured <= 4e-4; the target is 1e-2


def test_lanczos_is_seeded_and_exact_below_4_n_top(approx_cases, rng):
    x, sigma = approx_cases["clustered"]
    options = {"sigma": sigma, "method": "lanczos", "n_top": 128, "n_steps": 15}
    first = dse(x[:1100], seed=1, **options)
    assert first == dse(x[:1100], seed=1, **options)
    assert first != dse(x[:1100], seed=2, **options)  # the probes do depend on the seed
    assert first == pytest.approx(dse(x[:1100], sigma=sigma), rel=1e-2)
    small = rng.normal(size=(80, 3))
    assert dse(small, method="lanczos", sigma="median") == dse(small, sigma="median")
