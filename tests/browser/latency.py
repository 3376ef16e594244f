"""Keypress-to-redraw latency of a widget slider, measured inside the page.

:func:`keypress_latencies` focuses a slider handle, then, ``n`` times: arms a listener in the
page, presses a key (``ArrowRight``) through Playwright, and waits until a text on the page (by
default the scrubber's points title) changes. The time is taken in the page
(the keydown event's ``timeStamp`` and ``performance.now()`` in a ``MutationObserver`` callback,
the same clock), so Playwright's round trips are not in it: it is the time from the browser
receiving the key to the DOM holding the new text, i.e. the front end's handling, the message to
the kernel, the kernel's work, the message back and the re-render. Paint is not included.
"""

from __future__ import annotations

from typing import Any

from .lab import PLOT_TITLE

SLIDER_HANDLE = ".widget-slider .noUi-handle"
"""CSS selector of an ipywidgets 8 slider's handle (noUiSlider)."""

# Arms the measurement: resolves window.__repscopeLatency with {ms, before, after} when the
# text at `selector` differs from what it is now, timed from the first `key` keydown after this.
_ARM_JS = """([selector, key, timeoutMs, afterFrame]) => {
    const text = () => {
        const el = document.querySelector(selector);
        return el ? el.textContent : null;
    };
    const before = text();
    window.__repscopeLatency = new Promise((resolve) => {
        let start = null;
        let observer = null;
        let timer = null;
        const onKey = (event) => {
            if (event.key === key && start === null) start = event.timeStamp;
        };
        const finish = (ms) => {
            window.removeEventListener('keydown', onKey, true);
            if (observer) observer.disconnect();
            clearTimeout(timer);
            resolve({ms, before, after: text()});
        };
        window.addEventListener('keydown', onKey, true);
        let changed = false;
        observer = new MutationObserver(() => {
            if (start === null || changed || text() === before) return;
            changed = true;
            if (!afterFrame) { finish(performance.now() - start); return; }
            // after the next frame has been produced (WebGL draws on animation frames)
            requestAnimationFrame(() => setTimeout(() => finish(performance.now() - start), 0));
        });
        observer.observe(document.body,
                         {subtree: true, childList: true, characterData: true});
        timer = setTimeout(() => finish(null), timeoutMs);
    });
    return before;
}"""

# Notes whether keydown events reach the focused element at all (a front end's keyboard
# shortcut can take them first, in the capture phase, and stop them).
_WATCH_TARGET_JS = """() => {
    window.__repscopeReached = false;
    const el = document.activeElement;
    if (el && !el.__repscopeWatched) {
        el.addEventListener('keydown', () => { window.__repscopeReached = true; }, true);
        el.__repscopeWatched = true;
    }
    return el ? el.className : null;
}"""


class NoRedraw(AssertionError):
    """A keypress did not change the watched text in time."""


class KeySwallowed(NoRedraw):
    """A keypress never reached the focused element: the page's keyboard shortcuts took it.

    Notebook 7 does this to ``ArrowLeft``/``ArrowRight`` on a focused widget in a notebook in
    command mode (its shortcut ``notebook:move-cursor-heading-below-or-expand`` is handled in the
    capture phase, before the widget; JupyterLab 4 handles shortcuts in the bubbling phase, after
    it): https://github.com/jupyter/notebook/issues/7716. An element with the attribute
    ``data-lm-suppress-shortcuts`` is exempt.
    """


def press_and_time(
    page: Any,
    *,
    selector: str = PLOT_TITLE,
    key: str = "ArrowRight",
    timeout: float = 30.0,
    after_frame: bool = False,
) -> float:
    """Press ``key`` once (on whatever has focus) and time the text at ``selector`` changing.

    Parameters
    ----------
    page : playwright.sync_api.Page
        The page; the element that should get the key must already have focus.
    selector : str
        CSS selector of the element whose ``textContent`` must change.
    key : str
        The key, as Playwright names it.
    timeout : float
        Seconds to wait for the change.
    after_frame : bool
        Stop the clock after the next animation frame following the change (and the tasks
        queued before it), not at the change itself: a WebGL plot draws on animation frames.

    Returns
    -------
    float
        Milliseconds from the keydown event to the changed text in the DOM (or to the frame
        after it).

    Raises
    ------
    KeySwallowed
        When the keydown never reached the focused element (raised at once).
    NoRedraw
        When the text did not change in time.
    """
    focused = page.evaluate(_WATCH_TARGET_JS)
    before = page.evaluate(_ARM_JS, [selector, key, int(timeout * 1000), after_frame])
    page.keyboard.press(key)
    # The key's events are dispatched by the time press() returns: a key that never reached the
    # focused element will not move anything, so say so now instead of after the timeout.
    if not page.evaluate("() => window.__repscopeReached"):
        raise KeySwallowed(
            f"{key} never reached the focused element ({focused!r}): a keyboard shortcut of "
            f"the page took it first (text stays {before!r})"
        )
    result = page.evaluate("() => window.__repscopeLatency")
    if result["ms"] is None:
        raise NoRedraw(
            f"{key} reached the focused element ({focused!r}) but did not change {selector!r} "
            f"within {timeout:.0f} s (text stayed {result['before']!r})"
        )
    return float(result["ms"])


def keypress_latencies(
    page: Any,
    n: int = 20,
    *,
    selector: str = PLOT_TITLE,
    handle: Any = None,
    key: str = "ArrowRight",
    warmup: int = 1,
    settle_ms: float = 100.0,
    timeout: float = 30.0,
    after_frame: bool = False,
) -> list[float]:
    """Milliseconds from each of ``n`` keypresses on a slider to the redrawn text.

    Parameters
    ----------
    page : playwright.sync_api.Page
        The page showing the slider and the text (e.g. a notebook that ran a ``Scrubber``).
    n : int
        Measured keypresses. The slider must have at least ``warmup + n`` positions to the
        right of where it is.
    selector : str
        CSS selector of the text that changes with each step (default: the points title).
    handle : playwright.sync_api.Locator, optional
        The slider handle to focus (clicked once before the first keypress); default: the
        first ipywidgets slider handle on the page (:data:`SLIDER_HANDLE`).
    key : str
        The key that moves the slider one step.
    warmup : int
        Keypresses before the measured ones (not returned).
    settle_ms : float
        Pause after each redraw before the next keypress, so that one step's late work (a
        coalesced redraw, the slider's readout) does not land in the next measurement.
    timeout : float
        Seconds to wait for each redraw.
    after_frame : bool
        As for :func:`press_and_time`.

    Returns
    -------
    list of float
        ``n`` latencies in milliseconds, in order.
    """
    if handle is None:
        handle = page.locator(SLIDER_HANDLE).first
    handle.click()
    times = []
    for i in range(warmup + n):
        ms = press_and_time(
            page, selector=selector, key=key, timeout=timeout, after_frame=after_frame
        )
        if i >= warmup:
            times.append(ms)
        page.wait_for_timeout(settle_ms)
    return times
