"""Running one attack: (dataset, model, attack, settings, sampling, seed) -> per-example JSONL + one JSON record.

The run is planned first (:mod:`robustbench_snn.planning`: identity, files, examples), then the model, its
TextAttack wrapper and the attack are built (:func:`open_session`), the examples attacked (:func:`attack_examples`),
re-scored (:mod:`robustbench_snn.rescoring`) and recorded (:func:`finish`, through
:func:`robustbench_snn.records.attack_record`).

The JSONL (:mod:`robustbench_snn.example_log`) starts with a header line holding the run's identity; every
attacked example is appended as one line and fsynced, so an interrupted run (Ctrl-C, kill -9) resumes after the
last complete line; a damaged file is refused naming ``file:line``. One process writes a file at a time (a lock
beside it). Each example's randomness (fresh spikes, TextBugger's random character positions) is seeded by
(run seed, example index), so a resumed run equals an uninterrupted one.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from robustbench_snn.config import AttackConfig, ModelConfig, Sampling, options_label
from robustbench_snn.errors import UserError
from robustbench_snn.example_log import ExampleLog
from robustbench_snn.locks import exclusive
from robustbench_snn.outcomes import encode
from robustbench_snn.planning import ATTACK_CODE_VERSION, RunPlan, example_seed, plan_run, sampling_name
from robustbench_snn.records import (DEVIATIONS, RESULTS, SCHEMA_VERSION, attack_record, invocation, shard_path,
                                     write_record)
from robustbench_snn.rescoring import rescore
from robustbench_snn.runtime import LogProgress
from robustbench_snn.resources import portable_path
from robustbench_snn.stats import summarize
from robustbench_snn.wrappers import ClassifierWrapper, set_goal_function_cache


def attack_one(attack, wrapper: ClassifierWrapper, text: str, label: int, index: int, seed: int) -> dict:
    """Attack one example and describe the result as a JSONL row."""
    from textattack.attack_results import FailedAttackResult, SkippedAttackResult, SuccessfulAttackResult

    seed_here = example_seed(seed, index)
    random.seed(seed_here)  # TextBugger's character edits; a user's model drawing from the global generators
    np.random.seed(seed_here)
    torch.manual_seed(seed_here)
    # Float results depend on batch composition (MKL and oneDNN pick kernels by batch size: a text's logits
    # move in the 7th digit), so scores cached while attacking earlier examples would make this example's
    # outcome depend on which examples ran before it in this process: on resume, sharding and worker count.
    # Each example therefore starts from empty caches; within an example the batches are deterministic.
    attack.clear_cache()
    wrapper.start_example(seed_here)
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


@dataclass
class Session:
    """Everything attacking one (model, attack) needs, built once; a grid worker reuses it across shards."""

    model_config: ModelConfig
    attack_config: AttackConfig
    plan: RunPlan
    attack_file: object  # attack_files.AttackFile
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

    ``parts`` (default: the real :class:`~robustbench_snn.attack_parts.AttackParts`) and ``built`` (default: the
    model the config describes, trained or cached; any object with ``config``, ``dataset``, ``provenance``,
    ``identity``, ``stochastic`` and ``classifier(incremental)``, as the public API's models) let callers
    substitute others. ``incremental=False`` recomputes every seeded SNN query in full instead of reusing
    unchanged convolution windows (same results; benchmarks)."""
    from robustbench_snn.attack_files import load_attack
    from robustbench_snn.attack_parts import AttackParts
    from robustbench_snn.zoo import build_model

    sampling = Sampling.parse(attack_config.sampling)
    stochastic = model_config.stochastic if built is None else built.stochastic
    attack_config = attack_config.for_model(stochastic)
    attack_file = load_attack(attack_config.attack, attack_config.attack_files)
    parts = parts or AttackParts(attack_config.masked_lm)
    model_identity = None if built is None else built.identity or {"untracked model": _weights_sha256(built)}
    plan = plan_run(model_config, attack_config, parts, attack_file, model_identity, results, stochastic)
    began = time.time()
    built = built or build_model(model_config, train=train)
    wrapper = ClassifierWrapper(built.classifier(incremental), sampling, model_config.seed,
                                num_classes=built.dataset.spec.num_classes)
    attack = attack_file.build(wrapper, attack_config.settings, parts)
    set_goal_function_cache(attack.goal_function, wrapper)
    if attack_config.query_budget is not None:  # TextAttack stops an example's search once it is spent
        attack.goal_function.query_budget = attack_config.query_budget
    header = {"header": "snn-robust attack run", "schema_version": SCHEMA_VERSION, "identity": plan.identity,
              "identity_digest": plan.digest, "weights_sha256": _weights_sha256(built), "examples": plan.chosen}
    return Session(model_config, attack_config, plan, attack_file, built, wrapper, attack, parts,
                   json.loads(json.dumps(header)), began)


def _weights_sha256(built) -> str | None:
    """The weights a model was loaded with (a converted SNN's: its source ANN's)."""
    return built.provenance.get("weights_sha256") or built.provenance.get("from", {}).get("weights_sha256")


def attack_examples(session: Session, log: ExampleLog, indices: list[int], progress: bool | None = None) -> None:
    """Attack the test examples ``indices`` in order, appending each row to ``log``; running Cln/Boa/Suc."""
    test = session.built.dataset.test
    what = f"{session.attack_config.attack} vs {session.model_config.kind}"
    total = len(log.rows) + len(indices)
    bar = tqdm(total=total, initial=len(log.rows), desc=what, disable=None if progress is None else not progress)
    log_lines = LogProgress(what, total, len(log.rows)) if progress is not False else None
    for index in indices:
        text, label = test[index]
        log.add(attack_one(session.attack, session.wrapper, text, label, index, session.model_config.seed))
        now = summarize(encode([r["outcome"] for r in log.rows]))
        metrics = f"Cln {100 * now['cln']:.1f} Boa {100 * now['boa']:.1f} Suc {100 * (now['suc'] or 0):.1f}"
        bar.set_postfix_str(metrics)
        bar.update()
        if log_lines:
            log_lines.update(len(log.rows), metrics)
    bar.close()


def finish(session: Session, rows: list[dict], command: str | None = None, grid: dict | None = None) -> dict:
    """Re-score the attacked examples ``rows`` (in selection order), then write and return the run record.
    ``command``: the command line that produced it (default: this process's); ``grid``: how a grid ran it (its
    examples were spread over workers, so the record has no wall time of its own)."""
    model_config, attack_config, wrapper = session.model_config, session.attack_config, session.wrapper
    if [r["index"] for r in rows] != session.chosen:
        raise UserError(f"{session.plan.examples_file}: its rows are not the {len(session.chosen)} selected examples "
                        "in order; rerun with --repair")
    outcomes = encode([r["outcome"] for r in rows])
    attack_file, identity = session.attack_file, session.plan.identity
    record = attack_record(
        identity=identity, digest=session.plan.digest, code={"attack": ATTACK_CODE_VERSION},
        threads=torch.get_num_threads(), config=asdict(model_config),
        attack_config=asdict(attack_config) | {"attack_files": [portable_path(f) for f in attack_config.attack_files]},
        stochastic=wrapper.stochastic, options=options_label(asdict(model_config)),
        provenance=session.built.provenance, sampling=_sampling(wrapper, model_config.seed),
        resources={"masked_lm": portable_path(session.parts.masked_lm), "stand_ins": session.parts.stand_ins()},
        attack_file={"name": attack_file.name, "citation": attack_file.citation, "file": attack_file.path.name,
                     "file_sha256": identity["attack_file"]["file_sha256"], "deviations": list(attack_file.deviations)},
        settings_values=identity["attack_file"]["settings_values"],
        selection={"split": "test", "dataset_split": session.built.dataset.split,
                   "protocol": "first N of a PCG64 permutation of the test split", "seed": model_config.seed,
                   "n": len(rows)},
        rows=rows, outcomes=outcomes, metrics=summarize(outcomes),
        rescored=rescore(wrapper, rows, attack_config.rescore_draws, example_seed(model_config.seed, -1)),
        examples_file=session.plan.examples_file.name,
        deviations=DEVIATIONS | {"attacked_examples": "a seeded sample of the test split (the paper's 1000 "
                                 "examples were not published)"},
        command=command or invocation(), wall_seconds=None if grid else round(time.time() - session.began, 1),
        grid=grid, mean_similarity=session.parts.mean_similarity(rows))
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
        shards = shard_path(session.plan.stem, 0).parent
        if any(shards.glob("*.jsonl")):  # attacking here would redo their examples and leave them behind
            raise UserError(f"{shards} holds examples of this run attacked in shards (by `run --workers N` or a "
                            "grid); continue it the same way: rerun with --workers 2 or more, or rerun the grid")
        log = ExampleLog(session.plan.examples_file, session.header, repair)
        attack_examples(session, log, session.chosen[len(log.rows):], progress)
        return finish(session, log.rows)


def _sampling(wrapper: ClassifierWrapper, seed: int) -> dict:
    """The record's ``sampling``: the protocol, and for a stochastic model how its draws were made."""
    protocol = sampling_name(str(wrapper.sampling), wrapper.stochastic)
    if not wrapper.stochastic:
        return {"protocol": protocol}
    return {"protocol": protocol, "draws_per_query": wrapper.sampling.draws,
            "steps": wrapper.classifier.steps or None, "seed": seed, "textattack_cache": wrapper.cached,
            "window_cache": wrapper.deterministic and getattr(wrapper.classifier, "incremental", False),
            "fresh_generator": "reseeded per example from sha256(seed:index)" if not wrapper.deterministic else None,
            "scores": "spike counts per class / T, softmaxed by TextAttack"}
