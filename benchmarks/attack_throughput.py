"""Attacked examples per minute for PWWS on SST-2: TextCNN vs the fine-tuned SNN under each sampling protocol,
where the time goes (model queries vs. search, transformation and constraints), and the seeded window cache
against recomputing every query (asserting identical per-example results). First, the window cache alone on
one batch of 256 one-word edits of a 20-word test text, against the full model (asserting equal counts).

Uses the cached seed-0 checkpoints (trained on demand) and the real offline resources; writes its records
under a temporary results folder, never into results/.

    python benchmarks/attack_throughput.py [NUM_EXAMPLES]     # default 40
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import time

import torch

from robustbench_snn.config import ModelConfig
from robustbench_snn.config import AttackConfig
from robustbench_snn.harness import run
from robustbench_snn.models.spiking import SeededBernoulli
from robustbench_snn.models.window_cache import WindowCache
from robustbench_snn.runtime import keep_freed_memory
from robustbench_snn.zoo import build_model


@torch.no_grad()
def window_cache_on_one_batch(edits: int = 256, length: int = 20) -> None:
    built = build_model(ModelConfig("sst2", "snn-ft"))
    snn, ids = built.model.eval(), built.prepared.ids["test"]
    base = next(row for row in ids if int((row != 0).sum()) >= length)[None, :length]
    batch = base.repeat(edits, 1)
    generator = torch.Generator().manual_seed(0)
    batch[torch.arange(edits), torch.arange(edits) % length] = torch.randint(2, snn.embedding.weight.shape[0], (edits,),
                                                                             generator=generator)
    cache = WindowCache(snn, 0)
    cache.counts(base)  # the current text: its windows and the reference sums
    began = time.perf_counter()
    full = snn(batch, SeededBernoulli(0))
    full_seconds, began = time.perf_counter() - began, time.perf_counter()
    cached = cache.counts(batch)
    cached_seconds = time.perf_counter() - began
    assert torch.equal(full, cached), "window cache changed counts"
    print(f"window cache, {edits} one-word edits of a {length}-word text: full model {full_seconds * 1e3:.0f} ms, "
          f"cache {cached_seconds * 1e3:.0f} ms ({full_seconds / cached_seconds:.2f}x), equal counts")


def main() -> None:
    keep_freed_memory()
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    print(f"PWWS (paper settings) on SST-2, {count} examples, {torch.get_num_threads()} threads")
    window_cache_on_one_batch()
    results = Path(tempfile.mkdtemp(prefix="snn-robust-bench-"))
    reference = None
    outcomes = {}
    for kind, sampling, incremental in [("textcnn", "seeded", True), ("snn-ft", "seeded", True),
                                        ("snn-ft", "seeded", False), ("snn-ft", "fresh", True),
                                        ("snn-ft", "eot:4", True)]:
        folder = results / f"{kind}-{sampling}-{incremental}"
        record = run(ModelConfig("sst2", kind), AttackConfig("pwws", sampling=sampling, num_examples=count,
                                                             rescore_draws=1), folder, progress=False,
                     incremental=incremental)
        rows = [json.loads(line) for line in next(folder.rglob("*.jsonl")).read_text().splitlines()[1:]]
        outcomes[(kind, sampling, incremental)] = [(r["outcome"], r["perturbed_text"]) for r in rows]
        rate = record["examples_per_minute"]
        reference = reference or rate
        share = record["model_seconds"] / record["attack_seconds"]
        label = record["sampling"] + ("" if incremental or kind == "textcnn" else " (recompute)")
        print(f"{kind:8s} {label:22s} {rate:7.1f} examples/min ({rate / reference:4.2f}x TextCNN) | model queries "
              f"{record['model_seconds']:6.1f} s = {share:4.0%} of attack time | "
              f"{record['mean_model_calls']:.0f} model calls/example")
        if (kind, sampling, incremental) == ("snn-ft", "seeded", False):
            assert outcomes[(kind, sampling, False)] == outcomes[(kind, sampling, True)], "window cache changed results"
            cached = json.loads(next((results / "snn-ft-seeded-True").rglob("*.json")).read_text())
            print(f"window cache: identical per-example results; model-query time {record['model_seconds']:.1f} s "
                  f"-> {cached['model_seconds']:.1f} s ({record['model_seconds'] / cached['model_seconds']:.2f}x), "
                  f"whole attack {record['attack_seconds'] / cached['attack_seconds']:.2f}x")

if __name__ == "__main__":
    main()
