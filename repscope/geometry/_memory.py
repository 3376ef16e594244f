"""Memory before N × N: estimate what an operator needs and refuse clearly, before allocating.

DSE, DSMI and ``sigma="median"`` build ``N × N`` matrices. At N = 200,000 in float64 that is
320 GB: instead of torch's allocator error (or the machine swapping), :func:`check_memory`
raises :class:`InsufficientMemoryError` naming the size and what to do instead. One guard for
every such path, on the CPU (available RAM) and on CUDA (free device memory).
"""

from __future__ import annotations

import os

import torch


class InsufficientMemoryError(MemoryError):
    """An N × N computation would need more memory than is available; nothing was allocated."""


def available_bytes(device: torch.device | str) -> int | None:
    """Free memory where ``device`` computes: free CUDA memory, or the RAM the OS reports as
    available (``None`` if it cannot tell)."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _size(n_bytes: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes:.0f} bytes"


def check_memory(
    n_bytes: float,
    *,
    func: str,
    got: str,
    what: str,
    device: torch.device | str,
    advice: str,
    name: str = "x",
) -> None:
    """Raise :class:`InsufficientMemoryError` if ``n_bytes`` exceed the memory available on
    ``device``; the message, in the house grammar, names the argument, what arrived, the size
    needed and ``advice``.

    Examples
    --------
    >>> check_memory(1e3, func="dse", got="N = 10", what="the operator", device="cpu",
    ...              advice="")
    """
    free = available_bytes(device)
    if free is None or n_bytes <= free:
        return
    raise InsufficientMemoryError(
        f"The '{name}' argument of {func} must be small enough for the memory available; got "
        f"{got}: {what} needs {_size(n_bytes)}, and {_size(free)} is available on "
        f"{torch.device(device)}. {advice}"
    )


def square_bytes(batch: int, n: int, dtype: torch.dtype, copies: float) -> float:
    """Bytes of ``copies`` ``(batch, n, n)`` matrices of ``dtype``."""
    return float(copies) * batch * n * n * torch.finfo(dtype).bits / 8
