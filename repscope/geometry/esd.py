"""The power-law exponent α of a weight matrix's empirical spectral density (WeightWatcher).

Heavy-Tailed Self-Regularisation (Martin & Mahoney 2021) reads a layer's training quality from
the tail of the empirical spectral density (ESD) of its weight matrix ``W``: the eigenvalues of
``WᵀW`` above some ``xmin`` follow ``p(λ) ∝ λ^-α``, with α ≈ 2–6 in well-trained layers. This
module reproduces ``WeightWatcher().analyze()`` of ``weightwatcher`` 0.7.x with its defaults
(``pl_package="ww"``, ``fix_fingers=False``, ``xmax=None``) for one dense matrix: its
``alpha``, ``xmin``, ``D`` and ``num_pl_spikes`` columns.

What ``analyze`` does for a ``torch.nn.Linear`` layer, and where (``weightwatcher`` 0.7.7):

* The eigenvalues are the squared singular values of the raw weight, all ``M = min(shape)`` of
  them (``combined_eigenvalues``: ``evals = sv * sv``; the ``evals / N`` is commented out).
  No normalisation: ``normalize`` is off in ``DEFAULT_PARAMS`` and ``analyze`` no longer sets
  it (0.6.5), so ``apply_normalize_Wmats`` multiplies a dense layer by ``w_norm = 1``. ``N`` is
  the larger dimension and ``M`` the smaller (``WWLayer``: ``N = max(dims)``,
  ``M = min(dims)``), so ``W`` and ``Wᵀ`` give the same answer.
* Eigenvalues at or below ``EVALS_THRESH = 1e-5`` (``constants.py``; an absolute threshold)
  are dropped before the fit (``fit_powerlaw``: ``nz_evals = evals[evals > thresh]``).
* The fit is WeightWatcher's own ``WWFit`` (``WW_powerlaw.py``), not ``powerlaw.Fit``: on the
  ``n`` sorted eigenvalues ``λ_(1) <= … <= λ_(n)``, every one but the largest is a candidate
  ``xmin = λ_(i)`` (repeated values included). Its tail ``λ_(i) … λ_(n)`` (``m = n - i + 1``
  values) gets the continuous power-law MLE and the Kolmogorov–Smirnov distance against the
  lower empirical CDF ``0, 1/m, …, (m-1)/m``::

      α_i = 1 + m / Σ_{j>=i} log(λ_(j) / λ_(i))
      D_i = max_{k=0…m-1} | 1 - (λ_(i+k) / λ_(i))^(1-α_i) - k/m |

  and ``xmin`` is the candidate of least ``D_i`` (the first one on a tie). With fewer than 20
  eigenvalues above the threshold (``SMALL_N_CUTOFF``), ``fit_powerlaw_smallN`` runs instead:
  ``α_i = 1 + (m - 1) / Σ log(λ_(j)/λ_(i))``, only tails of ``m >= 8`` values whose log-sum
  exceeds ``1e-12`` count (the others keep ``α = 0``, ``D = 1``); when none does, the whole set
  is the tail (``i = 1``). ``WWFit.__init__`` then picks the least ``D`` over these, as above:
  the ``J = D - 0.868/sqrt(m)`` objective that ``fit_powerlaw_smallN`` minimises is overwritten.
* ``num_pl_spikes`` is the number of eigenvalues ``>= xmin`` (``n_tail`` here).

Differences that are not WeightWatcher's: the eigenvalues come from ``eigvalsh`` of the smaller
of ``WᵀW`` and ``WWᵀ`` (formed on ``W`` divided by its largest magnitude) instead of an SVD, so
they agree to rounding (relative ~1e-15 for the tail, ~1e-16 · λ_max absolute below it); the
log-sums ``Σ log(λ_(j)/λ_(i))`` are summed as positive gaps (no cancellation), and the fit runs
in float64 on the device of the input, with every candidate at once (``O(n²)`` work, in blocks
of bounded memory). WeightWatcher with CUDA computes its singular values in float32; here the
precision is ``dtype``'s. ``analyze`` skips layers with ``M < 8`` or ``M > 15000``
(``min_evals``, ``max_evals``); this function fits any size. For a ``Conv2d`` weight,
``analyze`` fits the pooled eigenvalues of its ``kh·kw`` slices (with ``conv2d_norm``), not the
flattened matrix this function is given.

References
----------
C. H. Martin and M. W. Mahoney, "Implicit self-regularization in deep neural networks: evidence
from random matrix theory and implications for learning", JMLR 22 (165), 2021.
C. H. Martin, T. S. Peng and M. W. Mahoney, "Predicting trends in the quality of state-of-the-art
neural networks without access to training or testing data", Nature Communications 12, 4122, 2021.
A. Clauset, C. R. Shalizi and M. E. J. Newman, "Power-law distributions in empirical data",
SIAM Review 51 (4), 2009 (the KS-minimising choice of ``xmin``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from .._validation import check_real, fail, warn
from ._arrays import as_batch, check_dtype
from ._precision import at_full_precision
from .spectrum import Spectrum, scaled_eigenvalues

#: WeightWatcher's ``EVALS_THRESH``: eigenvalues at or below it are dropped before the fit.
EVALS_THRESHOLD = 1e-5
#: Below this many eigenvalues above the threshold, WeightWatcher's small-sample fit runs.
SMALL_N_CUTOFF = 20
#: The small-sample fit's shortest tail, and the log-sum below which a tail is degenerate.
SMALL_N_MIN_TAIL = 8
SMALL_N_MIN_LOG_SUM = 1e-12
#: Elements of one block of the KS computation (candidates × eigenvalues × batch), float64.
_BLOCK_ELEMENTS = 1 << 21


class ESDFit(NamedTuple):
    """A power-law fit to the tail of an ESD (floats for one matrix, arrays ``(batch,)``).

    Attributes
    ----------
    alpha : float
        The exponent α of ``p(λ) ∝ λ^-α`` above ``xmin`` (WeightWatcher's ``alpha``).
    xmin : float
        Where the tail starts: an eigenvalue of ``WᵀW``, in its units (``xmin``).
    ks_distance : float
        The Kolmogorov–Smirnov distance of the tail to the fitted power law (``D``).
    n_tail : int
        The number of eigenvalues ``>= xmin`` (``num_pl_spikes``).
    """

    alpha: Any
    xmin: Any
    ks_distance: Any
    n_tail: Any


def esd_fit(x: Any, *, threshold: float = EVALS_THRESHOLD, dtype: Any = None) -> ESDFit:
    """Fit a power law to the tail of a weight matrix's ESD, as WeightWatcher does.

    The eigenvalues ``λ`` of ``WᵀW`` (the squared singular values of ``W``, unnormalised) above
    ``threshold`` are sorted; every one but the largest is tried as ``xmin``, the tail above it
    gets the continuous power-law MLE ``α = 1 + m / Σ log(λ_j / xmin)`` (``m`` eigenvalues
    ``>= xmin``), and the ``xmin`` whose tail is closest to its fit in Kolmogorov–Smirnov
    distance is kept (the module docstring has the details, WeightWatcher's small-sample rule
    for fewer than 20 eigenvalues included). This reproduces ``weightwatcher`` 0.7.x
    ``WeightWatcher().analyze()`` with its defaults on a dense layer.

    Parameters
    ----------
    x : array (n_rows, n_cols) or (batch, n_rows, n_cols), or Spectrum
        The weight matrix (a ``torch.nn.Linear`` weight as it is, ``(out, in)``; ``W`` and
        ``Wᵀ`` give the same fit), ``numpy`` or ``torch`` on any device; or a ``Spectrum`` of
        kind ``"singular"`` with every eigenvalue (no ``max_components`` cap).
    threshold : float, default 1e-5
        Eigenvalues at or below this are left out, in the units of ``WᵀW`` (WeightWatcher's
        ``EVALS_THRESH``). Absolute, as WeightWatcher's is: the fit is invariant under
        ``W → cW`` only while no eigenvalue crosses it (``threshold=0`` keeps every positive
        eigenvalue, rounding noise of a rank-deficient ``W`` included).
    dtype : torch.float64 or torch.float32, optional
        Precision of the eigendecomposition (float64 by default). The fit itself is float64.

    Returns
    -------
    ESDFit
        ``alpha``, ``xmin``, ``ks_distance`` and ``n_tail``. With fewer than two eigenvalues
        above ``threshold`` there is nothing to fit (WeightWatcher reports a failed fit,
        ``alpha = -1``): ``nan`` (``n_tail = 0``), with a ``DegenerateInputWarning``.

    Notes
    -----
    α, ``ks_distance`` and ``n_tail`` do not change when ``W`` is scaled (while no eigenvalue
    crosses ``threshold``); ``xmin`` scales with ``c²``.

    References
    ----------
    Martin & Mahoney, JMLR 22 (165), 2021; Clauset, Shalizi & Newman, SIAM Review 51, 2009;
    ``weightwatcher`` 0.7.7, ``WW_powerlaw.WWFit`` and ``WeightWatcher.fit_powerlaw``.

    Examples
    --------
    Singular values whose squares are the quantiles of a Pareto law with α = 2.5 and
    ``xmin = 1``: the fit finds the exponent.

    >>> import numpy as np
    >>> from repscope.geometry.esd import esd_fit
    >>> q = (np.arange(200) + 0.5) / 200
    >>> lam = (1 - q) ** (-1 / 1.5)                 # P(λ > x) = x^-1.5
    >>> rng = np.random.default_rng(0)
    >>> u, _ = np.linalg.qr(rng.normal(size=(300, 200)))
    >>> v, _ = np.linalg.qr(rng.normal(size=(200, 200)))
    >>> fit = esd_fit((u * np.sqrt(lam)) @ v.T)
    >>> round(fit.alpha, 1), fit.n_tail > 100
    (2.5, True)
    """
    func = "esd_fit"
    threshold = check_real(threshold, name="threshold", func=func, low=0.0)
    return _fit(x, func=func, threshold=threshold, dtype=dtype)


def esd_alpha(x: Any, *, threshold: float = EVALS_THRESHOLD, dtype: Any = None) -> Any:
    """WeightWatcher's α of a weight matrix: :func:`esd_fit`'s ``alpha`` alone.

    Parameters
    ----------
    x : array (n_rows, n_cols) or (batch, n_rows, n_cols), or Spectrum
        See :func:`esd_fit`.
    threshold : float, default 1e-5
        Eigenvalues of ``WᵀW`` at or below it are left out (WeightWatcher's ``EVALS_THRESH``).
    dtype : torch.float64 or torch.float32, optional

    Returns
    -------
    float, or array of shape (batch,)
        ``nan`` (with a ``DegenerateInputWarning``) with fewer than two eigenvalues above
        ``threshold``.

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry.esd import esd_alpha
    >>> w = np.random.default_rng(0).standard_t(3.0, size=(512, 256))
    >>> a = esd_alpha(w)
    >>> round(a, 6) == round(esd_alpha(3.0 * w.T), 6), 2 < a < 10
    (True, True)
    """
    func = "esd_alpha"
    threshold = check_real(threshold, name="threshold", func=func, low=0.0)
    return _fit(x, func=func, threshold=threshold, dtype=dtype).alpha


@at_full_precision
def _fit(x: Any, *, func: str, threshold: float, dtype: Any) -> ESDFit:
    out: Callable[[torch.Tensor], Any]  # per matrix (B,) → a float, or the user's kind of array
    if isinstance(x, Spectrum):
        if dtype is not None:
            check_dtype(dtype, func=func)
        unit, scale2 = _spectrum_eigenvalues(x, func=func)
        out = x.output
    else:
        batch = as_batch(x, func=func, dtype=check_dtype(dtype, func=func))
        eig, scale = scaled_eigenvalues(batch.data, center=False)
        unit, scale2 = eig.flip(-1).to(torch.float64), scale.to(torch.float64) ** 2
        out = batch.output
    # fit λ / s² (entries of W / s are at most 1): no overflow, and scale-free up to the threshold
    alpha, xmin, dist, n_tail = fit_sorted_eigenvalues(unit, threshold / scale2)
    failed = n_tail == 0
    if bool(failed.any()):
        count = int(failed.sum())
        which = f" ({count} of the {failed.numel()} matrices)" if failed.numel() > 1 else ""
        warn(
            f"{func}: fewer than 2 eigenvalues above threshold={threshold:g}{which}, no tail "
            "to fit; alpha, xmin and ks_distance are nan.",
            stacklevel=5,
        )
    return ESDFit(out(alpha), out(xmin * scale2), out(dist), out(n_tail))


def _spectrum_eigenvalues(spec: Spectrum, *, func: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A Spectrum's eigenvalues ascending, ``(B, K)`` float64, and their unit (``total``)."""
    if spec.kind != "singular":
        fail(
            "x",
            func,
            'a weight matrix, or a Spectrum of kind "singular" (the uncentred WᵀW)',
            f'a Spectrum of kind "{spec.kind}"',
        )
    full = min(spec.n_samples, spec.n_features)
    if spec.n_components != full:
        fail(
            "x",
            func,
            f"a Spectrum with every eigenvalue ({full}; compute it without max_components)",
            f"a Spectrum of {spec.n_components} eigenvalues",
        )
    total = spec.total.to(torch.float64)
    unit = torch.where(total > 0, total, torch.full_like(total, float("inf")))
    return spec.values.flip(-1).to(torch.float64), unit


def fit_sorted_eigenvalues(
    lam: torch.Tensor, threshold: torch.Tensor | float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """WeightWatcher's power-law fit of ascending eigenvalues ``lam``, ``(B, K)`` float64.

    ``threshold`` is a float or a ``(B,)`` tensor. Returns ``alpha``, ``xmin``, ``D`` and
    ``n_tail``, each ``(B,)`` (``nan``, ``nan``, ``nan``, ``0`` with fewer than 2 eigenvalues
    above the threshold). Used by :func:`esd_fit` after the eigendecomposition.

    Examples
    --------
    >>> import torch
    >>> lam = torch.linspace(1.0, 2.0, 30, dtype=torch.float64) ** 4
    >>> alpha, xmin, ks, n_tail = fit_sorted_eigenvalues(lam[None], 1e-5)
    >>> bool(alpha[0] > 1), int(n_tail[0]) == int((lam >= xmin[0]).sum())
    (True, True)
    """
    lam = lam.to(torch.float64)
    n_batch, k = lam.shape
    thr = torch.as_tensor(threshold, dtype=lam.dtype, device=lam.device).reshape(-1, 1)
    valid = lam > thr  # a suffix of each (ascending) row
    n_valid = valid.sum(dim=-1)
    first = k - n_valid  # index of the smallest eigenvalue that is fitted
    idx = torch.arange(k, device=lam.device)
    m = (k - idx).to(lam.dtype).expand(n_batch, k)  # tail length with xmin = lam[i]
    candidate = valid & (idx < k - 1)

    # Σ_{j>=i} log(λ_j/λ_i) = Σ_{l>i} (k-l) (log λ_l - log λ_{l-1}): a sum of positive terms
    log_lam = torch.log(torch.where(valid, lam, torch.ones_like(lam)))
    gaps = torch.zeros_like(lam)
    gaps[:, 1:] = (log_lam[:, 1:] - log_lam[:, :-1]) * (k - idx[1:])
    gaps = torch.where(valid, gaps, 0.0)
    log_sum = gaps.flip(-1).cumsum(-1).flip(-1) - gaps  # excludes l = i itself

    small = (n_valid < SMALL_N_CUTOFF).reshape(-1, 1)
    alpha_std = 1.0 + m / log_sum  # inf where the tail is constant, as numpy gives
    alpha_small = 1.0 + (m - 1.0) / log_sum
    usable = candidate & (m >= SMALL_N_MIN_TAIL) & (log_sum > SMALL_N_MIN_LOG_SUM)
    usable &= alpha_small > 1
    # no usable tail: the whole set is the tail (fit_powerlaw_smallN's fallback)
    at_first = idx == first.reshape(-1, 1)
    fallback = ~usable.any(dim=-1, keepdim=True) & at_first & (log_sum > SMALL_N_MIN_LOG_SUM)
    usable |= fallback & candidate
    fitted = torch.where(small, usable, candidate & (alpha_std > 1))
    alpha = torch.where(small, torch.where(usable, alpha_small, 0.0), alpha_std)
    alpha = torch.where(candidate, alpha, 0.0)

    ks = _ks_distances(lam, valid, alpha, m, fitted)
    ks = torch.where(fitted, ks, 1.0)
    ks = torch.where(candidate, ks, float("inf"))
    best = ks.argmin(dim=-1, keepdim=True)  # the first least D, as np.argmin
    ok = n_valid >= 2
    nan = torch.full((n_batch,), float("nan"), dtype=lam.dtype, device=lam.device)
    xmin = lam.gather(-1, best).squeeze(-1)
    n_tail = torch.where(ok, (lam >= xmin.reshape(-1, 1)).sum(-1), 0)
    return (
        torch.where(ok, alpha.gather(-1, best).squeeze(-1), nan),
        torch.where(ok, xmin, nan),
        torch.where(ok, ks.gather(-1, best).squeeze(-1), nan),
        n_tail,
    )


def _ks_distances(
    lam: torch.Tensor,
    valid: torch.Tensor,
    alpha: torch.Tensor,
    m: torch.Tensor,
    fitted: torch.Tensor,
) -> torch.Tensor:
    """``D_i = max_{j>=i} |1 - (λ_j/λ_i)^(1-α_i) - (j-i)/m_i|`` for every ``i``, ``(B, K)``.

    Computed in blocks of candidate rows so that no more than ``_BLOCK_ELEMENTS`` values are
    held at once; rows that are not ``fitted`` are left at 0.
    """
    n_batch, k = lam.shape
    safe = torch.where(valid, lam, torch.ones_like(lam))
    exponent = torch.where(fitted, 1.0 - alpha, 0.0)
    out = torch.zeros_like(lam)
    rows = max(1, _BLOCK_ELEMENTS // max(1, n_batch * k))
    lowest = int((k - valid.sum(dim=-1)).min())  # the first fitted eigenvalue of any row
    for start in range(lowest, k - 1, rows):
        stop = min(start + rows, k - 1)
        i = torch.arange(start, stop, device=lam.device).reshape(-1, 1)  # (c, 1)
        j = torch.arange(start, k, device=lam.device).reshape(1, -1)  # (1, k - start)
        offset = (j - i).to(lam.dtype)  # k in the formula: j - i
        above = offset >= 0
        ratio = safe[:, None, start:] / safe[:, start:stop, None]  # (B, c, k - start)
        model = 1.0 - ratio.pow(exponent[:, start:stop, None])
        ecdf = offset / m[:, start:stop, None]
        gap = torch.where(above, (model - ecdf).abs(), 0.0)
        out[:, start:stop] = gap.amax(dim=-1)
    return out
