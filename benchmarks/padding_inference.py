"""Padding-aware inference against computing every convolution window (the code path before it), on the real test
sentences of MR and SST-2 (the bundle's), one thread, in one run.

Workload: what an attack asks. For each of the first N test sentences, one batch of ``CANDIDATES`` one-word
substitutions of it (the query shape of PWWS and TextFooler: all candidates of an example have its length),
scored by the original TextCNN, the tailored TextCNN and the spiking TextCNN (T = 50) under fresh spikes (one
random stream; the reference path draws the same numbers, for the occupied columns, so that outputs can be
compared) and seeded spikes (keyed by position; the harness's window cache is not used here). Weights are the untrained initial ones at the paper's shapes (speed does not depend on them);
outputs are asserted identical (bit for bit) between the two paths before anything is timed.

    OMP_NUM_THREADS=1 SNN_ROBUST_BUNDLE=../shared/bundle python benchmarks/padding_inference.py [N]
"""

from __future__ import annotations

import sys
import time

import torch
import torch.nn.functional as F

from robustbench_snn.config import ModelConfig
from robustbench_snn.models.spiking import FreshBernoulli, SeededBernoulli, SpikingTextCNN
from robustbench_snn.models.textcnn import TailoredTextCNN, TextCNN, every_window, padding_reach
from robustbench_snn.prepared import make_embedding, prepare_for

CANDIDATES = 16


def queries(ids: torch.Tensor, count: int, seed: int = 0) -> list[torch.Tensor]:
    """Per sentence, a batch of one-word substitutions at random real positions (ids from the vocabulary)."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for row in ids[:count]:
        real = int((row != 0).sum()) or 1
        batch = row.repeat(CANDIDATES, 1)
        positions = torch.randint(0, real, (CANDIDATES,), generator=generator)
        batch[torch.arange(CANDIDATES), positions] = torch.randint(2, int(ids.max()) + 1, (CANDIDATES,),
                                                                   generator=generator)
        batches.append(batch)
    return batches


class OccupiedDraws(FreshBernoulli):
    """Fresh spikes for the occupied columns only, zeros (what padding always gives) beyond: on the every-window
    path, the very draws the padding-aware path makes."""

    def __call__(self, values: torch.Tensor, ids: torch.Tensor, steps: int) -> torch.Tensor:
        reach = padding_reach(ids)
        spikes = super().__call__(values[:, :reach], ids[:, :reach], steps)
        return F.pad(spikes, (0, 0, 0, ids.shape[1] - reach))


def run(model, batches: list[torch.Tensor], spiking: str | None) -> list[torch.Tensor]:
    """Scores of every batch; ``spiking``: the SNN's protocol, fresh (one random stream) or seeded."""
    with torch.no_grad():
        if spiking:
            encoder = OccupiedDraws(torch.Generator().manual_seed(1)) if spiking == "fresh" else SeededBernoulli(1)
            return [model(b, encoder) for b in batches]
        return [model(b) for b in batches]


def timed(fn) -> tuple[float, object]:
    fn()  # warm-up
    best, result = float("inf"), None
    for _ in range(3):
        began = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - began)
    return best, result


def main(count: int) -> None:
    torch.set_num_threads(1)
    for dataset in ("mr", "sst2"):
        config = ModelConfig(dataset, "tailored", population=1)
        prepared = prepare_for(config)
        batches = queries(prepared.ids["test"], count)
        classes = prepared.dataset.spec.num_classes
        torch.manual_seed(0)
        models = {"textcnn": (TextCNN(make_embedding(config, prepared, shifted=False), classes).eval(), None),
                  "tailored": (TailoredTextCNN(make_embedding(config, prepared), classes, population_size=1).eval(),
                               None)}
        snn = SpikingTextCNN.from_tailored(models["tailored"][0], steps=50).eval()
        models["snn fresh"] = (snn, "fresh")
        models["snn seeded"] = (snn, "seeded")
        totals = [0.0, 0.0]
        for name, (model, spiking) in models.items():
            fast_seconds, fast = timed(lambda: run(model, batches, spiking))
            with every_window():
                full_seconds, full = timed(lambda: run(model, batches, spiking))
            assert all(torch.equal(a, b) for a, b in zip(fast, full)), f"{dataset} {name}: outputs differ"
            totals[0] += fast_seconds
            totals[1] += full_seconds
            print(f"{dataset} {name}: every window {full_seconds:.3f} s, padding-aware {fast_seconds:.3f} s, "
                  f"{full_seconds / fast_seconds:.2f}x (outputs identical)")
        print(f"padding-aware inference speed-up ({dataset}): {totals[1] / totals[0]:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
