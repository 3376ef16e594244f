"""The exported HTML file: every step on the slider, every user string escaped, offline by
default."""

import re

import numpy as np
import pytest

pytest.importorskip("plotly")

from repscope.synthetic import synthetic_trajectory
from repscope.widgets import export_html
from tests.exported import embedded

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


def test_every_step_is_on_the_slider_with_its_spectrum_and_points(tmp_path, evil_traj):
    out = export_html(evil_traj, tmp_path / "s.html", layer="h.0")
    text = out.read_text()
    steps, figures = embedded(text, "steps"), embedded(text, "figures")
    assert steps["values"] == list(evil_traj.steps)
    slider = figures["controls"]["layout"]["sliders"][0]
    assert [s["label"] for s in slider["steps"]] == [str(s) for s in evil_traj.steps]
    assert set(figures) == {"controls", "overview", "curves", "spectrum", "points"}
    assert {t["type"] for t in figures["points"]["data"]} == {"scattergl"}  # WebGL, as the widget
    for step, patch in zip(evil_traj.steps, steps["patches"], strict=True):
        stored = evil_traj.spectrum(step, "h.0")
        (spectrum_y, _fit_y) = patch["spectrum"]["data"]["y"]
        np.testing.assert_allclose(decoded(spectrum_y), stored[stored > 0], rtol=1e-12)
        n_drawn = sum(len(decoded(x)) for x in patch["points"]["data"]["x"])
        assert n_drawn == len(evil_traj.probe.labels)
        assert patch["points"]["layout"]["title.text"].startswith(f"step {step} ")
        # the curves only move their cursor: no curve data in a step
        assert (
            patch["curves"]["data"] == {} and patch["curves"]["layout"]["shapes[0].x0"] == step + 1
        )


def test_user_strings_are_escaped(tmp_path, evil_traj):
    out = export_html({EVIL: evil_traj}, tmp_path / "s.html", layer=EVIL)
    text = out.read_text()
    assert "alert(1)</script>" not in text and "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;\\u002fscript&gt;" in text or (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    )


def test_quotes_in_user_strings_are_shown_as_quotes(tmp_path):
    traj = synthetic_trajectory(
        n_steps=4, layers=('the "last" layer',), n_points=20, run='my "best" run'
    )
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
    traj = synthetic_trajectory(n_steps=16, layers=("h.0",), n_points=30)
    traj.store.put_scalars(traj.run, 0, {"loss": 7.5})
    traj.store.put_scalars(traj.run, 10, {"loss": 3.25})
    out = export_html(traj, tmp_path / "s.html", include_plotlyjs="cdn")
    curves = embedded(out.read_text(), "figures")["curves"]
    data, figure = curves["data"], curves["layout"]
    (axis,) = [
        key
        for key, axis in figure.items()
        if key.startswith("yaxis") and axis.get("title", {}).get("text") == "training loss"
    ]
    (loss,) = [t for t in data if t.get("yaxis", "y") == "y" + axis[len("yaxis") :]]
    np.testing.assert_array_equal(decoded(loss["x"]), [1, 11])  # step + 1
    np.testing.assert_array_equal(decoded(loss["y"]), [7.5, 3.25])
    phases = traj.phases()
    bands = [s for s in figure["shapes"][1:] if s.get("visible")]
    assert [(b["x0"], b["x1"]) for b in bands] == [
        (p.start_step + 1, p.end_step + 1) for p in phases
    ]
