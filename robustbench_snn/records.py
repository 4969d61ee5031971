"""Results as data: one JSON record per evaluated model, written atomically under ``results/``."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from importlib.metadata import version
from pathlib import Path

from robustbench_snn.resources import all_resources

# 3: per-example outcome strings, 95% intervals, model options and SNN activity (2: identities and their digests,
# which also name the files; 1: the unversioned records)
SCHEMA_VERSION = 3
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


def read_records(folder: Path) -> list[dict]:
    """All readable records under ``folder`` (recursively), sorted by path; damaged ones are skipped with a
    warning, so one bad file never hides the others."""
    return [r for r in (read_record(p) for p in sorted(folder.rglob("*.json"))) if r is not None]
