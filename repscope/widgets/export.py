"""The scrubber as a web page: the widget's own front end on data recorded in the page.

:func:`export_html` writes one self-contained file; :func:`embed_html` returns the same view as
an HTML fragment to put in any page (several on one page share one copy of the module and one
WebGL context). The page holds the front-end module (``static/scrubber.js``, the file the widget
loads), the view's state, and every answer the widget's kernel would give (:class:`~.feed.Feed`:
the runs, each layer, each block of steps, float32 buffers in base64). A small ``StaticModel``
answers the module's requests from that recording, so the page *is* the widget: layer and measure
pickers, arrow keys, play, the overview's click and the lasso selection, with no kernel and no
network. Everything is embedded as JSON with ``<``, ``>`` and ``&`` escaped, and the module writes
user strings only as text, so no run, layer, label or text name can become markup.

A page is written only where :func:`~.page_file.check_page_path` allows: a new file or a page
repscope exported (its head carries ``<meta name="generator" content="repscope …">``); never a
store or the file it is exported from; another HTML page only with ``overwrite=True``.
"""

from __future__ import annotations

import functools
import html
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._validation import fail
from .data import (
    PHASE_MEASURES,
    RunData,
    as_runs,
    check_phase_measures,
    curve_names,
    default_curves,
)
from .feed import MAX_POINTS, Feed
from .page_file import GENERATOR, check_page_path
from .panels import Panel, panels_for
from .protocol import ESM, script_json, to_page

#: A page above this many bytes of data is refused (pass fewer ``layers`` or ``max_points``).
MAX_PAGE_BYTES = 400 * 2**20

_LOADER = """
(async () => {
  const holder = globalThis;
  if (!holder.__repscopeModule) {
    const source = JSON.parse(document.querySelector("script.repscope-esm").textContent);
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    holder.__repscopeModule = import(url);
  }
  const module = await holder.__repscopeModule;
  for (const el of document.querySelectorAll("div.repscope-view:not([data-mounted])")) {
    el.dataset.mounted = "true";
    const data = document.getElementById("repscope-data-" + el.dataset.view);
    const page = JSON.parse(data.textContent);
    module.mountStatic(el, page);
  }
  document.documentElement.dataset.repscopeReady = "true";
})();
"""


def record(
    trajectory: Any,
    *,
    layer: str | None = None,
    measures: Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    max_points: int | None = MAX_POINTS,
    panels: Sequence[Panel] | None = None,
    phase_measures: Sequence[str] = PHASE_MEASURES,
    func: str = "export_html",
    arguments: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The state and every message a page needs (what :func:`export_html` embeds).

    ``func`` and ``arguments`` (``{"layer": "--layer"}``) say how errors name the caller and
    its arguments (the command line names its options)."""

    def arg(name: str) -> str:
        return (arguments or {}).get(name, name)

    pairs = as_runs(trajectory, func)
    runs = [RunData(t, n) for t, n in pairs]
    pair = check_phase_measures(phase_measures, runs, func, arg("phase_measures"))
    if pair != PHASE_MEASURES:
        runs = [RunData(t, n, phase_measures=pair) for t, n in pairs]
    every = [name for run in runs for name in run.layers]
    steps = sorted({int(s) for run in runs for s in run.steps})
    if not every:
        fail(
            arg("trajectory"),
            func,
            "a trajectory with at least one measured layer",
            f"{len(steps)} step(s) and no measured layer (empty, or every checkpoint failed)",
        )
    if layers is not None:
        unknown = [name for name in layers if name not in every]
        if unknown or isinstance(layers, str) or not layers:
            fail(
                arg("layers"),
                func,
                f"a non-empty list of measured layers from {sorted(set(every))}",
                repr(layers),
            )
    chosen_layers = list(layers) if layers is not None else list(dict.fromkeys(every))
    if layer is None:
        layer = chosen_layers[-1]
    elif layer not in chosen_layers:
        fail(arg("layer"), func, f"one of the layers exported {chosen_layers}", repr(layer))
    available = curve_names(runs)
    if measures is None:
        measures = default_curves(available)
    elif isinstance(measures, str) or [m for m in measures if m not in available]:
        fail(
            arg("measures"),
            func,
            f"a list of stored measures or training scalars, from {available}",
            repr(measures),
        )
    feed = Feed(runs, panels_for(runs) if panels is None else list(panels), max_points=max_points)
    plan = [(r, name) for r, run in enumerate(runs) for name in chosen_layers if name in run.layers]
    estimate = sum(
        len(run.steps) * sum(p.step_bytes(run, name, feed) for p in feed.panels)
        for run, name in ((runs[r], name) for r, name in plan)
    )
    if estimate > MAX_PAGE_BYTES:
        fail(
            arg("layers"),
            func,
            f"fewer layers or points: the page would hold about {estimate / 2**20:,.0f} MB of "
            f"data (the limit is {MAX_PAGE_BYTES / 2**20:,.0f} MB); pass layers=[...] or a "
            "smaller max_points",
            f"{len(chosen_layers)} layer(s)",
        )
    messages = [feed.runs_message()]
    for r, name in plan:
        messages.append(feed.layer_message(r, name))
        _, count = feed.blocks(r, name)
        messages += [feed.block_message(r, name, b) for b in range(count)]
    state = {
        "step": steps[0],
        "layer": layer,
        "measures": list(measures),
        "selected": [],
        "playing": False,
    }
    return {"state": state, "messages": messages, "title": " · ".join(r.name for r in runs)}


def embed_html(trajectory: Any, **options: Any) -> str:
    """The scrubber's view as an HTML fragment for any page (no kernel, no network).

    Takes the arguments of :func:`export_html` but ``path``. Several fragments may sit on one
    page: the module loads once and every view draws its points through one WebGL context.

    Returns
    -------
    str
    """
    return _fragment(record(trajectory, func="embed_html", **options))


def _fragment(recorded: dict[str, Any]) -> str:
    view = uuid.uuid4().hex[:12]
    page = {"state": recorded["state"], "messages": [to_page(m) for m in recorded["messages"]]}
    return (
        f'<div class="repscope-view" data-view="{view}"></div>\n'
        f'<script type="application/json" id="repscope-data-{view}">{script_json(page)}</script>\n'
        '<script type="application/json" class="repscope-esm">'
        f"{script_json(ESM.read_text('utf-8'))}</script>\n"
        f'<script type="module">{_LOADER}</script>\n'
    )


def export_html(
    trajectory: Any,
    path: str | Path,
    *,
    layer: str | None = None,
    measures: Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    max_points: int | None = MAX_POINTS,
    panels: Sequence[Panel] | None = None,
    phase_measures: Sequence[str] = PHASE_MEASURES,
    overwrite: bool = False,
) -> Path:
    """Write the scrubber's view as one standalone HTML file.

    The page is the widget (the same front-end module, the same data): the overview, the
    curves with their phases, the training scalars, the spectrum and the points (WebGL), with the
    step slider, play/pause, the arrow keys, the layer and measure pickers, the overview's click
    and the lasso selection. It works offline in any browser, with no kernel.

    Parameters
    ----------
    trajectory : Trajectory, LiveRun, a store's path, or a list / dict of them
        As for :class:`~repscope.widgets.Scrubber` (``"run.sqlite"``: every run in it).
    path : str or Path
        The file to write: a new file, or a page repscope exported (replaced). Never a store
        (any SQLite file), the store the page is read from, a folder, or an existing file that
        is not an HTML page; another HTML page only with ``overwrite=True``.
    layer : str, optional
        The layer shown first (default: the last one).
    measures : sequence of str, optional
        The curves shown first (default: RankMe, α-ReQ, DSE and the loss, those stored); every
        stored one can be picked in the page.
    layers : sequence of str, optional
        The layers the page holds (default: all). The page holds every step of every layer, so
        its size is about ``steps × layers × (8 × points + 4 × eigenvalues)`` bytes, times 4/3.
    max_points : int or None, default 20000
        As for :class:`~repscope.widgets.Scrubber`.
    panels : sequence of Panel, optional
        As for :class:`~repscope.widgets.Scrubber`.
    phase_measures : (str, str), default ("effective_rank", "alpha")
        As for :class:`~repscope.widgets.Scrubber`: the measures the shaded phases are read
        from.
    overwrite : bool, default False
        Replace an existing HTML page that repscope did not export.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        ``path`` is a file a page may not replace (the message says what it is); checked
        before anything is recorded.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from repscope.synthetic import synthetic_trajectory
    >>> from repscope.widgets import export_html
    >>> out = export_html(synthetic_trajectory(n_steps=4, n_points=30),
    ...                   pathlib.Path(tempfile.mkdtemp()) / "scrub.html")
    >>> from repscope.widgets.export import read_page
    >>> [m["type"] for m in read_page(out)["messages"]][:3]
    ['runs', 'layer', 'block']
    """
    check = functools.partial(
        check_page_path, path, overwrite=overwrite, inputs=_inputs(trajectory)
    )
    check()  # before the work of recording, and again before writing
    recorded = record(
        trajectory,
        layer=layer,
        measures=measures,
        layers=layers,
        max_points=max_points,
        panels=panels,
        phase_measures=phase_measures,
    )
    return write_page(recorded, check())


def write_page(recorded: dict[str, Any], path: Path) -> Path:
    """Write what :func:`record` recorded as a standalone page at ``path`` (a path that
    :func:`~.page_file.check_page_path` allowed); its head carries the generator tag."""
    from .. import __version__

    title = recorded["title"]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'{GENERATOR} {html.escape(__version__)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>repscope: {html.escape(title, quote=False)}</title>\n"
        "<style>body { margin: 12px; font-family: system-ui, sans-serif; }</style>\n"
        f"</head>\n<body>\n{_fragment(recorded)}</body>\n</html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _inputs(trajectory: Any) -> list[str]:
    """The store files a page would be read from (a page never replaces one)."""
    from ..live import LiveRun

    items = trajectory
    if isinstance(trajectory, Mapping):
        items = list(trajectory.values())
    elif isinstance(trajectory, (str, Path)) or not isinstance(trajectory, Sequence):
        items = [trajectory]
    found = []
    for item in items:
        if isinstance(item, (str, Path)):
            found.append(str(item))
            continue
        if isinstance(item, LiveRun):
            item = item.trajectory
        stored = getattr(getattr(item, "store", None), "path", None)  # a Trajectory's, a catalog's
        if stored is not None and stored != ":memory:":
            found.append(str(stored))
    return found


def read_page(path: str | Path) -> dict[str, Any]:
    """What an exported page (or fragment) holds: its state and its messages, decoded (numpy
    arrays back in place). For tests and tools."""
    import json
    import re

    from .protocol import from_page, unpack

    text = Path(path).read_text("utf-8") if not str(path).lstrip().startswith("<") else str(path)
    found = re.search(r'id="repscope-data-[0-9a-f]+">(.*?)</script>', text, re.S)
    if found is None:
        raise ValueError(f"no repscope view in {str(path)[:80]!r}")
    page = json.loads(found.group(1))
    return {
        "state": page["state"],
        "messages": [unpack(*from_page(m)) for m in page["messages"]],
    }
