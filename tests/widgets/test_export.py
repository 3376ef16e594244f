"""The exported HTML file: every step a frame, every user string escaped, offline by default."""

import re

import numpy as np
import pytest

pytest.importorskip("plotly")

from repscope.synthetic import synthetic_trajectory
from repscope.widgets import export_html

EVIL = "</script><script>alert(1)</script>"




def decoded(values):
    """A plotly JSON array: a list, or a typed array ``{"dtype": …, "bdata": base64}``."""
    import base64

    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values)


@pytest.fixture(scope="module")
def evil_traj():
    traj = synthetic_trajectory(n_steps=6, layers=("h.0", EVIL), n_points=40, run=EVIL)
    traj.probe.labels = np.array([EVIL, "plain"] * 20)
    return traj


def test_every_step_is_a_frame_and_on_the_slider(tmp_path, evil_traj):
    out = export_html(evil_traj, tmp_path / "s.html", layer="h.0")
    text = out.read_text()
    for step in evil_traj.steps:
        assert f'"name":"{step}"' in text
        assert f'"label":"{step}"' in text
    assert len(re.findall(r'"name":"\d+","traces"', text)) == len(evil_traj.steps)


def test_user_strings_are_escaped(tmp_path, evil_traj):
    out = export_html({EVIL: evil_traj}, tmp_path / "s.html", layer=EVIL)
    text = out.read_text()
    assert "alert(1)</script>" not in text and "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;\\u002fscript&gt;" in text or (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in text)


def test_quotes_in_user_strings_are_shown_as_quotes(tmp_path):
    traj = synthetic_trajectory(n_steps=4, layers=('the "last" layer',), n_points=20,
                                run='my "best" run')
    text = export_html(traj, tmp_path / "q.html", include_plotlyjs="cdn").read_text()
    assert "&quot;" not in text and "&#x27;" not in text
    assert 'layer the \\"last\\" layer' in text  # a JSON-escaped quote in the title


def test_plotly_js_is_inline_by_default_and_cdn_on_request(tmp_path, evil_traj):
    inline = export_html(evil_traj, tmp_path / "inline.html").read_text()
    assert 'src="https://' not in inline and len(inline) > 3_000_000  # plotly.js itself
    cdn = export_html(evil_traj, tmp_path / "cdn.html", include_plotlyjs="cdn").read_text()
    assert re.search(r'<script [^>]*src="https://cdn\.plot\.ly/plotly-[\d.]+\.min\.js"', cdn)
    assert len(cdn) < 400_000


def test_bad_arguments_are_clear_errors(tmp_path, evil_traj):
    with pytest.raises(ValueError, match="'layer' argument of export_html must be one of"):
        export_html(evil_traj, tmp_path / "x.html", layer="nope")
    with pytest.raises(ValueError, match="'measures' argument of export_html must be stored"):
        export_html(evil_traj, tmp_path / "x.html", measures=["dse"])
    with pytest.raises(ValueError, match="'include_plotlyjs' argument of export_html"):
        export_html(evil_traj, tmp_path / "x.html", include_plotlyjs="local")
    with pytest.raises(TypeError, match="'trajectory' argument of export_html must be"):
        export_html(42, tmp_path / "x.html")
    with pytest.raises(ValueError, match=r"'path' argument of repscope\.open must be an existing"):
        export_html(str(tmp_path / "no-such.sqlite"), tmp_path / "x.html")


def test_training_scalars_and_phase_bands_reach_the_export(tmp_path):
    import json

    traj = synthetic_trajectory(n_steps=16, layers=("h.0",), n_points=30)
    traj.store.put_scalars(traj.run, 0, {"loss": 7.5})
    traj.store.put_scalars(traj.run, 10, {"loss": 3.25})
    out = export_html(traj, tmp_path / "s.html", include_plotlyjs="cdn")
    text = out.read_text()
    call = re.search(r"Plotly\.newPlot\(\s*\"repscope-scrubber\",\s*(\[.*?\]),\s*"
                     r"(\{.*?\}),\s*\{\"responsive", text, re.S)
    data, figure = json.loads(call.group(1)), json.loads(call.group(2))
    (axis,) = [key for key, axis in figure.items()
               if key.startswith("yaxis") and axis.get("title", {}).get("text") == "training loss"]
    (loss,) = [t for t in data if t.get("yaxis", "y") == "y" + axis[len("yaxis"):]]
    np.testing.assert_array_equal(decoded(loss["x"]), [1, 11])  # step + 1
    np.testing.assert_array_equal(decoded(loss["y"]), [7.5, 3.25])
    phases = traj.phases()
    bands = [s for s in figure["shapes"][1:] if s.get("visible")]
    assert [(b["x0"], b["x1"]) for b in bands] == [(p.start_step + 1, p.end_step + 1)
                                                   for p in phases]
