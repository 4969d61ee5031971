"""Paired bootstraps, the bulk of rendering the paired, claims and worst-case tables: one set of resample counts
per sample size shared by every comparison (``stats._resample_counts``) against indexing the 0/1 differences
anew for each (the path pooled samples still take), on the same comparisons; the results are asserted identical.

    python benchmarks/table_rendering.py [COMPARISONS] [N]   # defaults: 200 comparisons (a paired table), 1000
"""

from __future__ import annotations

import sys
import time

import numpy as np

from robustbench_snn import stats


def timed(pairs) -> tuple[float, list]:
    stats._resample_counts.cache_clear()  # the shared path pays for its draws inside the timing
    began = time.perf_counter()
    found = [stats.paired_bootstrap(a, b) for a, b in pairs]
    return time.perf_counter() - began, found


def main() -> None:
    comparisons = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    rng = np.random.default_rng(0)
    pairs = [(rng.random(n) < 0.1, rng.random(n) < 0.15) for _ in range(comparisons)]
    limit = stats.COUNTS_LIMIT
    stats.COUNTS_LIMIT = 0
    reference, expected = timed(pairs)
    stats.COUNTS_LIMIT = limit
    shared, found = timed(pairs)
    assert found == expected, "the shared resample counts changed a bootstrap interval"
    print(f"{comparisons} paired bootstraps of {n} examples: direct indexing {reference:.2f} s, shared counts "
          f"{shared:.2f} s")
    print(f"paired-bootstrap speed-up: {reference / shared:.2f}x")


if __name__ == "__main__":
    main()
