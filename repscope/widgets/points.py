"""The points panel: the probe inputs in 2-D at the step shown, drawn in WebGL.

Each checkpoint's points are its first two principal coordinates, rotated onto the next
checkpoint's (orthogonal Procrustes), so that a slider moves points instead of flipping them.
Every point is drawn up to :data:`MAX_POINTS` (20,000) by default; above that a fixed random subset
is drawn, the same at every step (each dot follows one input), and the plot says so. Points are
coloured by label, and several runs are drawn side by side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .feed import MAX_POINTS, Feed
from .panels import Panel

if TYPE_CHECKING:
    from .data import RunData

#: Hover texts are cut to this many characters.
TEXT_CHARS = 80
__all__ = ["MAX_POINTS", "TEXT_CHARS", "PointsPanel"]


class PointsPanel(Panel):
    """Probe points in 2-D, coloured by label (drawer ``"points"``)."""

    def __init__(self) -> None:
        super().__init__("points", "points", width=0.6)

    def run_data(self, run: RunData, feed: Feed) -> dict[str, Any]:
        index = feed.shown(run)
        out: dict[str, Any] = {"n": run.n_points, "shown": index, "codes": None, "names": None}
        codes = run.label_codes
        if codes is not None:
            out["codes"], out["names"] = codes[0][index].astype(np.int32), list(codes[1])
        if run.texts is not None:
            texts = [str(run.texts[i]) for i in index]
            out["texts"] = [t if len(t) <= TEXT_CHARS else t[: TEXT_CHARS - 1] + "…" for t in texts]
        if len(index) < run.n_points:
            who = f"{run.name}: " if len(feed.runs) > 1 else ""
            out["capped"] = (
                f"{who}{len(index):,} of {run.n_points:,} probe points drawn "
                f"(max_points={feed.max_points:,})"
            )
        return out

    def layer_data(self, run: RunData, layer: str, feed: Feed) -> dict[str, Any]:
        pts = [p for p in run.points(layer) if p is not None]
        if not pts:
            return {"range": None}
        lo = np.min([p.min(axis=0) for p in pts], axis=0)
        hi = np.max([p.max(axis=0) for p in pts], axis=0)
        pad = 0.05 * np.maximum(hi - lo, 1e-12)
        return {"range": [lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1]]}

    def step_bytes(self, run: RunData, layer: str, feed: Feed) -> int:
        return 8 * len(feed.shown(run)) + 1

    def step_data(
        self, run: RunData, layer: str, positions: np.ndarray, feed: Feed
    ) -> dict[str, Any]:
        index = feed.shown(run)
        points = run.points(layer)
        xy = np.full((len(positions), len(index), 2), np.nan, dtype=np.float32)
        has = np.zeros(len(positions), dtype=np.uint8)
        for row, i in enumerate(positions):
            p = points[i]
            if p is not None and len(p) == run.n_points:
                xy[row] = p[index]
                has[row] = 1
        return {"xy": xy, "has": has}
