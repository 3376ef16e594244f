"""Reading the scrubber's view in a page: what each panel drew, at what size, and its text.

Shared by the browser tests and ``benchmarks/widgets_browser.py``. Every function takes a
Playwright page and works the same in JupyterLab, Notebook 7 and an exported page (one front
end: ``js/src``).
"""

from __future__ import annotations

import time
from typing import Any

ROOT = ".repscope"

# Each visible panel of each view: its box width and the width of what it drew (its widest
# svg or canvas), in CSS pixels.
_WIDTHS_JS = """() => Array.from(document.querySelectorAll('.repscope')).map((root) =>
  Array.from(root.querySelectorAll('.rs-panel')).filter((p) => p.style.display !== 'none')
    .map((p) => {
      const drawn = Array.from(p.querySelectorAll('svg, canvas'))
        .filter((n) => !n.closest('.rs-tooltip'))
        .map((n) => n.getBoundingClientRect().width);
      return {name: p.dataset.panel, box: p.getBoundingClientRect().width,
              drawn: drawn.length ? Math.max(...drawn) : 0};
    }))"""

# Painted pixels (alpha > 0) of each view's points canvas.
_POINT_PIXELS_JS = """() => Array.from(document.querySelectorAll('.repscope .rs-points-canvas'))
  .map((c) => {
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n += 1;
    return n;
  })"""


def wait_drawn(page: Any, *, count: int = 1, timeout: float = 60.0) -> None:
    """Wait until ``count`` views have drawn their points panel."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = page.locator(f"{ROOT} .rs-panel-points[data-drawn]").count()
        if n >= count:
            return
        page.wait_for_timeout(100)
    raise TimeoutError(f"{count} view(s) drawn: waited {timeout:.0f} s, {n} drawn")


def widths(page: Any) -> list[list[dict[str, Any]]]:
    """Per view, per visible panel: ``{"name", "box", "drawn"}`` widths in CSS pixels."""
    return page.evaluate(_WIDTHS_JS)


def point_pixels(page: Any) -> list[int]:
    """Per view: the painted pixels of its points canvas."""
    return page.evaluate(_POINT_PIXELS_JS)


def state(page: Any, index: int = 0) -> dict[str, str]:
    """The step and layer a view shows (its root's data attributes)."""
    return page.evaluate(
        "(i) => { const r = document.querySelectorAll('.repscope')[i];"
        " return {step: r.dataset.step, layer: r.dataset.layer}; }",
        index,
    )


def wait_state(
    page: Any, *, step: Any = None, layer: str | None = None, index: int = 0, timeout: float = 20.0
) -> dict[str, str]:
    """Wait until view ``index`` shows ``step`` (and ``layer``)."""
    deadline = time.monotonic() + timeout
    now: dict[str, str] = {}
    while time.monotonic() < deadline:
        now = state(page, index)
        if (step is None or now.get("step") == str(step)) and (
            layer is None or now.get("layer") == layer
        ):
            return now
        page.wait_for_timeout(50)
    raise TimeoutError(f"view {index}: waited for step {step} layer {layer}; shows {now}")


def tick_labels(page: Any, panel: str, axis: str = "x", index: int = 0) -> list[str]:
    """The tick labels a panel drew on its ``"x"`` or ``"y"`` axes (in document order)."""
    return page.evaluate(
        "([panel, axis, i]) => Array.from(document.querySelectorAll('.repscope')[i]"
        ".querySelectorAll('.rs-panel-' + panel + ' .rs-' + axis + '-tick'))"
        ".map((t) => t.textContent)",
        [panel, axis, index],
    )


def text(page: Any, selector: str, index: int = 0) -> str:
    """The text of the first element matching ``selector`` inside view ``index``."""
    return page.evaluate(
        "([s, i]) => { const n = document.querySelectorAll('.repscope')[i].querySelector(s);"
        " return n ? n.textContent : null; }",
        [selector, index],
    )


def wait_text(page: Any, selector: str, pattern: str, index: int = 0, timeout: float = 10.0) -> str:
    """Wait until the text at ``selector`` in view ``index`` matches the regular expression."""
    import re

    deadline = time.monotonic() + timeout
    now = None
    while time.monotonic() < deadline:
        now = text(page, selector, index)
        if now is not None and re.search(pattern, now):
            return now
        page.wait_for_timeout(50)
    raise TimeoutError(f"{selector}: waited for {pattern!r}; shows {now!r}")


# Texts a view cuts off: svg text outside its svg, html text that overflows its box or the
# view's root (tooltips and the options of a <select> are not shown text).
_CLIPPED_JS = """(i) => {
  const root = document.querySelectorAll('.repscope')[i];
  const rb = root.getBoundingClientRect();
  const out = [];
  const outside = (b, s) => b.left < s.left - 1 || b.right > s.right + 1
    || b.top < s.top - 1 || b.bottom > s.bottom + 1;
  for (const t of root.querySelectorAll('svg text')) {
    const b = t.getBoundingClientRect();
    if (!t.textContent.trim() || b.width === 0 || t.closest('.rs-tooltip')) continue;
    if (outside(b, t.ownerSVGElement.getBoundingClientRect())) out.push('svg: ' + t.textContent);
  }
  for (const el of root.querySelectorAll('*')) {
    if (el.closest('svg') || el.closest('.rs-tooltip') || el.closest('select')) continue;
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    const b = el.getBoundingClientRect();
    if (!own || b.width === 0 || getComputedStyle(el).visibility === 'hidden') continue;
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
      out.push('overflows: ' + el.textContent.trim().slice(0, 80));
    else if (b.right > rb.right + 1 || b.left < rb.left - 1)
      out.push('outside the view: ' + el.textContent.trim().slice(0, 80));
  }
  return out;
}"""

# Per visible panel of a view: how many marks it drew (svg shapes with a size, painted canvas
# pixels), so that an empty panel is told from one with content.
_MARKS_JS = """(i) => Object.fromEntries(Array.from(document.querySelectorAll('.repscope')[i]
  .querySelectorAll('.rs-panel')).filter((p) => p.style.display !== 'none').map((p) => {
    let n = 0;
    for (const s of p.querySelectorAll('path, circle, rect, polyline, line')) {
      if (s.closest('.rs-tooltip') || s.closest('defs')) continue;
      const d = s.getAttribute('d');
      if (s.tagName === 'path' && (!d || d.length < 8)) continue;
      const b = s.getBoundingClientRect();
      if (b.width > 0 || b.height > 0) n += 1;
    }
    for (const c of p.querySelectorAll('canvas')) {
      const ctx = c.getContext('2d');
      if (!ctx) continue;
      const data = ctx.getImageData(0, 0, c.width, c.height).data;
      for (let k = 3; k < data.length; k += 4) if (data[k] > 0) { n += 1; if (n > 1e4) break; }
    }
    return [p.dataset.panel, n];
  }))"""


def clipped(page: Any, index: int = 0) -> list[str]:
    """The texts view ``index`` cuts off (empty when every label is shown whole)."""
    return page.evaluate(_CLIPPED_JS, index)


def marks(page: Any, index: int = 0) -> dict[str, int]:
    """``{panel: marks drawn}`` of view ``index``'s visible panels."""
    return page.evaluate(_MARKS_JS, index)


# Rows whose title and readout (one line above each curve) overlap on screen.
_OVERLAPS_JS = """(i) => {
  const root = document.querySelectorAll('.repscope')[i];
  const titles = Array.from(root.querySelectorAll('.rs-row-title'));
  const readouts = Array.from(root.querySelectorAll('.rs-readout'));
  const out = [];
  for (const t of titles) {
    const a = t.getBoundingClientRect();
    for (const r of readouts) {
      const b = r.getBoundingClientRect();
      const sameLine = Math.abs(a.top - b.top) < 4;
      if (a.width && b.width && sameLine && a.right > b.left && b.right > a.left)
        out.push(t.textContent + ' | ' + r.textContent);
    }
  }
  return out;
}"""


def overlapping_titles(page: Any, index: int = 0) -> list[str]:
    """``"title | readout"`` of each curve row of view ``index`` whose two texts overlap."""
    return page.evaluate(_OVERLAPS_JS, index)
