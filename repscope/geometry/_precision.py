"""Full float32 precision for the geometry, whatever the training code set.

Training code often calls ``torch.set_float32_matmul_precision("high")`` (or sets
``torch.backends.cuda.matmul.allow_tf32``): float32 matrix products then run in TF32 on CUDA
(about 1e-3 relative error) or in bfloat16 passes on CPUs whose oneDNN supports it. A Gram or
covariance matrix, a distance matrix or a Lanczos product computed that way carries that error
into every eigenvalue. :func:`full_precision` switches those shortcuts off for the duration of a
geometry call and restores the caller's settings afterwards. The settings are process-wide:
while geometry runs in a background thread (a ``LiveRun``), the training thread's float32
matmuls also run at full precision.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch

F = TypeVar("F", bound=Callable[..., Any])
_lock = threading.Lock()
_depth = 0
_saved: tuple[str, Any] | None = None


@contextlib.contextmanager
def full_precision() -> Iterator[None]:
    """Run float32 matmuls and convolutions at full float32 precision inside the block.

    Examples
    --------
    >>> import torch
    >>> torch.set_float32_matmul_precision("high")
    >>> with full_precision():
    ...     torch.get_float32_matmul_precision()
    'highest'
    >>> torch.get_float32_matmul_precision()
    'high'
    >>> torch.set_float32_matmul_precision("highest")
    """
    global _depth, _saved
    with _lock:  # the settings are process-wide: the first caller in saves, the last out restores
        if _depth == 0:
            _saved = _save_and_set_full()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                _restore(_saved)
                _saved = None


#: The per-backend switches of torch's newer precision API (``fp32_precision``: "ieee" is full).
def _new_api_switches() -> list[Any]:
    out = []
    for path in (
        "cuda.matmul",
        "cudnn",
        "cudnn.conv",
        "cudnn.rnn",
        "mkldnn",
        "mkldnn.matmul",
        "mkldnn.conv",
        "mkldnn.rnn",
        "",
    ):
        node: Any = torch.backends
        for part in filter(None, path.split(".")):
            node = getattr(node, part, None)
        if node is not None and hasattr(node, "fp32_precision"):
            out.append(node)
    return out


def _save_and_set_full() -> tuple[str, Any]:
    """Switch full float32 precision on with the API the caller used; what to restore."""
    try:  # the legacy API (what training code usually calls)
        precision = torch.get_float32_matmul_precision()
    except RuntimeError:  # the caller set the newer per-backend API: use it too
        switches = _new_api_switches()
        saved = [(node, node.fp32_precision) for node in switches]
        for node in switches:
            try:
                node.fp32_precision = "ieee"
            except (RuntimeError, ValueError):
                pass
        return "new", saved
    torch.set_float32_matmul_precision("highest")
    return "legacy", precision


def _restore(saved: tuple[str, Any]) -> None:
    kind, value = saved
    if kind == "legacy":
        torch.set_float32_matmul_precision(value)
        return
    for node, precision in value:
        try:
            node.fp32_precision = precision
        except (RuntimeError, ValueError):
            pass


def at_full_precision(func: F) -> F:
    """Decorate a geometry function to run inside :func:`full_precision`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with full_precision():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
