"""Every spectral measure from one eigendecomposition: the unit cached per checkpoint and layer."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, cast

import torch

from .._validation import DegenerateInputWarning, check_int, check_option, check_real
from ._arrays import as_batch, check_dtype, warn_no_variance
from ._precision import at_full_precision
from .measures import (
    check_fit_range,
    numerical_rank_of,
    participation_of,
    rankme_of,
    stable_rank_of,
    zero_rows,
)
from .powerlaw import PowerLawFit, fit_power_law
from .spectrum import SPECTRUM_KINDS, Spectrum, SpectrumKind, spectrum_of_batch


@dataclass(frozen=True)
class SpectralSummary:
    """The spectrum of one representation and every measure computed from it.

    Scalars are floats for one matrix and arrays of shape ``(batch,)`` for a batch.

    Attributes
    ----------
    spectrum : Spectrum
        The normalised eigenvalues (``spectrum.eigenvalues()`` for plotting).
    effective_rank : float
        RankMe in the spectrum's convention (``spectrum.kind``).
    alpha : PowerLawFit
        α-ReQ with its R², intercept and the fit range used.
    participation_ratio, stable_rank : float
    numerical_rank : int
    """

    spectrum: Spectrum
    effective_rank: Any
    alpha: PowerLawFit
    participation_ratio: Any
    stable_rank: Any
    numerical_rank: Any

    def as_dict(self) -> dict[str, Any]:
        """The scalar measures by name (``alpha`` and ``alpha_r2`` from the fit)."""
        return {
            "effective_rank": self.effective_rank,
            "alpha": self.alpha.alpha,
            "alpha_r2": self.alpha.r2,
            "participation_ratio": self.participation_ratio,
            "stable_rank": self.stable_rank,
            "numerical_rank": self.numerical_rank,
        }


@at_full_precision
def spectral_summary(
    x: Any,
    *,
    kind: str = "covariance",
    max_components: int | None = None,
    fit_range: tuple[int, int] = (12, 100),
    eps: float = 1e-7,
    dtype: torch.dtype | None = None,
) -> SpectralSummary:
    """Compute the spectrum once and every spectral measure from it.

    Parameters
    ----------
    x : array of shape (n_samples, n_features) or (batch, n_samples, n_features)
    kind : {"covariance", "singular"}, default "covariance"
        The spectrum convention (see :func:`~repscope.geometry.spectrum`); the effective rank
        follows it.
    max_components : int, optional
        Cap on the number of eigenvalues kept (2048 reproduces the tracing code).
    fit_range : (int, int), default (12, 100)
        1-based ranks of the α-ReQ fit (see :func:`~repscope.geometry.alpha_req`).
    eps : float, default 1e-7
        RankMe's ε (see :func:`~repscope.geometry.effective_rank`).
    dtype : torch.float64 or torch.float32, optional

    Returns
    -------
    SpectralSummary

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry import spectral_summary
    >>> x = np.random.default_rng(0).normal(size=(3000, 128))
    >>> s = spectral_summary(x)
    >>> round(s.effective_rank), s.numerical_rank, round(s.participation_ratio)
    (125, 128, 123)
    """
    func = "spectral_summary"
    check_option(kind, name="kind", func=func, options=SPECTRUM_KINDS)
    if max_components is not None:
        check_int(max_components, name="max_components", func=func, low=1)
    first_last = check_fit_range(fit_range, func=func)
    check_real(eps, name="eps", func=func, low=0.0)
    batch = as_batch(x, func=func, dtype=check_dtype(dtype, func=func))
    spec = spectrum_of_batch(batch, kind=cast(SpectrumKind, kind), max_components=max_components)
    flat = zero_rows(spec)
    warn_no_variance(flat, func, "the ranks and ratios are 0 and alpha is nan")
    if bool(flat.any()):
        with warnings.catch_warnings():  # said once, above
            warnings.simplefilter("ignore", DegenerateInputWarning)
            alpha = fit_power_law(spec, first_last)
    else:
        alpha = fit_power_law(spec, first_last)
    return SpectralSummary(
        spectrum=spec,
        effective_rank=rankme_of(spec, eps),
        alpha=alpha,
        participation_ratio=participation_of(spec),
        stable_rank=stable_rank_of(spec),
        numerical_rank=numerical_rank_of(spec, None),
    )
