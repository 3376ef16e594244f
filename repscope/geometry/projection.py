"""Principal coordinates of a representation, and orthogonal Procrustes alignment between steps.

The widgets draw each checkpoint's probe points in the plane of its first two principal
components. Principal axes are defined only up to sign (and, for near-equal variances, up to a
rotation), so consecutive checkpoints are aligned by the orthogonal map that best carries one
onto the next: points then move instead of flipping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .._validation import check_int, describe, fail
from ._arrays import as_batch, centre, check_dtype
from ._precision import at_full_precision

#: Below this many features (or samples) the principal axes come from an exact eigensolver.
EXACT_LIMIT = 128


@at_full_precision
def principal_coordinates(
    x: Any, *, n_components: int = 2, seed: int = 0, dtype: torch.dtype | None = None
) -> Any:
    """Coordinates of the samples on their first principal axes (PCA scores).

    The axes are the leading eigenvectors of the covariance, each signed so that its
    largest-magnitude score is positive. For more than 128 features and samples they come from a
    seeded randomised subspace iteration (Halko, Martinsson & Tropp 2011, Alg. 4.4) with
    ``n_components + 10`` vectors and 6 power iterations: deterministic, ``O(N D k)`` instead of
    ``O(min(N, D)³)``.

    Parameters
    ----------
    x : array of shape (n_samples, n_features) or (batch, n_samples, n_features)
    n_components : int, default 2
        At most ``min(n_samples, n_features)``.
    seed : int >= 0, default 0
        Seed of the randomised method's start vectors (drawn on the CPU: the same on any
        device).
    dtype : torch.float64 or torch.float32, optional

    Returns
    -------
    array of shape (n_samples, n_components) or (batch, n_samples, n_components)
        Of the input's kind (numpy in, numpy out). Column ``j`` has variance equal to the
        ``j``-th eigenvalue of the covariance.

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry import principal_coordinates
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(500, 5)) * [5.0, 2.0, 0.1, 0.1, 0.1]
    >>> z = principal_coordinates(x)
    >>> z.shape, np.round(z.std(axis=0, ddof=1), 0).tolist()
    ((500, 2), [5.0, 2.0])
    """
    func = "principal_coordinates"
    batch = as_batch(x, func=func, dtype=check_dtype(dtype, func=func))
    data = batch.data
    limit = min(batch.n_samples, batch.n_features)
    k = check_int(n_components, name="n_components", func=func, low=1)
    seed = check_int(seed, name="seed", func=func, low=0, high=2**64 - 1)  # torch's seed range
    if k > limit:
        fail("n_components", func, f"an int <= min(n_samples, n_features) = {limit}", repr(k))
    centred = centre(data)[0]  # columns constant up to rounding are 0: no axis of rounding
    if limit <= EXACT_LIMIT:
        axes = _exact_axes(centred, k)
    else:
        axes = _randomised_axes(centred, k, seed)
    scores = centred @ axes  # (B, N, k)
    # A deterministic sign: the largest-magnitude score of each axis is positive.
    pick = scores.abs().argmax(dim=-2, keepdim=True)
    sign = torch.where(torch.gather(scores, -2, pick) >= 0, 1.0, -1.0).to(scores.dtype)
    scores = scores * sign
    return batch.output_array(scores)


def _exact_axes(centred: torch.Tensor, k: int) -> torch.Tensor:
    n, d = centred.shape[-2:]
    if d <= n:
        _, vectors = torch.linalg.eigh(centred.mT @ centred)
        return vectors[..., -k:].flip(-1)
    # Few samples: the Gram matrix's eigenvectors give the axes as Xᵀu / ‖Xᵀu‖.
    _, vectors = torch.linalg.eigh(centred @ centred.mT)
    axes = centred.mT @ vectors[..., -k:].flip(-1)
    return axes / torch.linalg.vector_norm(axes, dim=-2, keepdim=True).clamp_min(1e-300)


def _randomised_axes(centred: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    gen = torch.Generator(device="cpu").manual_seed(seed)
    width = min(k + 10, min(centred.shape[-2:]))
    start = torch.randn(centred.shape[-1], width, generator=gen, dtype=centred.dtype)
    q = torch.linalg.qr(centred @ start.to(centred.device)).Q
    for _ in range(6):
        q = torch.linalg.qr(centred.mT @ q).Q
        q = torch.linalg.qr(centred @ q).Q
    # The small problem: an SVD of Qᵀ X (width × D) gives the axes.
    _, _, vh = torch.linalg.svd(q.mT @ centred, full_matrices=False)
    return vh[..., :k, :].mT


def procrustes_rotation(source: Any, target: Any) -> np.ndarray:
    """The orthogonal matrix ``R`` that minimises ``‖source · R − target‖_F`` (Schönemann 1966).

    Parameters
    ----------
    source, target : array of shape (n_samples, n_components)
        The same samples in the same order.

    Returns
    -------
    numpy.ndarray of shape (n_components, n_components)
        Orthogonal (a rotation, possibly with a reflection).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]])
    >>> flip = np.array([[0.0, -1.0], [1.0, 0.0]])
    >>> from repscope.geometry.projection import procrustes_rotation
    >>> np.allclose(procrustes_rotation(a @ flip, a), flip.T)
    True
    """
    func = "procrustes_rotation"
    a, b = np.asarray(source, dtype=float), np.asarray(target, dtype=float)
    if a.ndim != 2 or a.shape != b.shape:
        fail(
            "target",
            func,
            f"an array of the shape of 'source' {a.shape}",
            f"shape {b.shape}" if b.ndim else describe(target),
        )
    u, _, vt = np.linalg.svd(a.T @ b)
    return u @ vt


def align_sequence(points: Sequence[np.ndarray | None]) -> list[np.ndarray | None]:
    """Align each step's 2-D points to the next one, from the last backwards.

    The last step is kept as it is; each earlier step is rotated (orthogonal Procrustes) onto
    the already-aligned step after it, so the picture changes smoothly as a slider moves. Steps
    with no points (``None``) are skipped over.

    Parameters
    ----------
    points : sequence of arrays of shape (n_samples, n_components), or None

    Returns
    -------
    list of arrays (or None), in the input's order

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry.projection import align_sequence
    >>> last = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    >>> aligned = align_sequence([-last, None, last])
    >>> np.allclose(aligned[0], last), aligned[1] is None
    (True, True)
    """
    out: list[np.ndarray | None] = [None] * len(points)
    reference = None
    for i in range(len(points) - 1, -1, -1):
        p = points[i]
        if p is None:
            continue
        p = np.asarray(p, dtype=float)
        if reference is not None and reference.shape == p.shape:
            p = p @ procrustes_rotation(p, reference)
        out[i] = reference = p
    return out
