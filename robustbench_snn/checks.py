"""Checks of the numbers users give (seeds, counts, rates), shared by the configuration and the data loaders: each
bad value is a one-line error naming it and the valid range."""

from __future__ import annotations

import math

from robustbench_snn.errors import UserError

SEED_RANGE = (0, 2**32 - 1)  # what numpy and torch generators accept as a seed


def check_seed(name: str, value) -> int:
    """``value`` as a seed, or a one-line error naming ``name`` and the valid range."""
    if isinstance(value, bool) or not isinstance(value, int) or not SEED_RANGE[0] <= value <= SEED_RANGE[1]:
        raise UserError(f"{name} must be an integer from {SEED_RANGE[0]} to {SEED_RANGE[1]} (got {value!r})")
    return value


def check_at_least(name: str, value, low: float = 1) -> None:
    """A count or a rate must be a finite number >= ``low`` (booleans are not numbers here; an infinite threshold
    or learning rate would give a record at chance accuracy that looks like a measurement)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= low:
        raise UserError(f"{name} must be at least {low} (got {value!r})")
    if not math.isfinite(value):
        raise UserError(f"{name} must be a finite number (got {value!r})")
