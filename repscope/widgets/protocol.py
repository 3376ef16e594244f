"""What crosses from Python to the scrubber's front end: JSON with binary arrays beside it.

A message is a JSON object in which every numpy array has been replaced by a reference
``{"$buffer": i, "dtype": "float32", "shape": [...]}`` into a list of binary buffers: the widget
sends the buffers with the message (ipywidgets' binary transfer, no JSON lists of numbers); an
exported page stores them as base64 beside it. The front end's ``decode`` (``js/src/decode.js``)
puts typed arrays back in their places. Only four array types cross: float32 (measures, spectra,
points), float64 (steps), int32 (indices, label codes) and uint8 (flags).

Examples
--------
>>> import numpy as np
>>> content, buffers = pack({"type": "demo", "values": np.array([1.0, 2.5], dtype=np.float32)})
>>> content
{'type': 'demo', 'values': {'$buffer': 0, 'dtype': 'float32', 'shape': [2]}}
>>> unpack(content, buffers)["values"].tolist()
[1.0, 2.5]
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

#: The array types the front end reads, by numpy dtype.
DTYPES: dict[np.dtype, str] = {
    np.dtype(np.float32): "float32",
    np.dtype(np.float64): "float64",
    np.dtype(np.int32): "int32",
    np.dtype(np.uint8): "uint8",
}

Message = tuple[dict[str, Any], list[memoryview]]

#: The front end: one ES module (built from ``js/src``), loaded by the widget and by every page.
ESM = Path(__file__).parent / "static" / "scrubber.js"


def pack(content: Any) -> Message:
    """``(json_content, buffers)``: every numpy array in ``content`` moved into ``buffers``.

    Floats that are not finite become ``None`` in the JSON part (JSON has no NaN); inside arrays
    they stay as they are.
    """
    buffers: list[memoryview] = []

    def walk(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            if value.dtype not in DTYPES:
                raise TypeError(f"cannot send an array of dtype {value.dtype} to the front end")
            data = np.ascontiguousarray(value)
            buffers.append(memoryview(data.reshape(-1).view(np.uint8).data))
            return {
                "$buffer": len(buffers) - 1,
                "dtype": DTYPES[data.dtype],
                "shape": list(data.shape),
            }
        if isinstance(value, dict):
            return {str(k): walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        if isinstance(value, (np.floating, float)):
            return float(value) if math.isfinite(value) else None
        if isinstance(value, (np.integer,)):
            return int(value)
        if isinstance(value, np.bool_):
            return bool(value)
        return value

    return walk(content), buffers


def unpack(content: Any, buffers: list[Any]) -> Any:
    """The inverse of :func:`pack` (numpy arrays back in place): for tests and tools."""
    types = {v: k for k, v in DTYPES.items()}

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if "$buffer" in value:
                raw = bytes(buffers[value["$buffer"]])
                return np.frombuffer(raw, dtype=types[value["dtype"]]).reshape(value["shape"])
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(content)


def to_page(message: Message) -> dict[str, Any]:
    """A message as an exported page stores it: the JSON part and base64 buffers."""
    content, buffers = message
    return {"content": content, "buffers": [base64.b64encode(b).decode("ascii") for b in buffers]}


def from_page(stored: dict[str, Any]) -> Message:
    """The inverse of :func:`to_page`."""
    return stored["content"], [memoryview(base64.b64decode(b)) for b in stored["buffers"]]


def script_json(value: Any) -> str:
    """JSON for a ``<script type="application/json">`` element: compact, and with every ``<``,
    ``>`` and ``&`` written as a ``\\u`` escape, so that no string in it can end the element or
    be read as markup."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def nbytes(message: Message) -> int:
    """Bytes of a message's buffers."""
    return sum(b.nbytes for b in message[1])
