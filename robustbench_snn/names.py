"""Names that become path components (datasets, model kinds, a user's model, attacks and their settings): checked
in one place, so no name can write outside the folders it is given (``../../outside``), or be empty."""

from __future__ import annotations

import re

from robustbench_snn.errors import UserError

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def check_name(what: str, name) -> str:
    """``name`` if it is 1-100 letters, digits, '.', '_' or '-' starting with a letter or digit; else a one-line
    error naming ``what`` it is."""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name) or ".." in name:
        raise UserError(f"{what} {name!r} must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or "
                        "digit (it names files and folders)")
    return name
