"""A mkdocs hook: each gallery page shows its demo's view, live, exported by the build.

For every notebook page of the gallery, :data:`VIEWS` names what its demo shows (the demo run at
its small size, the quick start's synthetic run, the Trainer run of notebook 7). The first build
runs each one (about 90 s in all on a laptop CPU) and keeps its exported view (an HTML fragment,
:func:`repscope.widgets.embed_html`) in ``build/gallery/``, stamped with a hash of the package's
sources; later builds reuse it until the sources change. The fragment is put at the top of the
notebook's page: the reader scrubs the real demo's checkpoints in the page, no kernel needed.

``REPSCOPE_GALLERY`` (a comma-separated list of notebook names) builds only those views; the
other pages then say that their view was left out of this build. The test suite's site build
uses it to stay quick (``make docs``, which CI runs, builds them all).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "gallery"


def _demo(name: str) -> Callable[[], str]:
    def build() -> str:
        from repscope.demos import DEMOS
        from repscope.widgets import embed_html

        run = DEMOS[name].run("small", seed=0, progress=False)
        runs = run.trajectories if len(run.trajectories) > 1 else run.trajectory
        return embed_html(runs, **({"measures": run.shown} if run.shown else {}))

    return build


def _quickstart() -> str:
    from repscope.synthetic import synthetic_trajectory
    from repscope.widgets import embed_html

    traj = synthetic_trajectory(n_steps=16, layers=("h.0", "h.1"), n_points=200)
    return embed_html(traj, measures=["effective_rank", "alpha"])


def _pythia() -> str:
    from repscope import Trajectory
    from repscope.demos import pythia
    from repscope.widgets import embed_html

    source, probe, _ = pythia.revisions(offline=True, size="small")
    traj = Trajectory(source, probe, fit_range=pythia.FIT_RANGE).compute(progress=False)
    return embed_html(traj, measures=["effective_rank", "alpha"])


def _your_run() -> str:
    from repscope.demos import trainer_run
    from repscope.widgets import embed_html

    work = Path(tempfile.mkdtemp(prefix="repscope-gallery-"))
    run = trainer_run.decoder_run(work, steps=30, save_steps=5)
    probe = work / "probe.txt"
    probe.write_text("\n".join(run.texts) + "\n")
    store = work / "run.sqlite"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "repscope",
            "scan",
            str(run.output_dir),
            "--probe-texts",
            str(probe),
            "--tokenizer",
            str(run.tokenizer_dir),
            "--max-length",
            "12",
            "--fit-range",
            "2,8",
            "--store",
            str(store),
            "--no-progress",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return embed_html(store)


#: Notebook → what its page shows.
VIEWS: dict[str, Callable[[], str]] = {
    "01_quickstart": _quickstart,
    "02_three_phases": _demo("three-phases"),
    "03_grokking": _demo("grokking"),
    "04_dse_dsmi": _demo("dse-dsmi"),
    "05_rich_lazy": _demo("rich-lazy"),
    "06_pythia": _pythia,
    "07_your_run": _your_run,
}

INTRO = (
    '<div class="repscope-gallery"><p><strong>This demo, live.</strong> The view below was '
    "exported from the demo's small size when this site was built (<code>make docs</code>): the "
    "same front end as the widget, with the run's data in the page. Drag the step slider or "
    "press ←/→ on it, press ▶, pick a layer or the measures, click the overview, draw a lasso "
    "round some points. No kernel, no network.</p>\n"
)


def _stamp() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "repscope").rglob("*")):
        if path.suffix in (".py", ".js") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def view(name: str) -> str:
    """The exported view of notebook ``name``: from the cache, or built now."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no loading bar per checkpoint in the build's output
    stamp = _stamp()
    cached = CACHE / f"{name}-{stamp}.html"
    if not cached.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        for old in CACHE.glob(f"{name}-*.html"):
            old.unlink()
        fragment = VIEWS[name]()
        cached.write_text(fragment, encoding="utf-8")
    return cached.read_text(encoding="utf-8")


def wanted() -> set[str]:
    """The views this build makes: ``$REPSCOPE_GALLERY``'s names, else all of them."""
    chosen = os.environ.get("REPSCOPE_GALLERY", "").strip()
    if not chosen:
        return set(VIEWS)
    names = {n.strip() for n in chosen.split(",") if n.strip()}
    unknown = names - set(VIEWS)
    if unknown:
        raise ValueError(f"REPSCOPE_GALLERY names {sorted(unknown)}; the views are {list(VIEWS)}")
    return names


def on_page_content(content: str, page: Any, **kwargs: Any) -> str:
    """Put the demo's view at the top of its notebook's page."""
    name = Path(page.file.src_uri).stem
    if not page.file.src_uri.startswith("notebooks/") or name not in VIEWS:
        return content
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the demos never ask the hub
    if name in wanted():
        block = INTRO + view(name) + "</div>\n"
    else:
        block = (
            '<p class="repscope-gallery-skipped"><em>This build left out the live view of this '
            "demo (REPSCOPE_GALLERY); <code>make docs</code> puts it here.</em></p>\n"
        )
    title = content.find("</h1>")  # after the notebook's title, when it has one
    if title < 0:
        return block + content
    end = title + len("</h1>")
    return content[:end] + "\n" + block + content[end:]


__all__ = ["VIEWS", "on_page_content", "view"]
