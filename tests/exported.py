"""Reading back what :func:`repscope.widgets.export_html` records in its page."""

from pathlib import Path


def exported_steps(path: Path) -> list[int]:
    """The steps the exported page's slider runs over (every run's steps, merged)."""
    from repscope.widgets.export import read_page

    runs = read_page(path)["messages"][0]["runs"]
    return sorted({int(s) for run in runs for s in run["steps"]})
