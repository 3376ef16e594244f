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
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: The gallery views the test's site build makes (docs/_ext/gallery.py: REPSCOPE_GALLERY).
GALLERY = ("01_quickstart", "04_dse_dsmi")


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
        # two of the seven gallery views (the quick ones); `make docs` in CI builds all of them
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "REPSCOPE_GALLERY": ",".join(GALLERY)},
    )
    shown = "\n".join(
        line for line in (done.stdout + done.stderr).splitlines() if not line.startswith("INFO")
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{shown}"
    return out


@pytest.mark.slow  # builds the site (mkdocs)
def test_the_api_page_of_geometry_renders_the_docstrings(site: Path) -> None:
    from repscope.geometry import effective_rank

    first_line = inspect.getdoc(effective_rank).splitlines()[0]
    page = site / "api" / "geometry" / "index.html"
    assert 'id="repscope.geometry.effective_rank"' in page.read_text(encoding="utf-8")
    assert _plain(first_line) in _text(page)


@pytest.mark.slow  # builds the site (mkdocs)
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


@pytest.mark.slow  # builds the site (mkdocs)
def test_every_gallery_page_holds_its_demos_view(site: Path) -> None:
    """Each notebook's page carries the exported view of its demo (docs/_ext/gallery.py): the
    runs it recorded, and the front end that draws them; a view this build left out says so."""
    from repscope.widgets.export import read_page

    for notebook in NOTEBOOKS:
        page = (site / "notebooks" / notebook.stem / "index.html").read_text(encoding="utf-8")
        if notebook.stem not in GALLERY:
            assert "left out the live view" in page and "repscope-view" not in page
            continue
        assert page.count('class="repscope-view"') == 1, notebook.name
        assert page.index("</h1>") < page.index('class="repscope-view"'), notebook.name
        recorded = read_page(page)
        runs = recorded["messages"][0]["runs"]
        assert runs and all(len(r["steps"]) >= 3 for r in runs), notebook.name
        kinds = {m["type"] for m in recorded["messages"]}
        assert kinds == {"runs", "layer", "block"}, (notebook.name, kinds)


@pytest.mark.browser
@pytest.mark.slow  # builds the site (mkdocs)
def test_a_gallery_page_scrubs_in_the_browser(site: Path, tmp_path: Path) -> None:
    """A demo's page, opened from the built site: the view draws its points, and a key moves it
    to the next checkpoint."""
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import sync_playwright

    from tests.browser import lab, view

    if lab.find_chromium() is None:
        pytest.skip("no Chromium")
    page_path = site / "notebooks" / GALLERY[-1] / "index.html"
    with sync_playwright() as playwright:
        browser = lab.launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(page_path.as_uri())
            view.wait_drawn(page)
            assert min(view.point_pixels(page)) > 200
            first = view.state(page)["step"]
            page.locator(".rs-step").first.focus()
            page.keyboard.press("ArrowRight")
            deadline = time.monotonic() + 10
            while view.state(page)["step"] == first and time.monotonic() < deadline:
                page.wait_for_timeout(50)
            assert view.state(page)["step"] != first
        finally:
            browser.close()


@pytest.mark.slow  # builds the site (mkdocs)
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
