"""Stored strings in an exported page: read back exactly, never ending the script that holds
them, never markup (issue 20, item 4). The page has no plotly (the front end writes every user
string with ``textContent`` or ``setAttribute``), so ``%{y}`` is only text."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

pytest.importorskip("anywidget")

from repscope.cli import main
from repscope.synthetic import synthetic_trajectory
from repscope.widgets import export_html
from repscope.widgets.export import read_page

RUN = "%{y}</script><img src=x onerror=alert(1)><!--"
LAYER = "h\x1b[2J\x00\x07\x7f\x9b\u2028\u2029\u202e<!--</SCRIPT >.0"
LABEL = "</script ><script>alert(2)</script>"
SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S | re.I)


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "hostile.sqlite"
    traj = synthetic_trajectory(n_steps=4, layers=("h.0", LAYER), n_points=20, run=RUN, store=path)
    traj.store.close()
    return path


def check_page(out):
    text = out.read_text("utf-8")
    scripts = SCRIPT.findall(text)
    assert len(scripts) == 3  # the data, the module, the loader: no script ended early
    for body in scripts:
        lowered = body.lower()
        assert "</script" not in lowered and "<!--" not in lowered
    assert "<img" not in text.lower()
    page = read_page(out)
    runs = page["messages"][0]["runs"]
    assert [r["name"] for r in runs] == [RUN]
    assert runs[0]["layers"] == ["h.0", LAYER]
    assert {m["layer"] for m in page["messages"] if m["type"] == "layer"} == {"h.0", LAYER}
    assert page["state"]["layer"] == LAYER
    return page


def test_the_command_line_page_holds_every_stored_string_exactly(store, tmp_path, capsys):
    out = tmp_path / "page.html"
    assert main(["export", str(store), "--html", str(out), "--layer", LAYER]) == 0
    check_page(out)
    assert "\x1b" not in capsys.readouterr().out


def test_the_python_page_holds_every_string_exactly(tmp_path):
    traj = synthetic_trajectory(n_steps=4, layers=("h.0", LAYER), n_points=20, run=RUN)
    traj.probe.labels = np.array([LABEL, "plain"] * 10)
    out = export_html(traj, tmp_path / "page.html", layer=LAYER)
    page = check_page(out)
    assert LABEL in page["messages"][0]["runs"][0]["panels"]["points"]["names"]
    assert f"<title>repscope: {html.escape(RUN, quote=False)}</title>" in out.read_text()
