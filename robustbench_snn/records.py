"""Results as data: one JSON record per evaluated model or attack run, written atomically under ``results/``.

This module owns what every record shares (:func:`record_fields`: table, schema and code versions, identity and
its digest, thread count), where each kind of record lives (the ``*_path`` functions; file names end in the
identity digest), and reading records back (:func:`read_records`, :func:`held_up`).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from importlib.metadata import version
from pathlib import Path

from robustbench_snn.resources import all_resources

# 4: counts stored as numbers ("held_up": {"held": 44, "of": 114}, not "44/114"), thread count in every record
# (3: per-example outcome strings, 95% intervals, model options and SNN activity; 2: identities and their digests,
# which also name the files; 1: the unversioned records). Tables and figures read schema 3 and later.
SCHEMA_VERSION = 4
OLDEST_READ_SCHEMA = 3
# Results go to ./results of the working directory (every writing command takes --results to choose another)
RESULTS = Path(os.environ.get("SNN_ROBUST_RESULTS", "results"))

# Deviations from Lv et al. (2023) that every record carries; each entry says why.
DEVIATIONS = {
    "en_vectors": "GloVe 6B 50d (paper: 300d); the 300d file is not reachable offline",
    "zh_vectors": "character-level Tencent 200d (paper: word-level sgns.merge.bigram 300d)",
    "selection": "best epoch on the dev split with early stopping (paper's code kept the best test epoch)",
    "english_tokens": "TextAttack's word split, punctuation dropped, so attacked words are model tokens",
    "normalization_mn": "model-based normalization divides by the largest positive-weight sum (Diehl 2015)",
}


def record_fields(table: str, identity: dict, digest: str, code_versions: dict) -> dict:
    """The fields every record starts with: its table, schema, identity and digest, the versions of the code that
    measured it (``{"attack_code_version": 3}``) and the intra-op thread count it ran with."""
    import torch

    return {"table": table, "schema_version": SCHEMA_VERSION, "identity": identity, "identity_digest": digest,
            **code_versions, "threads": torch.get_num_threads()}


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


def held_up(value) -> tuple[int, int]:
    """(held, of) from a record's ``held_up`` entry: ``{"held": 44, "of": 114}``, or schema 3's ``"44/114"``."""
    if isinstance(value, str):
        held, of = value.split("/")
        return int(held), int(of)
    return value["held"], value["of"]


def held_up_text(value) -> str:
    """A ``held_up`` entry as tables print it: ``44/114``."""
    return "{}/{}".format(*held_up(value))


def environment() -> dict:
    """Package versions, platform and the stand-ins in use."""
    packages = {p: version(p) for p in ("torch", "snntorch", "textattack", "transformers", "numpy")}
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": packages,
            "stand_ins": {r.name: r.stand_in for r in all_resources() if r.stand_in}}


def invocation() -> str | None:
    """The ``snn-robust`` command line that is running, for records (None when called as a library)."""
    return "snn-robust " + shlex.join(sys.argv[1:]) if sys.argv[0].endswith("snn-robust") else None


def write_record(path: Path, record: dict) -> Path:
    """Write ``record`` as JSON atomically (a crash never leaves half a record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def read_record(path: Path, warn: bool = True) -> dict | None:
    """The record at ``path``; None when it is absent, or damaged (then a warning naming it on stderr)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(record, dict):
            return record
        problem = f"expected a JSON object, found {type(record).__name__}"
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        problem = str(err).splitlines()[0] if str(err) else type(err).__name__
    if warn:
        print(f"warning: skipping damaged record {path} ({problem}); delete it, or rerun its command to rewrite it",
              file=sys.stderr)
    return None


def read_records(folder: Path, skip: tuple[str, ...] = ()) -> list[dict]:
    """All readable records under ``folder`` (recursively, except in its subfolders named in ``skip``), sorted by
    path; damaged ones are skipped with a warning, so one bad file never hides the others."""
    paths = [p for p in sorted(folder.rglob("*.json")) if not set(p.relative_to(folder).parts[:-1]) & set(skip)]
    return [r for r in (read_record(p) for p in paths) if r is not None]
