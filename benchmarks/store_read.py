"""Reading a big run back: a store of 154 checkpoints × 24 layers with points for 2000 inputs.

Times, in one run, on a store written here with the real Store (Pythia's 154 revisions, a
24-layer model, 2000 probe inputs, 64 eigenvalues per spectrum):

- ``scrubber``: ``Scrubber("run.sqlite")`` from the path to the first display, kernel side (open
  the store, read the results, then answer the front end's first message up to the data it
  draws: the runs, the layer shown, the block of its first step). Goal < 1 s.
- ``first_read``: ``repscope.open(path).trajectory()`` then ``.metrics``, ``.layers`` and one
  ``.curve`` (the first read decodes every record, without points).
- ``repeat_read``: the same three again on the same trajectory (cached: one cheap version query).
- ``baseline``: what each of those calls cost before they were cached: decoding every record
  with its points (``store.records(points=True)``), once per call.

Prints JSON; ``--out`` also writes it.

    python benchmarks/store_read.py [--steps 154] [--layers 24] [--points 2000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import emit, log, machine_info


def build_store(path: Path, steps: list[int], layers: int, points: int, seed: int = 0) -> None:
    from repscope import Probe
    from repscope.config import MeasureConfig
    from repscope.store import Record, Store

    rng = np.random.default_rng(seed)
    probe = Probe(rng.normal(size=(points, 4)), layers=[f"layers.{i}" for i in range(layers)])
    key = {"probe": probe.fingerprint(), "params": MeasureConfig(fit_range=(2, 40)).key()}
    store = Store(path)
    store.describe_run("pythia-like", {"kind": "synthetic", "identity": "benchmark"})
    store.describe_probe(key["probe"], probe.describe())
    for i, step in enumerate(steps):
        records = []
        for j in range(layers):
            spectrum = np.sort(rng.dirichlet(np.ones(64)))[::-1]
            measures = {
                "effective_rank": float(rng.uniform(5, 50)),
                "alpha": float(rng.uniform(0.5, 2)),
                "alpha_r2": 0.99,
                "alpha_fit_first": 2.0,
                "alpha_fit_last": 40.0,
                "participation_ratio": 3.0,
                "stable_rank": 2.0,
                "numerical_rank": 64.0,
            }
            records.append(
                Record(
                    run="pythia-like",
                    checkpoint=f"sha:{i}",
                    layer=f"layers.{j}",
                    step=step,
                    measures=measures,
                    spectrum=spectrum,
                    points=rng.normal(size=(points, 2)).astype(np.float32),
                    **key,
                )
            )
        store.put_checkpoint(records)
        store.put_scalars("pythia-like", step, {"loss": 10 / (1 + np.log1p(step))})
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=154)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()

    import repscope
    from repscope.sources.hub import PYTHIA_STEPS
    from repscope.store import Store
    from repscope.widgets import Scrubber

    steps = (
        list(PYTHIA_STEPS[: args.steps])
        if args.steps <= len(PYTHIA_STEPS)
        else list(range(args.steps))
    )
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.sqlite"
        start = time.perf_counter()
        build_store(path, steps, args.layers, args.points)
        log(f"wrote {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - start:.1f} s")
        times: dict[str, list[float]] = {
            k: [] for k in ("scrubber", "first_read", "repeat_read", "baseline_read")
        }
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            scrubber = Scrubber(str(path))
            sent: list[str] = []
            first: list[float] = []

            def send(content, buffers=None, sent=sent, first=first):
                sent.append(content["type"])
                if len(sent) == 3:  # runs, layer, block: the view can draw
                    first.append(time.perf_counter())

            scrubber.send = send
            scrubber._on_msg(scrubber, {"type": "hello"}, [])
            times["scrubber"].append(first[0] - t0)
            assert sent[:3] == ["runs", "layer", "block"] and len(scrubber.steps) == len(steps)
            scrubber.close()

            t0 = time.perf_counter()
            traj = repscope.open(path).trajectory()
            metrics, layers = traj.metrics, traj.layers
            traj.curve("effective_rank", layers[-1])
            times["first_read"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            traj.metrics, traj.layers, traj.curve("effective_rank", layers[-1])
            times["repeat_read"].append(time.perf_counter() - t0)

            store = Store(path)
            t0 = time.perf_counter()
            for _call in range(3):  # .metrics, .layers, .curve each decoded every record
                everything = list(store.records(run="pythia-like", **traj.key()))
            times["baseline_read"].append(time.perf_counter() - t0)
            store.close()
            assert len(everything) == len(steps) * args.layers == len(metrics) // 8
    best = {k: round(min(v), 4) for k, v in times.items()}
    emit(
        {
            "benchmark": "store_read",
            "store": {"steps": len(steps), "layers": args.layers, "points": args.points},
            "seconds_best": best,
            "seconds_all": {k: [round(x, 4) for x in v] for k, v in times.items()},
            "scrubber_under_1s": best["scrubber"] < 1.0,
            "ratio_baseline_over_first_read": round(best["baseline_read"] / best["first_read"], 2),
            "ratio_baseline_over_repeat_read": round(
                best["baseline_read"] / best["repeat_read"], 1
            ),
            "load_average": {"start": load, "end": os.getloadavg()},
            "machine": machine_info(),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
