"""Attacked examples per minute for PWWS on SST-2: TextCNN vs the fine-tuned SNN under each sampling protocol,
and where the time goes (model queries vs. search, transformation and constraints).

Uses the cached seed-0 checkpoints (trained on demand) and the real offline resources; writes its records
under a temporary results folder, never into results/.

    python benchmarks/attack_throughput.py [NUM_EXAMPLES]     # default 40
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

from robustbench_snn.config import ModelConfig
from robustbench_snn.harness import AttackConfig, run
from robustbench_snn.runtime import keep_freed_memory


def main() -> None:
    keep_freed_memory()
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    print(f"PWWS (paper settings) on SST-2, {count} examples, {torch.get_num_threads()} threads")
    results = Path(tempfile.mkdtemp(prefix="snn-robust-bench-"))
    reference = None
    for kind, sampling in [("textcnn", "seeded"), ("snn-ft", "seeded"), ("snn-ft", "fresh"), ("snn-ft", "eot:4")]:
        record = run(ModelConfig("sst2", kind), AttackConfig("pwws", sampling=sampling, num_examples=count,
                                                             rescore_draws=1), results, progress=False)
        rate = record["examples_per_minute"]
        reference = reference or rate
        share = record["model_seconds"] / record["attack_seconds"]
        print(f"{kind:8s} {record['sampling']:13s} {rate:7.1f} examples/min ({rate / reference:4.2f}x TextCNN) | "
              f"model queries {share:4.0%} of attack time, rest (search, WordNet, sentence encoder) {1 - share:4.0%} "
              f"| {record['mean_model_calls']:.0f} model calls/example")


if __name__ == "__main__":
    main()
