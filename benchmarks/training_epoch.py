"""Training with length-grouped batches and the padding windows skipped (training code version 3) against shuffled
batches over every window (version 2's path), on the real MR training sentences (the bundle's), one thread, in one
run.

Workload: the first ``N`` batches (batch 32, the paper's) of one epoch of each training loop the pipeline runs per
model: the tailored TextCNN (cross-entropy) and the population-1 spiking TextCNN's fine-tuning (T = 50, the rate
loss, fresh spikes), each a forward, a backward and an AdamW step per batch. Both paths start from the same
weights; the batches differ by design (grouping by length is the change), so what is compared is the time per
sentence seen. A prefix of ``N`` batches is representative: version 3 visits its length-grouped batches in a
seeded random order.

    OMP_NUM_THREADS=1 SNN_ROBUST_BUNDLE=../shared/bundle python benchmarks/training_epoch.py [N]
"""

from __future__ import annotations

import copy
import itertools
import sys
import time

import torch

from robustbench_snn.config import ModelConfig
from robustbench_snn.models.spiking import FreshBernoulli, SpikingTextCNN
from robustbench_snn.models.textcnn import TailoredTextCNN, every_window
from robustbench_snn.prepared import batches, length_batches, make_embedding, prepare_for
from robustbench_snn.train import TRAIN_THREADS, ce_loss, rate_loss

BATCH = 32


def epoch_prefix(model, loss_of, ids, labels, count: int, grouped: bool) -> float:
    """Seconds for the first ``count`` training steps of an epoch, per sentence seen."""
    model = copy.deepcopy(model).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    order = torch.Generator().manual_seed(0)
    chosen = (length_batches if grouped else batches)(ids, labels, BATCH, order)
    seen, began = 0, time.perf_counter()
    for x, y in itertools.islice(chosen, count):
        loss = loss_of(model, x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(x)
    return (time.perf_counter() - began) / seen


def main(count: int) -> None:
    torch.set_num_threads(TRAIN_THREADS)
    config = ModelConfig("mr", "tailored", population=1)
    prepared = prepare_for(config)
    ids, labels = prepared.ids["train"], prepared.labels["train"]
    classes = prepared.dataset.spec.num_classes
    torch.manual_seed(0)
    ann = TailoredTextCNN(make_embedding(config, prepared), classes, population_size=1)
    snn = SpikingTextCNN.from_tailored(ann, steps=50, encoder=FreshBernoulli(torch.Generator().manual_seed(0)))
    totals = {"every window": 0.0, "grouped": 0.0}
    for name, model, loss_of in (("tailored", ann, ce_loss), ("snn fine-tuning", snn, rate_loss(classes))):
        with every_window():
            before = epoch_prefix(model, loss_of, ids, labels, count, grouped=False)
        after = epoch_prefix(model, loss_of, ids, labels, count, grouped=True)
        totals["every window"] += before
        totals["grouped"] += after
        epoch = len(ids)
        print(f"mr {name}: shuffled, every window {before * epoch:.1f} s/epoch; length-grouped, padding skipped "
              f"{after * epoch:.1f} s/epoch; {before / after:.2f}x")
    print(f"training epoch speed-up (mr): {totals['every window'] / totals['grouped']:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
