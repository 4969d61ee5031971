"""Test-set evaluation of one model, written as a Table 1 / Table 3 record."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import torch

from robustbench_snn.config import ModelConfig
from robustbench_snn.identity import short_digest
from robustbench_snn.models.spiking import FreshBernoulli, SpikingTextCNN
from robustbench_snn.records import DEVIATIONS, RESULTS, SCHEMA_VERSION, environment, invocation, write_record
from robustbench_snn.train import MODEL_KINDS, accuracy, build_model, identity, prepare

# Bump when a change to how accuracy or energy is measured can change a Table 1/3/5 record.
EVALUATION_CODE_VERSION = 1


def record_identity(config: ModelConfig, measure: dict) -> dict:
    """A Table 1/3/5 record's identity: its model's (no training needed to compute it) and the measurement's."""
    prepared = prepare(config.dataset, config.split_seed, config.random_embeddings, config.vectors)
    return {"model": identity(config, prepared), "measure": measure, "evaluation_code": EVALUATION_CODE_VERSION}


def _identity_fields(ident: dict) -> dict:
    return {"schema_version": SCHEMA_VERSION, "identity": ident, "identity_digest": short_digest(ident)}


_ACCURACY = {"splits": ["test", "dev"], "snn_sampling": "fresh, one draw per example, encoder seeded by the seed"}


def record_path(config: ModelConfig, results: Path = RESULTS) -> Path:
    table = "table3" if config.random_embeddings else "table1"
    digest = short_digest(record_identity(config, _ACCURACY))
    return results / table / config.dataset / config.kind / f"seed{config.seed}-{digest}.json"


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
        **_identity_fields(record_identity(config, _ACCURACY)),
        "dataset": config.dataset, "model": config.kind, "model_name": MODEL_KINDS[config.kind],
        "seed": config.seed, "random_embeddings": config.random_embeddings,
        "test_accuracy": accuracy(model, prepared.ids["test"], prepared.labels["test"]),
        "dev_accuracy": accuracy(model, prepared.ids["dev"], prepared.labels["dev"]),
        "split": {"name": "test", **prepared.dataset.split, "sizes": {k: len(v) for k, v in
                                                                      prepared.dataset.splits().items()}},
        "sampling": sampling, "config": asdict(config), "model_provenance": built.provenance,
        "vectors": prepared.vectors.identity if prepared.vectors else "random U[0,1]",
        "vocabulary": prepared.vocab.digest, "deviations": DEVIATIONS, "environment": environment(),
        "command": invocation(),
        "wall_seconds": round(time.time() - began, 1),
    }
    write_record(record_path(config, results), record)
    return record


def _energy_measure(e_mac_pj: float, e_ac_pj: float) -> dict:
    return {"ann": "tailored", "e_mac_pj": e_mac_pj, "e_ac_pj": e_ac_pj, "split": "test",
            "snn_sampling": "fresh, one draw per example, encoder seeded by the seed"}


def energy_path(config: ModelConfig, e_mac_pj: float, e_ac_pj: float, results: Path = RESULTS) -> Path:
    digest = short_digest(record_identity(config.with_kind("snn-ft"), _energy_measure(e_mac_pj, e_ac_pj)))
    return results / "table5" / config.dataset / f"seed{config.seed}-{digest}.json"


def evaluate_energy(config: ModelConfig, e_mac_pj: float, e_ac_pj: float, train: bool = True,
                    results: Path = RESULTS) -> dict:
    """Table 5 record: the tailored ANN's FLOPs against the fine-tuned SNN's synaptic operations on the test set."""
    from robustbench_snn.energy import estimate, firing_rates, layer_flops, summary

    began = time.time()
    built = build_model(config.with_kind("snn-ft"), train=train)
    prepared, snn = built.prepared, built.model
    snn.encoder = FreshBernoulli(torch.Generator().manual_seed(config.seed))
    conv_rate, fc_rate = firing_rates(snn, prepared.ids["test"])
    spec = prepared.dataset.spec
    flops = layer_flops(spec.max_len, snn.embedding.dim, spec.num_classes)
    record = {
        "table": "table5", **_identity_fields(record_identity(config.with_kind("snn-ft"),
                                                                _energy_measure(e_mac_pj, e_ac_pj))),
        "dataset": config.dataset, "seed": config.seed, "ann": "tailored", "snn": "snn-ft",
        "steps": snn.steps, "e_mac_pj": e_mac_pj, "e_ac_pj": e_ac_pj,
        **summary(estimate(flops, snn.steps, conv_rate, fc_rate, e_mac_pj, e_ac_pj)),
        "split": {"name": "test", **prepared.dataset.split},
        "sampling": {"protocol": "fresh", "draws": 1, "encoder_seed": config.seed},
        "config": asdict(config.with_kind("snn-ft")), "model_provenance": built.provenance,
        "deviations": DEVIATIONS | {"flops": "multiply-accumulates of the weighted layers (convolutions, linear)"},
        "environment": environment(),
        "command": invocation(),
        "wall_seconds": round(time.time() - began, 1),
    }
    write_record(energy_path(config, e_mac_pj, e_ac_pj, results), record)
    return record
