"""Neural collapse NC1 and the class-mean geometry (NC2): the formulas written naively here with
numpy (loops over classes), analytic cases, and invariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repscope import DegenerateInputWarning
from repscope.geometry.collapse import ClassMeanGeometry, class_mean_geometry, nc1
from tests.conftest import DEVICES

GRAMMAR = r"^The '{arg}' argument of {func} must be .+; got .+\.$"
FUNCS = {"nc1": nc1, "class_mean_geometry": class_mean_geometry}


# -- the formulas, naively (Papyan, Han & Donoho 2020 and their code) --------------------------
def naive_class_means(x, labels):
    classes = sorted(set(labels.tolist()))
    means = np.stack([x[labels == c].mean(axis=0) for c in classes])
    return classes, means, means.mean(axis=0)  # μ_G: the mean of the class means


def naive_nc1(x, labels):
    classes, means, global_mean = naive_class_means(x, labels)
    n, d = x.shape
    c_count = len(classes)
    within = np.zeros((d, d))
    for c, mean in zip(classes, means, strict=True):
        for row in x[labels == c]:
            within += np.outer(row - mean, row - mean)
    within /= n
    between = np.zeros((d, d))
    for mean in means:
        between += np.outer(mean - global_mean, mean - global_mean)
    between /= c_count
    # the code's pseudo-inverse: the top C - 1 eigenpairs of Σ_B (scipy svds(Sb, k=C-1))
    values, vectors = np.linalg.eigh(between)
    top = np.argsort(values)[::-1][: min(c_count - 1, d)]
    inverse = vectors[:, top] @ np.diag(1.0 / values[top]) @ vectors[:, top].T
    return float(np.trace(within @ inverse) / c_count)


def naive_geometry(x, labels):
    classes, means, global_mean = naive_class_means(x, labels)
    c_count = len(classes)
    centred = [m - global_mean for m in means]
    norms = np.array([np.linalg.norm(m) for m in centred])
    variation = norms.std(ddof=1) / norms.mean()
    total = 0.0
    for i in range(c_count):
        for j in range(c_count):
            if i != j:
                cos = centred[i] @ centred[j] / (norms[i] * norms[j])
                total += abs(cos + 1.0 / (c_count - 1))
    return float(variation), total / (c_count * (c_count - 1))


def blobs(rng, n_classes=5, n=300, d=12, spread=1.0, balanced=True):
    if balanced:
        labels = np.repeat(np.arange(n_classes), n // n_classes)
    else:
        labels = rng.choice(n_classes, size=n, p=np.arange(1, n_classes + 1) / 15.0)
    centres = 3.0 * rng.normal(size=(n_classes, d))
    return centres[labels] + spread * rng.normal(size=(len(labels), d)), labels


def simplex_etf(n_classes, d, rng):
    """C unit vectors in R^d with pairwise cosines -1/(C-1), randomly rotated."""
    etf = np.sqrt(n_classes / (n_classes - 1)) * (np.eye(n_classes) - 1.0 / n_classes)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return np.pad(etf, ((0, 0), (0, d - n_classes))) @ q


# -- against the naive formulas ------------------------------------------------------------
CASES = {
    "balanced, D > C": dict(n_classes=5, n=300, d=12),
    "imbalanced": dict(n_classes=5, n=300, d=12, balanced=False),
    "D < C - 1": dict(n_classes=10, n=400, d=4),
    "two classes": dict(n_classes=2, n=100, d=6),
    "high dimension, few samples": dict(n_classes=4, n=40, d=80),
}


@pytest.mark.parametrize("case", CASES)
def test_nc1_matches_the_naive_formula(case, rng):
    x, labels = blobs(rng, **CASES[case])
    assert nc1(x, labels) == pytest.approx(naive_nc1(x, labels), rel=1e-9)


@pytest.mark.parametrize("case", CASES)
def test_class_mean_geometry_matches_the_naive_formula(case, rng):
    x, labels = blobs(rng, **CASES[case])
    got = class_mean_geometry(x, labels)
    variation, deviation = naive_geometry(x, labels)
    assert isinstance(got, ClassMeanGeometry) and got.n_classes == CASES[case]["n_classes"]
    assert got.norm_variation == pytest.approx(variation, rel=1e-9)
    assert got.etf_deviation == pytest.approx(deviation, rel=1e-9)


def test_a_class_of_one_sample(rng):
    """It adds no within-class scatter and still counts in Σ_B and the class-mean geometry."""
    x, labels = blobs(rng, n_classes=4, n=120, d=8)
    x = np.concatenate([x, rng.normal(size=(1, 8))])
    labels = np.concatenate([labels, [9]])
    assert nc1(x, labels) == pytest.approx(naive_nc1(x, labels), rel=1e-9)
    got = class_mean_geometry(x, labels)
    assert (got.norm_variation, got.etf_deviation) == pytest.approx(naive_geometry(x, labels))


# -- analytic answers -------------------------------------------------------------------------
def test_collapsed_features_have_nc1_zero(rng):
    labels = np.repeat(np.arange(6), 20)
    x = rng.normal(size=(6, 10))[labels]
    assert nc1(x, labels) == pytest.approx(0.0, abs=1e-20)


@pytest.mark.parametrize(("n_classes", "d"), [(2, 2), (3, 5), (10, 10), (10, 64)])
def test_a_simplex_etf_has_no_deviation(n_classes, d, rng):
    labels = np.repeat(np.arange(n_classes), 7)
    means = 4.0 * simplex_etf(n_classes, d, rng) + rng.normal(size=d)  # shifted off the origin
    got = class_mean_geometry(means[labels] + 0.1 * _balanced_noise(labels, d, rng), labels)
    assert got.norm_variation == pytest.approx(0.0, abs=1e-12)
    assert got.etf_deviation == pytest.approx(0.0, abs=1e-12)


def _balanced_noise(labels, d, rng):
    """Noise with zero mean within every class (the class means stay where they are)."""
    noise = rng.normal(size=(len(labels), d))
    for c in np.unique(labels):
        noise[labels == c] -= noise[labels == c].mean(axis=0)
    return noise


def test_nc1_of_isotropic_classes_at_a_simplex():
    """Class means a simplex ETF of radius r (Σ_c e_c e_cᵀ = C/(C-1) P, P the projection on
    their span of C - 1 dimensions: Σ_B = r² P / (C-1)), and each class the 2d points
    m_c ± a e_k (Σ_W = a² I / d): NC1 = (a²/d) (C-1)² / (C r²)."""
    rng = np.random.default_rng(3)
    c, d, r, a = 4, 6, 2.0, 0.5
    means = r * simplex_etf(c, d, rng)
    steps = np.concatenate([a * np.eye(d), -a * np.eye(d)])
    x = np.concatenate([m + steps for m in means])
    labels = np.repeat(np.arange(c), 2 * d)
    assert nc1(x, labels) == pytest.approx(a**2 / d * (c - 1) ** 2 / (c * r**2), rel=1e-12)
    geometry = class_mean_geometry(x, labels)
    assert geometry.norm_variation == pytest.approx(0.0, abs=1e-12)
    assert geometry.etf_deviation == pytest.approx(0.0, abs=1e-12)


# -- relations --------------------------------------------------------------------------------
def test_invariant_to_scale_rotation_translation_order_and_relabelling(rng):
    x, labels = blobs(rng, n_classes=5, n=200, d=12, balanced=False)
    base_nc1 = nc1(x, labels)
    base = class_mean_geometry(x, labels).as_dict()
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    order = rng.permutation(len(x))
    names = np.array(["ant", "bee", "cat", "dog", "eel"])
    renamed = {"e": 4, "a": 3, "z": 0, "m": 1, "q": 2}
    variants = {
        "scale 1e-120": (1e-120 * x, labels),
        "scale 1e120": (1e120 * x, labels),
        "rotation": (x @ q, labels),
        "translation": (x + 50.0 * rng.normal(size=12), labels),
        "order": (x[order], labels[order]),
        "strings": (x, names[labels]),
        "relabelled": (x, np.array([renamed[k] for k in "zmqae"])[labels]),
        "torch labels": (x, torch.from_numpy(labels)),
    }
    for name, (xv, lv) in variants.items():
        assert nc1(xv, lv) == pytest.approx(base_nc1, rel=1e-9), name
        got = class_mean_geometry(xv, lv).as_dict()
        assert got == pytest.approx(base, rel=1e-9, abs=1e-12), name


def test_nc1_falls_as_the_classes_collapse(rng):
    x, labels = blobs(rng, spread=0.0)
    noise = _balanced_noise(labels, x.shape[1], rng)
    values = [nc1(x + s * noise, labels) for s in (1.0, 0.5, 0.1)]
    np.testing.assert_allclose(values[1:], [values[0] / 4, values[0] / 100], rtol=1e-9)


# -- degenerate input and bad arguments -------------------------------------------------------
@pytest.mark.parametrize("func", FUNCS)
def test_one_class_is_an_error_naming_labels(func, rng):
    with pytest.raises(ValueError, match=GRAMMAR.format(arg="labels", func=func)) as info:
        FUNCS[func](rng.normal(size=(10, 3)), ["a"] * 10)
    assert "at least 2 classes" in str(info.value) and "1 class ('a')" in str(info.value)


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize(
    ("labels", "error", "fragment"),
    [
        (np.arange(9), ValueError, "shape (9,)"),
        (np.zeros((10, 2)), ValueError, "shape (10, 2)"),
        (np.array([0.0, np.nan] * 5), ValueError, "NaN"),
        (np.ones(10, dtype=complex), TypeError, "complex"),
        (np.array([1, "a"] * 5, dtype=object), TypeError, "sortable"),
    ],
)
def test_bad_labels_raise_in_the_grammar(func, labels, error, fragment, rng):
    with pytest.raises(error, match=GRAMMAR.format(arg="labels", func=func)) as info:
        FUNCS[func](rng.normal(size=(10, 3)), labels)
    assert fragment in str(info.value)


@pytest.mark.parametrize("func", FUNCS)
def test_bad_dtype_raises_in_the_grammar(func, rng):
    with pytest.raises(ValueError, match=GRAMMAR.format(arg="dtype", func=func)):
        FUNCS[func](rng.normal(size=(10, 3)), np.arange(10) % 2, dtype=torch.int32)


def test_labels_as_a_column_and_bools(rng):
    x, labels = blobs(rng, n_classes=2, n=60, d=4)
    assert nc1(x, labels[:, None]) == pytest.approx(nc1(x, labels.astype(bool)), rel=1e-12)


def test_no_variance_is_nan_with_one_warning():
    labels = np.arange(20) % 3
    with pytest.warns(DegenerateInputWarning, match="no variance") as caught:
        assert np.isnan(nc1(np.full((20, 4), 0.1), labels))
    assert len(caught) == 1
    with pytest.warns(DegenerateInputWarning, match="no variance"):
        got = class_mean_geometry(np.full((20, 4), 0.1), labels)
    assert np.isnan(got.norm_variation) and np.isnan(got.etf_deviation)


def test_coincident_class_means_give_inf_and_nan(rng):
    labels = np.repeat(np.arange(3), 10)
    x = _balanced_noise(labels, 5, rng) + 7.0  # every class mean is (7, …, 7)
    with pytest.warns(DegenerateInputWarning, match="class means coincide"):
        assert nc1(x, labels) == np.inf
    with pytest.warns(DegenerateInputWarning, match="class means coincide"):
        assert np.isnan(class_mean_geometry(x, labels).etf_deviation)


# -- batches and devices -----------------------------------------------------------------------
def test_batch_is_each_matrix(rng):
    labels = np.repeat(np.arange(4), 25)
    xs = np.stack([blobs(np.random.default_rng(s), n_classes=4, n=100, d=6)[0] for s in range(3)])
    got = nc1(xs, labels)
    assert isinstance(got, np.ndarray) and got.shape == (3,)
    np.testing.assert_allclose(got, [naive_nc1(x, labels) for x in xs], rtol=1e-9)
    geometry = class_mean_geometry(torch.from_numpy(xs), labels)
    assert isinstance(geometry.etf_deviation, torch.Tensor)
    assert geometry.etf_deviation.shape == (3,)
    np.testing.assert_allclose(
        geometry.etf_deviation.numpy(), [naive_geometry(x, labels)[1] for x in xs], rtol=1e-9
    )


def test_float32_is_close(rng):
    x, labels = blobs(rng)
    single = nc1(x.astype(np.float32), labels, dtype=torch.float32)
    assert single == pytest.approx(nc1(x, labels), rel=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_on_each_device(device, rng):
    x, labels = blobs(rng)
    tensor = torch.from_numpy(x).to(device)
    assert nc1(tensor, torch.from_numpy(labels).to(device)) == pytest.approx(
        naive_nc1(x, labels), rel=1e-9
    )
    got = class_mean_geometry(tensor[None], labels)
    assert got.etf_deviation.device.type == device
    assert float(got.etf_deviation[0]) == pytest.approx(naive_geometry(x, labels)[1], rel=1e-9)
