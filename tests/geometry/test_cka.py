"""Linear CKA against the HSIC definition, and its invariances."""

import numpy as np
import pytest

from repscope import DegenerateInputWarning
from repscope.geometry import linear_cka

from . import naive


@pytest.mark.parametrize("shape_y", [(60, 5), (60, 200)])
def test_matches_hsic_definition(rng, shape_y):
    x = rng.normal(size=(60, 12))
    y = x @ rng.normal(size=(12, shape_y[1])) + rng.normal(size=shape_y)
    assert linear_cka(x, y) == pytest.approx(naive.linear_cka(x, y), rel=1e-8)


def test_invariant_to_rotation_and_isotropic_scale(rng):
    x = rng.normal(size=(100, 8))
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    assert linear_cka(x, 4 * x @ q - 2) == pytest.approx(1.0, abs=1e-12)


def test_not_invariant_to_anisotropic_scale(rng):
    x = rng.normal(size=(100, 8))
    assert linear_cka(x, x * np.r_[10.0, np.ones(7)]) < 0.9


def test_independent_representations_are_near_zero(rng):
    x, y = rng.normal(size=(5000, 3)), rng.normal(size=(5000, 3))
    assert linear_cka(x, y) < 0.01


def test_symmetric_and_constant_input_is_zero(rng):
    x, y = rng.normal(size=(50, 4)), rng.normal(size=(50, 6))
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x), rel=1e-12)
    with pytest.warns(DegenerateInputWarning, match="no variance"):
        assert linear_cka(x, np.ones((50, 3))) == 0.0


def test_mismatched_samples_name_the_argument(rng):
    with pytest.raises(ValueError, match=r"The 'y' argument of linear_cka must be .* same samples"):
        linear_cka(rng.normal(size=(50, 4)), rng.normal(size=(49, 4)))
