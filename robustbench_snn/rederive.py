"""``snn-robust rederive``: train again, in a scratch cache, every checkpoint a record names, and compare each one's
weights sha256 with the record's.

A record is only as good as the weights it measured, and the weights live in a cache that does not travel with
the repository: what travels is the claim that the record's identity trains to its ``weights_sha256`` on any
machine. This command tests that claim instead of assuming it. It was written after that claim failed unseen: on
an AVX-512 machine, before the oneDNN cap (``runtime.pin_cpu_kernels``), the committed checkpoints retrained to
other weights, and nothing said so until a DN reconversion disagreed with its record in the second decimal.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from robustbench_snn.errors import UserError


@dataclass(frozen=True)
class Checkpoint:
    """One trained model a record names: its cache folder (relative to the cache), the sha256 and CPU kernels the
    record gives, and (once trained here) the sha256 and kernels of this machine's training."""

    folder: str
    recorded: str
    recorded_kernels: dict | None
    derived: str | None = None
    derived_kernels: dict | None = None

    @property
    def matches(self) -> bool:
        return self.derived == self.recorded

    def describe(self) -> str:
        if self.derived is None:
            return f"{self.folder}: not trained here (this machine gives the record's model another identity: " \
                   "other code, data or device)"
        if self.matches:
            return f"{self.folder}: re-derived {self.recorded[:16]}"
        return (f"{self.folder}: DIFFERS: recorded {self.recorded[:16]} ({_kernels(self.recorded_kernels)}), "
                f"trained here {self.derived[:16]} ({_kernels(self.derived_kernels)})")


def _kernels(kernels: dict | None) -> str:
    if not kernels:
        return "CPU kernels not recorded"
    return f"torch {kernels.get('aten')} kernels, oneDNN capped at {kernels.get('onednn_max_isa')}"


def checkpoints_in(provenance: dict | None) -> dict[str, tuple[str, dict | None]]:
    """Every trained model in a provenance (a converted or fine-tuned model nests its source's): cache folder ->
    (weights sha256, CPU kernels)."""
    found = {}
    while provenance:
        if provenance.get("checkpoint") and provenance.get("weights_sha256"):
            found[provenance["checkpoint"]] = (provenance["weights_sha256"], provenance.get("cpu_kernels"))
        provenance = provenance.get("from")
    return found


@contextmanager
def _scratch_cache() -> Iterator[Path]:
    """A fresh, empty model cache for this process, removed after (the user's cache is never read or changed)."""
    before = os.environ.get("SNN_ROBUST_HOME")
    with tempfile.TemporaryDirectory(prefix="snn-robust-rederive-") as scratch:
        os.environ["SNN_ROBUST_HOME"] = scratch
        try:
            yield Path(scratch)
        finally:
            if before is None:
                os.environ.pop("SNN_ROBUST_HOME", None)
            else:
                os.environ["SNN_ROBUST_HOME"] = before


def _model_config(record: dict):
    from robustbench_snn.config import ModelConfig, from_dict

    try:
        return from_dict(ModelConfig, record["config"]).normalized()
    except (KeyError, TypeError, UserError):
        return None


def _wanted(records: list[dict]) -> tuple[dict[str, tuple[str, dict | None]], list]:
    """The checkpoints ``records`` name (folder -> recorded sha256 and kernels), and the last trained model of each
    record's chain (training it trains the rest), once each."""
    from robustbench_snn.zoo import trained_models

    wanted, last_models = {}, {}
    for record in records:
        named = checkpoints_in(record.get("model_provenance"))
        config = _model_config(record)
        if not named or config is None:
            continue
        wanted |= named
        last = trained_models(config)[-1]
        # evaluation-time settings run a trained model differently; they train nothing
        last_models.setdefault(replace(last, evaluate_at=type(last.evaluate_at)()).normalized(), None)
    if not wanted:
        raise UserError("none of these records names a checkpoint this package trains (records of Tables 1-5 and of "
                        "`run` do; records of your own models do not)")
    return wanted, list(last_models)


def rederive(records: list[dict], say: Callable[[str], None] = print) -> list[Checkpoint]:
    """Train the checkpoints ``records`` name, each once, in a scratch cache; one :class:`Checkpoint` per folder, in
    the order trained (prerequisites first), each line said as it is known."""
    from robustbench_snn.zoo import build_model

    wanted, last_models = _wanted(records)
    results: dict[str, Checkpoint] = {}
    with _scratch_cache():
        for config in last_models:
            built = build_model(config)
            for folder, (sha, kernels) in reversed(checkpoints_in(built.provenance).items()):
                if folder in wanted and folder not in results:
                    results[folder] = Checkpoint(folder, *wanted[folder], sha, kernels)
                    say(results[folder].describe())
    for folder, (sha, kernels) in wanted.items():
        if folder not in results:
            results[folder] = Checkpoint(folder, sha, kernels)
            say(results[folder].describe())
    return list(results.values())


def plan(records: list[dict], results: Path) -> list[str]:
    """What :func:`rederive` would train for ``records``, each checkpoint priced by the training rates of the records
    under ``results`` (as ``grid --plan`` prices it), and the total; nothing is trained."""
    from robustbench_snn.grid.costs import Rates, priced_trainings
    from robustbench_snn.resources import home

    wanted, last_models = _wanted(records)
    rates, lines, total, unknown = Rates(results), [], 0.0, 0
    for config in last_models:
        for _, path, seconds, basis in priced_trainings(config, rates):
            folder = path.relative_to(home()).as_posix()
            if folder not in wanted:
                continue
            total, unknown = total + (seconds or 0.0), unknown + (seconds is None)
            lines.append(f"{folder}: " + (f"about {seconds / 60:.0f} min ({basis})" if seconds is not None else basis))
            del wanted[folder]
    lines += [f"{folder}: this machine gives the record's model another identity (other code, data or device)"
              for folder in wanted]
    lines.append(f"about {total / 3600:.1f} CPU-hours to retrain them" + (f", {unknown} without a rate" if unknown
                                                                            else ""))
    return lines


def read_paths(paths: list[Path]) -> list[dict]:
    """The records in ``paths`` (record files, or folders searched recursively, ``legacy`` excluded)."""
    from robustbench_snn.records import read_record, read_records

    records = []
    for path in paths:
        if path.is_dir():
            records += read_records(path, skip=("legacy",))
        elif path.is_file():
            record = read_record(path)
            if record is None:
                raise UserError(f"{path} is not a readable record")
            records.append(record)
        else:
            raise UserError(f"{path} does not exist; give record files or folders of them (e.g. results/table1/sst2)")
    return records
