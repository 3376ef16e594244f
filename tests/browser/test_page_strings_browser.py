"""Stored strings in an exported page, in a real browser: shown exactly as stored, never markup,
never a template (issue 20, item 4). Skipped without Chromium or Playwright."""

from __future__ import annotations

import numpy as np
import pytest

from . import lab, view

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = lab.find_chromium()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium at /usr/bin/chromium or on PATH"),
]

RUN = "%{y}</script><img src=x onerror=alert(1)><!--"
LAYER = "h\x1b[2J\x07\u202e<!--</SCRIPT >.0"
LABEL = "%{x}<b>bold</b>"

# What the page shows of the strings: run captions, legend chips, layer options (their full
# names), the points panel's title, and any element a string could have become.
SHOWN_JS = """() => {
  const texts = (selector, read = (n) => n.textContent) =>
    [...document.querySelectorAll(selector)].map(read);
  return {
    captions: texts('.rs-run-caption'),
    chips: texts('.rs-chip'),
    options: texts('select.rs-layer option', (n) => n.title),
    title: texts('.rs-panel-points .rs-panel-title')[0],
    images: document.querySelectorAll('img, b').length,
  };
}"""


def test_run_layer_and_label_names_show_as_stored(tmp_path):
    from repscope.synthetic import synthetic_trajectory
    from repscope.widgets import export_html

    traj = synthetic_trajectory(n_steps=4, layers=(LAYER,), n_points=30, run=RUN)
    traj.probe.labels = np.array([LABEL, "plain"] * 15)
    other = synthetic_trajectory(n_steps=4, layers=(LAYER,), n_points=30, run="plain", seed=1)
    out = export_html({RUN: traj, "plain": other}, tmp_path / "page.html")
    with playwright_sync.sync_playwright() as playwright:
        browser = lab.launch_chromium(playwright, executable_path=CHROMIUM)
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(out.as_uri(), wait_until="load")
            view.wait_drawn(page)
            shown = page.evaluate(SHOWN_JS)
        finally:
            browser.close()
    assert shown["captions"] == [RUN, "plain"]
    assert f"{RUN} (left)" in shown["chips"] and LABEL in shown["chips"]
    assert shown["options"] == [LAYER]
    assert shown["title"].endswith(f"layer {LAYER}")
    assert shown["images"] == 0 and not dialogs
