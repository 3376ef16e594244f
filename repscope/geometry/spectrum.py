"""The eigenspectrum of a representation: one eigendecomposition that every spectral measure uses.

The spectrum of ``X`` (shape ``(n_samples, n_features)``) is the descending list of eigenvalues of
its second-moment matrix — the covariance of the column-centred data (``kind="covariance"``), or
the uncentred ``XᵀX`` whose eigenvalues are the squared singular values (``kind="singular"``) —
normalised to sum 1. It is computed from the ``D × D`` covariance or the ``N × N`` Gram matrix,
whichever is smaller (they share their non-zero eigenvalues), with ``torch.linalg.eigvalsh``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from .._validation import check_int, check_option
from ._arrays import Batch, as_batch, check_dtype, unit_scale

SpectrumKind = Literal["covariance", "singular"]
SPECTRUM_KINDS = ("covariance", "singular")


@dataclass(frozen=True)
class Spectrum:
    """A normalised eigenspectrum, the unit every spectral measure is computed from.

    Attributes
    ----------
    values : torch.Tensor, shape (batch, n_components)
        Eigenvalues of the second-moment matrix, descending, clamped at 0, normalised so each
        row sums to 1 (a row of zeros where the data has no variance at all).
    kind : {"covariance", "singular"}
        ``"covariance"``: the data were column-centred. ``"singular"``: uncentred; the singular
        values of the data are ``sqrt(values)`` up to one common factor.
    total : torch.Tensor, shape (batch,)
        The un-normalised sum of the eigenvalues (``‖X_c‖_F² / (N - 1)`` for the covariance,
        ``‖X‖_F²`` for the singular kind).
    n_samples, n_features : int
        The shape of the data the spectrum came from.
    batched : bool
        Whether the input was a batch ``(B, N, D)``; measures then return arrays of shape ``(B,)``.
    backend : {"numpy", "torch"}
        The kind of array the user passed; measures return that kind.
    """

    values: torch.Tensor
    kind: SpectrumKind
    total: torch.Tensor
    n_samples: int
    n_features: int
    batched: bool = False
    backend: Literal["numpy", "torch"] = "torch"

    @property
    def n_components(self) -> int:
        return self.values.shape[-1]

    def _batch_view(self) -> Batch:
        return Batch(self.values.unsqueeze(-1), self.batched, self.backend)

    def output(self, per_row: torch.Tensor) -> Any:
        """Per-row values ``(B,)`` → a float, or an array of the user's kind for batched input."""
        return self._batch_view().output(per_row)

    def eigenvalues(self) -> Any:
        """The normalised eigenvalues as an array of the user's kind, ``(K,)`` or ``(B, K)``."""
        return self._batch_view().output_array(self.values)

    def rank_tolerance(self) -> torch.Tensor:
        """Eigenvalues at or below this (per row, shape ``(B, 1)``) are numerically zero.

        ``λ_max · max(N, D) · ε``: the eigenvalues of ``XᵀX`` carry a rounding error of order
        ``ε · λ_max``, so this is the finest resolution the second-moment route has (on the
        singular values: ``σ_i > sqrt(max(N, D) · ε) · σ_max``, about 1e-6 in float64).
        """
        eps = torch.finfo(self.values.dtype).eps
        return self.values[..., :1] * (max(self.n_samples, self.n_features) * eps)


def second_moment_eigenvalues(data: torch.Tensor, *, center: bool) -> torch.Tensor:
    """Descending eigenvalues of ``XᵀX`` (of the centred ``X`` when ``center``), clamped at 0.

    ``data`` has shape ``(B, N, D)``; the result ``(B, min(N, D))``. Uses the ``D × D`` or the
    ``N × N`` product, whichever is smaller.
    """
    eig, scale = _scaled_eigenvalues(data, center=center)
    return eig * scale.reshape(-1, 1) ** 2


def _scaled_eigenvalues(data: torch.Tensor, *, center: bool) -> tuple[torch.Tensor,
                                                                     torch.Tensor]:
    """Eigenvalues of the second moment of ``data / s`` and the scale ``s`` per batch element
    (see :func:`~repscope.geometry._arrays.unit_scale`)."""
    if center:
        data = data - data.mean(dim=-2, keepdim=True)
    data, scale = unit_scale(data)
    n, d = data.shape[-2:]
    gram = data.mT @ data if d <= n else data @ data.mT
    return torch.linalg.eigvalsh(gram).flip(-1).clamp_min_(0), scale.reshape(-1)


def spectrum(
    x: Any,
    *,
    kind: SpectrumKind = "covariance",
    max_components: int | None = None,
    dtype: torch.dtype | None = None,
) -> Spectrum:
    """Compute the normalised eigenspectrum of a representation.

    Parameters
    ----------
    x : array of shape (n_samples, n_features) or (batch, n_samples, n_features)
        ``numpy.ndarray`` or ``torch.Tensor`` on any device; half precision is upcast.
    kind : {"covariance", "singular"}, default "covariance"
        ``"covariance"``: eigenvalues of the covariance of the column-centred data (the tracing
        code, Li et al. 2025). ``"singular"``: eigenvalues of the uncentred ``XᵀX``, i.e. squared
        singular values (the RankMe paper, Garrido et al. 2023).
    max_components : int, optional
        Keep only the largest ``max_components`` eigenvalues before normalising
        (``max_components=2048`` reproduces the tracing code's PCA cap). Default: all
        ``min(n_samples, n_features)``.
    dtype : torch.float64 or torch.float32, optional
        Precision of the eigendecomposition; float64 by default, float32 an opt-in for speed.

    Returns
    -------
    Spectrum
        ``values`` of shape ``(batch, K)``, descending, each row summing to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from repscope.geometry import spectrum
    >>> x = np.random.default_rng(0).normal(size=(500, 3)) * [3.0, 2.0, 1.0]
    >>> np.round(spectrum(x).eigenvalues(), 2)
    array([0.65, 0.27, 0.07])
    """
    func = "spectrum"
    check_option(kind, name="kind", func=func, options=SPECTRUM_KINDS)
    if max_components is not None:
        check_int(max_components, name="max_components", func=func, low=1)
    batch = as_batch(x, func=func, dtype=check_dtype(dtype, func=func))
    return spectrum_of_batch(batch, kind=kind, max_components=max_components)


def spectrum_of_batch(
    batch: Batch, *, kind: SpectrumKind, max_components: int | None = None
) -> Spectrum:
    """:func:`spectrum` on already validated input."""
    centered = kind == "covariance"
    eig, scale = _scaled_eigenvalues(batch.data, center=centered)
    if max_components is not None:
        eig = eig[..., :max_components]
    total = eig.sum(dim=-1) * scale**2  # inf where the true total is beyond the dtype's range
    if centered:
        total = total / max(batch.n_samples - 1, 1)
    norm = eig.sum(dim=-1, keepdim=True)
    values = torch.where(norm > 0, eig / norm.clamp_min(torch.finfo(eig.dtype).tiny), 0.0)
    return Spectrum(
        values=values,
        kind=kind,
        total=total,
        n_samples=batch.n_samples,
        n_features=batch.n_features,
        batched=batch.batched,
        backend=batch.backend,
    )
