"""``"module:attribute"`` references, resolved when first needed (as entry points are): model kinds name their
builders this way, and grids name light attack parts for their workers."""

from __future__ import annotations

import importlib

from robustbench_snn.errors import UserError


def resolve(reference):
    """A callable as it is, or the object a ``"module:attribute"`` reference names (one line when it cannot)."""
    if callable(reference):
        return reference
    module, _, attribute = reference.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as err:
        raise UserError(f"cannot load {reference!r} ({err}); expected module:attribute") from None
