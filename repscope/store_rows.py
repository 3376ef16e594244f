"""Every stored row checked as it is decoded: a bad row is skipped, never read wrong.

A store travels (a course page, a colleague, a cluster job), so what it holds is checked field
by field as it is read: the ``results`` row's key columns are text, its step an integer (a
``REAL`` 1.5 is a bad row, never read as step 1), its measures a JSON mapping of names to
numbers, its spectrum whole float64 values, its 2-D points whole rows of ``points_dim``
float32 values, one per probe input; a ``scalars`` row's step an integer and its value a
number; a run's source and a probe's description JSON mappings, the labels and texts one per
probe input. A check raises :class:`BadValue` naming the column; the store skips that row
with one :class:`StoreRowWarning` (file, table, row id and key, column) and reads the rest.
``repscope check`` lists every bad row (:meth:`repscope.store.Store.bad_rows`).

Examples
--------
>>> from repscope.store_rows import BadValue, measures
>>> measures('{"effective_rank": 3.5, "alpha": "nan"}')
{'effective_rank': 3.5, 'alpha': nan}
>>> try:
...     measures("[1, 2]")
... except BadValue as bad:
...     print(bad.column, "|", bad)
measures | must be a JSON mapping of measure names to numbers; got a JSON list
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import RepscopeWarning

#: The starts a run's source may record (``repscope.sources.base.STARTS``; a test checks that
#: the two agree: the store does not import the sources).
STARTS = ("init", "pretrained", "unknown")


class StoreRowWarning(RepscopeWarning):
    """A stored row that cannot be read was skipped; the rest of the store reads.

    The message names the file, the table, the row (its ``rowid`` and key) and the column.
    ``repscope check FILE`` lists every such row.
    """


class BadValue(ValueError):
    """One stored value is not what its column holds: ``column``, and what was expected and
    what was found (the message)."""

    def __init__(self, column: str, expected: str, got: str):
        super().__init__(f"must be {expected}; got {got}")
        self.column = column


@dataclass(frozen=True)
class BadRow:
    """A row of a store that cannot be read, and why."""

    table: str
    rowid: int
    key: str
    column: str
    problem: str

    def __str__(self) -> str:
        return (
            f"table '{self.table}', row {self.rowid} ({self.key}): "
            f"column '{self.column}' {self.problem}"
        )

    def warning(self, path: str) -> str:
        """The text of the one warning a reader gives for this row."""
        return (
            f"{path}: a bad row was skipped, {self}. The rest of the store reads; "
            f"`repscope check {path}` lists every bad row."
        )


def shown(value: Any) -> str:
    """A stored value in a message: its SQL kind and a short, escaped ``repr``."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"a blob of {len(value)} bytes"
    text = repr(value)
    text = text if len(text) <= 50 else text[:47] + "..."
    kinds = {str: "text", int: "the integer", float: "the real number", bool: "the boolean"}
    kind = kinds.get(type(value), "")
    return f"{kind} {text}".strip()


def row_key(**parts: Any) -> str:
    """``run='a', step=3`` (long texts cut) for a message."""
    out = []
    for name, value in parts.items():
        text = repr(value)
        out.append(f"{name}={text if len(text) <= 40 else text[:37] + '...'}")
    return ", ".join(out)


# -- the columns ---------------------------------------------------------------------------------
def text(value: Any, column: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        fail_text = "text" + (" or NULL" if optional else "")
        raise BadValue(column, fail_text, shown(value))
    return value


def integer(value: Any, column: str) -> int:
    """A stored integer: ``INTEGER`` only (a ``REAL`` 1.5, or even 2.0, is not a step)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadValue(column, "an integer", shown(value))
    return value


def number(value: Any, column: str) -> float:
    """A stored number; ``NULL`` reads as NaN."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadValue(column, "a number or NULL", shown(value))
    return float(value)


def json_mapping(value: Any, column: str, what: str) -> dict[str, Any]:
    """A JSON object stored as text."""
    expected = f"a JSON mapping of {what}"
    if not isinstance(value, str):
        raise BadValue(column, expected, shown(value))
    try:
        out = json.loads(value)
    except (ValueError, RecursionError) as err:
        raise BadValue(column, expected, f"text that is not JSON ({err})") from None
    if not isinstance(out, dict):
        raise BadValue(column, expected, f"a JSON {_json_kind(out)}")
    return out


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else type(value).__name__


#: How non-finite measures are stored (JSON has no NaN): ``repr`` of the float.
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def measures(value: Any) -> dict[str, float]:
    """A results row's measures: a JSON mapping of names to numbers (``"nan"``, ``"inf"``,
    ``"-inf"`` or ``null`` for values that are not finite); ``NULL`` is no measures."""
    if value is None:
        return {}
    stored = json_mapping(value, "measures", "measure names to numbers")
    out = {}
    for name, v in stored.items():
        if v is None:
            out[name] = math.nan
        elif isinstance(v, str) and v in _NON_FINITE:
            out[name] = _NON_FINITE[v]
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            try:
                out[name] = float(v)
            except OverflowError:
                raise BadValue("measures", "numbers", f"{name!r}: an integer too large") from None
        else:
            raise BadValue(
                "measures",
                "a JSON mapping of measure names to numbers",
                f"{name!r}: {shown(v)}",
            )
    return out


def blob_size(kind: str, size: Any, column: str, expected: str) -> int | None:
    """A blob's size from its SQL kind (``typeof``) and ``length``; ``None`` for ``NULL``."""
    if kind == "null":
        return None
    if kind != "blob" or not isinstance(size, int):
        raise BadValue(column, expected, f"{kind} instead of a blob")
    return size


def spectrum_size(kind: str, size: Any) -> int | None:
    """The number of eigenvalues a spectrum blob holds (whole float64 values)."""
    expected = "a blob of float64 values (a multiple of 8 bytes) or NULL"
    n_bytes = blob_size(kind, size, "spectrum", expected)
    if n_bytes is None:
        return None
    if n_bytes % 8:
        raise BadValue("spectrum", expected, f"{n_bytes} bytes")
    return n_bytes // 8


def points_rows(kind: str, size: Any, dim: Any, expected_rows: int | None) -> int | None:
    """How many 2-D points a row holds: whole rows of ``points_dim`` float32 values, one per
    probe input (``expected_rows``, where the probe's description says it)."""
    n_bytes = blob_size(kind, size, "points", "a blob of float32 rows or NULL")
    if n_bytes is None:
        if dim is not None:
            raise BadValue("points_dim", "NULL when no points are stored", shown(dim))
        return None
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise BadValue("points_dim", "a positive integer (points are stored)", shown(dim))
    if n_bytes % (4 * dim):
        raise BadValue(
            "points",
            f"whole rows of {dim} float32 values (a multiple of {4 * dim} bytes)",
            f"{n_bytes} bytes",
        )
    rows = n_bytes // (4 * dim)
    if expected_rows is not None and rows != expected_rows:
        raise BadValue(
            "points", f"one row per probe input ({expected_rows})", f"{rows} rows of {dim}"
        )
    return rows


def sql_kind(value: Any) -> str:
    """SQLite's ``typeof`` of a value read back in Python."""
    if value is None:
        return "null"
    return {bytes: "blob", str: "text", int: "integer", float: "real"}.get(type(value), "?")


def status(value: Any) -> str:
    if value not in ("ok", "failed"):
        raise BadValue("status", "'ok' or 'failed'", shown(value))
    return value


def config_key(value: Any) -> str:
    """A measure configuration key that this repscope reads (``repscope.config``)."""
    if not isinstance(value, str):
        raise BadValue("params", "a measure configuration key (JSON text)", shown(value))
    problem = _config_problem(value)
    if problem is not None:
        raise BadValue("params", "a measure configuration key", f"{shown(value)} ({problem})")
    return value


@functools.lru_cache(maxsize=256)
def _config_problem(key: str) -> str | None:
    from .config import MeasureConfig, config_summary

    try:
        MeasureConfig.from_key(key)
        config_summary(key)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def source(value: Any) -> dict[str, Any]:
    """A run's source description (``Store.describe_run``)."""
    out = json_mapping(value, "source", "what the run was filled from")
    if "start" in out and out["start"] not in STARTS:
        start = shown(out["start"])
        raise BadValue(
            "source", f"a source whose start is one of {list(STARTS)}", f"start: {start}"
        )
    return out


def description(value: Any) -> dict[str, Any]:
    """A probe's description (``Probe.describe``): its fields of the right kinds, and the
    labels and texts one per input."""
    out = json_mapping(value, "description", "what the probe is")

    def check(ok: bool, expected: str, field: str) -> None:
        if not ok:
            raise BadValue(
                "description",
                f"a probe description with {expected}",
                f"{field}: {shown(out[field])}",
            )

    n = out.get("n_inputs")
    if n is not None:
        check(_is_int(n) and n >= 0, "n_inputs a non-negative integer", "n_inputs")
    if out.get("layers") is not None:
        check(_strings(out["layers"]), "layers a list of names", "layers")
    for field in ("representation", "tokenizer", "inputs", "spatial"):
        if out.get(field) is not None:
            check(isinstance(out[field], str), f"{field} a text", field)
    if out.get("max_length") is not None:
        check(_is_int(out["max_length"]), "max_length an integer", "max_length")
    if out.get("reductions") is not None:
        check(isinstance(out["reductions"], dict), "reductions a mapping", "reductions")
    labels, texts = out.get("labels"), out.get("texts")
    if labels is not None:
        check(_label_array(labels), "labels a list of one label (or row) per input", "labels")
    if texts is not None:
        check(_strings(texts), "texts a list of texts", "texts")
    for field, items in (("labels", labels), ("texts", texts)):
        if items is not None and n is not None and len(items) != n:
            raise BadValue(
                "description",
                f"a probe description with one of its {field} per input (n_inputs {n})",
                f"{len(items)} {field}",
            )
    return out


def expected_points(description: dict[str, Any] | None) -> int | None:
    """How many 2-D points a probe's rows hold: one per input, unless every token is a row
    (``representation="all"``) or the description does not say."""
    if not description or description.get("representation") == "all":
        return None
    n = description.get("n_inputs")
    return n if _is_int(n) else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _label_array(value: Any) -> bool:
    """A list that is a 1-D or 2-D array of numbers or names (as ``Probe`` takes labels)."""
    if not isinstance(value, list):
        return False
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged
        return False
    return arr.ndim in (1, 2) and arr.dtype != object


def decode(blob: bytes, dtype: str, dim: int | None = None) -> np.ndarray:
    """A checked blob as an array (a copy: the row's bytes are not kept alive)."""
    arr = np.frombuffer(blob, dtype).copy()
    return arr if dim is None else arr.reshape(-1, dim)
