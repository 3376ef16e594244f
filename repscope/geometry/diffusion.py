"""Diffusion spectral entropy (DSE): the diffusion operator, its spectrum and its entropy.

The operator follows the official ``dse-dsmi`` 1.1 package (Liao et al. 2023): a Gaussian kernel
on the raw points, symmetrically normalised by the degrees,

    K_ij = exp(-||x_i - x_j||^2 / (2 sigma^2)),   d_i = sum_j K_ij,   M = D^-1/2 K D^-1/2,

whose eigenvalues are those of the random walk D^-1 K. ``M`` is symmetric positive semi-definite,
so one ``eigvalsh`` call gives the whole spectrum; every ``t`` is then a cheap function of it
(:func:`dse_from_eigenvalues`). The approximate method for large ``n_samples`` lives in
:mod:`repscope.geometry.diffusion_approx`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Literal

import numpy as np
import torch

from .._validation import _describe, check_int, check_option, check_real, fail, warn
from ._arrays import as_batch, check_dtype

Sigma = float | Literal["median", "sqrt_dim"]
_SIGMA_OPTIONS = ("median", "sqrt_dim")
_EXACT_SELECT = 1 << 22  # below this many entries, order statistics use torch.kthvalue directly


def check_sigma(sigma: Any, *, func: str) -> float | str:
    """Validate ``sigma``: a positive real number, ``"median"`` or ``"sqrt_dim"``."""
    if isinstance(sigma, str):
        return check_option(sigma, name="sigma", func=func, options=_SIGMA_OPTIONS)
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real):
        fail("sigma", func, "a positive real number, 'median' or 'sqrt_dim'", _describe(sigma),
             error=TypeError)
    return check_real(sigma, name="sigma", func=func, low=0.0, low_inclusive=False)


def check_t(t: Any, *, func: str) -> float:
    """Validate the diffusion time ``t`` (a real number > 0)."""
    return check_real(t, name="t", func=func, low=0.0, low_inclusive=False)


def squared_distances(x: torch.Tensor) -> torch.Tensor:
    """Pairwise squared Euclidean distances ``(B, N, N)`` of ``x`` ``(B, N, D)``, zero diagonal.

    Matmul identity on the column-centred points (translation-invariant and accurate to a few
    ulps of ||x||^2), clamped at 0. One N x N allocation; every later step works in place.
    """
    x = x - x.mean(dim=-2, keepdim=True)
    sq = (x * x).sum(dim=-1)
    d2 = torch.baddbmm(sq.unsqueeze(-1), x, x.transpose(-1, -2), alpha=-2.0)
    d2.add_(sq.unsqueeze(-2)).clamp_(min=0.0)
    d2.diagonal(dim1=-2, dim2=-1).zero_()
    return d2


def kth_smallest(flat: torch.Tensor, ks: list[int]) -> list[float]:
    """The ``k``-th smallest entries (1-based) of a 1-D tensor, for each ``k`` in ``ks``.

    Exact. Large inputs are bracketed from a fixed-seed sample of 2^20 entries, counted in
    chunks, and only the bracket is selected from (``torch.kthvalue`` on 4e8 entries takes ~20 s).
    """
    n = flat.numel()
    if n <= _EXACT_SELECT:
        return [float(torch.kthvalue(flat, k).values) for k in ks]
    gen = torch.Generator(device=flat.device).manual_seed(0)
    sample = flat[torch.randint(n, (1 << 20,), generator=gen, device=flat.device)].sort().values
    return [_select_bracketed(flat, k, sample) for k in ks]


def _select_bracketed(flat: torch.Tensor, k: int, sample: torch.Tensor) -> float:
    n, s = flat.numel(), sample.numel()
    q = k / n
    half = 8.0 * math.sqrt(q * (1.0 - q) / s) + 1.0 / s  # 8 standard errors of the quantile
    lo = sample[max(int((q - half) * s), 0)]
    hi = sample[min(int((q + half) * s), s - 1)]
    chunks = flat.split(1 << 24)
    below = sum(int((c < lo).sum()) for c in chunks)
    inside = sum(int(((c >= lo) & (c <= hi)).sum()) for c in chunks)
    if not below < k <= below + inside or inside > (1 << 24):  # missed (p < 1e-14) or ties
        return float(torch.kthvalue(flat, k).values)
    if bool(lo == hi):
        return float(lo)
    kept = torch.cat([c[(c >= lo) & (c <= hi)] for c in chunks])
    return float(torch.kthvalue(kept, k - below).values)


def median_distance(d2: torch.Tensor, floor: float = 0.0) -> float:
    """Median Euclidean distance over distinct pairs ``i < j`` of one ``(N, N)`` matrix ``d2``.

    The flattened matrix holds the ``N`` diagonal zeros and every pair twice, so the median over
    the ``m = N(N-1)/2`` pairs is found among its order statistics ``N + m`` (and ``N + m + 1``).
    Squared distances ``<= floor`` (rounding noise of duplicated points) count as 0. Such pairs
    count in the median; if they are the majority, the median over the other pairs is used
    instead, with a warning.
    """
    n = d2.shape[-1]
    flat = d2.reshape(-1)
    value = _median_from(flat, n, n * (n - 1) // 2)
    if value**2 <= floor:
        zeros = int((flat <= floor).sum())
        m = (flat.numel() - zeros) // 2
        if m == 0:
            warn("All points coincide: the kernel is all ones whatever sigma, and DSE is 0; "
                 "sigma='median' falls back to sigma=1.")
            return 1.0
        warn("More than half of the pairs of points coincide (median distance 0); "
             "sigma='median' uses the median over the pairs at positive distance.")
        value = _median_from(flat, zeros, m)
    return value


def _median_from(flat: torch.Tensor, offset: int, m: int) -> float:
    ks = [offset + m] if m % 2 else [offset + m, offset + m + 1]
    return sum(math.sqrt(max(v, 0.0)) for v in kth_smallest(flat, ks)) / len(ks)


def noise_floor(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Per batch element, a bound on the rounding error of squared distances of ``x``
    ``(B, N, D)`` computed in ``dtype``: smaller values are 0 (duplicated points)."""
    return 16.0 * torch.finfo(dtype).eps * (x * x).sum(dim=-1).amax(dim=-1)


def resolve_sigma_values(sigma: float | str, d2: torch.Tensor, x: torch.Tensor) -> list[float]:
    """The numeric bandwidth for each batch element of ``x`` ``(B, N, D)``, ``d2`` its squared
    distances ``(B, N, N)``."""
    if sigma == "median":
        floors = noise_floor(x, d2.dtype).tolist()
        return [median_distance(d2[b], floors[b]) for b in range(d2.shape[0])]
    value = math.sqrt(x.shape[-1]) if sigma == "sqrt_dim" else float(sigma)
    return [value] * d2.shape[0]


def _operator(x: torch.Tensor, sigma: float | str) -> torch.Tensor:
    """``M = D^-1/2 K D^-1/2`` for ``x`` ``(B, N, D)``, built in place in one N x N buffer."""
    m = squared_distances(x)
    sigmas = resolve_sigma_values(sigma, m, x)
    coef = torch.tensor([-0.5 / s**2 for s in sigmas], dtype=m.dtype, device=m.device)
    m.mul_(coef[:, None, None]).exp_()
    r = m.sum(dim=-1).rsqrt_()
    return m.mul_(r.unsqueeze(-1)).mul_(r.unsqueeze(-2))


def diffusion_operator(x: Any, *, sigma: Sigma = 10.0, dtype: torch.dtype | None = None) -> Any:
    """The symmetric diffusion operator ``M = D^-1/2 K D^-1/2``.

    Parameters
    ----------
    x : array of shape (n_samples, n_features) or (batch, n_samples, n_features)
    sigma : float, "median" or "sqrt_dim", default 10.0
        Kernel bandwidth; see :func:`dse`.
    dtype : torch.float64 (default) or torch.float32

    Returns
    -------
    array of shape (n_samples, n_samples) or (batch, n_samples, n_samples)
        Symmetric, entrywise positive, eigenvalues in [0, 1] with the largest equal to 1.

    Examples
    --------
    >>> import numpy as np
    >>> m = diffusion_operator(np.eye(3), sigma=1.0)
    >>> m.shape, bool(np.allclose(m, m.T))
    ((3, 3), True)
    """
    func = "diffusion_operator"
    sigma = check_sigma(sigma, func=func)
    batch = as_batch(x, func=func, dtype=check_dtype(dtype, func=func))
    return batch.output_array(_operator(batch.data, sigma))


def resolve_sigma(x: Any, *, sigma: Sigma = "median", dtype: torch.dtype | None = None) -> Any:
    """The numeric kernel bandwidth that ``sigma`` stands for on ``x`` (to show on a plot).

    Parameters
    ----------
    x : array of shape (n_samples, n_features) or (batch, n_samples, n_features)
    sigma : float, "median" or "sqrt_dim", default "median"
    dtype : torch.float64 (default) or torch.float32

    Returns
    -------
    float, or an array of shape (batch,) of the input's kind (one value per batch element).

    Examples
    --------
    >>> import numpy as np
    >>> resolve_sigma(np.array([[0.0], [1.0], [3.0]]))  # distances 1, 2, 3
    2.0
    >>> resolve_sigma(np.zeros((5, 16)), sigma="sqrt_dim")
    4.0
    """
    func = "resolve_sigma"
    sigma = check_sigma(sigma, func=func)
    batch = as_batch(x, func=func, dtype=check_dtype(dtype, func=func))
    d2 = squared_distances(batch.data) if sigma == "median" else batch.data
    values = resolve_sigma_values(sigma, d2, batch.data)
    return batch.output(torch.tensor(values, dtype=torch.float64, device=batch.data.device))


def diffusion_spectrum(x: Any, *, sigma: Sigma = 10.0, dtype: torch.dtype | None = None) -> Any:
    """Eigenvalues of the diffusion operator ``M``, in descending order.

    One batched ``torch.linalg.eigvalsh`` call on the input's device. Pass the result to
    :func:`dse_from_eigenvalues` to get DSE at several ``t`` from one eigendecomposition.

    Parameters
    ----------
    x : array of shape (n_samples, n_features) or (batch, n_samples, n_features)
    sigma : float, "median" or "sqrt_dim", default 10.0
        Kernel bandwidth; see :func:`dse`.
    dtype : torch.float64 (default) or torch.float32

    Returns
    -------
    array of shape (n_samples,) or (batch, n_samples)
        Of the input's kind (numpy or torch, same device). The first is 1 (up to rounding); all
        are in [0, 1] up to rounding (``M`` is positive semi-definite).

    Examples
    --------
    >>> import numpy as np
    >>> ev = diffusion_spectrum(np.random.default_rng(0).normal(size=(50, 4)), sigma=1.0)
    >>> ev.shape, round(float(ev[0]), 12)
    ((50,), 1.0)
    """
    func = "diffusion_spectrum"
    sigma = check_sigma(sigma, func=func)
    batch = as_batch(x, func=func, dtype=check_dtype(dtype, func=func))
    eigenvalues = torch.linalg.eigvalsh(_operator(batch.data, sigma)).flip(-1)
    return batch.output_array(eigenvalues)


def entropy_bits(eigenvalues: torch.Tensor, t: float) -> torch.Tensor:
    """``H = -sum_i p_i log2 p_i``, ``p_i = |l_i|^t / sum_j |l_j|^t``, along the last axis."""
    lam = eigenvalues.abs()
    lam = lam / lam.amax(dim=-1, keepdim=True)  # scale-free; no overflow for any t
    weights = lam.pow(t)
    p = weights / weights.sum(dim=-1, keepdim=True)
    return torch.special.entr(p).sum(dim=-1) / math.log(2.0)


def dse_from_eigenvalues(eigenvalues: Any, *, t: float = 1.0) -> Any:
    """DSE from precomputed eigenvalues (the output of :func:`diffusion_spectrum`).

    Parameters
    ----------
    eigenvalues : array of shape (n,) or (batch, n)
        Any real eigenvalues, not all zero; their absolute values are used.
    t : float > 0, default 1.0
        Diffusion time.

    Returns
    -------
    float, or an array of shape (batch,) of the input's kind

    Examples
    --------
    >>> import numpy as np
    >>> round(dse_from_eigenvalues(np.ones(8)), 12)  # uniform spectrum: log2(8) bits
    3.0
    >>> ev = diffusion_spectrum(np.random.default_rng(0).normal(size=(60, 3)), sigma=1.0)
    >>> [round(dse_from_eigenvalues(ev, t=t), 3) for t in (1, 2)] == [
    ...     round(dse(np.random.default_rng(0).normal(size=(60, 3)), sigma=1.0, t=t), 3)
    ...     for t in (1, 2)
    ... ]
    True
    """
    func = "dse_from_eigenvalues"
    t = check_t(t, func=func)
    ev = eigenvalues if isinstance(eigenvalues, torch.Tensor) else np.asarray(eigenvalues)
    if ev.ndim not in (1, 2):
        fail("eigenvalues", func, "a 1-D or 2-D array of shape (n,) or (batch, n)",
             f"shape {tuple(ev.shape)}")
    batch = as_batch(ev[..., None, :], name="eigenvalues", func=func, min_samples=1)
    if bool((batch.data == 0).all(dim=-1).any()):
        fail("eigenvalues", func, "not all zero", "all zeros")
    return batch.output(entropy_bits(batch.data[:, 0, :], t))


def dse(
    x: Any,
    *,
    sigma: Sigma = 10.0,
    t: float = 1.0,
    method: Literal["exact", "lanczos"] = "exact",
    dtype: torch.dtype | None = None,
    n_top: int = 256,
    n_probes: int = 32,
    n_steps: int = 15,
    seed: int = 0,
) -> Any:
    r"""Diffusion spectral entropy (DSE) of a point cloud, in bits.

    .. math::

        K_{ij} = e^{-\|x_i - x_j\|^2 / 2\sigma^2},\quad M = D^{-1/2} K D^{-1/2},\quad
        p_i = \frac{|\lambda_i|^t}{\sum_j |\lambda_j|^t},\quad H = -\sum_i p_i \log_2 p_i

    with ``D = diag(sum_j K_ij)`` and ``lambda_i`` the eigenvalues of ``M`` (those of the random
    walk ``D^-1 K``). ``0 log 0 = 0``. ``0 <= H <= log2(n_samples)``: ``H -> log2 n`` as
    ``sigma -> 0`` (distinct points) and ``H -> 0`` as ``sigma -> inf``.

    The data are not normalised: DSE depends on their scale through sigma,
    ``DSE(c X, sigma) == DSE(X, sigma / c)``. Use ``sigma="median"`` (the median pairwise
    distance; scale-free) to compare runs whose scale changes, and show sigma on every plot
    (:func:`resolve_sigma` gives the number behind "median").

    Parameters
    ----------
    x : array of shape (n_samples, n_features) or (batch, n_samples, n_features)
        numpy or torch, any device; n_samples >= 2.
    sigma : float > 0, "median" or "sqrt_dim", default 10.0
        Kernel bandwidth. "median": the median Euclidean distance over distinct pairs (per batch
        element); "sqrt_dim": ``sqrt(n_features)``.
    t : float > 0, default 1.0
        Diffusion time (power of the eigenvalues); need not be an integer.
    method : {"exact", "lanczos"}, default "exact"
        "exact": every eigenvalue, O(n^3). "lanczos": the top ``n_top`` eigenpairs plus
        stochastic Lanczos quadrature of the rest (``n_probes`` probes, ``n_steps`` steps,
        seeded by ``seed``), O(n^2 (D + 2 n_top + n_probes n_steps)) with ``M`` in float32;
        for large n (n = 20000, D = 128: ~17 s on 2 CPU cores, 2.3 GiB). Measured error
        <= 4e-4 relative at t = 1 and t = 10; see :mod:`repscope.geometry.diffusion_approx`.
        For ``n_samples <= 4 n_top`` it runs the exact method (cheaper there, and exact).
    dtype : torch.float64 (default) or torch.float32
        Compute dtype of the exact method (float16/bfloat16 inputs are upcast). float32 is
        faster; measured on Gaussian, clustered and manifold data (n = 300, 1500; sigma in
        {1, 3, 10, "median"}) it changed DSE by < 5e-6 relative at t = 1 and by < 2e-6 bits at
        t = 10 (< 3e-6 relative where DSE > 0.01 bits; a DSE of ~1e-10 bits can move by a few %).
        The lanczos method always holds ``M`` in float32 and accumulates in float64.
    n_top, n_probes, n_steps : int >= 1, default 256, 32, 15
        Options of the lanczos method (ignored by "exact").
    seed : int >= 0, default 0
        Seeds the lanczos method's random vectors (on the input's device).

    Returns
    -------
    float for 2-D input; an array of shape (batch,) of the input's kind for 3-D input.

    Notes
    -----
    Reproduces ``dse_dsmi.diffusion_spectral_entropy`` 1.1 (without its ``max_N=10000``
    subsampling). The official code adds ``eps = 2.2e-16`` to every ``p_i`` before taking the
    entropy; that changes ``H`` by less than ``n_samples * 53 * 2.2e-16`` bits. Its kernel
    prefactor ``1 / (sigma sqrt(2 pi))`` cancels in ``M`` and is left out. Duplicated points give
    zero eigenvalues and a finite DSE; constant data give ``K`` all ones and DSE 0.

    References
    ----------
    D. Liao, C. Liu, et al. "Assessing neural network representations during training using
    noise-resilient diffusion spectral entropy." arXiv:2312.04823 (2023).

    Examples
    --------
    >>> import math
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(200, 8))
    >>> 0 < dse(x) < math.log2(200)
    True
    >>> bool(np.isclose(dse(10 * x, sigma=10.0), dse(x, sigma=1.0)))
    True
    >>> round(dse(x, sigma=1e-3), 6)  # tiny sigma: M = I, uniform spectrum
    7.643856
    """
    func = "dse"
    sigma = check_sigma(sigma, func=func)
    t = check_t(t, func=func)
    method = check_option(method, name="method", func=func, options=("exact", "lanczos"))
    compute_dtype = check_dtype(dtype, func=func)
    options = {name: check_int(value, name=name, func=func, low=1) for name, value in
               (("n_top", n_top), ("n_probes", n_probes), ("n_steps", n_steps))}
    seed = check_int(seed, name="seed", func=func, low=0)
    batch = as_batch(x, func=func, dtype=compute_dtype)
    if method == "lanczos" and batch.n_samples > 4 * options["n_top"]:
        from .diffusion_approx import lanczos_entropy

        values = torch.stack([lanczos_entropy(xb, sigma, t, seed=seed, **options)[0]
                              for xb in batch.data])
        return batch.output(values.to(compute_dtype))
    return batch.output(entropy_bits(torch.linalg.eigvalsh(_operator(batch.data, sigma)), t))
