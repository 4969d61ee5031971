"""Why the directly-trained SNN stays at chance: its first batches of surrogate training, measured.

A diagnostic, not a speed benchmark. For each variant it trains the directly-trained SNN's start (zoo.direct_start)
for a few hundred batches with the paper's loss (rate cross-entropy) and prints, every 25 batches, the loss, the
output neurons' firing rate, the two class groups' mean spike counts and the share of the batch's columns holding
a token (length-grouped batches vary it). The question it answers: does the network learn to tell the classes
apart, or does it collapse to a state where both groups fire alike (loss ln 2, no gradient)?

    OMP_NUM_THREADS=1 python benchmarks/direct_training_collapse.py [--batches 200] [--dataset sst2]

Variants: the learning rate (5e-4, the default; 1e-4, the authors'; 1e-5), population 10 and 1, the authors'
shifted start, no pool neurons, and shuffled batches instead of length-grouped ones.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from robustbench_snn.config import ModelConfig, SNNConfig, TrainConfig
from robustbench_snn.prepared import batches, length_batches, prepare_for
from robustbench_snn.train import reproducible_training, seeded, spike_rate_loss
from robustbench_snn.zoo import direct_start

VARIANTS = {  # name: (learning rate, config changes, batch order)
    "default (lr 5e-4, pop 10, length-grouped)": (5e-4, {}, "length"),
    "lr 1e-4 (the authors')": (1e-4, {}, "length"),
    "lr 1e-5": (1e-5, {}, "length"),
    "population 1": (5e-4, {"population": 1}, "length"),
    "shifted start (the authors')": (5e-4, {"train": TrainConfig(direct_init="shifted")}, "length"),
    "no pool neurons": (5e-4, {"snn": SNNConfig(pool_neurons=False)}, "length"),
    "shuffled batches": (5e-4, {}, "shuffled"),
}


def run(name: str, dataset: str, lr: float, changes: dict, order: str, limit: int) -> None:
    config = replace(ModelConfig(dataset, "snn-direct"), **changes)
    prepared = prepare_for(config)
    classes = prepared.dataset.spec.num_classes
    with seeded(config.seed):
        model, _ = direct_start(config, prepared)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr,
                                  weight_decay=config.train.weight_decay)
    order_of = length_batches if order == "length" else batches
    train = order_of(prepared.ids["train"], prepared.labels["train"], config.train.batch_size,
                     torch.Generator().manual_seed(config.seed))
    print(f"\n== {name}", flush=True)
    print(f"{'batch':>5} {'loss':>6} {'output rate':>11} {'counts per class':>24} {'token share':>11} {'right':>5}")
    began, model = time.time(), model.train()
    with reproducible_training():
        for step, (ids, labels) in enumerate(train):
            if step > limit:
                break
            spikes = model.run(ids).output_spikes
            counts = model.class_counts(spikes.detach()).float()
            loss = spike_rate_loss(spikes, labels, classes)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step % 25 == 0:
                right = float((counts.argmax(-1) == labels).float().mean())
                inputs = float((ids != 0).sum()) / ids.numel()  # share of columns holding a token
                print(f"{step:>5} {float(loss):6.3f} {float(spikes.detach().mean()):11.3f} "
                      f"{' / '.join(f'{c:.1f}' for c in counts.mean(0).tolist()):>24} {inputs:11.3f} {right:5.2f}",
                      flush=True)
    print(f"({time.time() - began:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="sst2")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--variants", help="comma-separated variant numbers, from 0 (default: all)")
    args = parser.parse_args()
    chosen = list(VARIANTS) if not args.variants else [list(VARIANTS)[int(i)] for i in args.variants.split(",")]
    for name in chosen:
        lr, changes, order = VARIANTS[name]
        run(name, args.dataset, lr, changes, order, args.batches)


if __name__ == "__main__":
    main()
