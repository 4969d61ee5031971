"""Why data-based normalization (DN) costs accuracy on the Chinese datasets and not on the English ones: the
largest activation it divides by (Diehl et al. 2015: the maximum over the training data) against what a typical
sentence reaches.

For Table 1's tailored TextCNN (population 10, seed 0; its checkpoint must be in the cache: nothing is trained),
each training sentence's largest convolution activation and largest output activation (``convert.sentence_maxima``,
DN's own measurement); prints their maximum (DN's lambda), the 99.9th and 99th percentiles and the median over
sentences. Where the maximum is several times the median, DN scales a typical sentence's strongest neuron to a
fraction of one spike per step, and the output layer falls nearly silent (the firing rates of the Table 1 records).

With ``--evaluate``, also what a robust scale gives: Table 1's Conv SNN + DN with ``snn.dn_percentile`` at 100 (the
maximum), 99.9 and 99, measured as ``snn-robust evaluate`` measures (into a scratch folder, so nothing is written
under results/), each beside the committed record of the same identity where one exists
(``recipes/dn-percentile.yaml`` and ``recipes/table1.yaml`` write them).

    SNN_ROBUST_BUNDLE=../shared/bundle OMP_NUM_THREADS=1 python benchmarks/dn_scales.py [--evaluate] [DATASET ...]
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from robustbench_snn.config import ModelConfig
from robustbench_snn.convert import sentence_maxima
from robustbench_snn.evaluate import evaluate, finished_accuracy
from robustbench_snn.prepared import batches
from robustbench_snn.records import RESULTS
from robustbench_snn.zoo import build_model

PERCENTILES = (100.0, 99.9, 99.0)  # 100: the maximum, Diehl et al.'s DN (this project's snn-conv-dn)


def describe(values: torch.Tensor) -> str:
    top, median = float(values.max()), float(values.median())
    return (f"max {top:6.3f}  p99.9 {float(torch.quantile(values, 0.999)):6.3f}  "
            f"p99 {float(torch.quantile(values, 0.99)):6.3f}  median {median:6.3f}  max/median {top / median:4.1f}")


def dn_at(dataset: str, percentile: float, scratch: Path) -> str:
    """Test accuracy and output firing rate of Table 1's Conv SNN + DN with its lambdas at ``percentile``, and the
    committed record's."""
    config = ModelConfig(dataset, "snn-conv-dn")
    config = replace(config, snn=replace(config.snn, dn_percentile=percentile))
    line = []
    for source, record in (("measured", evaluate(config, train=False, results=scratch)),
                           ("committed", finished_accuracy(config, RESULTS))):
        if record is not None:
            line.append(f"{source} {100 * record['test_accuracy']:.2f}% (output firing rate "
                        f"{record['activity']['output']['rate']:.3f})")
    return ", ".join(line) + ("" if len(line) == 2 else ", no committed record")


def main() -> None:
    evaluate_too = "--evaluate" in sys.argv[1:]
    datasets = [a for a in sys.argv[1:] if a != "--evaluate"] or ["mr", "sst2", "sst5", "subj", "chnsenti", "waimai"]
    with tempfile.TemporaryDirectory() as scratch:
        for dataset in datasets:
            built = build_model(ModelConfig(dataset, "tailored"), train=False)
            prepared = built.prepared
            conv, out = sentence_maxima(built.model.cpu(), (x for x, _ in batches(prepared.ids["train"],
                                                                                 prepared.labels["train"], 256)))
            print(f"{dataset:9s} conv    {describe(conv)}")
            print(f"{'':9s} output  {describe(out)}")
            for percentile in PERCENTILES if evaluate_too else ():
                print(f"{'':9s} DN at the {percentile:g}th percentile: {dn_at(dataset, percentile, Path(scratch))}",
                      flush=True)


if __name__ == "__main__":
    main()
