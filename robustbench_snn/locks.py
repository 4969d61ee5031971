"""One writer per file: per-example files, shards and checkpoints are written under an exclusive lock.

The lock is a ``<target>.lock`` file beside the target (``filelock``: ``flock`` on POSIX), so it also holds on
a filesystem shared by the nodes of a cluster that supports it. The kernel drops a lock when its holder dies,
even by ``kill -9``, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from robustbench_snn.errors import UserError


def lock_path(target: Path) -> Path:
    return target.with_name(target.name + ".lock")


class Busy(UserError):
    """Another process holds the lock (the one-line error says what to do)."""


@contextmanager
def exclusive(target: Path, what: str, wait: bool) -> Iterator[None]:
    """Hold the lock of ``target`` for the block. Another holder: wait for it (``wait``; says so once on
    stderr) or refuse in one line."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(target))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            raise Busy(f"another process is writing {target} ({what}); let it finish or stop it, then rerun "
                            "this command to continue from what it wrote") from None
        print(f"waiting for another process writing {target} ({what}) ...", file=sys.stderr, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
