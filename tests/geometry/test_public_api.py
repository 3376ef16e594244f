"""Walk the public geometry API with bad input: every message follows the one grammar.

"The '<arg>' argument of <function> must be <expected>; got <what arrived>."
"""

import inspect
import re
import warnings

import numpy as np
import pytest
import scipy.sparse
import torch

import repscope.geometry as geometry

GOOD = np.random.default_rng(0).normal(size=(40, 12))
LABELS = np.repeat(np.arange(4), 10)

# How to call each public function with a given 'x' (and good values for everything else).
CALLS = {
    "spectrum": lambda x, **kw: geometry.spectrum(x, **kw),
    "spectral_summary": lambda x, **kw: geometry.spectral_summary(x, fit_range=(2, 6), **kw),
    "effective_rank": lambda x, **kw: geometry.effective_rank(x, **kw),
    "participation_ratio": lambda x, **kw: geometry.participation_ratio(x, **kw),
    "stable_rank": lambda x, **kw: geometry.stable_rank(x, **kw),
    "numerical_rank": lambda x, **kw: geometry.numerical_rank(x, **kw),
    "alpha_req": lambda x, **kw: geometry.alpha_req(x, fit_range=(2, 6), **kw),
    "linear_cka": lambda x, **kw: geometry.linear_cka(x, GOOD, **kw),
    "dse": lambda x, **kw: geometry.dse(x, **kw),
    "dsmi": lambda x, **kw: geometry.dsmi(x, LABELS[: _rows(x)], **kw),
    "diffusion_spectrum": lambda x, **kw: geometry.diffusion_spectrum(x, **kw),
    "diffusion_operator": lambda x, **kw: geometry.diffusion_operator(x, **kw),
    "resolve_sigma": lambda x, **kw: geometry.resolve_sigma(x, **kw),
    "principal_coordinates": lambda x, **kw: geometry.principal_coordinates(x, **kw),
    "spectral_intervals": lambda x, **kw: geometry.spectral_intervals(x, fit_range=(2, 6), **kw),
    "dse_interval": lambda x, **kw: geometry.dse_interval(x, groups=2, **kw),
}

# dse_from_eigenvalues takes eigenvalues, jackknife_interval values: walked separately below.
EIGENVALUE_FUNCTIONS = {"dse_from_eigenvalues", "jackknife_interval"}


def _rows(x):
    shape = getattr(x, "shape", ())
    return shape[-2] if len(shape) >= 2 else len(LABELS)


GRAMMAR = r"^The '{arg}' argument of {func} must be .+; got .+\.$"


def _public_functions():
    return sorted(name for name in geometry.__all__ if inspect.isfunction(getattr(geometry, name)))


def test_every_public_function_is_walked():
    assert set(CALLS) | EIGENVALUE_FUNCTIONS == set(_public_functions())


def test_jackknife_interval_rejects_bad_input_in_the_grammar():
    with pytest.raises(ValueError, match=GRAMMAR.format(arg="left_out", func="jackknife_interval")):
        geometry.jackknife_interval(1.0, [1.0])
    with pytest.raises(ValueError, match=GRAMMAR.format(arg="level", func="jackknife_interval")):
        geometry.jackknife_interval(1.0, [1.0, 2.0], level=1.5)


def test_dse_from_eigenvalues_rejects_bad_input_in_the_grammar():
    ev = np.linspace(1, 0.1, 10)
    with pytest.raises(ValueError, match=GRAMMAR.format(arg="t", func="dse_from_eigenvalues")):
        geometry.dse_from_eigenvalues(ev, t=0)
    with pytest.raises(
        ValueError, match=GRAMMAR.format(arg="eigenvalues", func="dse_from_eigenvalues")
    ):
        geometry.dse_from_eigenvalues(np.array([1.0, np.nan]))


with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # torch: "Sparse CSR tensor support is in beta"
    CSR = torch.from_numpy(GOOD).to_sparse_csr()

BAD_X = [
    (np.ones(3), ValueError, "shape (3,)"),
    (np.ones((2, 3, 4, 5)), ValueError, "shape (2, 3, 4, 5)"),
    (np.ones((1, 4)), ValueError, "n_samples >= 2"),
    (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), ValueError, "1 non-finite value(s)"),
    (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 4.0]]), ValueError, "non-finite"),
    (np.array([["a", "b"], ["c", "d"]]), TypeError, "dtype <U1"),
    (np.ones((3, 3), dtype=complex), TypeError, "complex"),
    (torch.ones(4, 3, dtype=torch.bool), TypeError, "torch.bool"),
    ("not an array", TypeError, ""),
    # sparse and meta tensors: the house error, not torch's "reshape is not implemented for
    # sparse tensors" or "Tensor.item() cannot be called on meta tensors"
    (torch.from_numpy(GOOD).to_sparse(), TypeError, "a sparse tensor (sparse_coo)"),
    (CSR, TypeError, "a sparse tensor (sparse_csr)"),
    (torch.empty(40, 12, device="meta"), ValueError, "'meta' device"),
    (scipy.sparse.csr_matrix(GOOD), TypeError, "call .toarray()"),
]


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize(("x", "error", "fragment"), BAD_X)
def test_bad_x_raises_in_the_grammar(name, x, error, fragment):
    with pytest.raises(error) as info:
        CALLS[name](x)
    message = str(info.value)
    assert re.match(GRAMMAR.format(arg="x", func=name), message), message
    assert fragment in message


@pytest.mark.parametrize("name", sorted(CALLS))
def test_bad_dtype_option_raises_in_the_grammar(name):
    with pytest.raises(ValueError, match=GRAMMAR.format(arg="dtype", func=name)):
        CALLS[name](GOOD, dtype=torch.int32)


@pytest.mark.parametrize(
    ("call", "arg", "func", "error"),
    [
        (lambda: geometry.spectrum(GOOD, kind="eigen"), "kind", "spectrum", ValueError),
        (
            lambda: geometry.spectrum(GOOD, max_components=0),
            "max_components",
            "spectrum",
            ValueError,
        ),
        (
            lambda: geometry.spectrum(GOOD, max_components=2.5),
            "max_components",
            "spectrum",
            TypeError,
        ),
        (
            lambda: geometry.effective_rank(GOOD, convention="svd"),
            "convention",
            "effective_rank",
            ValueError,
        ),
        (lambda: geometry.effective_rank(GOOD, eps=-1.0), "eps", "effective_rank", ValueError),
        (lambda: geometry.numerical_rank(GOOD, rtol=2.0), "rtol", "numerical_rank", ValueError),
        (lambda: geometry.alpha_req(GOOD, fit_range=(5, 5)), "fit_range", "alpha_req", ValueError),
        (lambda: geometry.alpha_req(GOOD, fit_range=(0, 5)), "fit_range", "alpha_req", ValueError),
        (lambda: geometry.alpha_req(GOOD, fit_range=12), "fit_range", "alpha_req", TypeError),
        (
            lambda: geometry.spectral_summary(GOOD, kind="pca"),
            "kind",
            "spectral_summary",
            ValueError,
        ),
        (lambda: geometry.linear_cka(GOOD, GOOD[:30]), "y", "linear_cka", ValueError),
        (
            lambda: geometry.linear_cka(GOOD, torch.from_numpy(GOOD).to_sparse()),
            "y",
            "linear_cka",
            TypeError,
        ),
        (
            lambda: geometry.linear_cka(GOOD, torch.empty(40, 12, device="meta")),
            "y",
            "linear_cka",
            ValueError,
        ),
        (lambda: geometry.dse(GOOD, t=0), "t", "dse", ValueError),
        (lambda: geometry.dse(GOOD, t=-1.0), "t", "dse", ValueError),
        (lambda: geometry.dse(GOOD, sigma=0.0), "sigma", "dse", ValueError),
        (lambda: geometry.dse(GOOD, sigma="mean"), "sigma", "dse", ValueError),
        (lambda: geometry.dse(GOOD, method="slq"), "method", "dse", ValueError),
        (lambda: geometry.dsmi(GOOD, LABELS[:39]), "labels", "dsmi", ValueError),
        (lambda: geometry.dsmi(GOOD, LABELS, kind="ordinal"), "kind", "dsmi", ValueError),
        (lambda: geometry.dsmi(GOOD, LABELS, n_repeats=0), "n_repeats", "dsmi", ValueError),
        (
            lambda: geometry.principal_coordinates(GOOD, n_components=13),
            "n_components",
            "principal_coordinates",
            ValueError,
        ),
        (
            lambda: geometry.principal_coordinates(GOOD, n_components=0),
            "n_components",
            "principal_coordinates",
            ValueError,
        ),
    ],
)
def test_bad_options_raise_in_the_grammar(call, arg, func, error):
    with pytest.raises(error, match=GRAMMAR.format(arg=arg, func=func)):
        call()


def test_options_are_keyword_only():
    for name in _public_functions():
        params = inspect.signature(getattr(geometry, name)).parameters.values()
        positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        allowed = (["x"], ["x", "y"], ["x", "labels"], ["eigenvalues"], ["estimate", "left_out"])
        assert positional in allowed, (
            name,
            positional,
        )
