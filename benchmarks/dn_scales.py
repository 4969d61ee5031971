"""Why data-based normalization (DN) costs accuracy on the Chinese datasets and not on the English ones: the
largest activation it divides by (Diehl et al. 2015: the maximum over the training data) against what a typical
sentence reaches.

For Table 1's tailored TextCNN (population 10, seed 0; its checkpoint must be in the cache: nothing is trained),
each training sentence's largest convolution activation and largest output activation; prints their maximum (DN's
lambda), the 99.9th and 99th percentiles and the median over sentences. Where the maximum is several times the
median, DN scales a typical sentence's strongest neuron to a fraction of one spike per step, and the output layer
falls nearly silent (the firing rates of the Table 1 records).

With ``--evaluate``, also what a robust scale would give: the same conversion with DN's two lambdas taken at the
99.9th and 99th percentile over sentences instead of the maximum, each SNN's test accuracy and output firing rate
(T = 50, one fresh draw per example from a generator seeded 0, as Table 1 measures). The maximum's row is Table 1's
Conv SNN + DN and must match its record. An analysis, not a model option: no record is written.

    SNN_ROBUST_BUNDLE=../shared/bundle OMP_NUM_THREADS=1 python benchmarks/dn_scales.py [--evaluate] [DATASET ...]
"""

from __future__ import annotations

import sys

import torch

from robustbench_snn.config import ModelConfig
from robustbench_snn.convert import convert, normalize
from robustbench_snn.energy import measure_activity
from robustbench_snn.models import evaluation_mode
from robustbench_snn.models.spiking import FreshBernoulli
from robustbench_snn.prepared import batches
from robustbench_snn.zoo import build_model

PERCENTILES = (100.0, 99.9, 99.0)  # 100: the maximum, Diehl et al.'s DN (this project's snn-conv-dn)


def per_sentence_maxima(built) -> tuple[torch.Tensor, torch.Tensor]:
    """Each training sentence's largest convolution and output activation of a built tailored TextCNN."""
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


def converted_at(built, conv: torch.Tensor, out: torch.Tensor, percentile: float) -> tuple[float, float]:
    """Test accuracy and output firing rate of the tailored model converted with DN's lambdas at ``percentile``."""
    settings = ModelConfig(built.config.dataset, "snn-conv-dn").snn  # Table 1's SNN settings
    snn, _ = convert(built.model, "none", steps=settings.steps, beta=settings.beta, threshold=settings.threshold,
                     slope=settings.slope, pool_neurons=settings.pool_neurons)
    normalize(snn, "dn", (float(torch.quantile(conv, percentile / 100)), float(torch.quantile(out, percentile / 100))))
    prepared = built.prepared
    with torch.no_grad(), evaluation_mode(snn):
        activity, accuracy = measure_activity(snn, prepared.ids["test"], prepared.labels["test"],
                                              encoder=FreshBernoulli(torch.Generator().manual_seed(0)))
    return accuracy, activity["output"].rate


def main() -> None:
    evaluate = "--evaluate" in sys.argv[1:]
    for dataset in [a for a in sys.argv[1:] if a != "--evaluate"] or ["mr", "sst2", "sst5", "subj", "chnsenti",
                                                                       "waimai"]:
        built = build_model(ModelConfig(dataset, "tailored"), train=False)
        conv, out = per_sentence_maxima(built)
        print(f"{dataset:9s} conv    {describe(conv)}")
        print(f"{'':9s} output  {describe(out)}")
        for percentile in PERCENTILES if evaluate else ():
            accuracy, rate = converted_at(built, conv, out, percentile)
            print(f"{'':9s} DN at the {percentile:g}th percentile: test accuracy {100 * accuracy:.2f}%, output "
                  f"firing rate {rate:.3f}", flush=True)


if __name__ == "__main__":
    main()
