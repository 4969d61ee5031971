"""Uncertainty for attack tables: Cln / Boa / Suc with Wilson intervals, a paired bootstrap, McNemar's exact test,
and the worst case over attacks. Outcomes are per-example strings of codes (see :mod:`robustbench_snn.outcomes`),
in the run's selection order. Every rate and interval is a fraction; tables print percentages."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from robustbench_snn.outcomes import OUTCOMES, counts, metric_ratios

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion (a fraction); None for n = 0. Unlike the normal approximation it stays
    inside [0, 100] and is honest at 0 or n hits, which small attack samples produce."""
    if n == 0:
        return None
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarize(codes: str) -> dict:
    """Counts, Cln / Boa / Suc (fractions; None without a denominator) and their 95% Wilson intervals of an
    outcome string."""
    succeeded, failed, n = counts(codes)
    ratios = metric_ratios(succeeded, failed, n)
    return {"n": n, "succeeded": succeeded, "failed": failed, "skipped": n - succeeded - failed,
            **{name: hits / total if total else None for name, (hits, total) in ratios.items()},
            "ci95": {name: wilson(hits, total) for name, (hits, total) in ratios.items()}}


def robust(outcomes: str) -> np.ndarray:
    """1 where the example was classified correctly and the attack failed (it counts toward Boa)."""
    return np.frombuffer(outcomes.encode(), dtype=np.uint8) == ord(OUTCOMES["failed"])


# Resample counts are kept for sample sizes up to this many draws x examples (float32: 80 MB); larger (pooled)
# samples index directly, as every sample did before (the same draws, the same numbers)
COUNTS_LIMIT = 20_000_000


@lru_cache(maxsize=3)
def _resample_counts(n: int, draws: int, seed: int) -> np.ndarray:
    """How often each of ``n`` examples is picked in each of ``draws`` resamples [draws, n], from the very draws
    ``rng.integers(0, n, (draws, n))`` makes; float32 holds these counts, and the sums of 0/+-1 differences they
    weight (at most n in size), exactly. A table compares hundreds of model pairs on the same n examples: one set
    of draws serves them all, and each comparison is one matrix-vector product instead of 10^7 gathered values."""
    picks = np.random.default_rng(seed).integers(0, n, size=(draws, n))
    picks += np.arange(draws)[:, None] * n
    return np.bincount(picks.ravel(), minlength=draws * n).reshape(draws, n).astype(np.float32)


def paired_bootstrap(first: np.ndarray, second: np.ndarray, draws: int = 10_000, seed: int = 0) -> dict:
    """Difference in the mean of paired 0/1 indicators (second - first, a fraction) with a 95% percentile
    interval from resampling examples (the pairs stay together)."""
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    diff = second - first
    n = len(diff)
    if draws * n <= COUNTS_LIMIT and np.isin(diff, (-1.0, 0.0, 1.0)).all():
        # exact integer sums in any order: the same means, bit for bit, as indexing below
        means = (_resample_counts(n, draws, seed) @ diff.astype(np.float32)).astype(np.float64) / n
    else:
        means = diff[np.random.default_rng(seed).integers(0, n, size=(draws, n))].mean(1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"difference": float(diff.mean()), "ci95": [float(low), float(high)], "draws": draws,
            "seed": seed}


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value: discordant pairs ``only_first`` (robust in the first model only) and
    ``only_second``, tested against a fair coin."""
    n = only_first + only_second
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_first, only_second) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired_comparison(first: str, second: str, seed: int = 0) -> dict:
    """Robustness of two models on the same examples: Boa of each, the paired-bootstrap difference and
    McNemar's test on the examples where exactly one of them withstood the attack."""
    if len(first) != len(second):
        raise ValueError(f"paired outcomes need the same examples ({len(first)} vs {len(second)})")
    a, b = robust(first), robust(second)
    only_first, only_second = int((a & ~b).sum()), int((b & ~a).sum())
    return {"n": len(first), "boa_first": float(a.mean()), "boa_second": float(b.mean()),
            "boa_difference": paired_bootstrap(a, b, seed=seed), "robust_only_first": only_first,
            "robust_only_second": only_second, "mcnemar_p": mcnemar_exact(only_first, only_second)}


def worst_case(outcome_strings: list[str]) -> str:
    """Per example over several attacks (AutoAttack's rule): robust only if no attack succeeded and the clean
    text was classified correctly; skipped if any attack found it misclassified, succeeded if any succeeded."""
    if len({len(s) for s in outcome_strings}) != 1:
        raise ValueError("worst-case outcomes need every attack on the same examples")
    worst = []
    for codes in zip(*outcome_strings):
        worst.append("k" if "k" in codes else "s" if "s" in codes else "f")
    return "".join(worst)
