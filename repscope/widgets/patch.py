"""Patches: what one step, layer or refresh changes in the scrubber's figures.

A :class:`Patch` holds new values for some traces of *one* figure (by trace index) and some of
its layout properties (plotly paths such as ``"shapes[0].x0"``). :class:`Patches` holds one
``Patch`` per figure, by the figure's name (``"curves"``, ``"spectrum"``, ``"points"``,
``"overview"``), so that a step sends a message only to the figures it changes: the curves get a
relayout of their cursor, never a redraw of their traces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Patch:
    """New values for some traces (by index) and some layout properties (plotly paths).

    Every patched trace of one patch carries the same property names (``x`` and ``y``, say),
    because ``Plotly.update`` takes one list of values per property.

    Examples
    --------
    >>> import plotly.graph_objects as go
    >>> fig = go.Figure([go.Scatter(x=[0], y=[0])])
    >>> Patch({0: {"x": [1, 2], "y": [3, 4]}}, {"title.text": "step 2"}).apply(fig)
    >>> fig.data[0].y, fig.layout.title.text
    ((3, 4), 'step 2')
    """

    traces: dict[int, dict[str, Any]] = field(default_factory=dict)
    layout: dict[str, Any] = field(default_factory=dict)

    def update(self, other: Patch) -> Patch:
        """Merge ``other`` into this patch (its values win); returns ``self``."""
        for i, values in other.traces.items():
            self.traces.setdefault(i, {}).update(values)
        self.layout.update(other.layout)
        return self

    def restyle(self) -> tuple[dict[str, list], list[int]]:
        """``Plotly.restyle`` data (one list of values per property) and the trace indices."""
        order = sorted(self.traces)
        keys: list[str] = []
        for i in order:
            keys += [k for k in self.traces[i] if k not in keys]
        missing = [(i, k) for i in order for k in keys if k not in self.traces[i]]
        if missing:
            raise ValueError(
                f"every trace of a patch must set the same properties: trace "
                f"{missing[0][0]} lacks {missing[0][1]!r}"
            )
        return {k: [self.traces[i][k] for i in order] for k in keys}, order

    def apply(self, fig: Any) -> None:
        """Apply to a figure or figure widget as one ``Plotly.update`` (one message)."""
        if not self.traces and not self.layout:
            return
        data, order = self.restyle()
        fig.plotly_update(
            restyle_data=data if order else None,
            relayout_data=self.layout,
            trace_indexes=order or None,
        )


class Patches(dict):
    """One :class:`Patch` per figure name.

    Examples
    --------
    >>> p = Patches(points=Patch(layout={"title.text": "a"}))
    >>> p.update_with(Patches(points=Patch(layout={"title.text": "b"}), curves=Patch()))
    {'points': Patch(traces={}, layout={'title.text': 'b'}), 'curves': Patch(traces={}, layout={})}
    """

    def patch(self, name: str) -> Patch:
        """The patch of figure ``name`` (a new empty one if there is none yet)."""
        return self.setdefault(name, Patch())

    def update_with(self, other: Patches) -> Patches:
        """Merge ``other`` figure by figure; returns ``self``."""
        for name, patch in other.items():
            self.patch(name).update(patch)
        return self

    def apply(self, figures: dict[str, Any]) -> None:
        """Apply each figure's patch to the figure of that name in ``figures``."""
        for name, patch in self.items():
            if name in figures:
                patch.apply(figures[name])
