"""The spectrum panel: the eigenspectrum at the step shown and its power-law fit.

Normalised eigenvalues λᵢ/Σλ against rank on log-log axes, with the α-ReQ fit drawn over them.
The y-axis is fixed per layer (spectra compare step to step) and stops at the *numerical floor*:
an eigenvalue below ``n · ε · λ_max`` (``n`` the number of eigenvalues, ``ε`` the larger of the
eigensolver's precision and ε₃₂² ≈ 1.4·10⁻¹⁴, the relative size of a rounding of float32
activations once squared) is rounding noise: a LayerNorm output's zero eigenvalue comes out
anywhere between 10⁻¹⁸ and 10⁻¹³. It is marked on the axis's edge instead of stretching it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .panels import Panel

if TYPE_CHECKING:
    from .data import RunData
    from .feed import Feed


#: ε₃₂²: float32 activations carry a relative rounding of ε₃₂, their covariance ε₃₂².
FLOAT32_SQUARED = float(np.finfo(np.float32).eps) ** 2


def numerical_floor(values: np.ndarray, eps: float) -> float:
    """``n · max(eps, ε₃₂²) · max(values)``: below it an eigenvalue is indistinguishable from
    zero."""
    eps = max(eps, FLOAT32_SQUARED)
    top = float(np.nanmax(values)) if len(values) else 0.0
    return max(len(values), 1) * eps * top


class SpectrumPanel(Panel):
    """Eigenspectrum and α-ReQ fit at the step shown (drawer ``"spectrum"``)."""

    def __init__(self) -> None:
        super().__init__("spectrum", "spectrum", width=0.4)

    def _width(self, run: RunData, layer: str) -> int:
        return max(
            (
                len(r.spectrum)
                for (s, name), r in run.ok.items()
                if name == layer and r.spectrum is not None
            ),
            default=0,
        )

    def layer_data(self, run: RunData, layer: str, feed: Feed) -> dict[str, Any] | None:
        spectra = [s.values for s in (run.spectrum(int(step), layer) for step in run.steps) if s]
        if not spectra:
            return None
        eps = float(np.finfo(np.float32 if run.config.dtype == "float32" else np.float64).eps)
        floor = max(numerical_floor(v, eps) for v in spectra)
        kept = [v[v > floor] for v in spectra]
        kept = [v for v in kept if len(v)]
        top = max(float(v.max()) for v in kept) if kept else 1.0
        low = min(float(v.min()) for v in kept) if kept else floor
        return {
            "range": [low / 1.6, top * 1.6],
            "floor": floor,
            "kmax": max(len(v) for v in spectra),
            "kind": run.config.spectrum_kind,
        }

    def step_bytes(self, run: RunData, layer: str, feed: Feed) -> int:
        return 4 * (self._width(run, layer) + 5)

    def step_data(
        self, run: RunData, layer: str, positions: np.ndarray, feed: Feed
    ) -> dict[str, Any]:
        width = max(self._width(run, layer), 1)
        values = np.full((len(positions), width), np.nan, dtype=np.float32)
        fit = np.full((len(positions), 5), np.nan, dtype=np.float32)
        for row, i in enumerate(positions):
            spec = run.spectrum(int(run.steps[i]), layer)
            if spec is None:
                continue
            values[row, : len(spec.values)] = spec.values
            if spec.fit_range is not None and math.isfinite(spec.alpha):
                fit[row] = (spec.alpha, spec.r2, spec.intercept, *spec.fit_range)
        return {"values": values, "fit": fit}
