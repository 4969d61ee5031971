"""One attack run: (dataset, model, attack, settings, sampling, seed) -> per-example JSONL + one JSON record.

The JSONL starts with a header line holding the run's identity; every attacked example is appended as one
line and flushed, so an interrupted run (Ctrl-C, kill -9) resumes after the last complete line, and resuming
with a different configuration is refused. Each example's randomness (fresh spikes, TextBugger's random
character positions) is seeded by (run seed, example index), so a resumed run equals an uninterrupted one.

After the attack every example is re-scored with R fresh draws (see :func:`rescore`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from robustbench_snn.config import ModelConfig
from robustbench_snn.errors import UserError
from robustbench_snn.records import DEVIATIONS, RESULTS, environment, invocation, write_record
from robustbench_snn.wrappers import ClassifierWrapper, Sampling

OUTCOMES = ("succeeded", "failed", "skipped")


@dataclass(frozen=True)
class AttackConfig:
    """What is attacked how; with a :class:`ModelConfig` it determines a run."""

    attack: str
    settings: str = "paper"  # paper | recipe
    sampling: str = "seeded"  # seeded | fresh | eot:K (SNNs; ANNs are deterministic)
    num_examples: int = 1000  # the paper's count; taken from a seeded permutation of the test split
    rescore_draws: int = 10
    masked_lm: str | None = None  # BERT-Attack's LM (name or path); None: bert-base-uncased or its stand-in
    attack_files: tuple[str, ...] = field(default=())

    def for_model(self, model: ModelConfig) -> AttackConfig:
        """The configuration that is run: an ANN is deterministic, so one run (recorded as ``seeded``) serves
        every protocol."""
        return self if model.spiking else replace(self, sampling="seeded")


def metrics(outcomes: list[str]) -> dict:
    """Lv et al.'s metrics over N attacked examples with s succeeded, f failed, k skipped (misclassified
    before the attack): Cln = (s + f) / N, Boa = f / N, Suc = s / (s + f); in %."""
    n, s, f = len(outcomes), outcomes.count("succeeded"), outcomes.count("failed")
    return {"n": n, "succeeded": s, "failed": f, "skipped": n - s - f,
            "cln": 100 * (s + f) / n if n else None, "boa": 100 * f / n if n else None,
            "suc": 100 * s / (s + f) if s + f else None}


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


def run_stem(model: ModelConfig, attack: AttackConfig, results: Path = RESULTS) -> Path:
    # "eot:4" -> "eot4": no colons in file names
    sampling = str(Sampling.parse(attack.sampling)).replace(":", "") if model.spiking else "deterministic"
    variant = "-rand" if model.random_embeddings else ""
    return (results / "table2" / model.dataset / f"{attack.attack}-{attack.settings}" /
            f"{model.kind}{variant}-{sampling}-n{attack.num_examples}-s{model.seed}")


class ExampleLog:
    """The per-example JSONL: header line + one line per example; resumable, refuses other configurations."""

    def __init__(self, path: Path, header: dict):
        self.path = path
        self.rows: list[dict] = []
        if path.exists():
            data = path.read_bytes()
            end = data.rfind(b"\n") + 1  # bytes after the last newline were cut by a crash: drop them
            complete = data[:end].decode().splitlines()
            if not complete or json.loads(complete[0]) != header:
                raise UserError(f"{path} holds a run with another configuration; delete it or rerun with that "
                                "configuration")
            self.rows = [json.loads(line) for line in complete[1:]]
            if end < len(data):
                with path.open("r+b") as handle:
                    handle.truncate(end)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._append(header)

    def _append(self, row: dict) -> None:
        _write_lines(self.path, [row], "a")

    @staticmethod
    def rewrite(path: Path, header: dict, rows: list[dict]) -> None:
        """Write a complete per-example file atomically: the old one stays whole until the new one is."""
        tmp = path.with_suffix(".jsonl.tmp")
        _write_lines(tmp, [header, *rows], "w")
        os.replace(tmp, path)


    def add(self, row: dict) -> None:
        self._append(row)
        self.rows.append(row)


def _write_lines(path: Path, rows: list[dict], mode: str) -> None:
    """JSON lines, flushed and fsynced: a line on disk is a line that survives a crash."""
    with path.open(mode) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _example_seed(seed: int, index: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:4], "little")


def attack_one(attack, wrapper: ClassifierWrapper, text: str, label: int, index: int, seed: int) -> dict:
    """Attack one example and describe the result as a JSONL row."""
    from textattack.attack_results import FailedAttackResult, SkippedAttackResult, SuccessfulAttackResult

    example_seed = _example_seed(seed, index)
    random.seed(example_seed)  # TextBugger's character edits
    np.random.seed(example_seed)
    torch.manual_seed(example_seed)
    if wrapper.spiking and wrapper.sampling.protocol != "seeded":
        wrapper.model.encoder.generator.manual_seed(example_seed)
    # Float results depend on batch composition (MKL and oneDNN pick kernels by batch size: a text's logits
    # move in the 7th digit), so scores cached while attacking earlier examples would make this example's
    # outcome depend on which examples ran before it in this process: on resume, sharding and worker count.
    # Each example therefore starts from empty caches; within an example the batches are deterministic.
    attack.clear_cache()
    wrapper.start_example()
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
            "held_up": {o: f"{hold[o]}/{raw.count(o)}" for o in OUTCOMES},
            "clean_correct_draws": clean_correct.tolist(), "adversarial_correct_draws": adversarial_correct.tolist()}


@dataclass
class Session:
    """Everything attacking one (model, attack) needs, built once; a grid worker reuses it across shards."""

    model_config: ModelConfig
    attack_config: AttackConfig
    recipe: object
    built: object
    wrapper: ClassifierWrapper
    attack: object
    parts: object
    chosen: list[int]  # the attacked test indices, in order
    stem: Path
    header: dict  # the identity line of the per-example file
    began: float


def open_session(model_config: ModelConfig, attack_config: AttackConfig, results: Path = RESULTS,
                 train: bool = True, parts=None, built=None, incremental: bool = True) -> Session:
    """Validate the configuration, build (or train) the model, its wrapper and the attack, and pick examples.

    ``parts`` (default: the real :class:`~robustbench_snn.attacks.Components`) and ``built`` (default: the model
    the config describes, trained or cached) let tests substitute light ones. ``incremental=False`` recomputes
    every seeded SNN query in full instead of reusing unchanged convolution windows (same results; benchmarks)."""
    from robustbench_snn.attacks import Components, load_attack
    from robustbench_snn.train import build_model

    sampling = Sampling.parse(attack_config.sampling)
    attack_config = attack_config.for_model(model_config)
    recipe = load_attack(attack_config.attack, attack_config.attack_files)
    settings = recipe.setting(attack_config.settings)
    if attack_config.num_examples < 1:
        raise UserError(f"--num-examples must be at least 1 (got {attack_config.num_examples})")
    began = time.time()
    built = built or build_model(model_config, train=train)
    wrapper = ClassifierWrapper(built.model, built.prepared.encode, sampling, model_config.seed,
                                incremental=incremental)
    parts = parts or Components(attack_config.masked_lm)
    attack = recipe.build(wrapper, attack_config.settings, parts)
    attack.goal_function.use_cache = wrapper.deterministic  # cached scores are only right for a fixed oracle
    if not wrapper.deterministic:
        attack.goal_function._call_model_cache = None
    test = built.prepared.dataset.test
    chosen = select_examples(len(test), min(attack_config.num_examples, len(test)), model_config.seed)
    header = {"header": "snn-robust attack run", "model": asdict(model_config), "attack": asdict(attack_config),
              "settings_values": settings, "weights_sha256": built.provenance.get("weights_sha256")
              or built.provenance.get("from", {}).get("weights_sha256"), "examples": chosen}
    return Session(model_config, attack_config, recipe, built, wrapper, attack, parts, chosen,
                   run_stem(model_config, attack_config, results), json.loads(json.dumps(header)), began)


def attack_examples(session: Session, log: ExampleLog, indices: list[int], progress: bool | None = None) -> None:
    """Attack the test examples ``indices`` in order, appending each row to ``log``; running Cln/Boa/Suc."""
    test = session.built.prepared.dataset.test
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
    from robustbench_snn.train import MODEL_KINDS

    model_config, attack_config, wrapper = session.model_config, session.attack_config, session.wrapper
    assert [r["index"] for r in rows] == session.chosen, "rows must be the selected examples, in order"
    attack_seconds = sum(r["seconds"] for r in rows)
    succeeded = [r for r in rows if r["outcome"] == "succeeded"]
    record = {
        "table": "table2", "dataset": model_config.dataset, "model": model_config.kind,
        "model_name": MODEL_KINDS[model_config.kind], "attack": session.recipe.name,
        "settings": attack_config.settings, "settings_values": session.header["settings_values"],
        "sampling": str(wrapper.sampling) if wrapper.spiking else "deterministic",
        "sampling_detail": _sampling_detail(wrapper, model_config.seed), "seed": model_config.seed,
        "metrics": metrics([r["outcome"] for r in rows]),
        "rescored": rescore(wrapper, rows, attack_config.rescore_draws, _example_seed(model_config.seed, -1)),
        "mean_queries": float(np.mean([r["queries"] for r in rows])),
        "mean_model_calls": float(np.mean([r["model_calls"] for r in rows])),
        "mean_time_steps": float(np.mean([r["time_steps"] for r in rows])),
        "mean_perturbed_share": float(np.mean([r["perturbed_share"] for r in succeeded])) if succeeded else None,
        "attack_seconds": round(attack_seconds, 1),
        "model_seconds": round(sum(r.get("model_seconds", 0.0) for r in rows), 1),
        "examples_per_minute": round(60 * len(rows) / attack_seconds, 2) if attack_seconds else None,
        "selection": {"split": "test", "dataset_split": session.built.prepared.dataset.split,
                      "protocol": "first N of a PCG64 permutation of the test split", "seed": model_config.seed,
                      "n": len(rows)},
        "recipe": {"name": session.recipe.name, "citation": session.recipe.citation, "file": session.recipe.path.name,
                   "deviations": list(session.recipe.deviations)},
        "config": {"model": asdict(model_config), "attack": asdict(attack_config)},
        "model_provenance": session.built.provenance, "examples_file": session.stem.with_suffix(".jsonl").name,
        "resources": {"masked_lm": session.parts.masked_lm, "stand_ins": session.parts.stand_ins()},
        "deviations": DEVIATIONS | {"attacked_examples": "a seeded sample of the test split (the paper's 1000 "
                                    "examples were not published)"},
        "environment": environment(), "command": command or invocation(),
        "wall_seconds": None if grid else round(time.time() - session.began, 1),
    }
    if grid:
        record["grid"] = grid
    write_record(session.stem.with_suffix(".json"), record)
    return record


def run(model_config: ModelConfig, attack_config: AttackConfig, results: Path = RESULTS, train: bool = True,
        progress: bool | None = None, parts=None, built=None, incremental: bool = True) -> dict:
    """Attack ``attack_config.num_examples`` test examples of one model, resuming its per-example file; write and
    return the run record. Arguments after ``progress``: see :func:`open_session`."""
    session = open_session(model_config, attack_config, results, train, parts, built, incremental)
    log = ExampleLog(session.stem.with_suffix(".jsonl"), session.header)
    attack_examples(session, log, session.chosen[len(log.rows):], progress)
    return finish(session, log.rows)


def _sampling_detail(wrapper: ClassifierWrapper, seed: int) -> dict | None:
    if not wrapper.spiking:
        return None
    return {"protocol": str(wrapper.sampling), "draws_per_query": wrapper.sampling.draws, "steps": wrapper.model.steps,
            "seed": seed, "textattack_cache": wrapper.deterministic, "window_cache": wrapper.window_cache is not None,
            "fresh_generator": "reseeded per example from sha256(seed:index)" if not wrapper.deterministic else None,
            "scores": "spike counts per class / T, softmaxed by TextAttack"}
