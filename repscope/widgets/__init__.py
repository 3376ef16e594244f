"""Jupyter widgets: scrub through checkpoints and watch the geometry move.

Needs the ``widgets`` extra (``pip install "repscope[widgets]"``: ipywidgets 8 and anywidget).
One front end (``static/scrubber.js``, an ES module built from ``js/src``) serves both hosts:

- :class:`Scrubber` — the widget: one run, a live run, or several runs compared.
- :func:`export_html` — the same view in one self-contained HTML file, no kernel needed;
  :func:`embed_html` — the same as a fragment for any page.
- :mod:`repscope.widgets.panels` — the panels both show, and how to add one.
"""

from __future__ import annotations

try:
    import anywidget  # noqa: F401
    import ipywidgets  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"repscope.widgets needs ipywidgets and anywidget ({err.name} is missing). Install them "
        'with: pip install "repscope[widgets]"'
    ) from err

from .curves import CurvesPanel, TrainingPanel
from .export import embed_html, export_html
from .overview import OverviewPanel
from .panels import PANELS, Panel, register_panel, unregister_panel
from .points import PointsPanel
from .scrubber import Scrubber
from .spectrum_panel import SpectrumPanel

# The built-in panels, in layout order (importing any module of this package runs this first).
for _panel in (OverviewPanel(), CurvesPanel(), TrainingPanel(), SpectrumPanel(), PointsPanel()):
    register_panel(_panel)
del _panel

__all__ = [
    "PANELS",
    "Panel",
    "Scrubber",
    "embed_html",
    "export_html",
    "register_panel",
    "unregister_panel",
]
