"""Turning user input into a validated ``(B, N, D)`` tensor, and results back into user types.

Every geometry function accepts a ``numpy.ndarray`` or a ``torch.Tensor`` of shape
``(n_samples, n_features)`` or ``(batch, n_samples, n_features)``. Computation happens on the
input's device; half precision is upcast; results come back as Python floats for 2-D input, and
as arrays of the input's kind (on the input's device) for batched input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from .._validation import describe, fail, warn

_ARRAY = "a 2-D or 3-D array of shape (n_samples, n_features) or (batch, n_samples, n_features)"
_COMPUTE_DTYPES = (torch.float32, torch.float64)


@dataclass(frozen=True)
class Batch:
    """Validated input: always 3-D, in the compute dtype, on the input's device."""

    data: torch.Tensor  # (B, N, D)
    batched: bool  # the user passed 3-D input
    backend: Literal["numpy", "torch"]

    @property
    def n_samples(self) -> int:
        return self.data.shape[-2]

    @property
    def n_features(self) -> int:
        return self.data.shape[-1]

    def output(self, values: torch.Tensor) -> Any:
        """Per-batch-element values ``(B,)`` → float (2-D input) or an array of the input's kind."""
        if not self.batched:
            return values[0].item()
        if self.backend == "numpy":
            return values.detach().cpu().numpy()
        return values

    def output_array(self, values: torch.Tensor) -> Any:
        """Per-batch-element arrays ``(B, K)`` → ``(K,)`` or ``(B, K)`` of the input's kind."""
        out = values if self.batched else values[0]
        if self.backend == "numpy":
            return out.detach().cpu().numpy()
        return out


def check_dtype(dtype: Any, *, func: str) -> torch.dtype:
    """The compute dtype: ``torch.float64`` (default) or ``torch.float32``."""
    if dtype is None:
        return torch.float64
    if dtype in (np.float64, "float64"):
        return torch.float64
    if dtype in (np.float32, "float32"):
        return torch.float32
    if dtype not in _COMPUTE_DTYPES:
        fail("dtype", func, "torch.float64 or torch.float32", describe(dtype))
    return dtype


def _to_tensor(x: Any, *, name: str, func: str) -> tuple[torch.Tensor, Literal["numpy", "torch"]]:
    if isinstance(x, torch.Tensor):
        if x.layout != torch.strided:  # sparse COO, CSR, CSC, BSR, BSC
            fail(
                name,
                func,
                "a dense array (call .to_dense() on a sparse tensor)",
                f"a sparse tensor ({str(x.layout).removeprefix('torch.')})",
                error=TypeError,
            )
        if x.is_meta:
            fail(
                name,
                func,
                "an array that holds values",
                f"a tensor on the 'meta' device (shape {tuple(x.shape)}, no data)",
            )
        if x.is_complex() or x.dtype == torch.bool or not (x.is_floating_point() or _is_int(x)):
            fail(name, func, "a real numeric array", f"dtype {x.dtype}", error=TypeError)
        return x.detach(), "torch"
    if callable(getattr(x, "toarray", None)) and hasattr(x, "nnz"):  # a scipy.sparse matrix
        fail(
            name,
            func,
            "a dense array (call .toarray() on a sparse matrix)",
            f"a sparse {type(x).__name__}",
            error=TypeError,
        )
    try:
        arr = np.asarray(x)
    except Exception:  # ragged lists, objects numpy cannot hold
        fail(name, func, _ARRAY, describe(x), error=TypeError)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        fail(name, func, "a real numeric array", f"dtype {arr.dtype}", error=TypeError)
    if arr.dtype not in _TORCH_NUMPY:  # float128, uint16/32/64: torch has no such dtype
        with np.errstate(over="ignore"):  # out of float64's range: caught as non-finite
            arr = arr.astype(np.float64)
    return torch.from_numpy(np.ascontiguousarray(arr)), "numpy"


#: numpy dtypes torch can hold as they are.
_TORCH_NUMPY = tuple(
    np.dtype(t)
    for t in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8")
)


def unit_scale(
    data: torch.Tensor, dims: tuple[int, ...] = (-2, -1)
) -> tuple[torch.Tensor, torch.Tensor]:
    """``data / s`` and ``s``, the largest magnitude along ``dims`` (1 where the data are 0).

    Every product of the data (covariances, Gram matrices, squared distances) is formed on the
    scaled data, whose entries are at most 1: nothing overflows at 1e200 or underflows at
    1e-200, and the scale-invariant measures do not change with the data's scale.
    """
    scale = data.abs().amax(dim=dims, keepdim=True)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return data / scale, scale


def centre(data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Column-centred data, with every column that is constant up to rounding set to 0.

    Parameters
    ----------
    data : torch.Tensor, shape (B, N, D)

    Returns
    -------
    centred : torch.Tensor, shape (B, N, D)
        A new tensor (``data`` is not changed).
    magnitude : torch.Tensor, shape (B,)
        The largest magnitude of ``centred`` (0 where every column is constant).
    flat : torch.Tensor of bool, shape (B,)
        Whether every column is constant up to rounding: the data have no variance.

    Notes
    -----
    *Rounding level.* Let ``u = ε/2`` be the unit roundoff of the compute dtype. For a column
    whose ``N`` values all equal ``a``, the computed mean ``m`` satisfies ``|m - a| <= N u |a|``
    to first order, whatever the order of summation (at most ``(N - 1) u`` from the sum,
    ``u`` from the division), and ``a - m`` is exact (Sterbenz): every centred value is the
    same shift, of at most ``N u |a|``, where the exact answer is 0. Such a shift is what gave
    ``np.full((50, 16), 0.1)`` a RankMe of 1.00002: the data are divided by their largest
    magnitude before any product is formed, so any non-zero residue becomes a spectrum.

    A column is taken as constant when the spread of its centred values is within the rounding
    of its own mean::

        max_i x_ij - min_i x_ij  <=  N ε |m_j|        (twice the bound above)

    The spread, not the largest magnitude, is compared, so the shift itself never counts; an
    exactly constant column has spread 0 and is always caught, and a column whose values differ
    by a few units in the last place of its mean is caught too. Such a column is set to exactly
    0, as in exact arithmetic, and when every column is, the data have no variance. Ordinary
    small variance is kept: in float64 (the default) the bound is ``2.2e-16 N`` relative to
    the mean (``2.2e-12`` for ``N = 10^4``); in float32 (``dtype=torch.float32``) it is
    ``1.2e-7 N`` (``1.2e-3`` for ``N = 10^4``), so data whose spread is that small beside
    their mean need float64. The bound is the compute dtype's: float32 data computed in
    float64 are judged at float64's rounding.

    Examples
    --------
    >>> import torch
    >>> x = torch.full((1, 50, 3), 0.1, dtype=torch.float64)
    >>> x[0, :, 2] = torch.arange(50.0)
    >>> centred, magnitude, flat = centre(x)
    >>> bool(centred[..., :2].eq(0).all()), float(magnitude[0]), bool(flat[0])
    (True, 24.5, False)
    """
    mean = data.mean(dim=-2, keepdim=True)
    centred = data - mean
    high, low = centred.amax(dim=-2, keepdim=True), centred.amin(dim=-2, keepdim=True)
    tolerance = data.shape[-2] * torch.finfo(data.dtype).eps
    constant = (high - low) <= tolerance * mean.abs()  # (B, 1, D)
    if bool(constant.any()):
        centred.masked_fill_(constant, 0.0)
        high, low = high.masked_fill(constant, 0.0), low.masked_fill(constant, 0.0)
    magnitude = torch.maximum(high, -low).amax(dim=-1).reshape(-1)
    return centred, magnitude, constant.all(dim=-1).reshape(-1)


def warn_no_variance(flat: torch.Tensor, func: str, answer: str) -> None:
    """The one :class:`~repscope.DegenerateInputWarning` of every measure for data with no
    variance (``flat``: per matrix, ``(B,)`` bool; see :func:`centre`), saying the answer."""
    count = int(flat.sum())
    if count:
        which = f" ({count} of the {flat.numel()} matrices)" if flat.numel() > 1 else ""
        warn(
            f"{func}: the data have no variance{which} (every column is constant, up to "
            f"rounding), so {answer}.",
            stacklevel=4,
        )


def _all_finite(tensor: torch.Tensor) -> bool:
    """Whether every value is finite, from one ``aminmax`` pass (NaN propagates to both ends,
    ±Inf shows at one): 5–8× faster than ``isfinite(x).all()``, which writes a boolean copy."""
    low, high = torch.aminmax(tensor.reshape(-1))
    return bool(torch.isfinite(low) & torch.isfinite(high))


def _is_int(x: torch.Tensor) -> bool:
    return not x.is_floating_point() and not x.is_complex() and x.dtype != torch.bool


def as_batch(
    x: Any,
    *,
    name: str = "x",
    func: str,
    dtype: torch.dtype = torch.float64,
    min_samples: int = 2,
    allow_batch: bool = True,
) -> Batch:
    """Validate ``x`` and return it as a ``(B, N, D)`` tensor in ``dtype`` on its own device.

    Raises
    ------
    TypeError
        For a non-numeric array.
    ValueError
        For the wrong number of dimensions, fewer than ``min_samples`` rows, no features,
        or NaN/Inf values.
    """
    tensor, backend = _to_tensor(x, name=name, func=func)
    expected = _ARRAY if allow_batch else "a 2-D array of shape (n_samples, n_features)"
    if tensor.ndim not in ((2, 3) if allow_batch else (2,)):
        fail(name, func, expected, f"shape {tuple(tensor.shape)}")
    if tensor.shape[-2] < min_samples:
        fail(
            name,
            func,
            f"{expected} with n_samples >= {min_samples}",
            f"shape {tuple(tensor.shape)}",
        )
    if tensor.shape[-1] < 1 or (tensor.ndim == 3 and tensor.shape[0] < 1):
        fail(name, func, f"{expected} with no empty axis", f"shape {tuple(tensor.shape)}")
    tensor = tensor.to(dtype)
    if not _all_finite(tensor):
        bad = int((~torch.isfinite(tensor)).sum())
        fail(name, func, "finite (no NaN or Inf)", f"{bad} non-finite value(s)")
    batched = tensor.ndim == 3
    return Batch(tensor if batched else tensor.unsqueeze(0), batched, backend)


def label_array(labels: Any, *, func: str, what: str = "an array of labels") -> np.ndarray:
    """Labels (a list, numpy array or tensor on any device) as a numpy array; a column
    ``(n, 1)`` becomes ``(n,)``. The caller checks the shape and the kind it needs."""
    if isinstance(labels, torch.Tensor):
        if labels.is_floating_point():  # bfloat16 has no numpy dtype
            labels = labels.to(torch.float64)
        labels = labels.detach().cpu().numpy()
    try:
        labels = np.asarray(labels)
    except Exception:  # ragged lists
        fail("labels", func, what, describe(labels), error=TypeError)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    return labels
