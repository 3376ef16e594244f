"""What a scan measures on each matrix, and the store key that names it.

:class:`MeasureConfig` holds the options; :meth:`MeasureConfig.key` is its canonical JSON, the
store's ``params`` key, and readable as it is (``repscope.open`` shows it).

**The key rule.** A key holds only what changes a result:

- an option enters the key only when the measure it configures is computed (``sigma`` and ``t``
  only with ``dse=True`` on activations);
- an option added after stores existed (listed in :data:`LATE_OPTIONS` with its default) enters
  the key only when it differs from its default. Rows computed before the option existed were
  computed under its default, so their key stays valid and no stored row is orphaned.

Adding an option therefore means: a field with a default here, an entry in
:data:`LATE_OPTIONS`, and a test that a store written without it still answers
(``tests/test_config.py``). The error bars (``errors``, ``error_groups``) are the one exception:
they add values to every row, so their method and size are in the key whenever they are
computed, and rows from before them answer under ``errors="none"`` (a default scan of an older
store computes them, as a new configuration).

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
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, cast

from ._validation import check_int, check_option, check_real
from .geometry._kernel import check_sigma
from .geometry.measures import check_fit_range
from .geometry.spectrum import SPECTRUM_KINDS, SpectrumKind

VIEWS = ("activations", "weights", "gradients")
#: Options added after stores existed, with the default that older rows were computed under.
LATE_OPTIONS: dict[str, Any] = {
    "dtype": "float64",
    "dse_method": "exact",
    "errors": "none",
    "error_groups": 10,
}
#: Late options that configure DSE: they enter the key only when DSE is computed.
_DSE_OPTIONS = {"dse_method"}
#: Late options that configure the error bars: in the key whenever error bars are computed
#: (method and size both, even at their defaults), never otherwise.
_ERROR_OPTIONS = {"error_groups"}
DTYPES = ("float64", "float32")
DSE_METHODS = ("exact", "lanczos")
ERROR_METHODS = ("jackknife", "none")


def canonical_params(params: dict[str, Any]) -> str:
    """Parameters as canonical JSON: the same parameters give the same key."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class MeasureConfig:
    """What is measured on each matrix; :meth:`key` is the store's ``params`` key.

    Parameters
    ----------
    view : {"activations", "weights", "gradients"}
        Activations on the probe; the weight matrices of the named layers; or the gradient of
        each named layer's weights on the probe batch.
    kind : {"covariance", "singular"}, optional
        Spectrum convention; default ``"covariance"`` for activations and ``"singular"``
        (uncentred) for weights and gradients.
    fit_range, eps, max_components
        As in :func:`repscope.geometry.spectral_summary`.
    dse : bool
        Also compute DSE (and DSMI when the probe has labels) with ``sigma`` and ``t``.
    sigma : float or {"median", "sqrt_dim"}
    t : float
    dtype : {"float64", "float32"}, default "float64"
        Precision of the geometry (spectra, DSE, DSMI). float32 is 1/2 the memory and, on
        consumer GPUs, 32–64× the speed of float64; RankMe and α then agree with float64 to
        about 1e-5 relative.
    dse_method : {"exact", "lanczos"}, default "exact"
        How DSE is computed (:func:`repscope.geometry.dse`): the exact eigendecomposition of the
        N × N operator, or the Lanczos approximation for large N. DSMI is always exact.
    errors : {"jackknife", "none"}, default "jackknife"
        Error bars over the probe inputs: a grouped jackknife of RankMe and α-ReQ (and of DSE
        when it is computed, up to 1000 probe inputs: above, its jackknife would cost ten DSEs
        per layer), stored beside each value as ``<measure>_se``, ``_lo`` and ``_hi``
        (a 90 % interval; :func:`repscope.geometry.spectral_intervals`).
    error_groups : int, default 10
        Groups of the jackknife (2 or more).
    """

    view: str = "activations"
    kind: str | None = None
    fit_range: tuple[int, int] = (12, 100)
    eps: float = 1e-7
    max_components: int | None = None
    dse: bool = False
    sigma: float | str = 10.0
    t: float = 1.0
    dtype: str = "float64"
    dse_method: str = "exact"
    errors: str = "jackknife"
    error_groups: int = 10

    def __post_init__(self):
        func = "MeasureConfig"
        check_option(self.view, name="view", func=func, options=VIEWS)
        if self.kind is not None:
            check_option(self.kind, name="kind", func=func, options=SPECTRUM_KINDS)
        object.__setattr__(self, "fit_range", check_fit_range(self.fit_range, func=func))
        check_real(self.t, name="t", func=func, low=0.0, low_inclusive=False)
        check_real(self.eps, name="eps", func=func, low=0.0)
        check_sigma(self.sigma, func=func)
        object.__setattr__(self, "dtype", _dtype_name(self.dtype))
        check_option(self.dtype, name="dtype", func=func, options=DTYPES)
        check_option(self.dse_method, name="dse_method", func=func, options=DSE_METHODS)
        check_option(self.errors, name="errors", func=func, options=ERROR_METHODS)
        check_int(self.error_groups, name="error_groups", func=func, low=2)
        if self.max_components is not None:
            check_int(self.max_components, name="max_components", func=func, low=1)

    @property
    def spectrum_kind(self) -> SpectrumKind:
        return cast(
            SpectrumKind,
            self.kind  # checked against SPECTRUM_KINDS in __post_init__
            or ("covariance" if self.view == "activations" else "singular"),
        )

    @property
    def computes_dse(self) -> bool:
        return self.dse and self.view == "activations"

    @property
    def computes_errors(self) -> bool:
        """Error bars are computed (on activations: the probe inputs are the sample)."""
        return self.errors != "none" and self.view == "activations"

    def key(self) -> str:
        """The store key: canonical JSON of the options that change a result (the key rule in
        the module's docstring)."""
        key: dict[str, Any] = {
            "view": self.view,
            "kind": self.spectrum_kind,
            "fit_range": list(self.fit_range),
            "eps": self.eps,
            "max_components": self.max_components,
        }
        if self.computes_dse:
            key.update(dse=True, sigma=self.sigma, t=self.t)
        for name, default in LATE_OPTIONS.items():
            key.pop(name, None)
            if name in _DSE_OPTIONS and not self.computes_dse:
                continue
            if name == "errors" or name in _ERROR_OPTIONS:
                if self.computes_errors:
                    key[name] = getattr(self, name)
                continue
            if getattr(self, name) != default:
                key[name] = getattr(self, name)
        return canonical_params(key)

    @property
    def torch_dtype(self) -> Any:
        """``dtype`` as a ``torch.dtype``."""
        import torch

        return getattr(torch, self.dtype)

    def options(self) -> dict[str, Any]:
        """The fields as keyword arguments (``Trajectory(..., **config.options())``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_key(cls, key: str) -> MeasureConfig:
        """The configuration a key names (a key from any repscope: older keys held every
        field; unknown fields are ignored)."""
        stored = json.loads(key)
        names = {f.name for f in fields(cls)}
        options = {k: v for k, v in stored.items() if k in names}
        for name, default in LATE_OPTIONS.items():  # absent: what older rows were computed under
            options.setdefault(name, default)
        if "fit_range" in options:
            options["fit_range"] = tuple(options["fit_range"])
        return cls(**options)


def _dtype_name(dtype: Any) -> Any:
    """``"float32"`` for ``torch.float32``, ``numpy.float32`` or ``"float32"`` (and float64)."""
    name = str(getattr(dtype, "__name__", dtype)).removeprefix("torch.")
    return name if name in DTYPES else dtype


def current_key(key: str) -> str:
    """A key written by any older repscope, rewritten under today's key rule (the store's
    migration uses it, so that old rows keep answering)."""
    try:
        return MeasureConfig.from_key(key).key()
    except (ValueError, TypeError):  # not a configuration key: leave it as it is
        return key


def config_summary(params: str) -> str:
    """A configuration key in a few words (``covariance, α 12–100, DSE σ=10 t=1, error bars
    jackknife×10``)."""
    config = json.loads(params)
    text = f"{config.get('kind')}, α {config['fit_range'][0]}–{config['fit_range'][1]}"
    if config.get("view", "activations") != "activations":
        text = f"{config['view']}, " + text
    if config.get("dse"):
        text += f", DSE σ={config.get('sigma')} t={config.get('t')}"
    if config.get("errors", "none") != "none":
        text += f", error bars {config['errors']}×{config.get('error_groups')}"
    if config.get("dtype", "float64") != "float64":
        text += f", {config['dtype']}"
    return text
