"""Spectral geometry of representations: pure functions on tensors (no I/O, no plotting).

Every function takes a ``numpy.ndarray`` or ``torch.Tensor`` of shape ``(n_samples, n_features)``
(or a batch ``(batch, n_samples, n_features)``), computes on the input's device in float64 by
default, and returns Python floats (arrays of shape ``(batch,)`` for a batch).
"""

from ._memory import InsufficientMemoryError
from .cka import linear_cka
from .collapse import ClassMeanGeometry, class_mean_geometry, nc1
from .diffusion import (
    diffusion_operator,
    diffusion_spectrum,
    dse,
    dse_from_eigenvalues,
    resolve_sigma,
)
from .dsmi import dsmi
from .esd import ESDFit, esd_alpha, esd_fit
from .intrinsic_dimension import intrinsic_dimension
from .measures import effective_rank, numerical_rank, participation_ratio, stable_rank
from .powerlaw import FitRangeWarning, PowerLawFit, alpha_req
from .projection import principal_coordinates
from .spectrum import Spectrum, spectrum
from .summary import SpectralSummary, spectral_summary
from .uncertainty import Interval, dse_interval, jackknife_interval, spectral_intervals

__all__ = [
    "ClassMeanGeometry",
    "ESDFit",
    "FitRangeWarning",
    "InsufficientMemoryError",
    "Interval",
    "PowerLawFit",
    "SpectralSummary",
    "Spectrum",
    "alpha_req",
    "class_mean_geometry",
    "diffusion_operator",
    "diffusion_spectrum",
    "dse",
    "dse_from_eigenvalues",
    "dse_interval",
    "dsmi",
    "effective_rank",
    "esd_alpha",
    "esd_fit",
    "intrinsic_dimension",
    "jackknife_interval",
    "linear_cka",
    "nc1",
    "numerical_rank",
    "participation_ratio",
    "principal_coordinates",
    "resolve_sigma",
    "spectral_intervals",
    "spectral_summary",
    "spectrum",
    "stable_rank",
]
