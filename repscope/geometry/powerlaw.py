"""α-ReQ: the decay exponent of the eigenspectrum, by weighted least squares in log–log space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .._validation import RepscopeWarning, warn
from .measures import as_spectrum, check_fit_range
from .spectrum import Spectrum

#: Fewest points a fit in the requested range may have before the range is adapted.
MIN_FIT_POINTS = 10
#: Fewest non-zero eigenvalues any fit needs (the fallback range 2…K/2 then has 3 points).
MIN_EIGENVALUES = 8


class FitRangeWarning(RepscopeWarning):
    """The spectrum is too short for the requested α-ReQ fit range; another range was used."""


@dataclass(frozen=True)
class PowerLawFit:
    """The fit ``log λ_i ≈ -α log i + c`` over ranks ``fit_range`` (1-based, inclusive).

    ``alpha``, ``r2`` and ``intercept`` are floats for one matrix, arrays ``(batch,)`` for a batch.
    ``r2`` is the weighted coefficient of determination of the fit in log space, ``1 -``
    (unexplained spread) / (spread). It is 1 when the spread is exactly 0; for a spectrum that
    is flat up to rounding both terms are rounding errors, so its ``r2`` can be any number,
    negative ones included (and ``alpha`` ≈ 0 is what to read).
    """

    alpha: Any
    r2: Any
    intercept: Any
    fit_range: tuple[int, int]

    def predict(self, ranks: Any) -> Any:
        """The fitted eigenvalues ``exp(c) · i^-α`` at 1-based ``ranks``.

        Parameters
        ----------
        ranks : array-like, shape (n,)

        Returns
        -------
        torch.Tensor
            float64, shape ``(n,)`` for one matrix, ``(batch, n)`` for a batched fit; on the
            device of the fit (a fit on CUDA predicts on CUDA).

        Examples
        --------
        >>> fit = PowerLawFit(alpha=1.0, r2=1.0, intercept=0.0, fit_range=(1, 3))
        >>> fit.predict([1, 2, 4]).tolist()
        [1.0, 0.5, 0.25]
        """
        alpha = torch.as_tensor(self.alpha, dtype=torch.float64)
        intercept = torch.as_tensor(self.intercept, dtype=torch.float64, device=alpha.device)
        log_ranks = torch.log(torch.as_tensor(ranks, dtype=torch.float64).to(alpha.device))
        if alpha.ndim:  # a batch: one row per matrix
            return torch.exp(intercept[:, None] - alpha[:, None] * log_ranks[None, :])
        return torch.exp(intercept - alpha * log_ranks)


def alpha_req(
    x: Any,
    *,
    fit_range: tuple[int, int] = (12, 100),
    convention: str | None = None,
    dtype: torch.dtype | None = None,
) -> PowerLawFit:
    """Eigenspectrum decay α (α-ReQ): fit ``λ_i ∝ i^-α`` by weighted least squares.

    The fit is ``log λ_i = -α log i + c`` over the ranks ``fit_range`` (1-based, inclusive) with
    weights ``1/i``, as the tracing code's ``stringer_get_powerlaw`` does (ranks 12–100; the
    α-ReQ paper, Agrawal et al. 2022, used 4–100). Only eigenvalues above the numerical-rank
    tolerance enter the fit.

    When the spectrum has fewer non-zero eigenvalues than ``fit_range`` reaches, the range is
    cut to the eigenvalues that exist, or, if that leaves fewer than 10, replaced by ranks
    ``2 … K/2`` (``K`` the number of non-zero eigenvalues), with a :class:`FitRangeWarning`
    naming the range used. With fewer than 8 non-zero eigenvalues there is nothing to fit:
    ``ValueError``. For a batch, the range is chosen once, from its shortest spectrum.
    ``fit_range`` is never modified.

    Parameters
    ----------
    x : array (n_samples, n_features) or (batch, n_samples, n_features), or Spectrum
    fit_range : (int, int), default (12, 100)
    convention : {"covariance", "singular"}, optional
        Centre the data (default) or not; see :func:`effective_rank`.
    dtype : torch.float64 or torch.float32, optional

    Returns
    -------
    PowerLawFit
        ``alpha``, ``r2``, ``intercept`` and the ``fit_range`` actually used.

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry import alpha_req
    >>> rng = np.random.default_rng(0)
    >>> scales = np.arange(1, 201) ** -0.6          # variances i^-1.2
    >>> fit = alpha_req(rng.normal(size=(4000, 200)) * scales)
    >>> round(fit.alpha, 1), fit.fit_range
    (1.2, (12, 100))
    """
    func = "alpha_req"
    first, last = check_fit_range(fit_range, func=func)
    spec = as_spectrum(x, func=func, kind=convention, dtype=dtype)
    return fit_power_law(spec, (first, last))


def _usable_range(n_nonzero: int, first: int, last: int) -> tuple[int, int]:
    cut = min(last, n_nonzero)
    if cut == last or cut - first + 1 >= MIN_FIT_POINTS:
        used = (first, cut)
    elif n_nonzero >= MIN_EIGENVALUES:
        used = (2, n_nonzero // 2)
    else:
        raise ValueError(
            f"The 'x' argument of alpha_req must have at least {MIN_EIGENVALUES} non-zero "
            f"eigenvalues to fit a power law; got {n_nonzero}."
        )
    if used != (first, last):
        warn(
            f"alpha_req: only {n_nonzero} non-zero eigenvalues, fewer than fit_range="
            f"{(first, last)} needs; fitted ranks {used} instead.",
            category=FitRangeWarning,
            stacklevel=4,
        )
    return used


def fit_power_law(spec: Spectrum, fit_range: tuple[int, int]) -> PowerLawFit:
    """:func:`alpha_req` on a Spectrum, with an already validated ``fit_range``."""
    values = spec.values
    nonzero = values > spec.rank_tolerance()
    degenerate = ~nonzero[..., 0]
    if bool(degenerate.any()):
        warn("alpha_req: data with no variance has no spectrum to fit; alpha is nan.")
    counts = nonzero.sum(dim=-1)[~degenerate]
    n_nonzero = int(counts.min()) if counts.numel() else 0
    first, last = _usable_range(n_nonzero, *fit_range) if counts.numel() else fit_range

    ranks = torch.arange(1, values.shape[-1] + 1, dtype=values.dtype, device=values.device)
    in_range = (ranks >= first) & (ranks <= last) & nonzero
    w = torch.where(in_range, 1.0 / ranks, 0.0)
    lx = torch.log(ranks)
    ly = torch.where(in_range, torch.log(values.clamp_min(torch.finfo(values.dtype).tiny)), 0.0)
    sw, sx, sy = w.sum(-1), (w * lx).sum(-1), (w * ly).sum(-1)
    sxx, sxy = (w * lx * lx).sum(-1), (w * lx * ly).sum(-1)
    slope = (sw * sxy - sx * sy) / (sw * sxx - sx * sx)
    intercept = (sy - slope * sx) / sw
    resid = (w * (ly - intercept[..., None] - slope[..., None] * lx) ** 2).sum(-1)
    spread = (w * (ly - (sy / sw)[..., None]) ** 2).sum(-1)
    r2 = torch.where(spread > 0, 1.0 - resid / spread.clamp_min(1e-300), 1.0)

    nan = torch.tensor(float("nan"), dtype=values.dtype, device=values.device)
    return PowerLawFit(
        alpha=spec.output(torch.where(degenerate, nan, -slope)),
        r2=spec.output(torch.where(degenerate, nan, r2)),
        intercept=spec.output(torch.where(degenerate, nan, intercept)),
        fit_range=(first, last),
    )
