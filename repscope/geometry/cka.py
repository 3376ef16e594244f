"""Linear centred kernel alignment (CKA) between two representations of the same points."""

from __future__ import annotations

from typing import Any

import torch

from .._validation import fail
from ._arrays import as_batch, centre, check_dtype, unit_scale, warn_no_variance
from ._precision import at_full_precision


@at_full_precision
def linear_cka(x: Any, y: Any, *, dtype: torch.dtype | None = None) -> Any:
    """Linear CKA (Kornblith et al. 2019) between two representations of the same samples.

    ``CKA(X, Y) = ‖Yᶜᵀ Xᶜ‖_F² / (‖Xᶜᵀ Xᶜ‖_F ‖Yᶜᵀ Yᶜ‖_F)`` on the column-centred data: 1 for
    representations that differ by a rotation and an isotropic scaling, near 0 for unrelated
    ones. ``1 - CKA`` of a layer between consecutive checkpoints says how far it moved.
    Computed through the ``N × N`` Gram matrices or the feature cross-products, whichever is
    smaller.

    Parameters
    ----------
    x : array of shape (n_samples, n_features_x) or (batch, n_samples, n_features_x)
    y : array of shape (n_samples, n_features_y) or (batch, n_samples, n_features_y)
        The same samples, in the same order; the feature counts may differ.
    dtype : torch.float64 or torch.float32, optional

    Returns
    -------
    float, or array of shape (batch,)
        In ``[0, 1]``. If either representation has no variance (every column constant, up to
        rounding), ``0.0`` (nothing to align), with a :class:`~repscope.DegenerateInputWarning`.

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry import linear_cka
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 10))
    >>> q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    >>> round(linear_cka(x, 3.0 * x @ q + 1.0), 6)
    1.0
    """
    func = "linear_cka"
    dt = check_dtype(dtype, func=func)
    bx = as_batch(x, name="x", func=func, dtype=dt)
    by = as_batch(y, name="y", func=func, dtype=dt)
    if bx.data.shape[:-1] != by.data.shape[:-1] or bx.batched != by.batched:
        lead = tuple(bx.data.shape[:-1]) if bx.batched else (bx.n_samples,)
        got = tuple(by.data.shape) if by.batched else (by.n_samples, by.n_features)
        fail(
            "y",
            func,
            f"an array of the same samples as 'x', shape {lead} + (n_features,)",
            f"shape {got}",
        )
    xc, _, flat_x = centre(bx.data)
    yc, _, flat_y = centre(by.data.to(xc.device))
    flat = flat_x | flat_y
    warn_no_variance(flat, func, "CKA is 0 (nothing to align)")
    xc, yc = unit_scale(xc)[0], unit_scale(yc)[0]  # CKA is scale-free
    n, dx, dy = xc.shape[-2], xc.shape[-1], yc.shape[-1]
    if n <= max(dx, dy):
        kx, ky = xc @ xc.mT, yc @ yc.mT
        cross = (kx * ky).sum(dim=(-2, -1))
        norm_x, norm_y = kx.square().sum(dim=(-2, -1)), ky.square().sum(dim=(-2, -1))
    else:
        cross = (yc.mT @ xc).square().sum(dim=(-2, -1))
        norm_x = (xc.mT @ xc).square().sum(dim=(-2, -1))
        norm_y = (yc.mT @ yc).square().sum(dim=(-2, -1))
    denom = torch.sqrt(norm_x) * torch.sqrt(norm_y)
    value = torch.where(denom > 0, cross / denom.clamp_min(1e-300), 0.0).clamp(0.0, 1.0)
    value = torch.where(flat, 0.0, value)
    return bx.output(value)
