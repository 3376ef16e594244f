"""The coalescer draws the newest value, never more than once per interval, and never twice at
once."""

import itertools
import threading
import time

from repscope.widgets.coalesce import Coalescer


def test_interval_zero_draws_every_request():
    seen = []
    c = Coalescer(seen.append, interval=0)
    for v in range(5):
        c.request(v)
    assert seen == [0, 1, 2, 3, 4]


def test_a_burst_draws_the_first_and_then_the_last():
    seen = []
    c = Coalescer(seen.append, interval=0.2)
    for v in range(100):
        c.request(v)
    assert seen == [0]
    deadline = time.time() + 5
    while len(seen) < 2 and time.time() < deadline:
        time.sleep(0.01)
    assert seen == [0, 99] and c.idle


def test_a_steady_stream_is_drawn_at_most_once_per_interval_and_ends_on_the_last_value():
    seen, starts, active, overlaps = [], [], [0], [0]

    def render(v):
        active[0] += 1
        overlaps[0] = max(overlaps[0], active[0])
        starts.append(time.perf_counter())
        time.sleep(0.003)
        seen.append(v)
        active[0] -= 1

    c = Coalescer(render, interval=0.05)
    for v in range(60):  # one event every 5 ms for 0.3 s
        c.request(v)
        time.sleep(0.005)
    c.flush()
    assert seen[-1] == 59 and overlaps[0] == 1
    assert len(seen) <= 0.3 / 0.05 + 3
    gaps = [b - a for a, b in itertools.pairwise(starts[:-1])]  # all but the flush
    assert min(gaps) >= 0.045


def test_requests_from_many_threads_end_on_a_requested_value():
    seen = []
    c = Coalescer(seen.append, interval=0.01)
    threads = [
        threading.Thread(target=lambda k=k: [c.request((k, i)) for i in range(50)])
        for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.flush()
    assert seen[-1][1] == 49 and c.idle
