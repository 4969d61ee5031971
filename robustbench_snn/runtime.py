"""Process-level settings for long simulations, applied by entry points (never at import)."""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters (malloc.h)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c"))


def keep_freed_memory() -> bool:
    """Let glibc reuse large freed blocks instead of returning them to the OS.

    Multi-step simulation allocates tensors of hundreds of MB per call; glibc serves each from a fresh
    mmap whose pages fault in on first touch, which measured 3-5x slower than the arithmetic itself
    (benchmarks/snn_simulation.py). Raising the mmap and trim thresholds keeps those pages mapped.
    Returns False where glibc is not the allocator.
    """
    try:
        libc = _libc()
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 31))
    except (OSError, AttributeError, TypeError):
        return False


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux ``PR_SET_PDEATHSIG``), and exit now if
    ``parent`` is already gone. Grid workers call it, so a driver killed by ``kill -9`` leaves no orphans.
    Returns False where the signal is unavailable (non-Linux)."""
    import os
    import signal

    try:
        armed = _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) == 0
    except (OSError, AttributeError, TypeError):
        armed = False
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    return armed
