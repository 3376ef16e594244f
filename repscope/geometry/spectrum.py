"""The eigenspectrum of a representation: one eigendecomposition that every spectral measure uses.

The spectrum of ``X`` (shape ``(n_samples, n_features)``) is the descending list of eigenvalues of
its second-moment matrix — the covariance of the column-centred data (``kind="covariance"``), or
the uncentred ``XᵀX`` whose eigenvalues are the squared singular values (``kind="singular"``) —
normalised to sum 1. It is computed from the ``D × D`` covariance or the ``N × N`` Gram matrix,
whichever is smaller (they share their non-zero eigenvalues), with ``torch.linalg.eigvalsh``.

Speed (profiled with float32 and float64 input on a 2-core CPU, ``benchmarks/geometry.py``):
the input's finiteness is checked with one ``aminmax`` pass instead of ``isfinite(x).all()``
(which writes a boolean copy; 3–8× slower); the centring and scaling work on one copy of the
data (the scale from ``amax`` and ``amin``, no ``abs`` copy; the division in place); and on the
CPU an ``eigvalsh`` of side up to :data:`ONE_THREAD_EIGH_MAX` runs on one thread. Its
tridiagonal reduction synchronises its threads once per column, and when the cores are shared
with other work each synchronisation waits for a time slice: a 1024 × 1024 ``eigvalsh`` took
0.08 s on one thread and 0.08–1.1 s on two on a loaded 2-core machine (2048: 0.29 s against
0.29–0.8 s).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

import torch

from .._validation import check_int, check_option
from ._arrays import Batch, as_batch, centre, check_dtype
from ._precision import at_full_precision

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

    def row(self, i: int) -> Spectrum:
        """The spectrum of the ``i``-th matrix of a batch, as if it had been computed alone.

        Examples
        --------
        >>> import torch
        >>> both = spectrum(torch.randn(2, 50, 4, dtype=torch.float64))
        >>> one = both.row(1)
        >>> one.batched, tuple(one.values.shape), float(one.values.sum())
        (False, (1, 4), 1.0)
        """
        return replace(
            self, values=self.values[i : i + 1], total=self.total[i : i + 1], batched=False
        )

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
    eig, scale = scaled_eigenvalues(data, center=center)
    return eig * scale.reshape(-1, 1) ** 2


#: On the CPU, ``eigvalsh`` of a matrix of side up to this runs on one thread (see above).
ONE_THREAD_EIGH_MAX = 2048


@contextlib.contextmanager
def eigh_threads(matrix: torch.Tensor) -> Iterator[None]:
    """One torch thread for a CPU ``eigvalsh`` of side <= :data:`ONE_THREAD_EIGH_MAX`.

    ``torch.set_num_threads`` acts on the calling thread's OpenMP pool; it is restored after.
    """
    before = torch.get_num_threads()
    if matrix.device.type != "cpu" or matrix.shape[-1] > ONE_THREAD_EIGH_MAX or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _centred_unit_scaled(data: torch.Tensor, *, center: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(data - mean) / s`` (or ``data / s``) and ``s``, shape ``(B, 1, 1)``: the result of
    :func:`~repscope.geometry._arrays.unit_scale`, computed on one copy of the data.

    Centred, columns that are constant up to rounding are exactly 0
    (:func:`~repscope.geometry._arrays.centre`): data with no variance have an all-zero
    spectrum, whatever rounding the mean left. The scale (the largest magnitude, 1 for all-zero
    data) comes from ``amax`` and ``amin`` (no ``abs`` copy; along a dim they are 4–5× faster
    than ``aminmax`` along it), and the division is done in place.
    """
    if center:
        data, magnitude, _ = centre(data)
        scale = magnitude.reshape(-1, 1, 1)
    else:
        flat = data.reshape(data.shape[0], -1)
        scale = torch.maximum(flat.amax(dim=-1), -flat.amin(dim=-1)).reshape(-1, 1, 1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return (data.div_(scale) if center else data / scale), scale


def scaled_eigenvalues(data: torch.Tensor, *, center: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues of the second moment of ``data / s`` and the scale ``s`` per batch element
    (see :func:`~repscope.geometry._arrays.unit_scale`)."""
    data, scale = _centred_unit_scaled(data, center=center)
    n, d = data.shape[-2:]
    gram = data.mT @ data if d <= n else data @ data.mT
    del data  # the centred copy is not needed by the eigendecomposition
    with eigh_threads(gram):
        eig = torch.linalg.eigvalsh(gram)
    return eig.flip(-1).clamp_min_(0), scale.reshape(-1)


@at_full_precision
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


@at_full_precision
def spectrum_of_batch(
    batch: Batch, *, kind: SpectrumKind, max_components: int | None = None
) -> Spectrum:
    """:func:`spectrum` on already validated input."""
    centered = kind == "covariance"
    eig, scale = scaled_eigenvalues(batch.data, center=centered)
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
