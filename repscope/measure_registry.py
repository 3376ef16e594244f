"""The measure registry: every measure a scan stores, in one place.

A :class:`Measure` names a measure, says what it is computed from (the normalised spectrum, the
matrix itself, the probe's labels, the first checkpoint's weights), when it applies (which view,
which options) and how it is shown (its display name and the options written on its axis). The
scan (:func:`repscope.scan.measures_of`), the widgets (display names, the curves offered, axis
titles) and the documentation read this registry; nothing else lists the measures.

Adding a measure is one function in :mod:`repscope.geometry` with its reference test, and one
:func:`register` call here (``CONTRIBUTING.md`` walks through one). A measure with an option adds
a :class:`~repscope.config.MeasureConfig` field (a late option, so that stored keys stay valid).

Examples
--------
>>> [m.name for m in MEASURES.values()][:4]
['effective_rank', 'alpha', 'dse', 'dsmi']
>>> MEASURES["effective_rank"].display
'RankMe'
>>> from repscope.config import MeasureConfig
>>> MEASURES["dse"].axis_title(MeasureConfig(dse=True, sigma="median"))
'DSE (σ=median, t=1)'
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import torch

from . import geometry
from ._validation import RepscopeWarning, describe, fail
from .config import MeasureConfig
from .geometry._kernel import Sigma
from .geometry.powerlaw import fit_power_law
from .geometry.spectrum import Spectrum
from .geometry.uncertainty import dse_interval, spectral_intervals


@dataclass(frozen=True)
class Inputs:
    """What a measure may read for one layer of one checkpoint.

    Attributes
    ----------
    matrix : torch.Tensor, shape (n_samples, n_features)
        The layer's matrix (activations on the probe, weights or gradients).
    spectrum : Spectrum
        Its normalised eigenspectrum (computed once for every spectral measure).
    config : MeasureConfig
    labels : array of shape (n_samples,) or None
        The probe's labels.
    reference : torch.Tensor or None
        The same layer's matrix at the first checkpoint (the weights view).
    """

    matrix: torch.Tensor
    spectrum: Spectrum
    config: MeasureConfig
    labels: Any = None
    reference: torch.Tensor | None = None


@dataclass(frozen=True)
class Measure:
    """One registered measure.

    Parameters
    ----------
    name : str
        The stored name (a column of ``Trajectory.metrics``).
    display : str
        How people read it (legends, axis titles, the measure picker).
    compute : callable or None
        ``compute(inputs) -> {name: value}`` (a measure may store several values, as α-ReQ
        stores its R² and fit range); ``None`` for a measure computed after the scan
        (:meth:`Trajectory.add_cka <repscope.trajectory.Trajectory.add_cka>`).
    applies : callable
        ``applies(inputs) -> bool``: whether it is computed for this layer (a view, an option,
        labels present). Default: always.
    axis_options : callable, optional
        ``axis_options(config) -> str``: the options written after its name on an axis.
    missing_ok : bool
        A ``ValueError`` from ``compute`` is a note on the record (the measure is missing, the
        others stand) instead of a failed layer.
    hidden : tuple of str
        Further values it stores that are not curves of their own.
    interval : str
        What its error bars (``{name}_lo``, ``{name}_hi``, where stored) are an interval over:
        the curves' band says so. Default: the scan's jackknife over the probe inputs.
    """

    name: str
    display: str
    compute: Callable[[Inputs], dict[str, float]] | None
    applies: Callable[[Inputs], bool] = field(default=lambda inputs: True)
    axis_options: Callable[[MeasureConfig], str] | None = None
    missing_ok: bool = False
    hidden: tuple[str, ...] = ()
    interval: str = "90 % interval over the probe inputs"

    def axis_title(self, config: MeasureConfig | None) -> str:
        """The display name, with the options that change its values (``DSE (σ=10, t=1)``)."""
        if config is None or self.axis_options is None:
            return self.display
        return f"{self.display} ({self.axis_options(config)})"


#: Every measure, in the order the widgets offer them.
MEASURES: dict[str, Measure] = {}


def register(measure: Measure) -> Measure:
    """Add ``measure`` to :data:`MEASURES`, after the measures already there.

    The scan stores it for every layer it applies to, and the widgets and ``repscope ls`` show
    it: nothing else lists the measures. A name (a measure's, or one of its ``hidden`` values)
    may be registered once. A measure registered at run time (not in this module) is known to
    the process that registered it, and so to the scans run there (in this thread or in
    threads), not to a ``repscope scan`` command or to worker processes started afresh.

    Examples
    --------
    >>> m = register(Measure("top", "top share", lambda i: {"top": float(i.spectrum.values[0, 0])}))
    >>> list(MEASURES)[-1]
    'top'
    >>> unregister("top") is m, "top" in MEASURES
    (True, False)
    """
    if not isinstance(measure, Measure):
        fail("measure", "register", "a Measure", describe(measure), error=TypeError)
    owners = {n: m.name for m in MEASURES.values() for n in (m.name, *m.hidden)}
    for name in (measure.name, *measure.hidden):
        if name == measure.name and name in MEASURES:
            raise ValueError(f"a measure named {name!r} is already registered")
        if name in owners:
            raise ValueError(
                f"the name {name!r} is already registered: a value that measure "
                f"{owners[name]!r} stores"
            )
    MEASURES[measure.name] = measure
    return measure


def unregister(name: str) -> Measure:
    """Remove the measure named ``name`` from :data:`MEASURES` and return it (the undo of
    :func:`register`; :func:`registered` does both around a block)."""
    if name not in MEASURES:
        fail("name", "unregister", f"a registered measure, one of {sorted(MEASURES)}", repr(name))
    return MEASURES.pop(name)


@contextmanager
def registered(measure: Measure) -> Iterator[Measure]:
    """Register ``measure`` for the ``with`` block, and unregister it when the block ends.

    Examples
    --------
    >>> share = Measure("top", "top share", lambda i: {"top": float(i.spectrum.values[0, 0])})
    >>> with registered(share):
    ...     list(MEASURES)[-1]
    'top'
    >>> "top" in MEASURES
    False
    """
    register(measure)
    try:
        yield measure
    finally:
        if MEASURES.get(measure.name) is measure:  # not already unregistered in the block
            unregister(measure.name)


def hidden_values() -> set[str]:
    """Stored values that are parts of a measure, not curves (α's R² and fit range)."""
    return {name for m in MEASURES.values() for name in m.hidden}


def compute_all(inputs: Inputs) -> tuple[dict[str, float], list[str]]:
    """Every registered measure that applies to ``inputs``: the values and the notes saying why
    a measure is missing."""
    values: dict[str, float] = {}
    notes: list[str] = []
    for measure in MEASURES.values():
        if measure.compute is None or not measure.applies(inputs):
            continue
        try:
            values.update(measure.compute(inputs))
        except ValueError as err:
            if not measure.missing_ok:
                raise
            notes.append(str(err))
    return {k: float(v) for k, v in values.items()}, notes


# -- the measures --------------------------------------------------------------------------------
def _spectral(func: Callable[..., Any], name: str, **options: Callable[[MeasureConfig], Any]):
    def compute(inputs: Inputs) -> dict[str, float]:
        kwargs = {k: get(inputs.config) for k, get in options.items()}
        return {name: func(inputs.spectrum, **kwargs)}

    return compute


def _alpha(inputs: Inputs) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepscopeWarning)  # the fit range used is recorded
        fit = fit_power_law(inputs.spectrum, inputs.config.fit_range)
    return {
        "alpha": fit.alpha,
        "alpha_r2": fit.r2,
        "alpha_fit_first": fit.fit_range[0],
        "alpha_fit_last": fit.fit_range[1],
    }


def _dse(inputs: Inputs) -> dict[str, float]:
    c = inputs.config
    # sigma and dse_method were checked by MeasureConfig.__post_init__
    return {
        "dse": geometry.dse(
            inputs.matrix,
            sigma=cast(Sigma, c.sigma),
            t=c.t,
            method=cast(Literal["exact", "lanczos"], c.dse_method),
            dtype=c.torch_dtype,
        )
    }


def _dsmi(inputs: Inputs) -> dict[str, float]:
    c = inputs.config
    return {
        "dsmi": geometry.dsmi(
            inputs.matrix, inputs.labels, sigma=cast(Sigma, c.sigma), t=c.t, dtype=c.torch_dtype
        )
    }


#: The measures that get error bars, and the values stored for each.
WITH_ERRORS = ("effective_rank", "alpha", "dse")
ERROR_PARTS = ("se", "lo", "hi")
#: α-ReQ's interval is given from this many inputs per feature: below, its tail eigenvalues
#: are too biased for the jackknife to correct (90 % intervals covered the population α in
#: 33 / 69 / 80 / 87 % of Gaussian samples at N/D = 2 / 4 / 8 / 16; RankMe's in 83-90 % at all).
ALPHA_INPUTS_PER_FEATURE = 16
#: DSE's interval is given up to this many probe inputs: its jackknife costs ``G`` more
#: eigendecompositions of the ``N × N`` diffusion operator, ten times the DSE itself (at 1500
#: inputs, 49 checkpoints of the grokking demo took 5.7 min with it instead of about 2).
DSE_INTERVAL_MAX_INPUTS = 1000


def _intervals(inputs: Inputs) -> dict[str, float]:
    """Jackknife standard errors and 90 % intervals of RankMe and α (and DSE when computed)."""
    c = inputs.config
    n, d = inputs.matrix.shape
    groups = c.error_groups
    kept = n - math.ceil(n / groups) - (c.spectrum_kind == "covariance")
    if kept < d:
        # fewer inputs than features (plus a group): the spectrum's rank is the number of
        # inputs, and leaving some out changes it. No interval (README: error bars).
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepscopeWarning)  # the measures said so already
        fit = fit_power_law(inputs.spectrum, c.fit_range)
        estimates = {
            "effective_rank": geometry.effective_rank(inputs.spectrum, eps=c.eps),
            "alpha": fit.alpha,
        }
        intervals = spectral_intervals(
            inputs.matrix,
            groups=groups,
            kind=c.spectrum_kind,
            fit_range=fit.fit_range,
            eps=c.eps,
            max_components=c.max_components,
            dtype=c.torch_dtype,
            estimates=estimates,
        )
        if c.computes_dse and n <= DSE_INTERVAL_MAX_INPUTS:
            intervals["dse"] = dse_interval(
                inputs.matrix,
                sigma=cast(Sigma, c.sigma),
                t=c.t,
                groups=groups,
                method=cast(Literal["exact", "lanczos"], c.dse_method),
                dtype=c.torch_dtype,
            )
    out: dict[str, float] = {}
    if n < ALPHA_INPUTS_PER_FEATURE * d:
        del intervals["alpha"]  # too few inputs per feature (README: error bars)
    for name, iv in intervals.items():
        out.update({f"{name}_se": iv.se, f"{name}_lo": iv.lower, f"{name}_hi": iv.upper})
    return out


def _nuclear_norm(inputs: Inputs) -> dict[str, float]:
    """Σσ from the normalised eigenvalues and ‖G‖_F² (the total the spectrum keeps)."""
    spec = inputs.spectrum
    return {"nuclear_norm": float((spec.values[0] * spec.total[0]).clamp_min(0).sqrt().sum())}


def _relative_distance(inputs: Inputs) -> dict[str, float]:
    """‖W − W₀‖_F / ‖W₀‖_F: how far the weights moved from the first checkpoint."""
    reference = inputs.reference
    assert reference is not None  # the measure applies only where there is a reference
    moved = torch.linalg.matrix_norm(inputs.matrix.double() - reference.double())
    return {"relative_distance": float(moved / torch.linalg.matrix_norm(reference.double()))}


def _esd_alpha(inputs: Inputs) -> dict[str, float]:
    """WeightWatcher's power-law α of the weight matrix's ESD; its xmin, KS distance and the
    size of the tail fitted stored beside it."""
    spec = inputs.spectrum
    whole = spec.kind == "singular" and spec.n_components == min(spec.n_samples, spec.n_features)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepscopeWarning)  # a failed fit is stored as NaN
        fit = geometry.esd_fit(spec if whole else inputs.matrix)
    return {
        "esd_alpha": fit.alpha,
        "esd_xmin": fit.xmin,
        "esd_ks_distance": fit.ks_distance,
        "esd_n_tail": float(fit.n_tail),
    }


def _intrinsic_dimension(inputs: Inputs) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepscopeWarning)  # duplicates dropped; NaN stored
        value = geometry.intrinsic_dimension(inputs.matrix, dtype=inputs.config.torch_dtype)
    return {"intrinsic_dimension": float(value)}


def _collapse(inputs: Inputs) -> dict[str, float]:
    """NC1 and the class means' geometry (equinorm, distance from a simplex ETF)."""
    dtype = inputs.config.torch_dtype
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepscopeWarning)  # degenerate: NaN stored
        value = geometry.nc1(inputs.matrix, inputs.labels, dtype=dtype)
        means = geometry.class_mean_geometry(inputs.matrix, inputs.labels, dtype=dtype)
    return {
        "nc1": float(value),
        "nc2_norm_variation": float(means.norm_variation),
        "nc2_etf_deviation": float(means.etf_deviation),
    }


def _class_labels(inputs: Inputs) -> bool:
    """Labels that name classes (integers, strings, bools), not a regression target."""
    return inputs.labels is not None and np.asarray(inputs.labels).dtype.kind in "biuUSO"


def _kind(config: MeasureConfig) -> str:
    return config.spectrum_kind


def _dse_options(config: MeasureConfig) -> str:
    sigma = config.sigma if isinstance(config.sigma, str) else f"{config.sigma:g}"
    return f"σ={sigma}, t={config.t:g}"


register(
    Measure(
        "effective_rank",
        "RankMe",
        _spectral(geometry.effective_rank, "effective_rank", eps=lambda c: c.eps),
        axis_options=_kind,
    )
)
register(
    Measure(
        "alpha",
        "α-ReQ",
        _alpha,
        axis_options=_kind,
        missing_ok=True,
        hidden=("alpha_r2", "alpha_fit_first", "alpha_fit_last"),
    )
)
register(
    Measure("dse", "DSE", _dse, applies=lambda i: i.config.computes_dse, axis_options=_dse_options)
)
register(
    Measure(
        "dsmi",
        "DSMI",
        _dsmi,
        applies=lambda i: i.config.computes_dse and i.labels is not None,
        axis_options=_dse_options,
    )
)
register(
    Measure(
        "participation_ratio",
        "participation ratio",
        _spectral(geometry.participation_ratio, "participation_ratio"),
    )
)
register(Measure("stable_rank", "stable rank", _spectral(geometry.stable_rank, "stable_rank")))
register(
    Measure(
        "numerical_rank", "numerical rank", _spectral(geometry.numerical_rank, "numerical_rank")
    )
)
register(
    Measure(
        "relative_distance",
        "distance from first checkpoint",
        _relative_distance,
        applies=lambda i: i.reference is not None,
    )
)
register(
    Measure(
        "intrinsic_dimension",
        "intrinsic dimension (TwoNN)",
        _intrinsic_dimension,
        applies=lambda i: i.config.view == "activations",
    )
)
register(
    Measure(
        "nc1",
        "NC1 (within / between class)",
        _collapse,
        applies=lambda i: i.config.view == "activations" and _class_labels(i),
        missing_ok=True,  # a probe of one class: a note, the other measures stand
        hidden=("nc2_norm_variation", "nc2_etf_deviation"),
    )
)
register(
    Measure(
        "esd_alpha",
        "ESD α (WeightWatcher)",
        _esd_alpha,
        applies=lambda i: i.config.view == "weights",
        missing_ok=True,
        hidden=("esd_xmin", "esd_ks_distance", "esd_n_tail"),
    )
)
register(
    Measure(
        "llc",
        "LLC (local learning coefficient)",
        None,  # the model's, on the user's loss and data: repscope.llc.add_llc
        hidden=("llc_chain_std", "llc_init_loss", "llc_se", "llc_lo", "llc_hi"),
        interval="90 % interval over the SGLD chains",
    )
)
register(Measure("cka_previous", "CKA to previous checkpoint", None))
register(Measure("cka_first", "CKA to first checkpoint", None))
register(
    Measure(
        "nuclear_norm",
        "nuclear norm",
        _nuclear_norm,
        applies=lambda i: i.config.view == "gradients",
    )
)
register(
    Measure(
        "intervals",
        "error bars (jackknife)",
        _intervals,
        applies=lambda i: i.config.computes_errors,
        missing_ok=True,
        hidden=tuple(f"{m}_{part}" for m in WITH_ERRORS for part in ERROR_PARTS),
    )
)
