"""Naive numpy implementations of the measures' definitions: the references the tests compare to.

The definitions and conventions are the README's "Measures and their conventions" table (also
``docs/conventions.md``), which reproduce the published code (the tracing code of Li et al. 2025
for RankMe and α-ReQ, the ``dse-dsmi`` 1.1 package of Liao et al. 2023 for DSE and DSMI).

Written from the definitions, independently of repscope's code: full SVD / eigendecomposition of
the whole matrix, explicit loops where they make the formula plain.
"""

from __future__ import annotations

import numpy as np


def covariance_spectrum(x: np.ndarray) -> np.ndarray:
    """Eigenvalues of the sample covariance of the centred data, descending, summing to 1."""
    xc = x - x.mean(axis=0)
    cov = xc.T @ xc / (x.shape[0] - 1)
    lam = np.sort(np.linalg.eigvalsh(cov))[::-1][: min(x.shape)]
    lam = np.clip(lam, 0, None)
    return lam / lam.sum()


def singular_values(x: np.ndarray) -> np.ndarray:
    return np.linalg.svd(x, compute_uv=False)


def rankme_covariance(x: np.ndarray, eps: float = 1e-7) -> float:
    p = covariance_spectrum(x) + eps
    return float(np.exp(-np.sum(p * np.log(p))))


def rankme_singular(x: np.ndarray, eps: float = 1e-7) -> float:
    s = singular_values(x)
    p = s / s.sum() + eps
    return float(np.exp(-np.sum(p * np.log(p))))


def powerlaw_fit(lam: np.ndarray, first: int, last: int) -> tuple[float, float]:
    """Weighted least squares of log λ_i on log i, weights 1/i, ranks first..last (1-based)."""
    ranks = np.arange(first, last + 1, dtype=float)
    y = np.log(lam[first - 1 : last])
    design = np.stack([np.ones_like(ranks), np.log(ranks)], axis=1)
    w = np.diag(1.0 / ranks)
    coef = np.linalg.solve(design.T @ w @ design, design.T @ w @ y)
    pred = design @ coef
    ybar = np.average(y, weights=1.0 / ranks)
    r2 = 1 - np.sum((y - pred) ** 2 / ranks) / np.sum((y - ybar) ** 2 / ranks)
    return float(-coef[1]), float(r2)


def participation_ratio(x: np.ndarray) -> float:
    lam = covariance_spectrum(x)
    return float(lam.sum() ** 2 / np.sum(lam**2))


def stable_rank(x: np.ndarray) -> float:
    s = singular_values(x - x.mean(axis=0))
    return float(np.sum(s**2) / s[0] ** 2)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Kornblith et al. 2019, via HSIC with the centring matrix H = I - 11ᵀ/n."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    kx, ky = x @ x.T, y @ y.T
    hsic = lambda a, b: np.trace(a @ h @ b @ h)  # noqa: E731
    return float(hsic(kx, ky) / np.sqrt(hsic(kx, kx) * hsic(ky, ky)))


def data_with_spectrum(variances: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n samples whose population covariance has the given eigenvalues, in a random basis."""
    rng = np.random.default_rng(seed)
    d = len(variances)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (rng.normal(size=(n, d)) * np.sqrt(variances)) @ q.T
