"""Where an exported page may be written: never over a store, its own input or a stranger's file.

:func:`check_page_path` is asked before a page is recorded and again before it is written. A
page may go to a new file, an empty file, or a page repscope exported (it carries the
:data:`GENERATOR` meta tag in its head; pages from before the tag are known by their head). A
page never replaces

- a SQLite file (a store, or any other database: its first 16 bytes are ``SQLite format 3\\0``),
- the store it is exported from (the same file after symlinks, or a hard link to it),
- a folder, or anything that is not a regular file,
- an existing file that is not an HTML page (a store's ``-wal`` file, a notebook, a script),

and replaces another HTML page only when asked (``overwrite=True``, ``repscope export --force``).

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> check_page_path(folder / "new.html").name
'new.html'
>>> _ = (folder / "notes.html").write_text("<!DOCTYPE html><p>mine</p>")
>>> check_page_path(folder / "notes.html")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: The 'path' argument of export_html must be a new file or a page repscope exported ...
>>> check_page_path(folder / "notes.html", overwrite=True).name
'notes.html'
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._validation import describe, fail

#: The meta tag every exported page carries in its head (its ``content`` adds the version).
GENERATOR = '<meta name="generator" content="repscope'

SQLITE_HEADER = b"SQLite format 3\x00"

# The head every exported page had before it carried the generator tag.
_OLD_HEAD = re.compile(
    rb'^<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    rb'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    rb"<title>repscope: [^<]*</title>\n<style>[^<]*</style>\n</head>\n<body>\n"
    rb'<div class="repscope-view" data-view="[0-9a-f]+"></div>\n'
)
_HTML_START = re.compile(
    rb"^(\xef\xbb\xbf)?\s*(<!--.*?-->\s*)*<(!doctype\s+html|html)[\s>]", re.I | re.S
)
_HEAD_BYTES = 1 << 16


def check_page_path(
    path: Any,
    *,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike[str]] = (),
    name: str = "path",
    func: str = "export_html",
    force: str = "overwrite=True",
) -> Path:
    """``path`` as a :class:`~pathlib.Path` if a page may be written there; else the house
    error, saying what the file is.

    Parameters
    ----------
    path : str or Path
        Where the page would go.
    overwrite : bool, default False
        Replace an existing HTML page that repscope did not export.
    inputs : iterable of path
        The stores the page is read from: never replaced.
    name, func, force : str
        How the caller names the path, itself and the switch that replaces an HTML page (the
        command line: ``--html``, ``repscope export``, ``--force``).

    Returns
    -------
    pathlib.Path
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        fail(name, func, "the path of the HTML file to write", describe(path), error=TypeError)
    out = Path(path)
    expected = f"a new file or a page repscope exported ({force} replaces another HTML page)"
    got = repr(str(path))
    for source in inputs:
        if _same_file(out, Path(source)):
            fail(name, func, expected, f"{got}, the store being exported (never replaced)")
    try:
        info = out.stat()
    except FileNotFoundError:
        return out
    except OSError as err:
        fail(name, func, expected, f"{got}, which cannot be examined ({err.strerror})")
    if stat.S_ISDIR(info.st_mode):
        fail(name, func, expected, f"{got}, a folder")
    if not stat.S_ISREG(info.st_mode):
        fail(name, func, expected, f"{got}, which is not a regular file (never replaced)")
    if info.st_size == 0:
        return out
    try:
        with out.open("rb") as file:
            head = file.read(_HEAD_BYTES)
    except OSError as err:
        fail(name, func, expected, f"{got}, which cannot be read ({err.strerror})")
    if head.startswith(SQLITE_HEADER):
        fail(name, func, expected, f"{got}, a SQLite database such as a store (never replaced)")
    if _exported(head):
        return out
    if not _html(out, head):
        fail(
            name,
            func,
            expected,
            f"{got}, an existing file that is not an HTML page (never replaced: remove it or "
            "choose another path)",
        )
    if not overwrite:
        fail(name, func, expected, f"{got}, an HTML page that repscope did not export")
    return out


def _same_file(a: Path, b: Path) -> bool:
    """One file under two names: equal after symlinks, or a hard link."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def _exported(head: bytes) -> bool:
    """A page repscope exported: the generator tag in its head, or the head of older pages."""
    end = head.find(b"</head>")
    own = head[: end if end >= 0 else len(head)]
    return GENERATOR.encode() in own or _OLD_HEAD.match(head) is not None


def _html(path: Path, head: bytes) -> bool:
    return path.suffix.lower() in (".html", ".htm") or _HTML_START.match(head) is not None
