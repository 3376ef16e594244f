"""The documentation site: ``mkdocs build --strict`` passes, and its pages hold what they should.

The site is built once (``mkdocs.yml``, into a temporary folder, about 10 s); without the ``docs``
extra (``pip install "repscope[docs]"``, part of ``dev``) the tests that need it are skipped.
"""

from __future__ import annotations

import html
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _text(page: Path) -> str:
    """The visible text of an HTML page, entities decoded, without whitespace (tags may add or
    take it away)."""
    source = page.read_text(encoding="utf-8")
    source = re.sub(r"<(script|style)\b.*?</\1>", " ", source, flags=re.DOTALL)
    return "".join(html.unescape(re.sub(r"<[^>]+>", " ", source)).split())


def _plain(markdown: str) -> str:
    """A line of Markdown or reST as :func:`_text` reads it once rendered (code marks dropped)."""
    return "".join(markdown.replace("`", "").split())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for module in ("mkdocs", "mkdocstrings", "mkdocs_jupyter"):
        pytest.importorskip(module, reason='needs the docs extra: pip install "repscope[docs]"')
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    shown = "\n".join(
        line for line in (done.stdout + done.stderr).splitlines() if not line.startswith("INFO")
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{shown}"
    return out


def test_the_api_page_of_geometry_renders_the_docstrings(site: Path) -> None:
    from repscope.geometry import effective_rank

    first_line = inspect.getdoc(effective_rank).splitlines()[0]
    page = site / "api" / "geometry" / "index.html"
    assert 'id="repscope.geometry.effective_rank"' in page.read_text(encoding="utf-8")
    assert _plain(first_line) in _text(page)


def test_every_notebook_has_a_page_linked_from_the_gallery(site: Path) -> None:
    assert NOTEBOOKS, "no notebooks found"
    gallery = (site / "gallery" / "index.html").read_text(encoding="utf-8")
    for notebook in NOTEBOOKS:
        page = site / "notebooks" / notebook.stem / "index.html"
        assert page.is_file(), f"{notebook.name} has no page in the site"
        assert f"notebooks/{notebook.stem}/" in gallery, f"{notebook.name} is not in the gallery"
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        heading = re.search(r"^# (.+)$", markdown, flags=re.MULTILINE)  # the notebook's title
        assert heading is not None and _plain(heading[1]) in _text(page), notebook.name


def test_the_reliability_table_is_on_its_page(site: Path) -> None:
    rows = [
        line
        for line in (ROOT / "docs" / "reliability.md").read_text().splitlines()
        if line.startswith("|") and not set(line) <= set("|-: ")
    ]
    page = site / "reliability" / "index.html"
    assert page.read_text(encoding="utf-8").count("<tr>") == len(rows)
    text = _text(page)
    for row in rows:
        test_cell = row.strip("|").rsplit("|", 1)[-1]
        assert _plain(test_cell) in text, row


def test_the_conventions_page_is_the_readme_section() -> None:
    """docs/conventions.md copies the README's conventions section: the two must not drift."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(
        r"^## Measures and their conventions\n(.*?)^## ", readme, flags=re.MULTILINE | re.DOTALL
    )
    assert section is not None, "the README has no '## Measures and their conventions' section"
    conventions = (ROOT / "docs" / "conventions.md").read_text(encoding="utf-8")
    assert section[1].strip() in conventions, (
        "docs/conventions.md differs from the README's conventions section: copy it over"
    )
