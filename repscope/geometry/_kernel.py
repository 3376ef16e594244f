"""The diffusion kernel that DSE, DSMI and the approximate method share.

Bandwidths (``sigma``: a number, ``"median"`` or ``"sqrt_dim"``), pairwise squared distances, the
symmetric operator ``M = D^-1/2 K D^-1/2`` and the entropy of a spectrum. Points are first
centred and divided by their largest magnitude ``c`` (:func:`prepare`), and a bandwidth ``σ``
becomes ``σ / c``: the kernel ``exp(-‖x_i - x_j‖² / 2σ²)`` is unchanged, and nothing overflows
at 1e200 or underflows at 1e-200, so ``DSE(cX, σ) == DSE(X, σ / c)`` holds at any scale.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Literal, cast

import torch

from .._validation import check_option, check_real, describe, fail, warn
from ._arrays import centre

Sigma = float | Literal["median", "sqrt_dim"]
SIGMA_OPTIONS = ("median", "sqrt_dim")
_EXACT_SELECT = 1 << 22  # below this many entries, order statistics use torch.kthvalue directly


def check_sigma(sigma: Any, *, func: str) -> Sigma:
    """Validate ``sigma``: a positive real number, ``"median"`` or ``"sqrt_dim"``."""
    if isinstance(sigma, str):
        return cast(Sigma, check_option(sigma, name="sigma", func=func, options=SIGMA_OPTIONS))
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real):
        fail(
            "sigma",
            func,
            "a positive real number, 'median' or 'sqrt_dim'",
            describe(sigma),
            error=TypeError,
        )
    return check_real(sigma, name="sigma", func=func, low=0.0, low_inclusive=False)


def check_t(t: Any, *, func: str) -> float:
    """Validate the diffusion time ``t`` (a real number > 0)."""
    return check_real(t, name="t", func=func, low=0.0, low_inclusive=False)


def prepare(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Points ``(B, N, D)`` centred and divided by their largest magnitude, and that magnitude
    per batch element ``(B,)`` (1 for constant data). Columns constant up to rounding are
    exactly 0 (:func:`~repscope.geometry._arrays.centre`)."""
    centred, magnitude, _ = centre(x)
    scale = torch.where(magnitude > 0, magnitude, torch.ones_like(magnitude))
    return centred.div_(scale.reshape(-1, 1, 1)), scale


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
            warn(
                "All points coincide: the kernel is all ones whatever sigma, and DSE is 0; "
                "sigma='median' falls back to sigma=1."
            )
            return 1.0
        warn(
            "More than half of the pairs of points coincide (median distance 0); "
            "sigma='median' uses the median over the pairs at positive distance."
        )
        value = _median_from(flat, zeros, m)
    return value


def _median_from(flat: torch.Tensor, offset: int, m: int) -> float:
    ks = [offset + m] if m % 2 else [offset + m, offset + m + 1]
    return sum(math.sqrt(max(v, 0.0)) for v in kth_smallest(flat, ks)) / len(ks)


def noise_floor(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Per batch element, a bound on the rounding error of squared distances of ``x``
    ``(B, N, D)`` computed in ``dtype``: smaller values are 0 (duplicated points)."""
    return 16.0 * torch.finfo(dtype).eps * (x * x).sum(dim=-1).amax(dim=-1)


def bandwidths(
    sigma: float | str, d2: torch.Tensor, x: torch.Tensor, scale: torch.Tensor
) -> list[float]:
    """The bandwidth of each batch element in the units of the prepared points ``x``
    (``σ / c``), ``d2`` their squared distances ``(B, N, N)``."""
    if sigma == "median":
        floors = noise_floor(x, d2.dtype).tolist()
        return [median_distance(d2[b], floors[b]) for b in range(d2.shape[0])]
    value = math.sqrt(x.shape[-1]) if sigma == "sqrt_dim" else float(sigma)
    return [value / c for c in scale.tolist()]


def kernel_operator(
    x: torch.Tensor, widths: list[float], d2: torch.Tensor | None = None
) -> torch.Tensor:
    """``M = D^-1/2 K D^-1/2`` of prepared points ``x`` ``(B, N, D)`` with bandwidths in their
    units, built in place in one N x N buffer (``d2``, if given, is used and overwritten).

    Any bandwidth works: as ``σ → 0`` the kernel tends to the identity (distinct points), as
    ``σ → ∞`` to all ones; coincident points keep a kernel value of 1.
    """
    m = squared_distances(x) if d2 is None else d2
    inv = torch.tensor(widths, dtype=torch.float64).reciprocal().square().mul(-0.5)
    coef = inv.to(dtype=m.dtype, device=m.device)[:, None, None]  # may be -inf or -0
    m = torch.where(m > 0, m * coef, torch.zeros((), dtype=m.dtype, device=m.device))
    m.exp_()
    r = m.sum(dim=-1).rsqrt_()
    return m.mul_(r.unsqueeze(-1)).mul_(r.unsqueeze(-2))


def operator(x: torch.Tensor, sigma: float | str) -> torch.Tensor:
    """``M`` for raw points ``x`` ``(B, N, D)`` and a ``sigma`` in their units."""
    xs, scale = prepare(x)
    d2 = squared_distances(xs)
    return kernel_operator(xs, bandwidths(sigma, d2, xs, scale), d2)


def resolve_sigma_values(sigma: float | str, x: torch.Tensor) -> list[float]:
    """The numeric bandwidth ``sigma`` stands for on each batch element of raw points ``x``,
    in their units."""
    xs, scale = prepare(x)
    d2 = squared_distances(xs) if sigma == "median" else xs
    return [w * c for w, c in zip(bandwidths(sigma, d2, xs, scale), scale.tolist(), strict=True)]


def entropy_bits(eigenvalues: torch.Tensor, t: float) -> torch.Tensor:
    """``H = -sum_i p_i log2 p_i``, ``p_i = |l_i|^t / sum_j |l_j|^t``, along the last axis."""
    lam = eigenvalues.abs()
    lam = lam / lam.amax(dim=-1, keepdim=True)  # scale-free; no overflow for any t
    weights = lam.pow(t)
    p = weights / weights.sum(dim=-1, keepdim=True)
    return torch.special.entr(p).sum(dim=-1) / math.log(2.0)
