"""Process-level settings for long simulations, applied by entry points (never at import)."""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Let glibc reuse large freed blocks instead of returning them to the OS.

    Multi-step simulation allocates tensors of hundreds of MB per call; glibc serves each from a fresh
    mmap whose pages fault in on first touch, which measured 3-5x slower than the arithmetic itself
    (benchmarks/snn_simulation.py). Raising the mmap and trim thresholds keeps those pages mapped.
    Returns False where glibc is not the allocator.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 31))
    except (OSError, AttributeError, TypeError):
        return False
