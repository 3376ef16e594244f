"""What a scan measures on each matrix, and the store key that names it.

:class:`MeasureConfig` holds the options; :meth:`MeasureConfig.key` is its canonical JSON, the
store's ``params`` key, and readable as it is (``repscope.open`` shows it).

**One table.** Each option is declared once, as a field of :class:`MeasureConfig` made by
:func:`~repscope.options.option`: its default, its check, its help, its place in the key, its
``repscope scan`` flag and its words in :func:`config_summary`. :attr:`MeasureConfig.OPTIONS`
is that table (:mod:`repscope.options`); the checks in ``MeasureConfig(...)``, the flags of
``repscope scan``, the Parameters section of :class:`MeasureConfig`'s docstring and
:func:`config_summary` are all made from it.

**The key rule.** A key holds only what changes a result:

- an option enters the key only when the measure it configures is computed (``sigma`` and ``t``
  only with ``dse=True`` on activations: ``option(when="computes_dse")``);
- an option added after stores existed (a *late* option: ``option(since=...)``, listed in
  :data:`LATE_OPTIONS`) enters the key only when it differs from the value older rows were
  computed under, so their key stays valid and no stored row is orphaned.

Adding an option therefore means: one field of :class:`MeasureConfig` declared with
:func:`~repscope.options.option` (a late one, with ``since=``), and a test that a store written
without it still answers (``tests/test_config.py``). The error bars are the one exception to
"at its default, out of the key": they add values to every row, so their method and size are
in the key whenever they are computed (``errors`` is late, with ``since="none"``: rows from
before them answer under ``errors="none"``, and a default scan of an older store computes them,
as a new configuration).

Examples
--------
>>> MeasureConfig(errors="none").key()
'{"eps":1e-07,"fit_range":[12,100],"kind":"covariance","max_components":null,"view":"activations"}'
>>> MeasureConfig().key()  # error bars by default: their method and size are in the key
'{"eps":1e-07,"error_groups":10,"errors":"jackknife","fit_range":[12,100],"kind":"covariance",...}'
>>> MeasureConfig(dse=True, sigma="median", errors="none").key()[:40]
'{"dse":true,"eps":1e-07,"fit_range":[12,'
>>> MeasureConfig.from_key(MeasureConfig(fit_range=(2, 8)).key()).fit_range
(2, 8)
>>> config_summary(MeasureConfig(dse=True, dtype="float32").key())
'covariance, α 12–100, DSE σ=10.0 t=1.0, error bars jackknife×10, float32'
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from ._validation import check_int, check_option, check_real, describe, fail
from .geometry._kernel import SIGMA_OPTIONS, check_sigma
from .geometry.measures import check_fit_range
from .geometry.spectrum import SPECTRUM_KINDS, SpectrumKind
from .options import Option, option, option_table

VIEWS = ("activations", "weights", "gradients")
DTYPES = ("float64", "float32")
DSE_METHODS = ("exact", "lanczos")
ERROR_METHODS = ("jackknife", "none")
#: The conditions an option's ``when`` may name (a property of :class:`MeasureConfig`), in the
#: words of its docstring.
KEY_CONDITIONS = {
    "computes_dse": "DSE is computed",
    "computes_errors": "error bars are computed",
}


# -- checks and flag parsers of the table --------------------------------------------------------
def _check_fit_range(value: Any, *, name: str, func: str) -> tuple[int, int]:
    return check_fit_range(value, func=func)


def _check_sigma(value: Any, *, name: str, func: str) -> Any:
    return check_sigma(value, func=func)


def _check_bool(value: Any, *, name: str, func: str) -> bool:
    if not isinstance(value, bool):
        fail(name, func, "True or False", describe(value), error=TypeError)
    return value


def _check_dtype(value: Any, *, name: str, func: str) -> str:
    return check_option(_dtype_name(value), name=name, func=func, options=DTYPES)


def _dtype_name(dtype: Any) -> Any:
    """``"float32"`` for ``torch.float32``, ``numpy.float32`` or ``"float32"`` (and float64)."""
    name = str(getattr(dtype, "__name__", dtype)).removeprefix("torch.")
    return name if name in DTYPES else dtype


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number; got {text!r}") from None


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer; got {text!r}") from None


def _pair(text: str) -> tuple[int, int]:
    try:
        first, last = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"expected FIRST,LAST (e.g. 12,100); got {text!r}") from None
    return first, last


def _sigma(text: str) -> float | str:
    if text in SIGMA_OPTIONS:
        return text
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, 'median' or 'sqrt_dim'; got {text!r}") from None


def _dse_words(key: dict[str, Any]) -> str | None:
    return f"DSE σ={key.get('sigma')} t={key.get('t')}" if key.get("dse") else None


def _error_words(key: dict[str, Any]) -> str | None:
    if key.get("errors", "none") == "none":
        return None
    return f"error bars {key['errors']}×{key.get('error_groups')}"


@option_table
@dataclass(frozen=True)
class MeasureConfig:
    """What is measured on each matrix; :meth:`key` is the store's ``params`` key.

    Each field is one entry of the option table :attr:`OPTIONS` (declared with
    :func:`~repscope.options.option`):
    the checks below, the flags of ``repscope scan``, this Parameters section, the key rule and
    :func:`config_summary` are made from it.

    Examples
    --------
    >>> config = MeasureConfig(dse=True, sigma="median")
    >>> config.computes_dse, config.spectrum_kind
    (True, 'covariance')
    >>> MeasureConfig(error_groups=1)
    Traceback (most recent call last):
    ...
    ValueError: The 'error_groups' argument of MeasureConfig must be an integer >= 2; got 1.
    """

    #: The option table: ``{name: Option}``, in field order (made by
    #: :func:`~repscope.options.option_table`).
    OPTIONS: ClassVar[dict[str, Option]]
    KEY_CONDITIONS: ClassVar[dict[str, str]] = KEY_CONDITIONS

    view: str = option(
        "activations",
        choices=VIEWS,
        help="Activations on the probe; the weight matrices of the named layers; or the "
        "gradient of each named layer's weights on the probe batch.",
        cli="measure the probe's activations, the layers' weight matrices, or their gradients "
        "under the model's own loss",
        summary=lambda key: (
            None if key.get("view", "activations") == "activations" else key["view"]
        ),
    )
    kind: str | None = option(
        None,
        choices=SPECTRUM_KINDS,
        help='Spectrum convention; default ``"covariance"`` for activations and ``"singular"`` '
        "(uncentred) for weights and gradients (the key holds the convention used).",
        cli="spectrum convention (default: covariance for activations, singular for weights "
        "and gradients)",
        key_value=lambda config: config.spectrum_kind,
        summary=lambda key: f"{key.get('kind')}",
    )
    fit_range: tuple[int, int] = option(
        (12, 100),
        check=_check_fit_range,
        normalise=True,
        doc_type="(int, int)",
        help="1-based ranks ``(first, last)`` of the α-ReQ fit "
        "(see :func:`~repscope.geometry.alpha_req`).",
        cli="alpha-ReQ fit ranks FIRST,LAST (1-based)",
        parse=_pair,
        metavar="FIRST,LAST",
        summary=lambda key: f"α {key['fit_range'][0]}–{key['fit_range'][1]}",
    )
    eps: float = option(
        1e-7,
        check=functools.partial(check_real, low=0.0),
        help="RankMe's ε (see :func:`~repscope.geometry.effective_rank`).",
        cli="RankMe's epsilon",
        parse=_number,
        summary=lambda key: None if key.get("eps", 1e-7) == 1e-7 else f"ε={key['eps']:g}",
    )
    max_components: int | None = option(
        None,
        check=functools.partial(check_int, low=1),
        help="Cap on the number of eigenvalues kept (2048 reproduces the tracing code); "
        "``None`` keeps them all.",
        cli="cap on the number of eigenvalues kept (default: all)",
        parse=_integer,
        metavar="N",
        summary=lambda key: (
            None if key.get("max_components") is None else f"≤{key['max_components']} components"
        ),
    )
    dse: bool = option(
        False,
        check=_check_bool,
        when="computes_dse",
        help="Also compute DSE (and DSMI when the probe has labels) with ``sigma`` and ``t``, "
        "on activations.",
        cli="also compute DSE (and DSMI with labels)",
        summary=_dse_words,
    )
    sigma: float | str = option(
        10.0,
        check=_check_sigma,
        when="computes_dse",
        doc_type='float or {"median", "sqrt_dim"}',
        help='DSE\'s kernel width: a number > 0, ``"median"`` (the median pairwise distance; '
        'scale-free) or ``"sqrt_dim"`` (the square root of the number of features); see '
        ":func:`~repscope.geometry.dse`.",
        cli="DSE kernel width: a number, median, sqrt_dim",
        parse=_sigma,
    )
    t: float = option(
        1.0,
        check=functools.partial(check_real, low=0.0, low_inclusive=False),
        when="computes_dse",
        help="DSE's diffusion time (> 0).",
        cli="DSE diffusion time",
        parse=_number,
    )
    dse_method: str = option(
        "exact",
        choices=DSE_METHODS,
        when="computes_dse",
        since="exact",
        help="How DSE is computed (:func:`repscope.geometry.dse`): the exact eigendecomposition "
        "of the N × N operator, or the Lanczos approximation for large N. DSMI is always exact.",
        cli="DSE by exact eigendecomposition or by Lanczos (large probes)",
        summary=lambda key: f"DSE by {key['dse_method']}" if "dse_method" in key else None,
    )
    errors: str = option(
        "jackknife",
        choices=ERROR_METHODS,
        when="computes_errors",
        since="none",
        help="Error bars over the probe inputs: a grouped jackknife of RankMe and α-ReQ (and of "
        "DSE when it is computed, up to 1000 probe inputs: above, its jackknife would cost ten "
        "DSEs per layer), stored beside each value as ``<measure>_se``, ``_lo`` and ``_hi`` (a "
        "90 % interval; :func:`repscope.geometry.spectral_intervals`). On activations only.",
        cli="error bars over the probe inputs: a grouped jackknife of RankMe and alpha (and of "
        "DSE with --dse), or none",
        summary=_error_words,
    )
    # not late: it is in the key whenever error bars are, at its default too (the exception)
    error_groups: int = option(
        10,
        check=functools.partial(check_int, low=2),
        when="computes_errors",
        help="Groups of the jackknife (2 or more).",
        cli="groups of the jackknife",
        parse=_integer,
        metavar="N",
    )
    dtype: str = option(
        "float64",
        choices=DTYPES,
        check=_check_dtype,
        normalise=True,
        since="float64",
        help="Precision of the geometry (spectra, DSE, DSMI); ``torch.float32`` or "
        '``numpy.float32`` are read as ``"float32"``. float32 is 1/2 the memory and, on '
        "consumer GPUs, 32–64× the speed of float64; RankMe and α then agree with float64 to "
        "about 1e-5 relative.",
        cli="precision of the geometry (float32: faster on GPUs)",
        summary=lambda key: None if key.get("dtype", "float64") == "float64" else key["dtype"],
    )

    def __post_init__(self):
        func = type(self).__name__
        for entry in self.OPTIONS.values():
            value = getattr(self, entry.name)
            checked = entry.validate(value, func=func)
            if checked is not value:
                object.__setattr__(self, entry.name, checked)

    @property
    def spectrum_kind(self) -> SpectrumKind:
        return cast(
            SpectrumKind,
            self.kind  # checked against SPECTRUM_KINDS in __post_init__
            or ("covariance" if self.view == "activations" else "singular"),
        )

    @property
    def computes_dse(self) -> bool:
        """DSE is computed (``dse=True``, on activations)."""
        return self.dse and self.view == "activations"

    @property
    def computes_errors(self) -> bool:
        """Error bars are computed (on activations: the probe inputs are the sample)."""
        return self.errors != "none" and self.view == "activations"

    def key(self) -> str:
        """The store key: canonical JSON of the options that change a result (the key rule in
        the module's docstring)."""
        return canonical_params(
            {
                entry.name: (
                    entry.key_value(self) if entry.key_value else getattr(self, entry.name)
                )
                for entry in self.OPTIONS.values()
                if entry.in_key(self)
            }
        )

    @property
    def torch_dtype(self) -> Any:
        """``dtype`` as a ``torch.dtype``."""
        import torch

        return getattr(torch, self.dtype)

    def options(self) -> dict[str, Any]:
        """The fields as keyword arguments (``Trajectory(..., **config.options())``)."""
        return {name: getattr(self, name) for name in self.OPTIONS}

    @classmethod
    def from_key(cls, key: str) -> MeasureConfig:
        """The configuration a key names (a key from any repscope: older keys held every
        field; unknown fields are ignored; a late option that is absent takes the value older
        rows were computed under)."""
        stored = json.loads(key)
        options = {k: v for k, v in stored.items() if k in cls.OPTIONS}
        for entry in cls.OPTIONS.values():
            if entry.late:
                options.setdefault(entry.name, entry.since)
        return cls(**options)


#: Options added after stores existed, with the value that older rows were computed under.
LATE_OPTIONS: dict[str, Any] = {
    name: entry.since for name, entry in MeasureConfig.OPTIONS.items() if entry.late
}


def canonical_params(params: dict[str, Any]) -> str:
    """Parameters as canonical JSON: the same parameters give the same key."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


def current_key(key: str) -> str:
    """A key written by any older repscope, rewritten under today's key rule (the store's
    migration uses it, so that old rows keep answering)."""
    try:
        return MeasureConfig.from_key(key).key()
    except (ValueError, TypeError):  # not a configuration key: leave it as it is
        return key


def config_summary(params: str, options: Mapping[str, Option] | None = None) -> str:
    """A configuration key in a few words: each option's words (:attr:`Option.summary`), in the
    table's order.

    Parameters
    ----------
    params : str
        A key (:meth:`MeasureConfig.key`).
    options : mapping of str to Option, optional
        The option table; default :attr:`MeasureConfig.OPTIONS`.

    Returns
    -------
    str

    Examples
    --------
    >>> config_summary(MeasureConfig(view="weights").key())
    'weights, singular, α 12–100'
    >>> config_summary(MeasureConfig(dse=True, sigma="median", dse_method="lanczos").key())
    'covariance, α 12–100, DSE σ=median t=1.0, DSE by lanczos, error bars jackknife×10'
    """
    config = json.loads(params)
    table = MeasureConfig.OPTIONS if options is None else options
    words = (entry.summary(config) for entry in table.values() if entry.summary is not None)
    return ", ".join(w for w in words if w)
