"""Options declared once: MeasureConfig's table makes its checks, the flags of ``repscope scan``,
its docstring and the summary of a key, and leaves every stored key as it was."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, fields

import numpy as np
import pytest
import torch

from repscope import scan_cli
from repscope._validation import check_real
from repscope.cli import build_parser
from repscope.config import LATE_OPTIONS, MeasureConfig, config_summary, current_key
from repscope.options import option, option_table

# -- frozen keys -------------------------------------------------------------------------------
# A frozen-format regression check: stored rows are found by these keys, so the literals below
# are the keys (and the summaries) the code wrote before the option table (commit c33b68a), and
# must never change. The summaries marked "new" gained the words of options they left out.
CASES = [
    (
        {},
        '{"eps":1e-07,"error_groups":10,"errors":"jackknife","fit_range":[12,100],'
        '"kind":"covariance","max_components":null,"view":"activations"}',
        "covariance, α 12–100, error bars jackknife×10",
    ),
    (
        {"errors": "none"},
        '{"eps":1e-07,"fit_range":[12,100],"kind":"covariance","max_components":null,'
        '"view":"activations"}',
        "covariance, α 12–100",
    ),
    (
        {"view": "weights"},
        '{"eps":1e-07,"fit_range":[12,100],"kind":"singular","max_components":null,'
        '"view":"weights"}',
        "weights, singular, α 12–100",
    ),
    (
        {"view": "gradients", "kind": "covariance"},
        '{"eps":1e-07,"fit_range":[12,100],"kind":"covariance","max_components":null,'
        '"view":"gradients"}',
        "gradients, covariance, α 12–100",
    ),
    (
        {"view": "activations", "kind": "singular"},
        '{"eps":1e-07,"error_groups":10,"errors":"jackknife","fit_range":[12,100],'
        '"kind":"singular","max_components":null,"view":"activations"}',
        "singular, α 12–100, error bars jackknife×10",
    ),
    (
        {"fit_range": [2, 8]},
        '{"eps":1e-07,"error_groups":10,"errors":"jackknife","fit_range":[2,8],'
        '"kind":"covariance","max_components":null,"view":"activations"}',
        "covariance, α 2–8, error bars jackknife×10",
    ),
    (
        {"fit_range": (np.int64(3), np.int64(9))},
        '{"eps":1e-07,"error_groups":10,"errors":"jackknife","fit_range":[3,9],'
        '"kind":"covariance","max_components":null,"view":"activations"}',
        "covariance, α 3–9, error bars jackknife×10",
    ),
    (
        {"eps": 0},
        '{"eps":0,"error_groups":10,"errors":"jackknife","fit_range":[12,100],'
        '"kind":"covariance","max_components":null,"view":"activations"}',
        "covariance, α 12–100, ε=0, error bars jackknife×10",  # new: ε
    ),
    (
        {"eps": 1e-09, "max_components": 5},
        '{"eps":1e-09,"error_groups":10,"errors":"jackknife","fit_range":[12,100],'
        '"kind":"covariance","max_components":5,"view":"activations"}',
        "covariance, α 12–100, ε=1e-09, ≤5 components, error bars jackknife×10",  # new
    ),
    (
        {"dse": True},
        '{"dse":true,"eps":1e-07,"error_groups":10,"errors":"jackknife","fit_range":[12,100],'
        '"kind":"covariance","max_components":null,"sigma":10.0,"t":1.0,"view":"activations"}',
        "covariance, α 12–100, DSE σ=10.0 t=1.0, error bars jackknife×10",
    ),
    (
        {"dse": True, "sigma": "median", "t": 2},
        '{"dse":true,"eps":1e-07,"error_groups":10,"errors":"jackknife","fit_range":[12,100],'
        '"kind":"covariance","max_components":null,"sigma":"median","t":2,"view":"activations"}',
        "covariance, α 12–100, DSE σ=median t=2, error bars jackknife×10",
    ),
    (
        {"dse": True, "sigma": 3, "t": 0.5, "errors": "none"},
        '{"dse":true,"eps":1e-07,"fit_range":[12,100],"kind":"covariance",'
        '"max_components":null,"sigma":3,"t":0.5,"view":"activations"}',
        "covariance, α 12–100, DSE σ=3 t=0.5",
    ),
    (
        {"dse": True, "sigma": "sqrt_dim", "dse_method": "lanczos"},
        '{"dse":true,"dse_method":"lanczos","eps":1e-07,"error_groups":10,"errors":"jackknife",'
        '"fit_range":[12,100],"kind":"covariance","max_components":null,"sigma":"sqrt_dim",'
        '"t":1.0,"view":"activations"}',
        # new: the DSE method
        "covariance, α 12–100, DSE σ=sqrt_dim t=1.0, DSE by lanczos, error bars jackknife×10",
    ),
    (
        {"dse": False, "sigma": 3.0, "t": 5.0, "dse_method": "lanczos"},
        '{"eps":1e-07,"error_groups":10,"errors":"jackknife","fit_range":[12,100],'
        '"kind":"covariance","max_components":null,"view":"activations"}',
        "covariance, α 12–100, error bars jackknife×10",
    ),
    (
        {"view": "weights", "dse": True, "sigma": 3.0, "dse_method": "lanczos"},
        '{"eps":1e-07,"fit_range":[12,100],"kind":"singular","max_components":null,'
        '"view":"weights"}',
        "weights, singular, α 12–100",
    ),
    (
        {"dtype": torch.float32},
        '{"dtype":"float32","eps":1e-07,"error_groups":10,"errors":"jackknife",'
        '"fit_range":[12,100],"kind":"covariance","max_components":null,"view":"activations"}',
        "covariance, α 12–100, error bars jackknife×10, float32",
    ),
    (
        {"dtype": np.float32, "dse": True},
        '{"dse":true,"dtype":"float32","eps":1e-07,"error_groups":10,"errors":"jackknife",'
        '"fit_range":[12,100],"kind":"covariance","max_components":null,"sigma":10.0,"t":1.0,'
        '"view":"activations"}',
        "covariance, α 12–100, DSE σ=10.0 t=1.0, error bars jackknife×10, float32",
    ),
    (
        {"dtype": torch.float64},
        '{"eps":1e-07,"error_groups":10,"errors":"jackknife","fit_range":[12,100],'
        '"kind":"covariance","max_components":null,"view":"activations"}',
        "covariance, α 12–100, error bars jackknife×10",
    ),
    (
        {"errors": "jackknife", "error_groups": 20},
        '{"eps":1e-07,"error_groups":20,"errors":"jackknife","fit_range":[12,100],'
        '"kind":"covariance","max_components":null,"view":"activations"}',
        "covariance, α 12–100, error bars jackknife×20",
    ),
    (
        {"errors": "none", "error_groups": 20},
        '{"eps":1e-07,"fit_range":[12,100],"kind":"covariance","max_components":null,'
        '"view":"activations"}',
        "covariance, α 12–100",
    ),
    (
        {"view": "weights", "errors": "jackknife", "error_groups": 4},
        '{"eps":1e-07,"fit_range":[12,100],"kind":"singular","max_components":null,'
        '"view":"weights"}',
        "weights, singular, α 12–100",
    ),
    (
        {"view": "gradients", "dtype": "float32", "dse": True, "fit_range": (1, 3)},
        '{"dtype":"float32","eps":1e-07,"fit_range":[1,3],"kind":"singular",'
        '"max_components":null,"view":"gradients"}',
        "gradients, singular, α 1–3, float32",
    ),
    (
        dict(
            view="activations",
            kind="covariance",
            fit_range=(5, 50),
            eps=1e-06,
            max_components=64,
            dse=True,
            sigma=0.5,
            t=1.5,
            dtype="float32",
            dse_method="lanczos",
            errors="jackknife",
            error_groups=3,
        ),
        '{"dse":true,"dse_method":"lanczos","dtype":"float32","eps":1e-06,"error_groups":3,'
        '"errors":"jackknife","fit_range":[5,50],"kind":"covariance","max_components":64,'
        '"sigma":0.5,"t":1.5,"view":"activations"}',
        "covariance, α 5–50, ε=1e-06, ≤64 components, DSE σ=0.5 t=1.5, DSE by lanczos, "
        "error bars jackknife×3, float32",  # new: ε, components, Lanczos
    ),
]

#: Every combination of these values; the SHA-256 of their keys, one a line, in this order, as
#: the code before the option table wrote them (the same frozen-format check, for 13 824 keys).
GRID = dict(
    view=["activations", "weights", "gradients"],
    kind=[None, "covariance", "singular"],
    fit_range=[(12, 100), (2, 8)],
    eps=[1e-7, 0],
    max_components=[None, 5],
    dse=[False, True],
    sigma=[10.0, "median", 3],
    t=[1.0, 2],
    dtype=["float64", "float32"],
    dse_method=["exact", "lanczos"],
    errors=["jackknife", "none"],
    error_groups=[10, 4],
)
GRID_KEYS_SHA256 = "f4596a58de0f4cc71a6185b2ad4ebea9c441bb38a05afd5db7d6d78779e5ab68"


@pytest.mark.parametrize(("options", "key", "summary"), CASES)
def test_keys_and_summaries_are_those_stores_were_written_with(options, key, summary):
    config = MeasureConfig(**options)
    assert config.key() == key
    assert config_summary(key) == summary
    assert MeasureConfig.from_key(key).key() == key
    assert current_key(key) == key


def test_a_grid_of_configurations_keeps_its_keys():
    digest = hashlib.sha256()
    for values in itertools.product(*GRID.values()):
        key = MeasureConfig(**dict(zip(GRID, values, strict=True))).key()
        digest.update(key.encode() + b"\n")
    assert digest.hexdigest() == GRID_KEYS_SHA256


# -- the table is the class --------------------------------------------------------------------
def test_the_table_is_the_fields_and_the_late_options_come_from_it():
    assert list(MeasureConfig.OPTIONS) == [f.name for f in fields(MeasureConfig)]
    for f in fields(MeasureConfig):
        assert MeasureConfig.OPTIONS[f.name].default == f.default
    assert LATE_OPTIONS == {"dse_method": "exact", "errors": "none", "dtype": "float64"}
    assert MeasureConfig().options() == {
        name: entry.default for name, entry in MeasureConfig.OPTIONS.items()
    }


def test_a_field_not_declared_as_an_option_is_refused():
    with pytest.raises(TypeError, match=r"Loose\.gamma must be declared with option"):

        @option_table
        @dataclass(frozen=True)
        class Loose(MeasureConfig):
            gamma: float = 0.5

    with pytest.raises(TypeError, match=r"Unchecked\.gamma needs a check or choices"):

        @option_table
        @dataclass(frozen=True)
        class Unchecked(MeasureConfig):
            gamma: float = option(0.5, help="γ.")


def test_the_docstring_lists_every_option_once_with_its_default():
    doc = MeasureConfig.__doc__
    for name, entry in MeasureConfig.OPTIONS.items():
        headers = [line for line in doc.splitlines() if line.startswith(f"{name} : ")]
        assert len(headers) == 1, name
        assert entry.help.split()[0] in doc
    assert 'dtype : {"float64", "float32"}, default "float64"' in doc
    assert 'dse_method : {"exact", "lanczos"}, default "exact"' in doc
    assert "max_components : int, optional" in doc
    assert doc.index("Parameters\n----------") < doc.index("Examples\n--------")


def test_the_docstring_parses_as_numpydoc():
    griffe = pytest.importorskip("griffe")
    sections = griffe.Docstring(MeasureConfig.__doc__, parser="numpy").parse()
    (parameters,) = [s for s in sections if s.kind.value == "parameters"]
    assert [p.name for p in parameters.value] == list(MeasureConfig.OPTIONS)


def test_dse_is_true_or_false():
    with pytest.raises(TypeError, match=r"^The 'dse' argument of MeasureConfig must be True or"):
        MeasureConfig(dse="yes")


# -- the flags of repscope scan ----------------------------------------------------------------
def scan_parser():
    return build_parser()._subparsers._group_actions[0].choices["scan"]


def parse(*flags):
    return build_parser().parse_args(["scan", "SOURCE", "--store", "s.sqlite", *flags])


def test_each_option_has_its_flag_and_the_defaults_are_the_configs():
    text = scan_parser().format_help()
    for entry in MeasureConfig.OPTIONS.values():
        assert entry.flag_name in text
    assert scan_cli.measure_config(parse()) == MeasureConfig()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--fit-range", "2,30"], {"fit_range": (2, 30)}),
        (["--sigma", "median", "--dse"], {"sigma": "median", "dse": True}),
        (["--sigma", "3"], {"sigma": 3.0}),
        (["--eps", "0", "--max-components", "64"], {"eps": 0.0, "max_components": 64}),
        (["--view", "weights", "--kind", "covariance"], {"view": "weights", "kind": "covariance"}),
        (["--errors", "none", "--error-groups", "5"], {"errors": "none", "error_groups": 5}),
        (
            ["--dtype", "float32", "--dse-method", "lanczos"],
            {"dtype": "float32", "dse_method": "lanczos"},
        ),
        (["--t", "2.5"], {"t": 2.5}),
    ],
)
def test_flags_reach_the_configuration(flags, expected):
    assert scan_cli.measure_config(parse(*flags)) == MeasureConfig(**expected)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--fit-range", "twelve"], "argument --fit-range: expected FIRST,LAST (e.g. 12,100); got"),
        (["--sigma", "wide"], "argument --sigma: expected a number, 'median' or 'sqrt_dim'; got"),
        (["--error-groups", "x"], "argument --error-groups: expected an integer; got 'x'"),
        (["--dtype", "float16"], "argument --dtype: invalid choice: 'float16'"),
    ],
)
def test_a_flag_that_cannot_be_read_is_a_usage_error(flags, message, capsys):
    with pytest.raises(SystemExit) as stop:
        parse(*flags)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_a_value_out_of_range_is_refused_in_the_house_grammar():
    with pytest.raises(ValueError, match=r"^The 'error_groups' argument of MeasureConfig must be"):
        scan_cli.measure_config(parse("--error-groups", "1"))


# -- one more option, declared once, reaches all four ------------------------------------------
def _gamma_text(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number; got {text!r}") from None


@option_table
@dataclass(frozen=True)
class WithGamma(MeasureConfig):
    """A configuration with one more option (as if a measure with a γ had been added)."""

    gamma: float = option(
        0.5,
        check=lambda value, *, name, func: check_real(value, name=name, func=func, low=0.0),
        since=0.5,
        help="The γ of a new measure.",
        cli="gamma of the new measure",
        parse=_gamma_text,
        summary=lambda key: f"γ={key['gamma']}" if "gamma" in key else None,
    )


@pytest.fixture
def gamma_scan(monkeypatch):
    """``repscope scan`` with WithGamma for MeasureConfig (undone after the test)."""
    monkeypatch.setattr(scan_cli, "MeasureConfig", WithGamma)
    return WithGamma


def test_an_added_option_is_checked_in_the_house_grammar():
    with pytest.raises(ValueError) as error:
        WithGamma(gamma=-1)
    assert str(error.value) == (
        "The 'gamma' argument of WithGamma must be a finite real number >= 0; got -1.0."
    )
    with pytest.raises(TypeError, match=r"^The 'gamma' argument of WithGamma must be a real"):
        WithGamma(gamma="big")
    with pytest.raises(ValueError, match=r"^The 'view' argument of WithGamma must be one of"):
        WithGamma(view="pixels")  # the inherited options are still checked


def test_an_added_option_is_a_flag_of_scan(gamma_scan):
    assert "gamma of the new measure (default: 0.5)" in " ".join(
        scan_parser().format_help().split()
    )
    config = scan_cli.measure_config(parse("--gamma", "0.25", "--dse"))
    assert isinstance(config, WithGamma) and (config.gamma, config.dse) == (0.25, True)
    assert scan_cli.measure_config(parse()).gamma == 0.5
    with pytest.raises(ValueError, match=r"^The 'gamma' argument of WithGamma must be"):
        scan_cli.measure_config(parse("--gamma", "-2"))


def test_an_added_flag_is_gone_with_its_table(gamma_scan, monkeypatch):
    monkeypatch.undo()
    assert "--gamma" not in scan_parser().format_help()
    assert "gamma" not in MeasureConfig.OPTIONS


def test_an_added_option_is_in_the_docstring():
    doc = WithGamma.__doc__
    assert doc.startswith("A configuration with one more option")
    assert "gamma : float, default 0.5\n    The γ of a new measure. A late option:" in doc
    assert "``repscope scan --gamma``" in doc
    assert "dtype : " in doc  # and the inherited ones


def test_an_added_option_is_in_the_summary_and_in_the_key_off_its_default():
    assert WithGamma().key() == MeasureConfig().key()  # stores made before it keep their keys
    key = WithGamma(gamma=0.25).key()
    assert json.loads(key)["gamma"] == 0.25
    assert config_summary(key, WithGamma.OPTIONS).endswith(", γ=0.25")
    assert "γ" not in config_summary(WithGamma().key(), WithGamma.OPTIONS)
    assert WithGamma.from_key(MeasureConfig().key()).gamma == 0.5  # an old key: its old value
    assert WithGamma.from_key(key).gamma == 0.25
