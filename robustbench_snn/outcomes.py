"""What an attacked example's outcome can be, and Lv et al.'s three metrics over them, defined once.

An example is ``succeeded`` (classified correctly, then the attack flipped it), ``failed`` (classified correctly and
the attack did not flip it: robust) or ``skipped`` (misclassified before any attack). Records store a run's
outcomes as one string of codes in selection order (``s``, ``f``, ``k``). Over N examples with s succeeded and f
failed: Cln = (s + f) / N, Boa = f / N, Suc = s / (s + f), each a fraction (tables print percentages).
"""

from __future__ import annotations

OUTCOMES = {"succeeded": "s", "failed": "f", "skipped": "k"}  # outcome -> its code in outcome strings


def encode(outcomes: list[str]) -> str:
    """Outcome names as an outcome string (``["succeeded", "failed"]`` -> ``"sf"``)."""
    return "".join(OUTCOMES[o] for o in outcomes)


def counts(codes: str) -> tuple[int, int, int]:
    """(succeeded, failed, n) of an outcome string."""
    return codes.count("s"), codes.count("f"), len(codes)


def metric_ratios(succeeded: int, failed: int, n: int) -> dict[str, tuple[int, int]]:
    """Each metric as (hits, denominator): Cln = (s + f) / N, Boa = f / N, Suc = s / (s + f). Rates and their
    intervals are both computed from these, so the definitions live here only."""
    return {"cln": (succeeded + failed, n), "boa": (failed, n), "suc": (succeeded, succeeded + failed)}
