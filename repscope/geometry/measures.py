"""Spectral measures: cheap functions of one :class:`~repscope.geometry.spectrum.Spectrum`.

Each public function takes either a data array (it then computes the spectrum itself) or a
``Spectrum`` (so that one eigendecomposition serves every measure).

Degenerate input policy: data with no variance (every column constant, exactly or up to
rounding: see :func:`~repscope.geometry._arrays.centre`) has an all-zero spectrum; its effective
rank, participation ratio, stable rank and numerical rank are ``0`` and its α-ReQ is ``nan``,
each with a :class:`~repscope.DegenerateInputWarning` (as DSE, DSMI and CKA give 0 with one).
"""

from __future__ import annotations

from typing import Any, cast

import torch

from .._validation import check_int, check_option, check_real, describe, fail
from ._arrays import warn_no_variance
from .spectrum import SPECTRUM_KINDS, Spectrum, SpectrumKind, spectrum


def as_spectrum(x: Any, *, func: str, kind: str | None, dtype: torch.dtype | None) -> Spectrum:
    """Return ``x`` if it is a Spectrum (checking ``kind`` agrees), else compute its spectrum."""
    if kind is not None:
        check_option(kind, name="convention", func=func, options=SPECTRUM_KINDS)
    if isinstance(x, Spectrum):
        if kind is not None and kind != x.kind:
            fail(
                "convention",
                func,
                f"{x.kind!r} (the kind of the Spectrum passed as 'x')",
                repr(kind),
            )
        return x
    try:
        return spectrum(x, kind=cast(SpectrumKind, kind or "covariance"), dtype=dtype)
    except (TypeError, ValueError) as err:  # re-attribute the message to the public function
        raise type(err)(str(err).replace("argument of spectrum", f"argument of {func}")) from None


def zero_rows(spec: Spectrum) -> torch.Tensor:
    """Per matrix, whether its spectrum is all zeros (the data have no variance), ``(B,)``."""
    return spec.values[..., 0] <= 0


def effective_rank(
    x: Any,
    *,
    convention: str | None = None,
    eps: float = 1e-7,
    dtype: torch.dtype | None = None,
) -> Any:
    """Effective rank (RankMe): the exponential of the Shannon entropy of the spectrum.

    ``RankMe = exp(-Σ_k p_k log p_k)`` with ``p_k = λ_k / Σλ + eps`` (``convention="covariance"``,
    the tracing code's ``rankme``) or ``p_k = σ_k / Σσ + eps`` on the singular values of the
    *uncentred* data (``convention="singular"``, Garrido et al. 2023). The two differ a lot
    (15.1 vs 142.5 for a λ_k = k^-1.5 spectrum of 256 components): label which one you show.

    Parameters
    ----------
    x : array (n_samples, n_features) or (batch, n_samples, n_features), or Spectrum
    convention : {"covariance", "singular"}, optional
        Default ``"covariance"`` for an array, the Spectrum's own kind for a Spectrum.
    eps : float, default 1e-7
        Added to each normalised value after normalising (as both published codes do).
    dtype : torch.float64 or torch.float32, optional

    Returns
    -------
    float, or array of shape (batch,)
        Between 1 and ``min(n_samples, n_features)``; 0 for data with no variance.

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry import effective_rank
    >>> x = np.random.default_rng(0).normal(size=(2000, 8))
    >>> round(effective_rank(x), 1)
    8.0
    """
    func = "effective_rank"
    eps = check_real(eps, name="eps", func=func, low=0.0)
    spec = as_spectrum(x, func=func, kind=convention, dtype=dtype)
    warn_no_variance(zero_rows(spec), func, "the effective rank is 0")
    return rankme_of(spec, eps)


def rankme_of(spec: Spectrum, eps: float) -> Any:
    """:func:`effective_rank` of a Spectrum, without the warning for data with no variance."""
    values = spec.values.sqrt() if spec.kind == "singular" else spec.values
    p = values / values.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(values.dtype).tiny) + eps
    entropy = -torch.special.xlogy(p, p).sum(dim=-1)
    return spec.output(torch.where(zero_rows(spec), 0.0, torch.exp(entropy)))


def participation_ratio(
    x: Any, *, convention: str | None = None, dtype: torch.dtype | None = None
) -> Any:
    """Participation ratio ``(Σλ)² / Σλ²`` of the spectrum.

    ``convention`` is as in :func:`effective_rank`: the centred covariance by default.

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry import participation_ratio
    >>> x = np.random.default_rng(0).normal(size=(4000, 5)) * [1, 1, 1, 0, 0]
    >>> round(participation_ratio(x), 1)
    3.0
    """
    spec = as_spectrum(x, func="participation_ratio", kind=convention, dtype=dtype)
    warn_no_variance(zero_rows(spec), "participation_ratio", "the participation ratio is 0")
    return participation_of(spec)


def participation_of(spec: Spectrum) -> Any:
    """:func:`participation_ratio` of a Spectrum, without the warning for data with no variance."""
    inv = (spec.values**2).sum(dim=-1)
    return spec.output(torch.where(zero_rows(spec), 0.0, 1.0 / inv.clamp_min(1e-300)))


def stable_rank(x: Any, *, convention: str | None = None, dtype: torch.dtype | None = None) -> Any:
    """Stable rank ``Σλ / λ_max = ‖X‖_F² / ‖X‖_2²`` (of the centred data by default).

    ``convention="singular"`` uses the uncentred data, as in :func:`effective_rank`.

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry import stable_rank
    >>> round(stable_rank(np.diag([2.0, 1.0, 1.0, 0.0]), convention="singular"), 2)
    1.5
    """
    spec = as_spectrum(x, func="stable_rank", kind=convention, dtype=dtype)
    warn_no_variance(zero_rows(spec), "stable_rank", "the stable rank is 0")
    return stable_rank_of(spec)


def stable_rank_of(spec: Spectrum) -> Any:
    """:func:`stable_rank` of a Spectrum, without the warning for data with no variance."""
    top = spec.values[..., 0]
    return spec.output(torch.where(zero_rows(spec), 0.0, 1.0 / top.clamp_min(1e-300)))


def numerical_rank(
    x: Any,
    *,
    rtol: float | None = None,
    convention: str | None = None,
    dtype: torch.dtype | None = None,
) -> Any:
    """Number of singular values above ``rtol · σ_max`` (of the centred data by default).

    Parameters
    ----------
    rtol : float, optional
        Relative tolerance on the singular values: count ``σ_i > rtol · σ_max``. Default
        ``sqrt(max(N, D) · ε)`` of the compute dtype — the resolution of an eigendecomposition of
        ``XᵀX``, which squares the condition number (see ``Spectrum.rank_tolerance``).

    Returns
    -------
    int, or integer array of shape (batch,)

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry import numerical_rank
    >>> rng = np.random.default_rng(0)
    >>> numerical_rank(rng.normal(size=(100, 3)) @ rng.normal(size=(3, 20)))
    3
    """
    func = "numerical_rank"
    if rtol is not None:
        rtol = check_real(rtol, name="rtol", func=func, low=0.0, high=1.0)
    spec = as_spectrum(x, func=func, kind=convention, dtype=dtype)
    warn_no_variance(zero_rows(spec), func, "the numerical rank is 0")
    return numerical_rank_of(spec, rtol)


def numerical_rank_of(spec: Spectrum, rtol: float | None) -> Any:
    """:func:`numerical_rank` of a Spectrum, without the warning for data with no variance."""
    if rtol is None:
        tol = spec.rank_tolerance()
    else:
        tol = spec.values[..., :1] * rtol**2
    counts = (spec.values > tol).sum(dim=-1)
    out = spec.output(counts)
    return int(out) if not spec.batched else out


def check_fit_range(fit_range: Any, *, func: str) -> tuple[int, int]:
    """``fit_range`` must be two 1-based ranks ``(first, last)`` with ``first < last``."""
    if not isinstance(fit_range, (tuple, list)) or len(fit_range) != 2:
        fail(
            "fit_range",
            func,
            "a pair of 1-based ranks (first, last)",
            describe(fit_range),
            error=TypeError,
        )
    first = check_int(fit_range[0], name="fit_range", func=func, low=1)
    last = check_int(fit_range[1], name="fit_range", func=func, low=1)
    if last <= first:
        fail("fit_range", func, "a pair (first, last) with first < last", repr(tuple(fit_range)))
    return first, last


__all__ = [
    "as_spectrum",
    "check_fit_range",
    "effective_rank",
    "numerical_rank",
    "numerical_rank_of",
    "participation_of",
    "participation_ratio",
    "rankme_of",
    "stable_rank",
    "stable_rank_of",
    "zero_rows",
]
