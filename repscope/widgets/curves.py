"""The curves panels: measures of the layer shown over steps, with the phases shaded, and the
training scalars (loss, learning rate) on the same log-step axis.

Both are drawn by the front end's ``lines`` drawer. The measure values come with the run (one
table of measures × layers × steps, which the overview reads too); the curves panel adds each
layer's phases, the training panel each run's scalars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .data import PHASE_MEASURES, display_name
from .panels import Panel

if TYPE_CHECKING:
    from .data import RunData
    from .feed import Feed


def phase_records(run: RunData, layer: str) -> list[dict[str, Any]]:
    """The phases of ``layer`` as the front end draws them: first and last step, name, what
    the numbers did, and a sentence with the evidence (changes and their size in noise units)
    that names the two measures they were read from."""
    out = []
    default = run.phase_measures == PHASE_MEASURES
    for p in run.phases(layer):
        ev = p.evidence
        first, second = p.names
        if default:
            change = f"RankMe {ev['rankme_rel_change']:+.0%}"
        else:  # any sign (the LLC starts negative): the change itself, not relative to it
            change = f"{first} {ev['rankme_abs_change']:+.3g}"
        description = (
            f"{p.name}, steps {p.start_step}–{p.end_step}: {change} "
            f"({ev['rankme_z']:+.1f} noise levels), {second} "
            f"{ev['alpha_abs_change']:+.3g} ({ev['alpha_z']:+.1f})"
        )
        out.append(
            {
                "start": int(p.start_step),
                "end": int(p.end_step),
                "name": p.name,
                "label": p.name,
                "kind": p.kind,
                "description": description,
            }
        )
    return out


class CurvesPanel(Panel):
    """One row per chosen measure of the layer shown; phases shaded (drawer ``"lines"``)."""

    def __init__(self) -> None:
        super().__init__("curves", "lines", options={"source": "measures"})

    def layer_data(self, run: RunData, layer: str, feed: Feed) -> dict[str, Any]:
        if feed.quick and not run.has_phases(layer):
            return {"phases": [], "pending": True}  # sent again with them (Feed.around)
        return {"phases": phase_records(run, layer)}

    def notes(self, run: RunData, layer: str, feed: Feed) -> list[str]:
        if feed.quick and not run.has_phases(layer):
            return []
        run.phases(layer)
        error = run.phase_errors.get(layer)
        who = f"{run.name}: " if len(feed.runs) > 1 else ""
        if error is not None:
            return [f"{who}no phases shaded for layer {layer}: {error}"]
        if run.phase_measures != PHASE_MEASURES:
            first, second = (display_name(m) for m in run.phase_measures)
            return [f"{who}phases shaded from {first}'s turning points, {second} read over each"]
        return []


class TrainingPanel(Panel):
    """One row per chosen training scalar (loss, learning rate, …) (drawer ``"lines"``)."""

    def __init__(self) -> None:
        super().__init__(
            "training", "lines", title="training", options={"source": "scalars", "phases": True}
        )

    def applies(self, runs: list[RunData]) -> bool:
        return any(run.scalars for run in runs)

    def run_data(self, run: RunData, feed: Feed) -> dict[str, Any]:
        return {
            "scalars": [
                {
                    "name": name,
                    "steps": steps.astype(np.float64),
                    "values": values.astype(np.float32),
                }
                for name, (steps, values) in run.scalars.items()
            ]
        }
