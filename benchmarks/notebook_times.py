"""How long each class notebook (01-05) takes, top to bottom, at each size: the figures the
notebooks' first cells and the README quote.

Each notebook runs on a fresh kernel of this Python with nbclient, as a student's "Run All"
does, with its ``SIZE`` cell set to ``"small"`` and to ``"full"`` (01 has no size). Printed as
JSON: per notebook and size the wall time of the whole notebook, of its slowest cell, and the
kernel's peak memory; ``small_over_full`` is the ratio of the two sizes' times. Run it on an
otherwise idle machine: the figures are meant for planning a class.

    python benchmarks/notebook_times.py --out benchmarks/results/notebook_times.json
    python benchmarks/notebook_times.py --notebooks 03 --sizes small
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import emit_report, log

from tests.notebook_run import CLASS, execute, size_cell, texts, with_size

PEAK = (
    "import resource\n"
    "print('PEAK_RSS_MB', round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))"
)


def time_notebook(path: Path, size: str | None) -> dict:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if size is not None:
        with_size(nb, size)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        cells = execute(nb, Path(folder), timeout=1800)
        total = time.perf_counter() - start
    peak = re.search(r"PEAK_RSS_MB (\d+)", "".join(texts(nb.cells[-1].outputs)))
    return {
        "notebook": path.stem,
        "size": size or "only",
        "seconds": round(total, 1),
        "slowest_cell_seconds": round(max(cells.values()), 1),
        "peak_rss_mb": int(peak.group(1)) if peak else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", default="01,02,03,04,05", help="prefixes, e.g. 03,04")
    parser.add_argument("--sizes", default="small,full")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    wanted = args.notebooks.split(",")
    sizes = args.sizes.split(",")
    load = os.getloadavg()
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.pop("REPSCOPE_DEMO_SIZE", None)  # the SIZE cell decides
    records = []
    for path in CLASS:
        if path.stem[:2] not in wanted:
            continue
        import nbformat

        has_size = size_cell(nbformat.read(path, as_version=4)) is not None
        for size in sizes if has_size else [None]:
            log(f"{path.stem} at {size or 'its only'} size …")
            record = time_notebook(path, size)
            log(f"  {record['seconds']} s")
            records.append({**record, "pass": True})
    for r in records:
        full = [x for x in records if x["notebook"] == r["notebook"] and x["size"] == "full"]
        if r["size"] == "small" and full:
            r["small_over_full"] = round(r["seconds"] / full[0]["seconds"], 3)
    emit_report(
        {"benchmark": "notebook_times", "cores": os.cpu_count()},
        records=records,
        notes=[
            "Wall time of Run All on a fresh kernel (kernel start included), nbclient, "
            "HF_HUB_OFFLINE=1; the demos train on 2 torch threads where there are 2 cores."
        ],
        load_at_start=load,
        threads=int(os.environ.get("OMP_NUM_THREADS", "0") or 0),
        out=args.out,
    )


if __name__ == "__main__":
    main()
