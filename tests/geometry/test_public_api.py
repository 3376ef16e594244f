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
GRAMMAR = r"^The '{arg}' argument of {func} must be .+; got .+\.$"


def _rows(x):
    shape = getattr(x, "shape", ())
    return shape[-2] if len(shape) >= 2 else len(LABELS)


# -- the walker: how to call a public function, read from its signature -----------------------
#: Good values of the positional arguments that may follow 'x', by name (as many rows as 'x').
COMPANIONS = {"y": lambda x: GOOD, "labels": lambda x: LABELS[: _rows(x)]}
#: Options whose default does not suit GOOD (40 × 12), by name, wherever a function has them.
OPTIONS_FOR_GOOD = {"fit_range": (2, 6)}
#: Public functions whose first argument is not 'x': good positional arguments by name, and the
#: test that walks their bad input by hand. Nothing else is exempt from the walk.
NOT_ON_X = {
    "dse_from_eigenvalues": (
        {"eigenvalues": np.linspace(1, 0.1, 10)},
        "test_dse_from_eigenvalues_rejects_bad_input_in_the_grammar",
    ),
    "jackknife_interval": (
        {"estimate": 1.0, "left_out": [1.0, 2.0, 3.0]},
        "test_jackknife_interval_rejects_bad_input_in_the_grammar",
    ),
}
#: Options that accept a value of the wrong kind, or refuse it in another function's name
#: (found by the walk; each fails the walk again once it is fixed: remove its line then).
KNOWN_GAPS: dict[tuple[str, str], str] = {}


def public_functions() -> list[str]:
    """Every function :mod:`repscope.geometry` exports, read from its ``__all__`` when called."""
    return sorted(name for name in geometry.__all__ if inspect.isfunction(getattr(geometry, name)))


def _positional(func) -> list[str]:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in inspect.signature(func).parameters.values() if p.kind in kinds]


def call_of(name: str):
    """``call(x, **options)``: the public function ``name`` on a given 'x', with good values for
    its other positional arguments and options (:data:`COMPANIONS`, :data:`OPTIONS_FOR_GOOD`);
    ``None`` if its signature does not say how (its first argument is not 'x')."""
    func = getattr(geometry, name)
    positional = _positional(func)
    if positional[:1] != ["x"] or any(p not in COMPANIONS for p in positional[1:]):
        return None
    params = inspect.signature(func).parameters
    defaults = {k: v for k, v in OPTIONS_FOR_GOOD.items() if k in params}

    def call(x, **options):
        return func(x, *(COMPANIONS[p](x) for p in positional[1:]), **{**defaults, **options})

    return call


def good_call(name: str):
    """``call(**options)``: the public function ``name`` on good input."""
    if name in NOT_ON_X:
        args = NOT_ON_X[name][0]
        return lambda **options: getattr(geometry, name)(*args.values(), **options)
    call = call_of(name)
    assert call is not None, f"{name} is neither walked on 'x' nor in NOT_ON_X"
    return lambda **options: call(GOOD, **options)


def options_of(name: str) -> list[str]:
    params = inspect.signature(getattr(geometry, name)).parameters.values()
    return [p.name for p in params if p.kind is p.KEYWORD_ONLY]


def walked_on_x() -> list[str]:
    return [name for name in public_functions() if call_of(name) is not None]


class _WrongKind:
    """A value no option takes (neither a number, a string, a dtype nor a tuple)."""

    def __repr__(self) -> str:
        return "<wrong kind>"


def check_bad_x(name: str, x, error, fragment: str) -> None:
    """``name`` refuses ``x`` with ``error``, in the grammar, naming itself and saying
    ``fragment``."""
    with pytest.raises(error) as info:
        call_of(name)(x)
    message = str(info.value)
    assert re.match(GRAMMAR.format(arg="x", func=name), message), message
    assert fragment in message


def check_bad_dtype(name: str) -> None:
    with pytest.raises(ValueError, match=GRAMMAR.format(arg="dtype", func=name)):
        call_of(name)(GOOD, dtype=torch.int32)


def check_wrong_kind(name: str, option: str) -> None:
    """``name`` refuses a value of the wrong kind for ``option``, in the grammar, in its own
    name (a closed set of strings may say so with a ValueError)."""
    with pytest.raises((TypeError, ValueError)) as info:
        good_call(name)(**{option: _WrongKind()})
    message = str(info.value)
    assert re.match(GRAMMAR.format(arg=option, func=name), message), message


def check_good_input(name: str) -> None:
    """On good input the walker's call runs, with no warning (so its refusals are of the bad
    argument, not of a call the walker got wrong)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        good_call(name)()


# -- the walk -------------------------------------------------------------------------------
def test_every_public_function_is_walked_or_exempt_by_name():
    """A function exported later is walked on 'x' without a line here; one that cannot be is
    named in NOT_ON_X with the test that walks it (which must exist)."""
    names = set(public_functions())
    on_x = set(walked_on_x())
    assert names == on_x | set(NOT_ON_X), names ^ (on_x | set(NOT_ON_X))
    assert not on_x & set(NOT_ON_X)
    for name, (args, test) in NOT_ON_X.items():
        assert _positional(getattr(geometry, name)) == list(args), name
        assert callable(globals().get(test)), test
    assert {name for name, _ in KNOWN_GAPS} <= names
    assert all(option in options_of(name) for name, option in KNOWN_GAPS)


@pytest.mark.parametrize("name", public_functions())
def test_the_walker_calls_each_function_correctly_on_good_input(name):
    check_good_input(name)


def test_jackknife_interval_rejects_bad_input_in_the_grammar():
    with pytest.raises(ValueError, match=GRAMMAR.format(arg="left_out", func="jackknife_interval")):
        geometry.jackknife_interval(1.0, [1.0])
    for bad in ([[1.0, 2.0], [3.0, 4.0]], 3.0):
        with pytest.raises(
            ValueError, match=GRAMMAR.format(arg="left_out", func="jackknife_interval")
        ):
            geometry.jackknife_interval(1.0, bad)
    with pytest.raises(TypeError, match=GRAMMAR.format(arg="left_out", func="jackknife_interval")):
        geometry.jackknife_interval(1.0, ["a", "b"])
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
    (np.ones((1, 4)), ValueError, "n_samples >="),
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


@pytest.mark.parametrize("name", walked_on_x())
@pytest.mark.parametrize(("x", "error", "fragment"), BAD_X)
def test_bad_x_raises_in_the_grammar(name, x, error, fragment):
    check_bad_x(name, x, error, fragment)


@pytest.mark.parametrize("name", [name for name in walked_on_x() if "dtype" in options_of(name)])
def test_bad_dtype_option_raises_in_the_grammar(name):
    check_bad_dtype(name)


def _wrong_kind_cases():
    for name in public_functions():
        for option in options_of(name):
            gap = KNOWN_GAPS.get((name, option))
            marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else []
            yield pytest.param(name, option, marks=marks, id=f"{name}-{option}")


@pytest.mark.parametrize(("name", "option"), list(_wrong_kind_cases()))
def test_an_option_of_the_wrong_kind_raises_in_the_grammar(name, option):
    check_wrong_kind(name, option)


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
    """Only 'x' and its companions (or a NOT_ON_X function's arguments) are positional."""
    for name in public_functions():
        positional = _positional(getattr(geometry, name))
        if name in NOT_ON_X:
            assert positional == list(NOT_ON_X[name][0]), name
        else:
            assert positional[:1] == ["x"] and set(positional[1:]) <= set(COMPANIONS), (
                name,
                positional,
            )
