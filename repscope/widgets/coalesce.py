"""Coalescing fast events (a dragged slider) so that drawing never falls behind.

A slider dragged across 150 steps sends 150 value changes in a second or two. Drawing each one
would queue work behind the pointer; :class:`Coalescer` draws the first at once, then at most one
more per ``interval``, always the *latest* value asked for, so the final step is on screen within
``interval`` plus one draw of the last event.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

_NOTHING = object()


class Coalescer:
    """Call ``render(value)`` for the newest requested value, at most once per ``interval``.

    Parameters
    ----------
    render : callable
        Draws one value. Runs in the requesting thread, or in a timer thread for a deferred
        value; two renders never overlap.
    interval : float, default 0.15
        Seconds between renders while requests keep coming; ``0`` renders every request at once.

    Examples
    --------
    >>> seen = []
    >>> c = Coalescer(seen.append, interval=10.0)
    >>> for v in range(5):
    ...     c.request(v)
    >>> c.flush()
    >>> seen  # the first at once, then only the last
    [0, 4]
    """

    def __init__(self, render: Callable[[Any], None], interval: float = 0.15):
        self._render, self.interval = render, float(interval)
        self._lock = threading.Lock()
        self._drawing = threading.RLock()
        self._pending: Any = _NOTHING
        self._timer: threading.Timer | None = None
        self._last = -float("inf")
        self.requests = 0
        self.renders = 0

    def request(self, value: Any) -> None:
        """Ask for ``value`` to be drawn (replacing any value still waiting)."""
        with self._lock:
            self.requests += 1
            self._pending = value
            if self._timer is not None:
                return  # a deferred render is due; it will take this value
            wait = self._last + self.interval - time.perf_counter()
            if wait > 0:
                self._timer = threading.Timer(wait, self._fire)
                self._timer.daemon = True
                self._timer.start()
                return
        self._fire()

    def _fire(self) -> None:
        with self._drawing:
            with self._lock:
                value, self._pending, self._timer = self._pending, _NOTHING, None
                if value is _NOTHING:
                    return
                self._last = time.perf_counter()
            self._render(value)
            self.renders += 1

    def flush(self) -> None:
        """Draw the waiting value now, if any (and cancel its timer)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._fire()

    @property
    def idle(self) -> bool:
        """No value waiting to be drawn."""
        return self._pending is _NOTHING
