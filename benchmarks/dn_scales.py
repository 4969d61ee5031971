"""Why data-based normalization (DN) costs accuracy on the Chinese datasets and not on the English ones: the
largest activation it divides by (Diehl et al. 2015: the maximum over the training data) against what a typical
sentence reaches.

For Table 1's tailored TextCNN (population 10, seed 0; its checkpoint must be in the cache: nothing is trained),
each training sentence's largest convolution activation and largest output activation; prints their maximum (DN's
lambda), the 99.9th and 99th percentiles and the median over sentences. Where the maximum is several times the
median, DN scales a typical sentence's strongest neuron to a fraction of one spike per step, and the output layer
falls nearly silent (the firing rates of the Table 1 records).

    SNN_ROBUST_BUNDLE=../shared/bundle OMP_NUM_THREADS=1 python benchmarks/dn_scales.py [DATASET ...]
"""

from __future__ import annotations

import sys

import torch

from robustbench_snn.config import ModelConfig
from robustbench_snn.models import evaluation_mode
from robustbench_snn.prepared import batches
from robustbench_snn.zoo import build_model


def per_sentence_maxima(dataset: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Each training sentence's largest convolution and output activation of the tailored TextCNN."""
    built = build_model(ModelConfig(dataset, "tailored"), train=False)
    ann, prepared = built.model, built.prepared
    conv, out = [], []
    with torch.no_grad(), evaluation_mode(ann):
        for ids, _ in batches(prepared.ids["train"], prepared.labels["train"], 512):
            conv.append(torch.cat([f.flatten(1) for f in ann.features(ids)], 1).amax(1))
            out.append(ann.population(ids).amax(1))
    return torch.cat(conv), torch.cat(out)


def describe(values: torch.Tensor) -> str:
    top = float(values.max())
    median = float(values.median())
    return (f"max {top:6.3f}  p99.9 {float(torch.quantile(values, 0.999)):6.3f}  "
            f"p99 {float(torch.quantile(values, 0.99)):6.3f}  median {median:6.3f}  max/median {top / median:4.1f}")


def main() -> None:
    for dataset in sys.argv[1:] or ["mr", "sst2", "sst5", "subj", "chnsenti", "waimai"]:
        conv, out = per_sentence_maxima(dataset)
        print(f"{dataset:9s} conv    {describe(conv)}")
        print(f"{'':9s} output  {describe(out)}")


if __name__ == "__main__":
    main()
