"""The README's examples run, and its quick start names the two commands."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_two_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text


@pytest.mark.parametrize("block", _python_blocks())
def test_readme_python_examples_run(block, capsys):
    exec(compile(block, str(README), "exec"), {})  # the block's own asserts check its numbers
    assert capsys.readouterr().out.strip()
