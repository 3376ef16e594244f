"""Keep a notebook's keyboard shortcuts off the scrubber's sliders.

Notebook 7 handles its command-mode shortcuts before a focused widget sees the key, so the arrow
keys on a slider handle move the notebook's cursor instead of the slider
(https://github.com/jupyter/notebook/issues/7716). Lumino skips shortcuts for an element marked
``data-lm-suppress-shortcuts``; ipywidgets cannot set that attribute from Python, so this
invisible anywidget sets it on every slider handle inside the widget box it sits in (and on
handles drawn later). In JupyterLab, which already lets the widget have the key first, it changes
nothing.
"""

from __future__ import annotations

import anywidget

_ESM = """
function mark(root) {
  for (const handle of root.querySelectorAll(".noUi-handle, input[type=range]")) {
    handle.setAttribute("data-lm-suppress-shortcuts", "true");
  }
}
function render({ el }) {
  el.style.display = "none";
  let observer = null;
  // A view is drawn before it is put in the page: wait until it is, then take the box it is in.
  const attach = () => {
    if (!el.isConnected) { requestAnimationFrame(attach); return; }
    const root = el.closest(".widget-box") || el.parentElement;
    mark(root);
    observer = new MutationObserver(() => mark(root));
    observer.observe(root, { childList: true, subtree: true });
  };
  attach();
  return () => { if (observer) observer.disconnect(); };
}
export default { render };
"""


class ShortcutGuard(anywidget.AnyWidget):
    """An invisible widget: put it in a box, and the box's sliders keep their arrow keys."""

    _esm = _ESM
