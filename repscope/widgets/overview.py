"""The overview panel: every layer at every step at a glance.

A heatmap of one measure (the first one chosen): layers are rows, the first at the bottom;
steps are columns on the log-step axis. The step shown is a line and the layer shown a box; a
click on a cell goes there. It reads the run's measure table, which every run sends anyway, so it
needs no data of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .panels import Panel

if TYPE_CHECKING:
    from .data import RunData

HELP = (
    "Each row is a layer (the first at the bottom), each column a checkpoint; the colour is the "
    "value of the first measure chosen below. Click a cell to show that layer at that step."
)


class OverviewPanel(Panel):
    """Layers × steps heatmap of the first chosen measure (drawer ``"overview"``)."""

    def __init__(self) -> None:
        super().__init__("overview", "overview", options={"help": HELP})

    def applies(self, runs: list[RunData]) -> bool:
        return bool(runs) and bool(runs[0].measures)
