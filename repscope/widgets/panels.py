"""Panels: the parts of the scrubber, behind one interface that the widget and the page share.

A :class:`Panel` says which front-end *drawer* shows it (``"lines"``, ``"overview"``,
``"spectrum"``, ``"points"``, or one it brings itself as an ES module in :attr:`Panel.esm`) and
what data it needs, at three levels:

- :meth:`Panel.run_data` — once per run (label colours, training scalars);
- :meth:`Panel.layer_data` — once per run and layer (axis ranges, phases);
- :meth:`Panel.step_data` — per step, sent in blocks of consecutive steps (spectra, points).

The front end holds what it was sent and draws a step from it without asking the kernel again.
:data:`PANELS` holds the panels in the order they are laid out; :func:`register_panel` adds one,
and both the widget (:class:`~repscope.widgets.Scrubber`) and the exported page
(:func:`~repscope.widgets.export_html`) show it. ``CONTRIBUTING.md`` walks through adding one.

Examples
--------
>>> [p.name for p in PANELS.values()]
['overview', 'curves', 'training', 'spectrum', 'points']
>>> PANELS["spectrum"].spec()["drawer"], PANELS["spectrum"].spec()["width"]
('spectrum', 0.4)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .data import RunData
    from .feed import Feed


class Panel:
    """One panel of the scrubber.

    Parameters
    ----------
    name : str
        Unique; also the key of its data in every message.
    drawer : str
        The front end's drawer that shows it: ``"lines"`` (curves over steps; ``options["source"]``
        is ``"measures"``, ``"scalars"`` or ``"series"``: a list of ``{"name", "label", "steps",
        "values"}`` that :meth:`run_data` returns under ``"series"``), ``"overview"``,
        ``"spectrum"`` or ``"points"``.
    title : str, optional
        Shown above the panel.
    width : float, default 1.0
        Its share of a row (the spectrum takes 0.4 and the points 0.6 of theirs).
    options : dict, optional
        JSON handed to the drawer.
    esm : str, optional
        The source of an ES module whose default export is the panel's own drawer,
        ``create(box, spec, view) -> {draw(frame, changed), destroy()}`` (see
        ``js/src/panels/lines.js`` for one).

    Subclasses override the data methods they need; each returns a dict of JSON values and
    numpy arrays (float32, float64, int32 or uint8), or ``None`` for nothing.
    """

    def __init__(
        self,
        name: str,
        drawer: str,
        *,
        title: str = "",
        width: float = 1.0,
        options: dict[str, Any] | None = None,
        esm: str | None = None,
    ):
        self.name, self.drawer, self.title, self.width = name, drawer, title, float(width)
        self.options = dict(options or {})
        self.esm = esm

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} drawn by {self.drawer!r}>"

    def applies(self, runs: list[RunData]) -> bool:
        """Whether the panel has anything to show for these runs (default: yes)."""
        return True

    def run_data(self, run: RunData, feed: Feed) -> dict[str, Any] | None:
        """What the panel needs of ``run`` whatever the layer and step."""
        return None

    def layer_data(self, run: RunData, layer: str, feed: Feed) -> dict[str, Any] | None:
        """What it needs of ``run`` at ``layer`` whatever the step."""
        return None

    def step_data(
        self, run: RunData, layer: str, positions: np.ndarray, feed: Feed
    ) -> dict[str, Any] | None:
        """Per-step arrays for the steps at ``positions`` (indices into ``run.steps``): every
        array's first axis runs over ``positions``."""
        return None

    def step_bytes(self, run: RunData, layer: str, feed: Feed) -> int:
        """Bytes of :meth:`step_data` for one step (the size of the blocks of steps)."""
        return 0

    def notes(self, run: RunData, layer: str, feed: Feed) -> list[str]:
        """Sentences to show above the panels while ``layer`` is shown (why something is
        missing)."""
        return []

    def spec(self) -> dict[str, Any]:
        """How the front end lays it out and which drawer it uses."""
        return {
            "name": self.name,
            "drawer": self.drawer,
            "title": self.title,
            "width": self.width,
            "options": self.options,
            "esm": self.esm,
        }


#: The registered panels, in layout order.
PANELS: dict[str, Panel] = {}


def register_panel(panel: Panel, *, before: str | None = None) -> Panel:
    """Add ``panel`` to :data:`PANELS` (at the end, or before the panel named ``before``)."""
    if not isinstance(panel, Panel):
        raise TypeError(f"register_panel takes a Panel; got {type(panel).__name__}")
    if panel.name in PANELS:
        raise ValueError(f"a panel named {panel.name!r} is already registered")
    if before is not None and before not in PANELS:
        raise ValueError(f"no panel named {before!r} to insert before; have {list(PANELS)}")
    items = list(PANELS.items())
    at = len(items) if before is None else [k for k, _ in items].index(before)
    items.insert(at, (panel.name, panel))
    PANELS.clear()
    PANELS.update(items)
    return panel


def unregister_panel(name: str) -> Panel:
    """Remove the panel named ``name`` from :data:`PANELS` and return it."""
    return PANELS.pop(name)


def panels_for(runs: list[RunData], names: Iterable[str] | None = None) -> list[Panel]:
    """The registered panels that apply to ``runs`` (only those in ``names``, if given)."""
    chosen = list(PANELS.values()) if names is None else [PANELS[n] for n in names]
    return [p for p in chosen if p.applies(runs)]
