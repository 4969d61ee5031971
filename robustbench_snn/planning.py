"""What an attack run is before any work: its identity, the files named after it and the examples it attacks.

A run's identity (:func:`plan_run`) is everything that determines its rows: the model's identity (which embeds
the training code version), every attack field, the sha256 of the attack file, the resources the attack reads,
package versions and :data:`ATTACK_CODE_VERSION`. Its files are ``<readable stem>-<short digest>.{jsonl,json}``,
so another configuration never resumes, skips or overwrites them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from robustbench_snn.config import AttackConfig, ModelConfig, Sampling
from robustbench_snn.errors import UserError
from robustbench_snn.identity import short_digest
from robustbench_snn.records import RESULTS, read_record, run_stem

# Bump whenever a change to the attack path (the harness, the wrappers, the attack parts, the models'
# inference) can change a per-example row: runs made by older code are then never resumed or reused.
# 4: BERT-Attack's masked LM reads texts unpadded (same top-K candidates on every sentence checked, logits
# differ in the 6th digit), so its rows could in principle differ from version 3's. 5: sentence encodings made in one
# batch per constraint check, memoized per example (similarities move by at most 2.4e-7). 6: fresh SNN draws
# cover a query batch's occupied columns only (padding never spikes; the random stream moves).
ATTACK_CODE_VERSION = 6


def select_examples(test_size: int, count: int, seed: int) -> list[int]:
    """Test-split indices: the first ``count`` of a PCG64 permutation seeded by ``seed``."""
    return np.random.default_rng(seed).permutation(test_size)[:count].tolist()


def example_seed(seed: int, index: int) -> int:
    """The seed of every generator while example ``index`` is attacked (and, with index -1, of re-scoring)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:4], "little")


@dataclass(frozen=True)
class RunPlan:
    """What a run is before any work: its identity, the files named after it, and the examples it attacks."""

    identity: dict
    digest: str
    stem: Path  # <results>/table2/<dataset>/<attack>-<settings>/<kind>-<sampling>-n<N>-s<seed>-<digest>
    chosen: list[int]  # the attacked test indices, in order

    @property
    def examples_file(self) -> Path:
        return self.stem.with_suffix(".jsonl")

    @property
    def record_file(self) -> Path:
        return self.stem.with_suffix(".json")

    def finished_record(self) -> dict | None:
        """The run's record if one with this identity exists (a damaged or foreign one counts as absent)."""
        record = read_record(self.record_file)
        return record if record and record.get("identity_digest") == self.digest else None


def check_run(model_config: ModelConfig, attack_config: AttackConfig) -> int:
    """The test split's size, after the checks a run can fail before any work (a one-line error each): the attack
    and its file load, and the examples asked for exist."""
    from robustbench_snn.attack_files import load_attack
    from robustbench_snn.data import cached_dataset

    load_attack(attack_config.attack, attack_config.attack_files)
    test_size = len(cached_dataset(model_config.dataset, model_config.split_seed).test)
    if attack_config.num_examples > test_size:
        raise UserError(f"num_examples {attack_config.num_examples} exceeds the {test_size} test examples of "
                        f"{model_config.dataset}; use at most {test_size}")
    return test_size


def plan_run(model_config: ModelConfig, attack_config: AttackConfig, parts, attack_file=None, model_identity=None,
             results: Path = RESULTS, stochastic: bool | None = None) -> RunPlan:
    """The identity, files and example selection of one run. ``model_identity`` defaults to the identity of the
    model ``model_config`` describes (no training needed), ``stochastic`` to whether that model's kind is;
    ``attack_file`` to the attack's loaded file."""
    from importlib.metadata import version

    from robustbench_snn.attack_files import load_attack
    from robustbench_snn.prepared import prepare_for
    from robustbench_snn.resources import sha256_of
    from robustbench_snn.zoo import model_identity as identity_of

    stochastic = model_config.stochastic if stochastic is None else stochastic
    attack_config = attack_config.for_model(stochastic)
    attack_file = attack_file or load_attack(attack_config.attack, attack_config.attack_files)
    test_size = check_run(model_config, attack_config)
    if model_identity is None:
        model_identity = identity_of(model_config, prepare_for(model_config))
    ident = {"model": model_identity,
             # a query budget only when set: the identities of unlimited runs stand as they were
             "attack": {k: v for k, v in asdict(attack_config).items()
                        if k != "attack_files" and not (k == "query_budget" and v is None)},
             "attack_file": {"name": attack_file.name, "file_sha256": sha256_of(attack_file.path),
                        "settings_values": attack_file.setting(attack_config.settings)},
             "resources": parts.identity(), "attack_code": ATTACK_CODE_VERSION,
             "packages": {p: version(p) for p in ("textattack", "torch", "numpy")}}
    ident = json.loads(json.dumps(ident))  # as it reads back from a file (tuples become lists)
    digest = short_digest(ident)
    sampling = sampling_name(attack_config.sampling, stochastic).replace(":", "")  # "eot:4" -> "eot4" in file names
    stem = run_stem(results, model_config, attack_config.attack, attack_config.settings, sampling,
                    attack_config.num_examples, digest)
    return RunPlan(ident, digest, stem, select_examples(test_size, attack_config.num_examples, model_config.seed))


def sampling_name(sampling: str, stochastic: bool) -> str:
    """The protocol a run is recorded under: its own for a stochastic model, ``deterministic`` otherwise."""
    return str(Sampling.parse(sampling)) if stochastic else "deterministic"
