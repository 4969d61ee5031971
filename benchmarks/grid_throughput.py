"""The smoke grid (recipes/smoke-grid.yaml: PWWS on SST-2 against a TextCNN and a converted SNN, seeded, real
offline resources) on 1 and 2 workers of each executor: attacked examples per minute, the speed-up over one
worker, and a check that every executor wrote the same per-example outcomes and metrics.

Checkpoints are trained first (not timed); each configuration writes into its own temporary results folder.
Worker start-up (importing TextAttack, loading WordNet, the encoder and the word vectors: ~20 s per process) is
inside the timings, as it is for a user; more examples per run amortize it.

    python benchmarks/grid_throughput.py [EXAMPLES_PER_RUN] [SHARD_SIZE]     # default 40 10
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from robustbench_snn.config import load_study
from robustbench_snn.errors import UserError
from robustbench_snn.grid import attack_jobs, check_study, make_executor, run_study, train_group
from robustbench_snn.runtime import keep_freed_memory

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "smoke-grid.yaml"


def outcomes(results: Path) -> dict:
    found = {}
    for path in sorted(results.rglob("*.jsonl")):
        rows = [{k: v for k, v in json.loads(line).items() if k not in ("seconds", "model_seconds")}
                for line in path.read_text().splitlines()]
        found[path.name] = (rows, json.loads(path.with_suffix(".json").read_text())["metrics"])
    return found


def main() -> None:
    keep_freed_memory()
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    shard = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    study = replace(check_study(load_study(RECIPE)), num_examples=count, shard_size=shard)
    train_group(tuple(dict.fromkeys(job.model for job in attack_jobs(study))))
    examples = count * len(attack_jobs(study))
    print(f"smoke grid: {len(attack_jobs(study))} runs x {count} examples, shards of {shard}")
    reference, base = None, {}
    for name, workers in [("local", 1), ("process", 1), ("process", 2), ("ray", 1), ("ray", 2)]:
        results = Path(tempfile.mkdtemp(prefix=f"snn-robust-grid-{name}{workers}-"))
        try:
            executor = make_executor(name, workers=workers)
        except UserError as err:  # Ray not installed: say so and go on
            print(f"{name:8s} x{workers}: skipped ({err})")
            continue
        began = time.perf_counter()
        try:
            run_study(study, executor, results, train=False, echo=False)
        finally:
            executor.close()
        seconds = time.perf_counter() - began
        rate = 60 * examples / seconds
        base.setdefault(name, rate)
        found = outcomes(results)
        reference = reference or found
        assert found == reference, f"{name} x{workers} wrote different outcomes"
        print(f"{name:8s} x{workers}: {seconds:6.1f} s, {rate:6.1f} examples/min, {rate / base[name]:.2f}x over 1 "
              f"worker; same outcomes as local")


if __name__ == "__main__":
    main()
