"""Test-set evaluation of one model, written as a Table 1 / Table 3 record."""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from robustbench_snn.config import ModelConfig
from robustbench_snn.models.spiking import FreshBernoulli, SpikingTextCNN
from robustbench_snn.records import DEVIATIONS, RESULTS, environment, write_record
from robustbench_snn.train import MODEL_KINDS, accuracy, build_model


def record_path(config: ModelConfig, results: Path = RESULTS) -> Path:
    table = "table3" if config.random_embeddings else "table1"
    return results / table / config.dataset / config.kind / f"seed{config.seed}.json"


def evaluate(config: ModelConfig, train: bool = True, results: Path = RESULTS) -> dict:
    """Build (or train) the model, measure test accuracy, write and return the record."""
    began = time.time()
    built = build_model(config, train=train)
    prepared, model = built.prepared, built.model
    sampling = None
    if isinstance(model, SpikingTextCNN):
        # One fresh Bernoulli draw per example, from a generator seeded by the run seed: reproducible.
        model.encoder = FreshBernoulli(torch.Generator().manual_seed(config.seed))
        sampling = {"protocol": "fresh", "draws": 1, "encoder_seed": config.seed, "steps": model.steps}
    record = {
        "table": "table3" if config.random_embeddings else "table1",
        "dataset": config.dataset, "model": config.kind, "model_name": MODEL_KINDS[config.kind],
        "seed": config.seed, "random_embeddings": config.random_embeddings,
        "test_accuracy": accuracy(model, prepared.ids["test"], prepared.labels["test"]),
        "dev_accuracy": accuracy(model, prepared.ids["dev"], prepared.labels["dev"]),
        "split": {"name": "test", **prepared.dataset.split, "sizes": {k: len(v) for k, v in
                                                                      prepared.dataset.splits().items()}},
        "sampling": sampling, "config": asdict(config), "model_provenance": built.provenance,
        "vectors": prepared.vectors.identity if prepared.vectors else "random U[0,1]",
        "vocabulary": prepared.vocab.digest, "deviations": DEVIATIONS, "environment": environment(),
        "command": "snn-robust " + shlex.join(sys.argv[1:]) if sys.argv[0].endswith("snn-robust") else None,
        "wall_seconds": round(time.time() - began, 1),
    }
    write_record(record_path(config, results), record)
    return record
