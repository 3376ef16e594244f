"""Reading back what :func:`repscope.widgets.export_html` embeds in its page."""

import json
import re
from pathlib import Path


def embedded(text: str, name: str):
    """The JSON in the page's ``<script type="application/json" id="repscope-NAME">``."""
    found = re.search(
        rf'<script type="application/json" id="repscope-{name}">(.*?)</script>', text, re.S
    )
    assert found, f"no repscope-{name} script in the page"
    return json.loads(found.group(1))


def exported_steps(path: Path) -> list[int]:
    """The steps on the exported page's slider (one patch each)."""
    steps = embedded(Path(path).read_text(), "steps")
    assert len(steps["patches"]) == len(steps["values"])
    return steps["values"]
