"""Jupyter widgets: scrub through checkpoints and watch the geometry move.

Needs the ``widgets`` extra (``pip install "repscope[widgets]"``: ipywidgets 8 and plotly >= 6,
whose ``FigureWidget`` renders through anywidget in JupyterLab 4, Notebook 7 and VS Code).

- :class:`Scrubber` — one run, a live run, or several runs compared on the same axes.
- :func:`export_html` — the same view as one self-contained HTML file, no kernel needed.
"""

from __future__ import annotations

try:
    import ipywidgets  # noqa: F401
    import plotly  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"repscope.widgets needs ipywidgets and plotly ({err.name} is missing). Install them "
        'with: pip install "repscope[widgets]"'
    ) from err

from .export import export_html
from .scrubber import Scrubber

__all__ = ["Scrubber", "export_html"]
