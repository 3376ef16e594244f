r"""Stored strings on a terminal: control characters escaped.

A store travels, and its run names, layer names, error texts and source descriptions were
written by whoever made it. Printed raw, an escape sequence in one of them can retitle the
terminal, clear the screen or move the cursor over lines already printed, and a line break or
a carriage return can forge a line of output. :func:`printable` writes each such character as
a Python escape (``\x1b``, ``\n``, ``\u202e``) and leaves every other character as it is (letters of
any script, emoji, and backslashes too: ``C:\runs`` stays readable). Every line the command
line prints that holds a stored string goes through it, and :func:`escaped_warnings` shows the
warnings raised meanwhile (a skipped file's name, a layer's) the same way.
"""

from __future__ import annotations

import contextlib
import re
import sys
import warnings
from collections.abc import Iterator

# C0 and C1 controls and DEL (ESC, CSI, BEL, CR, LF, TAB, NUL ...), the line and paragraph
# separators, the bidirectional overrides and isolates (text that reads in another order than
# it is stored), and lone surrogates (which no terminal encoding can write).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_KEEPING_NEWLINES = re.compile(_UNSAFE.pattern.replace("\x00-\x1f", "\x00-\x09\x0b-\x1f"))


_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    code = ord(char)
    if char in _SHORT:
        return _SHORT[char]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, *, newlines: bool = False) -> str:
    r"""``text`` as a terminal may show it: every control character written as an escape.

    Parameters
    ----------
    text : object
        A string (anything else is turned into one with ``str``).
    newlines : bool, default False
        Keep line feeds (``"\n"``) as they are, for text of several lines that repscope built
        (a table); every other control character is still escaped.

    Returns
    -------
    str

    Examples
    --------
    >>> printable("layer\x1b]0;owned\x07.0")
    'layer\\x1b]0;owned\\x07.0'
    >>> print(printable("run\r\nfake line"))
    run\r\nfake line
    >>> print(printable("a\nb\x1b[2J", newlines=True))
    a
    b\x1b[2J
    >>> printable("encoder.layer.0 · α")
    'encoder.layer.0 · α'
    """
    pattern = _UNSAFE_KEEPING_NEWLINES if newlines else _UNSAFE
    return pattern.sub(_escape, str(text))


@contextlib.contextmanager
def escaped_warnings() -> Iterator[None]:
    """Within it, warnings are shown on stderr as usual but through :func:`printable` (the
    command line runs each command in it); the previous display is restored after."""

    def show(message, category, filename, lineno, file=None, line=None):
        text = warnings.formatwarning(message, category, filename, lineno, line)
        (file or sys.stderr).write(printable(text, newlines=True))

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
