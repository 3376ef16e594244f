"""Constructed data whose geometry is known exactly: for teaching, the tour and the tests."""

from __future__ import annotations

import numpy as np


def exact_spectrum_data(variances: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Data whose *sample* covariance has exactly the given eigenvalues.

    Parameters
    ----------
    variances : array of shape (n_features,)
        The eigenvalues the covariance should have (non-negative).
    seed : int
        Seed of the random orthonormal bases.

    Returns
    -------
    numpy.ndarray of shape (2 * n_features, n_features)
        ``U diag(sqrt((n - 1) · variances)) Qᵀ`` with ``U`` orthonormal, centred columns and ``Q``
        a random rotation, so ``cov(X) = Q diag(variances) Qᵀ`` exactly.

    Examples
    --------
    >>> import numpy as np
    >>> x = exact_spectrum_data(np.array([4.0, 1.0, 0.0]))
    >>> np.round(np.linalg.eigvalsh(np.cov(x.T))[::-1], 6) + 0.0
    array([4., 1., 0.])
    """
    variances = np.asarray(variances, dtype=float)
    rng = np.random.default_rng(seed)
    d = len(variances)
    n = 2 * d
    u, _ = np.linalg.qr(rng.normal(size=(n, d)))
    u, _ = np.linalg.qr(u - u.mean(axis=0))  # the span of centred columns stays orthogonal to 1
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (u * np.sqrt(variances * (n - 1))) @ q.T


def separated_clusters(
    n_clusters: int, per_cluster: int, n_features: int, *, spread: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Tight Gaussian clusters (std ``spread``) whose centres are 100·√2 apart.

    Returns
    -------
    x : numpy.ndarray of shape (n_clusters * per_cluster, max(n_features, n_clusters))
    labels : numpy.ndarray of shape (n_clusters * per_cluster,)

    Examples
    --------
    >>> x, y = separated_clusters(3, 10, 5)
    >>> x.shape, np.bincount(y).tolist()
    ((30, 5), [10, 10, 10])
    """
    rng = np.random.default_rng(seed)
    dim = max(n_features, n_clusters)
    centres = 100.0 * np.eye(dim)[:n_clusters]
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    return centres[labels] + spread * rng.normal(size=(len(labels), dim)), labels
