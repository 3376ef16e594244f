"""Diffusion spectral mutual information: known answers on separated clusters, label kinds,
seeding, backends and bad input."""

import math

import numpy as np
import pytest
import torch

from repscope import DegenerateInputWarning
from repscope.geometry.dsmi import dsmi

from ..conftest import DEVICES

GRAMMAR = r"^The '{arg}' argument of dsmi must be .+; got .+\.$"

# Four blobs (std 1 in 8-D) whose centres are 70 apart. With sigma = 5 the kernel between blobs
# is exp(-5000 / 50) ~ 1e-44, so M is block diagonal with one eigenvalue 1 per blob present and
# the others < ~0.5 within a blob; at t = 50 those vanish (< 1e-15). Then DSE = log2(#blobs
# present) exactly: 0 for one blob, and 2 bits for a random subset of 50 of the 200 points
# (it misses a blob with probability < 4 (3/4)^50 ~ 2e-6).
SIGMA, T = 5.0, 50


@pytest.fixture
def blobs(rng):
    labels = np.repeat(np.arange(4), 50)
    return 50.0 * np.eye(8)[labels] + rng.normal(size=(200, 8)), labels


def test_labels_of_separated_clusters_give_log2_of_their_number(blobs):
    x, labels = blobs
    assert dsmi(x, labels, sigma=SIGMA, t=T) == pytest.approx(2.0, abs=1e-9)
    assert dsmi(x, labels.astype(str), sigma=SIGMA, t=T) == pytest.approx(2.0, abs=1e-9)


def test_permuted_labels_give_zero(blobs, rng):
    x, labels = blobs
    assert dsmi(x, rng.permutation(labels), sigma=SIGMA, t=T) == pytest.approx(0.0, abs=1e-6)
    informative = dsmi(x, labels, sigma=SIGMA)  # t = 1: within-blob structure counts too
    assert abs(dsmi(x, rng.permutation(labels), sigma=SIGMA)) < 0.1 * informative


def test_the_formula_on_merged_classes(blobs):
    # Class 0 = blobs 0 and 1 (DSE 1 bit, weight 1/2); classes 1, 2 = blobs 2, 3 (DSE 0, weight
    # 1/4 each); random subsets hold all four blobs (2 bits): 0.5 * 1 + 0.25 * 2 + 0.25 * 2.
    x, labels = blobs
    merged = np.maximum(labels - 1, 0)
    assert dsmi(x, merged, sigma=SIGMA, t=T) == pytest.approx(1.5, abs=1e-9)


def test_a_single_member_class_contributes_zero(blobs, rng):
    x, labels = blobs
    x = np.concatenate([x, x[:1] + 0.1])  # inside blob 0, with a class of its own
    labels = np.append(labels, 9)
    assert dsmi(x, labels, sigma=SIGMA, t=T) == pytest.approx(2.0 * 200 / 201, abs=1e-6)


def test_one_group_gives_zero(blobs):
    x, _ = blobs
    assert dsmi(x, np.zeros(200, dtype=int), sigma=SIGMA) == pytest.approx(0.0, abs=1e-12)


def test_scalar_labels_monotone_in_the_class_give_the_same_value(blobs):
    # Increasing maps whose values fall in distinct bins of 10 equal bins: the same groups, in
    # the same order, hence the same random subsets and the same value.
    x, labels = blobs
    discrete = dsmi(x, labels, sigma=SIGMA)
    for scalar in (labels * 1.0, 2.0**labels, (0.5 * labels**2 + 7.0)[:, None]):
        assert dsmi(x, scalar, sigma=SIGMA) == pytest.approx(discrete, rel=1e-12)
        assert dsmi(x, scalar, sigma=SIGMA, kind="scalar") == pytest.approx(discrete, rel=1e-12)


def test_scalar_labels_are_binned_into_equal_bins(blobs, rng):
    x, _ = blobs
    values = rng.uniform(0, 1, 200)
    codes = np.minimum((values - values.min()) / np.ptp(values) * 3, 2.999).astype(int)
    codes[values == values.max()] = 2
    binned = dsmi(x, values, sigma=SIGMA, n_clusters=3)
    assert binned == pytest.approx(dsmi(x, codes, sigma=SIGMA), rel=1e-12)


@pytest.mark.filterwarnings("ignore:Graph is not fully connected")
def _sklearn_version() -> tuple[int, ...]:
    import sklearn

    return tuple(int(p) for p in sklearn.__version__.split(".")[:2])


@pytest.mark.xfail(
    _sklearn_version() < (1, 9),
    strict=False,
    reason="scikit-learn 1.7 (Python 3.10's) embeds this disconnected k-NN graph with ARPACK "
    "so that cluster_qr merges two clusters in some seeded draws (7 of 40 seen); the published "
    "code clusters the same way, so repscope keeps its call",
)
def test_vector_labels_are_clustered(blobs, rng):
    x, labels = blobs
    positions = 10.0 * np.array([[0, 0], [0, 1], [1, 0], [1, 1]])[labels]
    positions = positions + 0.5 * rng.normal(size=(200, 2))
    assert dsmi(x, positions, sigma=SIGMA, t=T, n_clusters=4) == pytest.approx(2.0, abs=1e-9)


def test_seeded(blobs, rng):
    x, _ = blobs
    labels = rng.integers(0, 3, 200)
    first = dsmi(x, labels, sigma=SIGMA, seed=4)
    assert dsmi(x, labels, sigma=SIGMA, seed=4) == first
    assert dsmi(x, labels, sigma=SIGMA, seed=5) != first


def test_median_sigma_is_resolved_once_on_all_points(blobs):
    x, labels = blobs
    from scipy.spatial.distance import pdist

    median = float(np.median(pdist(x)))
    assert dsmi(x, labels, sigma="median") == dsmi(x, labels, sigma=median)
    assert dsmi(3.0 * x, labels, sigma="median") == pytest.approx(
        dsmi(x, labels, sigma="median"), rel=1e-9
    )


@pytest.mark.parametrize("device", DEVICES)
def test_torch_inputs(blobs, device):
    x, labels = blobs
    value = dsmi(
        torch.from_numpy(x).to(device), torch.from_numpy(labels).to(device), sigma=SIGMA, t=T
    )
    assert isinstance(value, float) and value == pytest.approx(2.0, abs=1e-9)
    value32 = dsmi(x, labels, sigma=SIGMA, dtype=torch.float32)
    assert value32 == pytest.approx(dsmi(x, labels, sigma=SIGMA), rel=1e-4)


def test_constant_scalar_labels_warn_and_give_zero(blobs):
    x, _ = blobs
    with pytest.warns(DegenerateInputWarning, match="Constant scalar labels"):
        assert dsmi(x, np.full(200, 0.5), sigma=SIGMA) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("labels", "kwargs", "arg", "error", "fragment"),
    [
        (np.zeros(199, dtype=int), {}, "labels", ValueError, "shape (199,)"),
        (np.zeros((200, 2, 2)), {}, "labels", ValueError, "shape (200, 2, 2)"),
        (np.array(["a", "b"] * 100), {"kind": "scalar"}, "labels", TypeError, "dtype <U1"),
        (np.append(np.zeros(199), np.nan), {}, "labels", ValueError, "NaN"),
        (np.zeros((200, 2)), {"kind": "discrete"}, "labels", ValueError, "shape (200, 2)"),
        (np.zeros(200, dtype=int), {"kind": "bogus"}, "kind", ValueError, "'bogus'"),
        (np.zeros(200, dtype=int), {"n_repeats": 0}, "n_repeats", ValueError, "0"),
        (np.zeros(200, dtype=int), {"n_clusters": 1}, "n_clusters", ValueError, "1"),
        (np.zeros(200, dtype=int), {"t": 0.0}, "t", ValueError, "0.0"),
        (np.zeros(200, dtype=int), {"sigma": "bogus"}, "sigma", ValueError, "'bogus'"),
    ],
)
def test_bad_input_raises_in_the_grammar(blobs, labels, kwargs, arg, error, fragment):
    x, _ = blobs
    with pytest.raises(error, match=GRAMMAR.format(arg=arg)) as info:
        dsmi(x, labels, **kwargs)
    assert fragment in str(info.value)


def test_bad_x_raises_in_the_grammar(blobs):
    x, labels = blobs
    with pytest.raises(ValueError, match=GRAMMAR.format(arg="x")):
        dsmi(np.stack([x, x]), labels)
    with pytest.raises(ValueError, match=GRAMMAR.format(arg="x")):
        dsmi(np.where(labels[:, None] == 0, np.nan, x), labels)
    assert math.isfinite(dsmi(x[:2], labels[:2]))
