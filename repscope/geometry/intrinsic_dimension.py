"""Intrinsic dimension by TwoNN: the ratio of each point's two nearest-neighbour distances."""

from __future__ import annotations

from typing import Any

import torch

from .._validation import check_real, warn
from ._arrays import as_batch, centre, check_dtype, warn_no_variance
from ._memory import check_memory
from ._precision import at_full_precision

_FUNC = "intrinsic_dimension"
#: The most bytes one block of the nearest-neighbour search holds (its rows' distances to every
#: point, and their candidates' coordinates): memory stays bounded whatever the number of points.
BLOCK_BYTES = 1 << 27
#: Candidates per point taken from the fast (matmul) squared distances; their distances are
#: then measured directly, so duplicates are exactly 0 and near-ties are ordered exactly.
CANDIDATES = 8


def two_nearest(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distances ``r1 <= r2`` of every point to its first and second nearest neighbours.

    Parameters
    ----------
    points : torch.Tensor, shape (B, N, D)
        ``N >= 3``; best centred and scaled to magnitude 1 (the fast distances are formed
        by the matmul identity ``‖a‖² + ‖b‖² - 2 a·b``).

    Returns
    -------
    r1, r2 : torch.Tensor, shape (B, N)

    Notes
    -----
    Blockwise over rows: a block of ``b`` points holds ``b × N`` squared distances (matmul
    identity) and the ``CANDIDATES`` nearest of them, whose distances are then measured as
    ``‖x_i - x_j‖``. A point is never its own neighbour (excluded by index, not by distance),
    so a point with a duplicate has ``r1 = 0``.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[[0.0], [1.0], [3.0], [3.0]]], dtype=torch.float64)
    >>> r1, r2 = two_nearest(x)
    >>> r1.tolist(), r2.tolist()
    ([[1.0, 1.0, 0.0, 0.0]], [[3.0, 2.0, 2.0, 2.0]])
    """
    b_size, n, d = points.shape
    k = min(CANDIDATES, n - 1)
    item = points.element_size()
    per_row = item * b_size * (2 * n + 2 * k * d)  # distances (+ topk's copy), candidates
    rows = max(1, min(n, BLOCK_BYTES // per_row))
    check_memory(
        rows * per_row,
        func=_FUNC,
        got=f"{n} points of {d} features",
        what=f"a block of {rows} rows of nearest-neighbour distances",
        device=points.device,
        advice="Use fewer points or features.",
    )
    sq = points.square().sum(dim=-1)  # (B, N)
    r1 = points.new_empty(b_size, n)
    r2 = points.new_empty(b_size, n)
    batch_index = torch.arange(b_size, device=points.device)[:, None, None]
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        block = points[:, start:stop]
        d2 = torch.baddbmm(sq[:, start:stop, None], block, points.mT, alpha=-2.0)
        d2.add_(sq[:, None, :])
        own = torch.arange(stop - start, device=points.device)
        d2[:, own, own + start] = torch.inf  # a point is not its own neighbour
        candidates = d2.topk(k, dim=-1, largest=False, sorted=False).indices  # (B, b, k)
        del d2
        exact = (points[batch_index, candidates] - block[:, :, None, :]).norm(dim=-1)
        nearest = exact.topk(2, dim=-1, largest=False, sorted=True).values
        r1[:, start:stop], r2[:, start:stop] = nearest[..., 0], nearest[..., 1]
    return r1, r2


def twonn_fit(r1: torch.Tensor, r2: torch.Tensor, discard_fraction: float) -> tuple[float, str]:
    """The TwoNN slope from one matrix's ``r1``, ``r2`` ``(N,)``, and what was degenerate.

    Returns the dimension (``nan`` when it cannot be fitted) and a note for the warning
    (empty when nothing was degenerate).
    """
    mu = r2 / r1  # r1 == 0 (a duplicate point): inf, or nan when r2 == 0 too
    finite = torch.isfinite(mu)
    mu = mu[finite]
    dropped = int(finite.numel() - mu.numel())
    note = f"{dropped} point(s) with a duplicate were left out" if dropped else ""
    n = mu.numel()
    n_keep = int(n * (1 - discard_fraction))  # as skdim: int() of the same float product
    if n_keep < 2:
        return float("nan"), (note + "; " if note else "") + (
            f"{n_keep} ratio(s) r2/r1 were left to fit, fewer than 2"
        )
    log_mu = torch.log(mu.sort().values[:n_keep])
    femp = torch.arange(1, n_keep + 1, dtype=mu.dtype, device=mu.device) / n
    y = -torch.log(1 - femp)
    ss = log_mu.square().sum()
    if float(ss) == 0.0:
        return float("nan"), (note + "; " if note else "") + (
            "every kept ratio r2/r1 is 1 (the two nearest neighbours are equidistant), so the "
            "line has no slope"
        )
    return float((log_mu * y).sum() / ss), note


@at_full_precision
def intrinsic_dimension(
    x: Any, *, discard_fraction: float = 0.1, dtype: torch.dtype | None = None
) -> Any:
    r"""Intrinsic dimension of the points ``x`` by TwoNN (Facco et al. 2017).

    For each point, ``μ_i = r_2(i) / r_1(i)``, the ratio of the distances to its second and
    first nearest neighbours. On a manifold of dimension ``d`` with locally uniform density,
    ``μ`` follows a Pareto law ``F(μ) = 1 - μ^{-d}``, so ``-\log(1 - F(μ)) = d \log μ``. With
    the ratios sorted, ``μ_{(1)} <= … <= μ_{(N)}``, the ``k = \lfloor N (1 - f) \rfloor``
    smallest are kept (``f = discard_fraction``) and ``d`` is the slope of the least-squares
    line through the origin:

    .. math::

        \hat d = \frac{\sum_{i=1}^{k} \log μ_{(i)} \, \big(-\log(1 - i/N)\big)}
                      {\sum_{i=1}^{k} \log^2 μ_{(i)}}

    Parameters
    ----------
    x : array of shape (n_samples, n_features) or (batch, n_samples, n_features)
        numpy or torch, any device; ``n_samples >= 3``.
    discard_fraction : float in (0, 1), default 0.1
        Fraction of the largest ratios left out of the fit (the paper's heuristic: the tail of
        the empirical distribution is noisy, and its last point has ``-log(1 - F) = ∞``).
    dtype : torch.float64 (default) or torch.float32

    Returns
    -------
    float, or array of shape (batch,)
        ``0.0`` for points that all coincide (no variance, up to rounding), and ``nan`` when
        fewer than 2 ratios are left to fit or every kept ratio is 1, each with a
        :class:`~repscope.DegenerateInputWarning`.

    Notes
    -----
    Reproduces ``skdim.id.TwoNN()`` of scikit-dimension 0.5 (its defaults:
    ``discard_fraction=0.1``, ``dist=False``, ``method="linear"``) to rounding: the same
    ``k = int(N * (1 - discard_fraction))``, the empirical ``F`` of the ``i``-th smallest ratio
    ``i / N`` (``N`` counting the ratios before the discard), and the fit through the origin
    (its ``LinearRegression(fit_intercept=False)``). Points with a duplicate (``r_1 = 0``) have no
    ratio: as in skdim they are left out, and ``N`` counts the others; here with a
    :class:`~repscope.DegenerateInputWarning`. (skdim's path for more than 25 features forms
    distances by the matmul identity, so its duplicates may get a tiny non-zero ``r_1`` and an
    enormous ratio instead; here distances to the nearest candidates are measured directly, so
    duplicates are found at any dimension.)

    The ratios are invariant to translation, rotation and scale, and so is the estimate. The
    points are centred and scaled to magnitude 1 first (:func:`~repscope.geometry._arrays.centre`).
    Nearest neighbours are found on the input's device in blocks of rows (``BLOCK_BYTES`` at a
    time): memory ``O(N D)`` beside a block, never ``N × N``; time ``O(N² D)``.

    References
    ----------
    E. Facco, M. d'Errico, A. Rodriguez, A. Laio. "Estimating the intrinsic dimension of
    datasets by a minimal neighborhood information." Scientific Reports 7, 12140 (2017).
    J. Bac, E. M. Mirkes, A. N. Gorban, I. Tyukin, A. Zinovyev. "Scikit-Dimension: a Python
    package for intrinsic dimension estimation." Entropy 23, 1368 (2021).

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry.intrinsic_dimension import intrinsic_dimension
    >>> rng = np.random.default_rng(0)
    >>> plane = rng.normal(size=(2000, 3)) @ rng.normal(size=(3, 50))  # a 3-D subspace
    >>> round(intrinsic_dimension(plane), 2)
    2.98
    """
    discard_fraction = check_real(
        discard_fraction,
        name="discard_fraction",
        func=_FUNC,
        low=0.0,
        high=1.0,
        low_inclusive=False,
        high_inclusive=False,
    )
    batch = as_batch(x, func=_FUNC, dtype=check_dtype(dtype, func=_FUNC), min_samples=3)
    centred, magnitude, flat = centre(batch.data)
    scale = torch.where(magnitude > 0, magnitude, torch.ones_like(magnitude))
    r1, r2 = two_nearest(centred.div_(scale.reshape(-1, 1, 1)))
    values, notes = [], []
    for index in range(r1.shape[0]):
        if bool(flat[index]):
            values.append(0.0)
            continue
        value, note = twonn_fit(r1[index], r2[index], discard_fraction)
        values.append(value)
        if note:
            notes.append(f"matrix {index}: {note}" if batch.batched else note)
    warn_no_variance(flat, _FUNC, "the intrinsic dimension is 0 (the points coincide)")
    if notes:
        warn(f"{_FUNC}: " + "; ".join(notes) + ".", stacklevel=4)
    return batch.output(torch.tensor(values, dtype=torch.float64, device=r1.device))
