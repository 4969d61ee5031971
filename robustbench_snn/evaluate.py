"""Test-set evaluation of one model, written as a Table 1 / Table 3 record."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import torch

from robustbench_snn.config import ModelConfig, options_label
from robustbench_snn.energy import measure_activity
from robustbench_snn.identity import short_digest
from robustbench_snn.models.spiking import FreshBernoulli, SpikingTextCNN
from robustbench_snn.prepared import prepare_for
from robustbench_snn.records import (DEVIATIONS, RESULTS, accuracy_record, accuracy_record_path, energy_record,
                                     energy_record_path, invocation, read_record, write_record)
from robustbench_snn.train import accuracy, seeded
from robustbench_snn.zoo import build_model, model_identity

# Bump when a change to how accuracy or energy is measured can change a Table 1/3/5 record.
# 3: an SNN draws fresh spikes for the occupied columns of a batch only (the random stream moves).
EVALUATION_CODE_VERSION = 3


def record_identity(config: ModelConfig, measure: dict) -> dict:
    """A Table 1/3/5 record's identity: its model's (no training needed to compute it) and the measurement's."""
    prepared = prepare_for(config)
    return {"model": model_identity(config, prepared), "measure": measure, "evaluation_code": EVALUATION_CODE_VERSION}


_ACCURACY = {"splits": ["test", "dev"], "snn_sampling": "fresh, one draw per example, encoder seeded by the seed",
             "snn_activity": "firing rate and active share per layer on the test split"}


def record_path(config: ModelConfig, results: Path = RESULTS) -> Path:
    return accuracy_record_path(results, config, short_digest(record_identity(config, _ACCURACY)))


def _finished(path: Path) -> dict | None:
    """The record at ``path`` if it is whole and has the identity its name carries (the path is named by the
    identity's digest, so a record there was measured the same way on the same model); else None."""
    record = read_record(path)
    return record if record and path.stem.endswith(f"-{record.get('identity_digest')}") else None


def finished_accuracy(config: ModelConfig, results: Path = RESULTS) -> dict | None:
    """The Table 1/3 record of ``config`` if one with its identity exists (nothing is built or trained)."""
    return _finished(record_path(config, results))


def finished_energy(config: ModelConfig, rules: list, results: Path = RESULTS) -> dict | None:
    """The Table 5 record of ``config`` under ``rules`` if one with its identity exists."""
    return _finished(energy_path(config, rules, results))


def _common(config: ModelConfig, built, measure: dict) -> dict:
    """The builder arguments every Table 1/3/5 record shares: identity, model, options, split, resources."""
    prepared = built.prepared
    ident = record_identity(config, measure)
    return {"identity": ident, "digest": short_digest(ident), "code": {"evaluation": EVALUATION_CODE_VERSION},
            "threads": torch.get_num_threads(), "config": asdict(config), "options": options_label(asdict(config)),
            "provenance": built.provenance,
            "split": {"name": "test", **prepared.dataset.split,
                      "sizes": {k: len(v) for k, v in prepared.dataset.splits().items()}},
            "resources": {"vectors": prepared.vectors.identity if prepared.vectors else "random U[0,1]",
                          "vocabulary": prepared.vocab.digest},
            "command": invocation()}


def evaluate(config: ModelConfig, train: bool = True, results: Path = RESULTS) -> dict:
    """Build (or train) the model, measure test accuracy (and an SNN's activity), write and return the record. A
    record with this identity is returned as it is (delete it to measure again), as ``run`` returns a finished
    run: a rerun grid re-measured every model before, minutes per dataset for the same numbers."""
    if (done := finished_accuracy(config, results)) is not None:
        return done
    began = time.time()
    built = build_model(config, train=train)
    prepared, model = built.prepared, built.model
    sampling, activity, encoder = {"protocol": "deterministic"}, None, None
    if built.stochastic:
        # One fresh draw per example, from a generator seeded by the run seed (test, then dev); a registered
        # stochastic kind that is not this package's SNN draws from torch's global generator, seeded the same way
        encoder = _fresh(config.seed)
        sampling = {"protocol": "fresh", "draws": 1, "encoder_seed": config.seed,
                    "steps": getattr(model, "steps", None)}
    with seeded(config.seed):
        if isinstance(model, SpikingTextCNN):  # firing rates and active neurons from the same simulations
            found, test_accuracy = measure_activity(model, prepared.ids["test"], prepared.labels["test"],
                                                    encoder=encoder)
            activity = {name: asdict(layer) for name, layer in found.items()}
        else:
            test_accuracy = accuracy(model, prepared.ids["test"], prepared.labels["test"], encoder=encoder)
        dev_accuracy = accuracy(model, prepared.ids["dev"], prepared.labels["dev"], encoder=encoder)
    record = accuracy_record(
        table="table3" if config.random_embeddings else "table1", **_common(config, built, _ACCURACY),
        stochastic=built.stochastic, sampling=sampling, test_accuracy=test_accuracy, dev_accuracy=dev_accuracy,
        activity=activity, deviations=DEVIATIONS, wall_seconds=round(time.time() - began, 1))
    write_record(record_path(config, results), record)
    return record


def _fresh(seed: int) -> FreshBernoulli:
    return FreshBernoulli(torch.Generator().manual_seed(seed))


def _energy_measure(rules: list) -> dict:
    return {"ann": "tailored", "split": "test", "counting": "real input events per layer",
            "conventions": {r.name: [r.e_mac_pj, r.e_ac_pj] for r in rules},
            "snn_sampling": "fresh, one draw per example, encoder seeded by the seed"}


def energy_path(config: ModelConfig, rules: list, results: Path = RESULTS) -> Path:
    return energy_record_path(results, config, short_digest(record_identity(config, _energy_measure(rules))))


def evaluate_energy(config: ModelConfig, rules: list | None = None, train: bool = True,
                    results: Path = RESULTS) -> dict:
    """Table 5 record: the tailored ANN's operations against an SNN's (measured on the test set), priced under
    every convention in ``rules`` (default: all named ones)."""
    from robustbench_snn.energy import CONVENTIONS, count, layer_flops, summary
    from robustbench_snn.errors import UserError

    if not config.stochastic:
        raise UserError(f"energy compares an SNN with its tailored ANN; {config.kind} is not an SNN (e.g. snn-ft)")
    rules = list(CONVENTIONS.values()) if rules is None else rules
    if (done := finished_energy(config, rules, results)) is not None:
        return done
    began = time.time()
    built = build_model(config, train=train)
    prepared, snn = built.prepared, built.model
    if not isinstance(snn, SpikingTextCNN):
        raise UserError(f"energy counts the spikes of this package's spiking TextCNN; {config.kind} is another model")
    activity, _ = measure_activity(snn, prepared.ids["test"], encoder=_fresh(config.seed))
    spec = prepared.dataset.spec
    flops = layer_flops(spec.max_len, snn.embedding.dim, spec.num_classes, snn.population_size)
    layers = count(flops, snn.steps, activity, snn.pool_neurons)
    record = energy_record(
        **_common(config, built, _energy_measure(rules)), steps=snn.steps, pool_neurons=snn.pool_neurons,
        counts=summary(layers, snn.steps, activity, rules),
        sampling={"protocol": "fresh", "draws": 1, "encoder_seed": config.seed},
        deviations=DEVIATIONS | {"flops": "multiply-accumulates of the weighted layers (convolutions, linear); "
                                          "pooling additions are not counted, on either side"},
        wall_seconds=round(time.time() - began, 1))
    write_record(energy_path(config, rules, results), record)
    return record
