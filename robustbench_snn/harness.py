"""One attack run: (dataset, model, attack, settings, sampling, seed) -> per-example JSONL + one JSON record.

A run's identity (:func:`plan_run`) is everything that determines its rows: the model's identity (which embeds
the training code version), every attack field, the sha256 of the recipe file, the resources the attack reads,
package versions and :data:`ATTACK_CODE_VERSION`. Its files are ``<readable stem>-<short digest>.{jsonl,json}``,
so another configuration never resumes, skips or overwrites them.

The JSONL (:mod:`robustbench_snn.example_log`) starts with a header line holding that identity; every attacked
example is appended as one line and fsynced, so an interrupted run (Ctrl-C, kill -9) resumes after the last
complete line; a damaged file is refused naming ``file:line``. One process writes a file at a time (a lock beside
it). Each
example's randomness (fresh spikes, TextBugger's random character positions) is seeded by (run seed, example
index), so a resumed run equals an uninterrupted one.

After the attack every example is re-scored with R fresh draws (see :func:`rescore`).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from robustbench_snn.config import ModelConfig, check_at_least, options_label
from robustbench_snn.errors import UserError
from robustbench_snn.example_log import OUTCOMES, ExampleLog
from robustbench_snn.identity import short_digest
from robustbench_snn.locks import exclusive
from robustbench_snn.records import (DEVIATIONS, RESULTS, SCHEMA_VERSION, environment, invocation, read_record,
                                     record_fields, run_stem, write_record)
from robustbench_snn.stats import encode
from robustbench_snn.wrappers import ClassifierWrapper, Sampling

# Bump whenever a change to the attack path (this module, the wrappers, the attack components, the models'
# inference) can change a per-example row: runs made by older code are then never resumed or reused.
# 4: BERT-Attack's masked LM reads texts unpadded (same top-K candidates on every sentence checked, logits
# differ in the 6th digit), so its rows could in principle differ from version 3's.
ATTACK_CODE_VERSION = 4


@dataclass(frozen=True)
class AttackConfig:
    """What is attacked how; with a :class:`ModelConfig` it determines a run."""

    attack: str
    settings: str = "paper"  # paper | authors-code | recipe (see robustbench_snn.attack_parts)
    sampling: str = "seeded"  # seeded | fresh | eot:K (SNNs; ANNs are deterministic)
    num_examples: int = 1000  # the paper's count; taken from a seeded permutation of the test split
    rescore_draws: int = 10
    masked_lm: str | None = None  # BERT-Attack's LM (name or path); None: bert-base-uncased or its stand-in
    attack_files: tuple[str, ...] = field(default=())

    def __post_init__(self):
        Sampling.parse(self.sampling)
        check_at_least("num_examples", self.num_examples)
        check_at_least("rescore_draws", self.rescore_draws)

    def for_model(self, stochastic: bool) -> AttackConfig:
        """The configuration that is run: a deterministic model (an ANN) gives the same scores under every
        protocol, so one run (recorded as ``seeded``) serves them all."""
        return self if stochastic else replace(self, sampling="seeded")


def metrics(outcomes: list[str]) -> dict:
    """Lv et al.'s metrics over N attacked examples with s succeeded, f failed, k skipped (misclassified
    before the attack): Cln = (s + f) / N, Boa = f / N, Suc = s / (s + f); in %."""
    from robustbench_snn.stats import metric_intervals

    n, s, f = len(outcomes), outcomes.count("succeeded"), outcomes.count("failed")
    return {"n": n, "succeeded": s, "failed": f, "skipped": n - s - f,
            "cln": 100 * (s + f) / n if n else None, "boa": 100 * f / n if n else None,
            "suc": 100 * s / (s + f) if s + f else None, "ci95": metric_intervals(s, f, n)}


def rescored_outcomes(clean_correct: np.ndarray, adversarial_correct: np.ndarray,
                      draws: int) -> list[str]:
    """Outcomes judged by a strict majority of ``draws`` fresh draws instead of the attack's own queries:
    skipped when the clean text is misclassified, failed when the final text is still classified correctly,
    succeeded otherwise. ``*_correct`` count correct draws per example."""
    outcomes = []
    for clean, adversarial in zip(clean_correct, adversarial_correct):
        if 2 * clean <= draws:
            outcomes.append("skipped")
        else:
            outcomes.append("failed" if 2 * adversarial > draws else "succeeded")
    return outcomes


def select_examples(test_size: int, count: int, seed: int) -> list[int]:
    """Test-split indices: the first ``count`` of a PCG64 permutation seeded by ``seed``."""
    return np.random.default_rng(seed).permutation(test_size)[:count].tolist()


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


def plan_run(model_config: ModelConfig, attack_config: AttackConfig, parts, recipe=None, model_identity=None,
             results: Path = RESULTS, stochastic: bool | None = None) -> RunPlan:
    """The identity, files and example selection of one run. ``model_identity`` defaults to the identity of the
    model ``model_config`` describes (no training needed), ``stochastic`` to whether that model spikes;
    ``recipe`` to the attack's loaded file."""
    from importlib.metadata import version

    from robustbench_snn.attack_files import load_attack
    from robustbench_snn.data import cached_dataset
    from robustbench_snn.resources import sha256_of
    from robustbench_snn.prepared import prepare_for
    from robustbench_snn.train import model_identity as identity_of

    stochastic = model_config.spiking if stochastic is None else stochastic
    attack_config = attack_config.for_model(stochastic)
    recipe = recipe or load_attack(attack_config.attack, attack_config.attack_files)
    test_size = len(cached_dataset(model_config.dataset, model_config.split_seed).test)
    if attack_config.num_examples > test_size:
        raise UserError(f"num_examples {attack_config.num_examples} exceeds the {test_size} test examples of "
                        f"{model_config.dataset}; use at most {test_size}")
    if model_identity is None:
        model_identity = identity_of(model_config, prepare_for(model_config))
    ident = {"model": model_identity,
             "attack": {k: v for k, v in asdict(attack_config).items() if k != "attack_files"},
             "recipe": {"name": recipe.name, "file_sha256": sha256_of(recipe.path),
                        "settings_values": recipe.setting(attack_config.settings)},
             "resources": parts.identity(), "attack_code": ATTACK_CODE_VERSION,
             "packages": {p: version(p) for p in ("textattack", "torch", "numpy")}}
    ident = json.loads(json.dumps(ident))  # as it reads back from a file (tuples become lists)
    digest = short_digest(ident)
    # "eot:4" -> "eot4": no colons in file names
    sampling = str(Sampling.parse(attack_config.sampling)).replace(":", "") if stochastic else "deterministic"
    stem = run_stem(results, model_config, attack_config.attack, attack_config.settings, sampling,
                    attack_config.num_examples, digest)
    return RunPlan(ident, digest, stem, select_examples(test_size, attack_config.num_examples, model_config.seed))


def _example_seed(seed: int, index: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:4], "little")


def attack_one(attack, wrapper: ClassifierWrapper, text: str, label: int, index: int, seed: int) -> dict:
    """Attack one example and describe the result as a JSONL row."""
    from textattack.attack_results import FailedAttackResult, SkippedAttackResult, SuccessfulAttackResult

    example_seed = _example_seed(seed, index)
    random.seed(example_seed)  # TextBugger's character edits; a user's model drawing from the global generators
    np.random.seed(example_seed)
    torch.manual_seed(example_seed)
    # Float results depend on batch composition (MKL and oneDNN pick kernels by batch size: a text's logits
    # move in the 7th digit), so scores cached while attacking earlier examples would make this example's
    # outcome depend on which examples ran before it in this process: on resume, sharding and worker count.
    # Each example therefore starts from empty caches; within an example the batches are deterministic.
    attack.clear_cache()
    wrapper.start_example(example_seed)
    began = time.perf_counter()
    result = attack.attack(text, label)
    outcome = {SuccessfulAttackResult: "succeeded", FailedAttackResult: "failed",
               SkippedAttackResult: "skipped"}.get(type(result), "failed")
    original, perturbed = result.original_result.attacked_text, result.perturbed_result.attacked_text
    words = len(original.words)
    changed = len(original.all_words_diff(perturbed)) if outcome != "skipped" else 0
    return {"index": index, "label": label, "outcome": outcome, "text": original.text,
            "perturbed_text": perturbed.text, "original_prediction": int(result.original_result.output),
            "perturbed_prediction": int(result.perturbed_result.output),
            "queries": int(result.perturbed_result.num_queries), "model_calls": wrapper.queries,
            "time_steps": wrapper.time_steps, "words": words, "perturbed_words": changed,
            "perturbed_share": changed / words if words else 0.0, "seconds": round(time.perf_counter() - began, 3),
            "model_seconds": round(wrapper.model_seconds, 3)}


def rescore(wrapper: ClassifierWrapper, rows: list[dict], draws: int, seed: int) -> dict:
    """Re-score clean and final texts with ``draws`` fresh draws each (one pass for ANNs)."""
    labels = np.array([r["label"] for r in rows])
    clean = wrapper.fresh_predictions([r["text"] for r in rows], draws, seed)
    adversarial = wrapper.fresh_predictions([r["perturbed_text"] for r in rows], draws, seed + 1)
    draws_used = clean.shape[0]
    clean_correct = (clean == labels).sum(0)
    adversarial_correct = (adversarial == labels).sum(0)
    outcomes = rescored_outcomes(clean_correct, adversarial_correct, draws_used)
    raw = [r["outcome"] for r in rows]
    hold = {o: sum(1 for a, b in zip(raw, outcomes) if a == o and b == o) for o in OUTCOMES}
    return {"draws": draws_used, "rule": "strict majority of fresh draws", "metrics": metrics(outcomes),
            "outcomes": encode(outcomes),
            "held_up": {o: {"held": hold[o], "of": raw.count(o)} for o in OUTCOMES},
            "clean_correct_draws": clean_correct.tolist(), "adversarial_correct_draws": adversarial_correct.tolist()}


@dataclass
class Session:
    """Everything attacking one (model, attack) needs, built once; a grid worker reuses it across shards."""

    model_config: ModelConfig
    attack_config: AttackConfig
    plan: RunPlan
    recipe: object
    built: object
    wrapper: ClassifierWrapper
    attack: object
    parts: object
    header: dict  # the identity line of the per-example file
    began: float

    @property
    def chosen(self) -> list[int]:
        return self.plan.chosen


def open_session(model_config: ModelConfig, attack_config: AttackConfig, results: Path = RESULTS,
                 train: bool = True, parts=None, built=None, incremental: bool = True) -> Session:
    """Validate the configuration and plan the run (before any training), then build (or train) the model, its
    wrapper and the attack.

    ``parts`` (default: the real :class:`~robustbench_snn.attack_parts.Components`) and ``built`` (default: the model
    the config describes, trained or cached; any object with ``config``, ``dataset``, ``provenance``,
    ``identity``, ``stochastic`` and ``classifier(incremental)``, as the public API's models) let callers
    substitute others. ``incremental=False`` recomputes
    every seeded SNN query in full instead of reusing unchanged convolution windows (same results; benchmarks)."""
    from robustbench_snn.attack_files import load_attack
    from robustbench_snn.attack_parts import Components
    from robustbench_snn.train import build_model

    sampling = Sampling.parse(attack_config.sampling)
    stochastic = model_config.spiking if built is None else built.stochastic
    attack_config = attack_config.for_model(stochastic)
    recipe = load_attack(attack_config.attack, attack_config.attack_files)
    parts = parts or Components(attack_config.masked_lm)
    model_identity = None if built is None else built.identity or {"untracked model": _weights_sha256(built)}
    plan = plan_run(model_config, attack_config, parts, recipe, model_identity, results, stochastic)
    began = time.time()
    built = built or build_model(model_config, train=train)
    wrapper = ClassifierWrapper(built.classifier(incremental), sampling, model_config.seed)
    attack = recipe.build(wrapper, attack_config.settings, parts)
    attack.goal_function.use_cache = wrapper.deterministic  # cached scores are only right for a fixed oracle
    if not wrapper.deterministic:
        attack.goal_function._call_model_cache = None
    header = {"header": "snn-robust attack run", "schema_version": SCHEMA_VERSION, "identity": plan.identity,
              "identity_digest": plan.digest, "weights_sha256": _weights_sha256(built), "examples": plan.chosen}
    return Session(model_config, attack_config, plan, recipe, built, wrapper, attack, parts,
                   json.loads(json.dumps(header)), began)


def _weights_sha256(built) -> str | None:
    """The weights a model was loaded with (a converted SNN's: its source ANN's)."""
    return built.provenance.get("weights_sha256") or built.provenance.get("from", {}).get("weights_sha256")


def attack_examples(session: Session, log: ExampleLog, indices: list[int], progress: bool | None = None) -> None:
    """Attack the test examples ``indices`` in order, appending each row to ``log``; running Cln/Boa/Suc."""
    test = session.built.dataset.test
    bar = tqdm(total=len(log.rows) + len(indices), initial=len(log.rows),
               desc=f"{session.attack_config.attack} vs {session.model_config.kind}",
               disable=None if progress is None else not progress)
    for index in indices:
        text, label = test[index]
        log.add(attack_one(session.attack, session.wrapper, text, label, index, session.model_config.seed))
        now = metrics([r["outcome"] for r in log.rows])
        bar.set_postfix_str(f"Cln {now['cln']:.1f} Boa {now['boa']:.1f} Suc {(now['suc'] or 0):.1f}")
        bar.update()
    bar.close()


def finish(session: Session, rows: list[dict], command: str | None = None, grid: dict | None = None) -> dict:
    """Re-score the attacked examples ``rows`` (in selection order), then write and return the run record.
    ``command``: the command line that produced it (default: this process's); ``grid``: how a grid ran it (its
    examples were spread over workers, so the record has no wall time of its own)."""
    from robustbench_snn.models.registry import title_of

    model_config, attack_config, wrapper = session.model_config, session.attack_config, session.wrapper
    if [r["index"] for r in rows] != session.chosen:
        raise UserError(f"{session.plan.examples_file}: its rows are not the {len(session.chosen)} selected examples "
                        "in order; rerun with --repair")
    attack_seconds = sum(r["seconds"] for r in rows)
    succeeded = [r for r in rows if r["outcome"] == "succeeded"]
    record = {
        **record_fields("table2", session.plan.identity, session.plan.digest,
                        {"attack_code_version": ATTACK_CODE_VERSION}),
        "dataset": model_config.dataset, "model": model_config.kind,
        "model_name": title_of(model_config.kind), "attack": session.recipe.name,
        "settings": attack_config.settings, "settings_values": session.plan.identity["recipe"]["settings_values"],
        "sampling": str(wrapper.sampling) if wrapper.stochastic else "deterministic",
        "sampling_detail": _sampling_detail(wrapper, model_config.seed), "seed": model_config.seed,
        "metrics": metrics([r["outcome"] for r in rows]),
        "outcomes": encode([r["outcome"] for r in rows]),  # per selected example: s, f or k (see stats.py)
        "options": options_label(asdict(model_config)),
        "rescored": rescore(wrapper, rows, attack_config.rescore_draws, _example_seed(model_config.seed, -1)),
        "mean_queries": float(np.mean([r["queries"] for r in rows])),
        "mean_model_calls": float(np.mean([r["model_calls"] for r in rows])),
        "mean_time_steps": float(np.mean([r["time_steps"] for r in rows])),
        "mean_perturbed_share": float(np.mean([r["perturbed_share"] for r in succeeded])) if succeeded else None,
        "attack_seconds": round(attack_seconds, 1),
        "model_seconds": round(sum(r.get("model_seconds", 0.0) for r in rows), 1),
        "examples_per_minute": round(60 * len(rows) / attack_seconds, 2) if attack_seconds else None,
        "selection": {"split": "test", "dataset_split": session.built.dataset.split,
                      "protocol": "first N of a PCG64 permutation of the test split", "seed": model_config.seed,
                      "n": len(rows)},
        "recipe": {"name": session.recipe.name, "citation": session.recipe.citation, "file": session.recipe.path.name,
                   "file_sha256": session.plan.identity["recipe"]["file_sha256"],
                   "deviations": list(session.recipe.deviations)},
        "config": {"model": asdict(model_config), "attack": asdict(attack_config)},
        "model_provenance": session.built.provenance, "examples_file": session.plan.examples_file.name,
        "resources": {"masked_lm": session.parts.masked_lm, "stand_ins": session.parts.stand_ins()},
        "deviations": DEVIATIONS | {"attacked_examples": "a seeded sample of the test split (the paper's 1000 "
                                    "examples were not published)"},
        "environment": environment(), "command": command or invocation(),
        "wall_seconds": None if grid else round(time.time() - session.began, 1),
    }
    if grid:
        record["grid"] = grid
    write_record(session.plan.record_file, record)
    return json.loads(json.dumps(record))  # as it reads back (a finished run is returned from its file)


def run(model_config: ModelConfig, attack_config: AttackConfig, results: Path = RESULTS, train: bool = True,
        progress: bool | None = None, parts=None, built=None, incremental: bool = True,
        repair: bool = False) -> dict:
    """Attack ``attack_config.num_examples`` test examples of one model, resuming its per-example file; write and
    return the run record. A finished run with this identity is returned as it is. ``repair``: keep the valid
    prefix of a damaged per-example file. Arguments after ``progress``: see :func:`open_session`."""
    session = open_session(model_config, attack_config, results, train, parts, built, incremental)
    with exclusive(session.plan.examples_file, "an attack run", wait=False):
        done = session.plan.finished_record()
        if done is not None:
            return done
        log = ExampleLog(session.plan.examples_file, session.header, repair)
        attack_examples(session, log, session.chosen[len(log.rows):], progress)
        return finish(session, log.rows)


def _sampling_detail(wrapper: ClassifierWrapper, seed: int) -> dict | None:
    if not wrapper.stochastic:
        return None
    return {"protocol": str(wrapper.sampling), "draws_per_query": wrapper.sampling.draws,
            "steps": wrapper.classifier.steps or None,
            "seed": seed, "textattack_cache": wrapper.deterministic, "window_cache": wrapper.deterministic and getattr(wrapper.classifier, "incremental", False),
            "fresh_generator": "reseeded per example from sha256(seed:index)" if not wrapper.deterministic else None,
            "scores": "spike counts per class / T, softmaxed by TextAttack"}
