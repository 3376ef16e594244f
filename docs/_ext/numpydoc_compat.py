"""A Griffe extension for the API reference: numpydoc as the docstrings write it, read by Griffe.

Three things numpydoc (Sphinx) reads one way and Griffe (mkdocstrings) another; the extension
changes only what the site shows, never the source:

- Prose after a parameter list. Some docstrings end their ``Parameters`` section with a plain
  paragraph, unindented, after a blank line (``The step of each checkpoint is read from its name
  …``). Griffe reads each such line as one more parameter named by its first word, and the strict
  build fails (``Parameter 'The' does not appear in the function signature``). A ``Notes``
  section is started before such a paragraph.
- Sphinx roles (``:class:`~repscope.Probe```, ``:func:`spectrum```) would show as typed. Each
  becomes a code span linked to the object's page when the site has one (an ``optional``
  autoref: a target without a page is plain code, never a warning).
- Types that are prose, not Python (``array-like, shape (n,)``, ``str, Path or Store``,
  ``torch.float64 (default) or torch.float32``) would be parsed as Python expressions and shown
  rewritten (``(array - like, shape(n))``): they are shown as written.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any

import griffe

SECTIONS = {"parameters", "other parameters", "attributes", "keyword arguments", "raises", "warns"}
ITEM = re.compile(r"^\*{0,2}[A-Za-z_][\w.]*(?:,\s*\*{0,2}[A-Za-z_][\w.]*)*(?:\s*:.*)?$")
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj):`([^`]+)`")


def _is_header(lines: list[str], i: int) -> bool:
    return i + 1 < len(lines) and bool(lines[i].strip()) and set(lines[i + 1].strip()) == {"-"}


def _shown(role: re.Match[str]) -> str:
    shown, _, _ = role[1].partition(" <")  # :class:`title <target>`
    return shown.rsplit(".", 1)[-1] if shown.startswith("~") else shown.lstrip(".")


def rewrite(text: str, obj: griffe.Object | None = None) -> str:
    """``text`` with a ``Notes`` header before each prose paragraph of an item section, and its
    Sphinx roles as code spans (plain names in an item's own line: its type is shown as code)."""
    lines = text.split("\n")
    out: list[str] = []
    section = None
    for i, line in enumerate(lines):
        item = False
        if _is_header(lines, i):
            section = line.strip().lower()
        elif section in SECTIONS and line and not line[0].isspace():
            item = bool(ITEM.match(line)) or set(line.strip()) <= {"-"}
            if not item and i > 0 and not lines[i - 1].strip():
                out += ["Notes", "-----"]
                section = "notes"
        if item:
            out.append(ROLE.sub(_shown, line))
        else:
            out.append(ROLE.sub(lambda role: _link(role, obj), line))
    return "\n".join(out)


def _target(obj: griffe.Object, name: str) -> str:
    if name.startswith("repscope."):
        return name
    head, _, rest = name.partition(".")
    try:
        full = obj.resolve(head)
    except (griffe.NameResolutionError, griffe.AliasResolutionError, KeyError):
        return name
    return f"{full}.{rest}" if rest else full


def _link(role: re.Match[str], obj: griffe.Object | None) -> str:
    """A role as a code span, linked to the object's page when the site has one."""
    shown, _, explicit = role[1].partition(" <")
    target = (explicit.rstrip(">") if explicit else shown).lstrip("~.")
    if obj is not None:
        target = _target(obj, target)
    return f'<autoref identifier="{target}" optional><code>{_shown(role)}</code></autoref>'


def is_prose_type(text: str) -> bool:
    """Whether a docstring type parses as Python but not as a type (so would be rewritten)."""
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        return False  # kept as written anyway
    if isinstance(tree, ast.Tuple | ast.Set):
        return not isinstance(tree, ast.Set)  # {"a", "b"}: the choices, shown as such
    return any(
        isinstance(node, ast.Call | ast.UnaryOp | ast.Compare)
        or (isinstance(node, ast.BinOp) and not isinstance(node.op, ast.BitOr))
        for node in ast.walk(tree)
    )


def _written_type(text: str, name: str) -> str | None:
    names = rf"(?:\*{{0,2}}\w+\s*,\s*)*\*{{0,2}}{re.escape(name)}(?:\s*,\s*\*{{0,2}}\w+)*"
    match = re.search(rf"^\s*{names}\s+:\s*(.+?)\s*$", text, flags=re.MULTILINE)
    if match is None:
        return None
    written = match[1]
    return written.removesuffix(", optional")


def _objects(obj: griffe.Object) -> Iterator[griffe.Object]:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)  # type: ignore[arg-type]


class NumpydocCompat(griffe.Extension):
    """Apply the three rewrites above to every docstring of a loaded package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            docstring = obj.docstring
            if docstring is None:
                continue
            docstring.value = rewrite(docstring.value, obj)
            if docstring.parser is None:
                continue
            for section in docstring.parsed:  # parsed once: the templates read this cache
                if not isinstance(section.value, list):
                    continue
                for item in section.value:
                    annotation = getattr(item, "annotation", None)
                    if not isinstance(annotation, griffe.Expr) or not getattr(item, "name", ""):
                        continue
                    written = _written_type(docstring.value, item.name)
                    if written is not None and is_prose_type(written):
                        item.annotation = written
