"""Results as data: one JSON record per evaluated model or attack run, written atomically under ``results/``.

This module owns the record: its one schema (:data:`SCHEMA_VERSION`), a builder per kind that takes plain values
(:func:`accuracy_record`, :func:`energy_record`, :func:`attack_record`), where each kind lives (the ``*_path``
functions; file names end in the identity digest), reading records back with validation (:func:`read_records`
skips, with a warning naming it, any record that is damaged or lacks what tables read), and migrating records of
older schemas (:func:`migrate_record`, ``snn-robust migrate``).

Every record has the same header: ``table``, ``schema_version``, ``identity`` and ``identity_digest``, ``code``
(the code versions that measured it and the code revision), ``threads``, and the model part: ``dataset``,
``model`` (a registered kind or a user's model name), ``model_name``, ``stochastic``, ``options``, ``seed``,
``config`` (the model configuration, flat), ``model_provenance``, ``sampling`` (a mapping whose ``protocol`` is
``seeded``, ``fresh``, ``frozen``, ``eot:K`` or ``deterministic``), ``resources``, ``deviations``, ``environment``,
``command`` and ``wall_seconds``. Rates (accuracy, Cln, Boa, Suc, their intervals, shares) are fractions.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shlex
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from robustbench_snn.errors import writing
from robustbench_snn.models.registry import is_stochastic, model_kind_names, title_of
from robustbench_snn.resources import all_resources, portable_path

# 5: one shape for every table (code versions under "code" with the revision, "config" always the flat model
# configuration, "attack_config" beside it, "sampling" always a mapping, "stochastic", rates as fractions, the
# attack file under "attack_file", resources under "resources"); 4: counts as numbers, thread count; 3: per-example
# outcome strings, intervals, options, activity. Older records are migrated by `snn-robust migrate`.
SCHEMA_VERSION = 5
# Results go to ./results of the working directory (every writing command takes --results to choose another)
RESULTS = Path(os.environ.get("SNN_ROBUST_RESULTS", "results"))

# Deviations from Lv et al. (2023) that every record carries; each entry says why.
DEVIATIONS = {
    "en_vectors": "GloVe 6B 50d (paper: 300d); the 300d file is not reachable offline",
    "zh_vectors": "character-level Tencent 200d (paper: word-level sgns.merge.bigram 300d)",
    "zh_length": "Chinese texts cut at 48 characters (paper: 32 jieba words); 48 characters keep what 32 words keep "
                 "(ChnSenti 34.4% vs 36.3% of all characters, Waimai 86.5% vs 86.4%; benchmarks/chinese_length.py)",
    "tailored_init": "the tailored network's output weights start non-negative (|W| of torch's start): from a "
                     "signed start both ReLU outputs of a population-1 network died within 100 steps on SST-2",
    "training_spikes": "SNN training draws new input spikes every epoch (the authors' code drew each training "
                       "sentence's spike train once and reused it)",
    "selection": "best epoch on the dev split with early stopping (paper's code kept the best test epoch)",
    "english_tokens": "TextAttack's word split, punctuation dropped, so attacked words are model tokens",
    "normalization_mn": "model-based normalization divides by the largest positive-weight sum (Diehl 2015)",
}


# --- building records -----------------------------------------------------------------------------------------

@functools.cache
def code_revision() -> str:
    """The code that wrote a record: ``git:<commit>`` (``+dirty`` with uncommitted changes) when the package runs
    from a git checkout, else ``snn-robust <version>``."""
    package = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(package), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode == 0 and (package.parent / ".git").exists():
            dirty = subprocess.run(["git", "-C", str(package.parent), "status", "--porcelain", "--untracked-files=no",
                                    "--", "robustbench_snn", "attacks"], capture_output=True, text=True, timeout=10)
            return f"git:{commit.stdout.strip()}" + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"snn-robust {version('snn-robust')}"
    except PackageNotFoundError:
        return "unknown"


def environment() -> dict:
    """Package versions, platform, CPU kernels and the stand-ins in use."""
    from robustbench_snn.runtime import cpu_kernels

    packages = {p: version(p) for p in ("torch", "snntorch", "textattack", "transformers", "numpy")}
    return {"python": sys.version.split()[0], "platform": platform.platform(), "cpu_kernels": cpu_kernels(),
            "packages": packages,
            "stand_ins": {r.name: r.stand_in for r in all_resources() if r.stand_in}}


def invocation() -> str | None:
    """The ``snn-robust`` command line that is running, for records (None when called as a library); paths in it
    are written relative to the bundle, the cache or the working folder (see ``resources.portable_path``)."""
    if not sys.argv[0].endswith("snn-robust"):
        return None
    return "snn-robust " + shlex.join(_portable_argument(a) for a in sys.argv[1:])


def _portable_argument(argument: str) -> str:
    option, equals, value = argument.partition("=")
    if equals and option.startswith("--"):
        return f"{option}={_portable_argument(value)}"
    return portable_path(argument) if os.path.isabs(argument) else argument


def _header(table: str, identity: dict, digest: str, code: dict, threads: int) -> dict:
    return {"table": table, "schema_version": SCHEMA_VERSION, "identity": identity, "identity_digest": digest,
            "code": {**code, "revision": code_revision()}, "threads": threads}


def _model_part(config: dict, stochastic: bool, options: str, provenance: dict) -> dict:
    """The fields that say which model a record measured: ``config`` is the model configuration as a flat mapping
    (``dataset``, ``kind``, ``seed``, options)."""
    return {"dataset": config["dataset"], "model": config["kind"], "model_name": title_of(config["kind"]),
            "stochastic": stochastic, "options": options, "seed": config["seed"], "config": config,
            "model_provenance": provenance}


def _common(table: str, identity: dict, digest: str, code: dict, threads: int, config: dict, stochastic: bool,
            options: str, provenance: dict, sampling: dict, resources: dict, deviations: dict,
            command: str | None, wall_seconds: float | None) -> dict:
    return {**_header(table, identity, digest, code, threads), **_model_part(config, stochastic, options, provenance),
            "sampling": sampling, "resources": resources, "deviations": deviations, "environment": environment(),
            "command": command, "wall_seconds": wall_seconds}


def accuracy_record(*, table: str, identity: dict, digest: str, code: dict, threads: int, config: dict,
                    stochastic: bool, options: str, provenance: dict, sampling: dict, resources: dict, split: dict,
                    test_accuracy: float, dev_accuracy: float, activity: dict | None, deviations: dict,
                    command: str | None, wall_seconds: float) -> dict:
    """A Table 1 (Table 3: random embeddings) record: test and dev accuracy (fractions), an SNN's activity."""
    return {**_common(table, identity, digest, code, threads, config, stochastic, options, provenance, sampling,
                      resources, deviations, command, wall_seconds),
            "random_embeddings": config.get("random_embeddings", False), "split": split,
            "test_accuracy": test_accuracy, "dev_accuracy": dev_accuracy, "activity": activity}


def energy_record(*, identity: dict, digest: str, code: dict, threads: int, config: dict, options: str,
                  provenance: dict, sampling: dict, resources: dict, split: dict, steps: int, pool_neurons: bool,
                  counts: dict, deviations: dict, command: str | None, wall_seconds: float) -> dict:
    """A Table 5 record: the tailored ANN's operations against the SNN's, priced under conventions (``counts``:
    ``energy.summary``'s flops, synaptic operations, activity and energies)."""
    return {**_common("table5", identity, digest, code, threads, config, True, options, provenance, sampling,
                      resources, deviations, command, wall_seconds),
            "random_embeddings": config.get("random_embeddings", False), "split": split,
            "ann": "tailored", "snn": config["kind"], "steps": steps, "pool_neurons": pool_neurons, **counts}


def attack_record(*, identity: dict, digest: str, code: dict, threads: int, config: dict, attack_config: dict,
                  stochastic: bool, options: str, provenance: dict, sampling: dict, resources: dict, attack_file: dict,
                  settings_values: dict, selection: dict, rows: list[dict], outcomes: str, metrics: dict,
                  rescored: dict, examples_file: str, deviations: dict, command: str | None,
                  wall_seconds: float | None, grid: dict | None = None, mean_similarity: float | None = None) -> dict:
    """A Table 2 record: one attack run's outcomes (``outcomes``: a code per selected example, see
    :mod:`robustbench_snn.outcomes`), Cln / Boa / Suc with intervals, the re-scored judgement, and what the
    attack cost, from its per-example ``rows``."""
    from statistics import fmean

    succeeded = [r for r in rows if r["outcome"] == "succeeded"]
    attack_seconds = sum(r["seconds"] for r in rows)
    record = {**_common("table2", identity, digest, code, threads, config, stochastic, options, provenance, sampling,
                        resources, deviations, command, wall_seconds),
              "attack": attack_file["name"], "settings": attack_config["settings"], "settings_values": settings_values,
              "attack_config": attack_config, "attack_file": attack_file, "selection": selection,
              "metrics": metrics, "outcomes": outcomes, "rescored": rescored,
              "mean_queries": fmean(r["queries"] for r in rows),
              "mean_model_calls": fmean(r["model_calls"] for r in rows),
              "mean_time_steps": fmean(r["time_steps"] for r in rows),
              "mean_perturbed_share": fmean(r["perturbed_share"] for r in succeeded) if succeeded else None,
              "mean_similarity": mean_similarity,  # of the successful texts to their originals (attack_parts)
              "attack_seconds": round(attack_seconds, 1),
              "model_seconds": round(sum(r.get("model_seconds", 0.0) for r in rows), 1),
              "examples_per_minute": round(60 * len(rows) / attack_seconds, 2) if attack_seconds else None,
              "examples_file": examples_file}
    if grid:
        record["grid"] = grid
    return record


# --- where records live (every file name ends in the identity digest) ---------------------------------------------

def _variant(random_embeddings: bool) -> str:
    return "-rand" if random_embeddings else ""


def _model_record_path(results: Path, table: str, config, digest: str) -> Path:
    return results / table / config.dataset / config.kind / f"seed{config.seed}-{digest}.json"


def accuracy_record_path(results: Path, config, digest: str) -> Path:
    """Table 1 (Table 3 with random embeddings): ``<table>/<dataset>/<kind>/seed<S>-<digest>.json``."""
    return _model_record_path(results, "table3" if config.random_embeddings else "table1", config, digest)


def energy_record_path(results: Path, config, digest: str) -> Path:
    """Table 5: ``table5/<dataset>/<kind>/seed<S>-<digest>.json``."""
    return _model_record_path(results, "table5", config, digest)


def run_stem(results: Path, config, attack: str, settings: str, sampling: str, num_examples: int,
             digest: str) -> Path:
    """An attack run's files without suffix (``.jsonl`` per example, ``.json`` record):
    ``table2/<dataset>/<attack>-<settings>/<kind>[-rand]-<sampling>-n<N>-s<seed>-<digest>``."""
    return (results / "table2" / config.dataset / f"{attack}-{settings}" /
            f"{config.kind}{_variant(config.random_embeddings)}-{sampling}-n{num_examples}-s{config.seed}-{digest}")


def shard_path(stem: Path, offset: int) -> Path:
    """A grid shard of a run: ``<stem>.shards/<offset>.jsonl``."""
    return stem.with_name(stem.name + ".shards") / f"{offset:06d}.jsonl"


def query_budget(record: dict) -> int | None:
    """A Table 2 run's per-example query budget (None: unlimited, as the paper's attacks ran)."""
    return record.get("identity", {}).get("attack", {}).get("query_budget")


def record_options(record: dict) -> list[str]:
    """The parts of a record's ``options`` label (``config.options_label`` joins them with ", "): ["population 1",
    "evaluated at threshold 0.5"]; [] for a kind's defaults."""
    return [part for part in (record.get("options") or "").split(", ") if part]


def held_up_text(value: dict) -> str:
    """A ``held_up`` entry as tables print it: ``44/114``."""
    return f"{value['held']}/{value['of']}"


# --- writing and reading --------------------------------------------------------------------------------------

def write_record(path: Path, record: dict) -> Path:
    """Write ``record`` as JSON atomically (a crash never leaves half a record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with writing(path):
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


_COMMON_FIELDS = {"identity_digest": str, "dataset": str, "model": str, "stochastic": bool, "seed": int,
                  "config": dict, "sampling": dict, "options": str, "code": dict}
_TABLE_FIELDS = {
    "table1": {"test_accuracy": float, "dev_accuracy": float},
    "table3": {"test_accuracy": float, "dev_accuracy": float},
    "table5": {"steps": int, "flops": int, "snn_acs": float, "snn_macs": float, "neuron_updates": int,
               "energy": dict},
    "table2": {"attack": str, "settings": str, "metrics": dict, "outcomes": str, "rescored": dict,
               "mean_queries": float, "attack_config": dict},
}


def record_problem(record) -> str | None:
    """Why ``record`` cannot be read as a schema-5 record (a missing or mistyped field, outcomes that do not
    match their counts), or None."""
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}"
    table, schema = record.get("table"), record.get("schema_version")
    if table not in _TABLE_FIELDS:
        return f"unknown table {table!r}"
    if schema != SCHEMA_VERSION:
        return f"schema {schema!r}, not {SCHEMA_VERSION}; run `snn-robust migrate --results FOLDER` to migrate it"
    for name, kind in (_COMMON_FIELDS | _TABLE_FIELDS[table]).items():
        value = record.get(name)
        if isinstance(value, bool) and kind is not bool or not isinstance(value, float | int if kind is float else kind):
            return f"field {name!r} is {'missing' if name not in record else f'not a {kind.__name__}'}"
    if not isinstance(record["sampling"].get("protocol"), str):
        return "sampling has no protocol"
    if table == "table2":
        for where, part in (("", record), ("rescored ", record["rescored"])):
            metrics = part.get("metrics") if isinstance(part.get("metrics"), dict) else {}
            absent = [k for k in ("n", "cln", "boa", "suc") if k not in metrics]
            if absent:
                return f"{where}metrics lack {', '.join(absent)}"
            codes, n = part.get("outcomes"), metrics["n"]
            if not isinstance(codes, str) or set(codes) - set("sfk") or len(codes) != n:
                return f"{where}outcomes do not match their {n!r} examples"
    return None


def read_record(path: Path, warn: bool = True) -> dict | None:
    """The record at ``path``; None when it is absent, or damaged or incomplete (then a warning naming it on
    stderr)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        problem = record_problem(record)
        if problem is None:
            return record
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        problem = str(err).splitlines()[0] if str(err) else type(err).__name__
    if warn:
        print(f"warning: skipping record {path} ({problem}); delete it, or rerun its command to rewrite it",
              file=sys.stderr)
    return None


def record_files(folder: Path, skip: tuple[str, ...] = ()) -> list[Path]:
    """Every record file under ``folder`` (recursively, except in its subfolders named in ``skip``), sorted."""
    return [p for p in sorted(folder.rglob("*.json")) if not set(p.relative_to(folder).parts[:-1]) & set(skip)]


def read_records(folder: Path, skip: tuple[str, ...] = ()) -> list[dict]:
    """All readable records under ``folder`` (except in subfolders named in ``skip``), sorted by path; damaged
    or incomplete ones are skipped with a warning, so one bad file never hides the others."""
    return [r for r in (read_record(p) for p in record_files(folder, skip)) if r is not None]


# --- migrating older records ----------------------------------------------------------------------------------

def _fractions(metrics: dict) -> dict:
    """Schema-4 metrics (percentages) as fractions."""
    scaled = {k: None if metrics.get(k) is None else metrics[k] / 100 for k in ("cln", "boa", "suc")}
    intervals = {k: None if v is None else [v[0] / 100, v[1] / 100] for k, v in metrics["ci95"].items()}
    return metrics | scaled | {"ci95": intervals}


def _held_up(value) -> dict:
    if isinstance(value, str):  # schema 3: "44/114"
        held, of = value.split("/")
        return {"held": int(held), "of": int(of)}
    return value


def migrate_record(record: dict) -> dict:
    """A schema-3 or -4 record in the schema-5 shape; its identity, measurements and outcomes unchanged (a
    schema-5 record is returned as it is)."""
    if record.get("schema_version") == SCHEMA_VERSION:
        return record
    if record.get("schema_version") not in (3, 4):
        raise ValueError(f"schema {record.get('schema_version')!r} cannot be migrated (only 3 and 4)")
    new = dict(record)
    new["schema_version"] = SCHEMA_VERSION
    new["code"] = {"revision": f"migrated from schema {record['schema_version']}"}
    if record["table"] == "table2":
        new["code"]["attack"] = new.pop("attack_code_version", record["identity"].get("attack_code"))
        new["config"], new["attack_config"] = record["config"]["model"], record["config"]["attack"]
        detail = new.pop("sampling_detail", None) or {}
        new["sampling"] = {**detail, "protocol": record["sampling"]}
        new["stochastic"] = record["sampling"] != "deterministic"
        new["metrics"] = _fractions(record["metrics"])
        new["rescored"] = record["rescored"] | {"metrics": _fractions(record["rescored"]["metrics"]),
                                                "held_up": {k: _held_up(v) for k, v in
                                                            record["rescored"]["held_up"].items()}}
        new["attack_file"] = new.pop("recipe")
        resources = dict(new.pop("resources", {}))
        if resources.get("masked_lm"):
            resources["masked_lm"] = portable_path(resources["masked_lm"])
        new["resources"] = resources
    else:
        new["code"]["evaluation"] = new.pop("evaluation_code_version", record["identity"].get("evaluation_code"))
        new["stochastic"] = is_stochastic(record["model"]) if record["model"] in model_kind_names() \
            else record.get("sampling") is not None
        new["sampling"] = record.get("sampling") or {"protocol": "deterministic"}
        new["resources"] = {"vectors": new.pop("vectors"), "vocabulary": new.pop("vocabulary")}
    return new


def add_similarity(results: Path) -> int:
    """Give every finished attack record under ``results`` that lacks it the mean sentence similarity of its
    successful texts, computed from its per-example file (records written before it was recorded); returns how
    many were updated. Records whose per-example file is missing are left as they are."""
    from robustbench_snn.attack_parts import mean_similarity
    from robustbench_snn.example_log import read_rows

    updated = 0
    for path in record_files(results, skip=("legacy",)):
        record = read_record(path, warn=False)
        if not record or record.get("table") != "table2" or "mean_similarity" in record:
            continue
        rows_file = path.with_name(record["examples_file"])
        if not rows_file.exists():
            continue
        write_record(path, record | {"mean_similarity": mean_similarity(read_rows(rows_file))})
        updated += 1
    return updated


def migrate_folder(results: Path) -> tuple[int, int]:
    """Migrate every record under ``results`` (``legacy/`` excepted) in place; returns (migrated, already
    current). Unreadable files are left as they are, with a warning."""
    migrated = current = 0
    for path in record_files(results, skip=("legacy",)):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            new = migrate_record(record)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
            print(f"warning: cannot migrate {path} ({type(err).__name__}: {err}); left as it is", file=sys.stderr)
            continue
        if new is record:
            current += 1
        else:
            write_record(path, new)
            migrated += 1
    return migrated, current


# --- retiring records older code made -------------------------------------------------------------------------

def _code_versions(identity, found: dict[str, list[int]]) -> dict[str, list[int]]:
    """Every ``*_code`` version named anywhere in an identity (a model's and its sources' training code, an
    evaluation's or an attack's code)."""
    if isinstance(identity, dict):
        for key, value in identity.items():
            if key.endswith("_code") and isinstance(value, int):
                found.setdefault(key, []).append(value)
            else:
                _code_versions(value, found)
    return found


def superseded(record: dict, current: dict[str, int]) -> str | None:
    """Why ``record`` was made by older code than ``current`` ({"training_code": 3, ...}), which can no longer
    re-derive it; None when it is current."""
    older = sorted(f"{key} {min(values)} < {current[key]}" for key, values in
                   _code_versions(record.get("identity"), {}).items() if key in current and min(values) < current[key])
    return ", ".join(older) or None


def retire_superseded(results: Path, current: dict[str, int]) -> list[tuple[Path, str]]:
    """Move every record under ``results`` made by older code (with its per-example file) to
    ``results/legacy/superseded/``, keeping its relative path, where tables, figures and claims never read it;
    returns (new path, why) per record moved."""
    moved = []
    for path in record_files(results, skip=("legacy",)):
        record = read_record(path)
        why = None if record is None else superseded(record, current)
        if why is None:
            continue
        target = results / "legacy" / "superseded" / path.relative_to(results)
        target.parent.mkdir(parents=True, exist_ok=True)
        rows = path.with_name(record["examples_file"]) if record.get("examples_file") else None
        if rows is not None and rows.exists():
            rows.replace(target.with_name(rows.name))
        path.replace(target)
        moved.append((target, why))
    return moved
