"""The published code's formulas, written out in numpy: the baselines the benchmarks compare to.

RankMe as the tracing code computes it (natural-log entropy of ``λ/Σλ + ε``) and α-ReQ as its
``stringer_get_powerlaw`` fits it (weighted least squares of ``log λ_i`` on ``-log i``, weights
``1/i``, over 1-based ranks ``fit_range``), written independently of repscope.
"""

from __future__ import annotations

import numpy as np

RANKME_EPS = 1e-7


def tracing_rankme(eigenvalues: np.ndarray, eps: float = RANKME_EPS) -> float:
    """exp(-Σ p log p), p = λ/Σλ + eps (natural log), on the PCA eigenvalues as they come."""
    p = eigenvalues / eigenvalues.sum() + eps
    return float(np.exp(-np.sum(p * np.log(p))))


def tracing_alpha(eigenvalues: np.ndarray, fit_range: tuple[int, int] = (12, 100)) -> float:
    """α of log λ_i = -α log i + c by weighted least squares, weights 1/i, over ``fit_range``."""
    first, last = fit_range
    ranks = np.arange(first, last + 1, dtype=np.float64)
    log_values = np.log(np.abs(eigenvalues[first - 1 : last] / eigenvalues.sum()))
    design = np.column_stack([-np.log(ranks), np.ones_like(ranks)])
    weights = 1.0 / ranks
    normal = design.T @ (design * weights[:, None])
    alpha, _ = np.linalg.solve(normal, design.T @ (weights * log_values))
    return float(alpha)
