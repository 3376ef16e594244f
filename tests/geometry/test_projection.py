"""Principal coordinates against a full SVD, and Procrustes alignment against known rotations."""

import itertools

import numpy as np
import pytest
import torch

from repscope.geometry import principal_coordinates
from repscope.geometry.projection import EXACT_LIMIT, align_sequence, procrustes_rotation


def naive_scores(x, k):
    """PCA scores from numpy's full SVD of the centred data (signs left free)."""
    xc = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    return u[:, :k] * s[:k]


def gapped(n, d, seed=0):
    rng = np.random.default_rng(seed)
    scales = np.r_[[8.0, 4.0], np.full(d - 2, 0.5)]
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (rng.normal(size=(n, d)) * scales) @ q.T + 3.0


@pytest.mark.parametrize(("n", "d"), [(300, 20), (40, 200), (600, EXACT_LIMIT + 72)])
def test_scores_match_a_full_svd_up_to_sign(n, d):
    x = gapped(n, d)
    got, ref = principal_coordinates(x), naive_scores(x, 2)
    for j in range(2):
        sign = np.sign(got[:, j] @ ref[:, j])
        np.testing.assert_allclose(got[:, j], sign * ref[:, j], rtol=1e-6, atol=1e-6)


def test_sign_is_fixed_by_the_largest_score_and_torch_in_torch_out():
    x = gapped(200, 30, seed=3)
    a = principal_coordinates(x, n_components=3)
    b = principal_coordinates(-x, n_components=3)  # flipping the data must not flip the picture
    np.testing.assert_allclose(a, b, atol=1e-9)
    assert np.all(a[np.abs(a).argmax(axis=0), range(3)] > 0)
    out = principal_coordinates(torch.from_numpy(x))
    assert isinstance(out, torch.Tensor) and out.shape == (200, 2)


def test_batched_scores_equal_one_by_one():
    xs = np.stack([gapped(100, 10, seed=s) for s in range(3)])
    batched = principal_coordinates(xs)
    for b in range(3):
        np.testing.assert_allclose(batched[b], principal_coordinates(xs[b]), atol=1e-9)


def test_procrustes_recovers_a_rotation_with_reflection():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, 2))
    theta = 0.7
    r = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]) @ np.diag(
        [1.0, -1.0]
    )
    got = procrustes_rotation(a @ r, a)
    np.testing.assert_allclose((a @ r) @ got, a, atol=1e-12)
    np.testing.assert_allclose(got @ got.T, np.eye(2), atol=1e-12)


def test_procrustes_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="'target' argument of procrustes_rotation"):
        procrustes_rotation(np.ones((4, 2)), np.ones((5, 2)))


def test_align_sequence_undoes_per_step_rotations_and_keeps_distances():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(30, 2))
    steps = []
    for i in range(5):
        t = rng.uniform(0, 2 * np.pi)
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        steps.append((base + 0.01 * i) @ rot)
    aligned = align_sequence([*steps[:2], None, *steps[2:]])
    assert aligned[2] is None
    np.testing.assert_allclose(aligned[-1], steps[-1])  # the last step is the reference
    kept = [a for a in aligned if a is not None]
    for before, after in zip(steps, kept, strict=True):
        d0 = np.linalg.norm(before[:, None] - before[None], axis=-1)
        d1 = np.linalg.norm(after[:, None] - after[None], axis=-1)
        np.testing.assert_allclose(d0, d1, atol=1e-12)  # an orthogonal map only
    for a, b in itertools.pairwise(kept):
        assert np.abs(a - b).max() < 0.05  # consecutive steps now sit on top of each other
