"""The one exception type users see: a one-line message that says what was wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class UserError(Exception):
    """Bad input or a missing resource. The CLI prints ``error: <message>`` and exits with status 2."""


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> UserError:
    """The error for a name that is not in a registry, listing the valid names."""
    return UserError(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(valid))}")


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Name ``path`` in any OS error raised while writing it (a full disk or a file-size limit raises from
    ``write`` with no file name, and the one-line error must say where)."""
    try:
        yield
    except OSError as err:
        if err.filename is None:
            raise OSError(err.errno, err.strerror or str(err), str(path)) from None
        raise
