"""Diffusion spectral mutual information (DSMI) between a representation and labels."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from .._validation import check_int, check_option, fail, warn
from ._arrays import as_batch, centre, check_dtype, label_array, warn_no_variance
from ._kernel import (
    Sigma,
    bandwidths,
    check_sigma,
    check_t,
    entropy_bits,
    kernel_operator,
    prepare,
    squared_distances,
)
from ._memory import check_memory, square_bytes
from ._precision import at_full_precision

_FUNC = "dsmi"
_KINDS = ("auto", "discrete", "scalar", "vector")


def _labels_array(labels: Any, n: int) -> np.ndarray:
    labels = label_array(labels, func=_FUNC)
    if labels.ndim not in (1, 2) or labels.shape[0] != n or labels.size == 0:
        fail(
            "labels",
            _FUNC,
            f"an array of shape ({n},) or ({n}, n_label_features) (one row per sample of x)",
            f"shape {labels.shape}",
        )
    return labels


def _infer_kind(labels: np.ndarray) -> str:
    if labels.ndim == 2:
        return "vector"
    return "scalar" if labels.dtype.kind in "fc" else "discrete"


def _continuous(labels: np.ndarray, kind: str) -> np.ndarray:
    if labels.dtype.kind not in "iuf" or labels.dtype == np.bool_:
        fail(
            "labels", _FUNC, f"numeric for kind={kind!r}", f"dtype {labels.dtype}", error=TypeError
        )
    labels = labels.astype(np.float64)
    if not np.isfinite(labels).all():
        fail("labels", _FUNC, f"finite for kind={kind!r}", "NaN or Inf values")
    return labels


def label_groups(labels: np.ndarray, kind: str, n_clusters: int, seed: int) -> np.ndarray:
    """Integer group codes ``(n_samples,)``: the classes, bins or clusters of ``labels``."""
    if kind == "auto":
        kind = _infer_kind(labels)
    if kind == "discrete":
        if labels.ndim != 1:
            fail("labels", _FUNC, "1-D for kind='discrete'", f"shape {labels.shape}")
        try:
            return np.unique(labels, return_inverse=True)[1].reshape(-1)
        except TypeError:  # unorderable mixed objects
            fail("labels", _FUNC, "sortable class labels", f"dtype {labels.dtype}", error=TypeError)
    labels = _continuous(labels, kind)
    if kind == "scalar":
        if labels.ndim != 1:
            fail(
                "labels", _FUNC, "1-D or (n_samples, 1) for kind='scalar'", f"shape {labels.shape}"
            )
        low, high = labels.min(), labels.max()
        if high == low:
            warn("Constant scalar labels carry no information: one group, DSMI = 0.")
            return np.zeros(labels.shape[0], dtype=np.int64)
        scaled = (labels - low) / (high - low)
        return np.digitize(scaled, np.linspace(0.0, 1.0, n_clusters + 1)[:-1])
    if n_clusters >= labels.shape[0]:
        fail(
            "n_clusters",
            _FUNC,
            f"fewer than the number of points ({labels.shape[0]}) for "
            "kind='vector' (spectral clustering of the labels)",
            repr(n_clusters),
        )
    try:
        from sklearn.cluster import SpectralClustering
    except ImportError as err:
        raise ImportError(
            f"{_FUNC} with kind='vector' labels clusters them with scikit-learn, which is not "
            'installed. Install it with: pip install "repscope[sklearn]"',
            name="sklearn",
        ) from err

    clustering = SpectralClustering(
        n_clusters=n_clusters,
        affinity="nearest_neighbors",
        assign_labels="cluster_qr",
        random_state=seed,
    )
    return clustering.fit(labels.reshape(labels.shape[0], -1)).labels_


@at_full_precision
def dsmi(
    x: Any,
    labels: Any,
    *,
    kind: Literal["auto", "discrete", "scalar", "vector"] = "auto",
    sigma: Sigma = 10.0,
    t: float = 1.0,
    n_repeats: int = 5,
    n_clusters: int = 10,
    seed: int = 0,
    dtype: torch.dtype | None = None,
) -> float:
    r"""Diffusion spectral mutual information between points ``x`` and their labels, in bits.

    .. math::

        \mathrm{DSMI}(X; Y) = \sum_y p(y) \Big[ \frac{1}{r} \sum_{j=1}^{r}
        \mathrm{DSE}(X_{S_{y,j}}) - \mathrm{DSE}(X_{Y = y}) \Big]

    where ``X_{Y=y}`` are the ``n_y`` points with label ``y``, ``S_{y,j}`` is a uniformly random
    subset of ``n_y`` of all the points (without replacement), and DSE is :func:`dse` with the
    same ``sigma`` and ``t``. Comparing each class with random subsets of its own size removes
    DSE's dependence on the number of points.

    Parameters
    ----------
    x : array of shape (n_samples, n_features)
        numpy or torch, any device (2-D only).
    labels : array of shape (n_samples,), (n_samples, 1) or (n_samples, n_label_features)
        numpy, torch or a list.
    kind : {"auto", "discrete", "scalar", "vector"}, default "auto"
        "discrete": class labels (ints, strings, bools; floats allowed), one group per value.
        "scalar": continuous values, min-max scaled and binned into ``n_clusters`` equal bins.
        "vector": continuous vectors, grouped by ``sklearn.cluster.SpectralClustering(n_clusters,
        affinity="nearest_neighbors", assign_labels="cluster_qr", random_state=seed)``
        (scikit-learn: ``pip install "repscope[sklearn]"``).
        "auto": integer, bool or string 1-D labels are discrete, float 1-D or ``(n, 1)`` labels
        scalar, 2-D labels with more than one column vectors.
    sigma : float > 0, "median" or "sqrt_dim", default 10.0
        Kernel bandwidth, resolved once on all of ``x`` and used for every subset.
    t : float > 0, default 1.0
        Diffusion time.
    n_repeats : int >= 1, default 5
        Random subsets per group; they are computed as one batched eigendecomposition.
    n_clusters : int >= 2, default 10
        Bins (scalar labels) or clusters (vector labels).
    seed : int >= 0, default 0
        Seeds the subsets (drawn on the CPU, so the same on every device) and the spectral
        clustering.
    dtype : torch.float64 (default) or torch.float32

    Returns
    -------
    float

    Notes
    -----
    Reproduces ``dse_dsmi.diffusion_spectral_mutual_information`` 1.1 up to its random subsets:
    the values agree within sampling noise, not bit for bit. A group with a single member
    contributes 0 (the DSE of one point is 0, and so is that of a random single point); it
    still counts in ``p(y)``. Points that coincide (no variance, up to rounding) give 0, with a
    :class:`~repscope.DegenerateInputWarning`. Memory: ``(n_repeats + 1) n_y^2`` floats for the
    largest group.

    References
    ----------
    D. Liao, C. Liu, et al. "Assessing neural network representations during training using
    noise-resilient diffusion spectral entropy." arXiv:2312.04823 (2023).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(np.arange(4), 30)
    >>> x = 50.0 * np.eye(8)[labels] + rng.normal(size=(120, 8))  # 4 far-apart blobs
    >>> round(dsmi(x, labels, sigma=5.0, t=50), 4)  # log2(4) bits
    2.0
    >>> abs(dsmi(x, rng.permutation(labels), sigma=5.0, t=50)) < 0.1
    True
    """
    sigma = check_sigma(sigma, func=_FUNC)
    t = check_t(t, func=_FUNC)
    check_option(kind, name="kind", func=_FUNC, options=_KINDS)
    n_repeats = check_int(n_repeats, name="n_repeats", func=_FUNC, low=1)
    n_clusters = check_int(n_clusters, name="n_clusters", func=_FUNC, low=2)
    seed = check_int(seed, name="seed", func=_FUNC, low=0)
    batch = as_batch(x, func=_FUNC, dtype=check_dtype(dtype, func=_FUNC), allow_batch=False)
    points = batch.data[0]
    n = points.shape[0]
    groups = label_groups(_labels_array(labels, n), kind, n_clusters, seed)
    largest = int(np.bincount(groups).max())
    need = max(
        square_bytes(1, n, points.dtype, 1) if sigma == "median" else 0.0,
        square_bytes(n_repeats + 1, largest, points.dtype, 2),
    )
    check_memory(
        need,
        func=_FUNC,
        device=points.device,
        got=f"{n} points, {largest} in the largest group",
        what=f"{n_repeats + 1} operators of {largest} × {largest}"
        + (f" and the {n} × {n} distances for sigma='median'" if sigma == "median" else ""),
        advice="Use a subsample of the points, fewer n_repeats, or a numeric sigma.",
    )
    flat = centre(batch.data)[2]
    if bool(flat.any()):  # every subset's points coincide: each DSE is 0
        warn_no_variance(flat, _FUNC, "the points coincide and DSMI is 0")
        return 0.0
    prepared, scale = prepare(batch.data)
    points = prepared[0]  # every subset in the units of all of x (one bandwidth)
    d2 = squared_distances(prepared) if sigma == "median" else prepared
    width = bandwidths(sigma, d2, prepared, scale)[0]
    del d2
    gen = torch.Generator().manual_seed(seed)  # drawn on the CPU: the same subsets anywhere
    total = 0.0
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        size = members.size
        if size < 2:
            continue
        weights = torch.ones(n_repeats, n, dtype=torch.float64)
        subsets = torch.multinomial(weights, size, replacement=False, generator=gen)
        index = torch.cat([torch.as_tensor(members)[None], subsets]).to(points.device)
        operators = kernel_operator(points[index], [width] * len(index))
        entropies = entropy_bits(torch.linalg.eigvalsh(operators), t)
        total += size / n * float(entropies[1:].mean() - entropies[0])
    return total
