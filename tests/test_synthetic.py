"""The constructed data sets have the geometry they promise (checked with plain numpy)."""

import numpy as np

from repscope.synthetic import exact_spectrum_data, separated_clusters


def test_exact_spectrum_data_has_exactly_that_covariance_spectrum():
    variances = np.r_[np.arange(1, 31, dtype=float) ** -1.3, np.zeros(10)]
    x = exact_spectrum_data(variances, seed=3)
    eig = np.sort(np.linalg.eigvalsh(np.cov(x.T)))[::-1]
    np.testing.assert_allclose(eig, variances, atol=1e-12)
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-12)


def test_separated_clusters_are_far_apart_and_tight():
    x, y = separated_clusters(4, 25, 8, seed=1)
    centres = np.stack([x[y == k].mean(axis=0) for k in range(4)])
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)[np.triu_indices(4, 1)]
    assert np.all(gaps > 140) and np.all(np.abs(gaps - 100 * np.sqrt(2)) < 1)
    within = max(np.linalg.norm(x[y == k] - centres[k], axis=1).max() for k in range(4))
    assert within < 1.5
