"""Planning a grid: a study's attack jobs, their runs' identities and files, and their shards; checking a study
before any work."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from robustbench_snn.config import ModelConfig, Study
from robustbench_snn.errors import UserError
from robustbench_snn.example_log import ExampleLog
from robustbench_snn.config import AttackConfig
from robustbench_snn.planning import RunPlan, plan_run
from robustbench_snn.records import shard_path
from robustbench_snn.references import resolve


STUDY_TABLES = ("table1", "table2", "table3", "table5")  # what a recipe's records feed (Table 4 rows: table1)


@dataclass(frozen=True)
class AttackJob:
    """One attack run of a grid: what ``snn-robust run`` would do for one model."""

    model: ModelConfig
    attack: AttackConfig
    digest: str = ""  # the run's identity digest, as the driver planned it (see plan_run)

    def describe(self) -> str:
        sampling = f" {self.attack.sampling}" if self.model.stochastic else ""
        return f"{self.model.dataset} {self.model.kind}{sampling} {self.attack.attack} seed {self.model.seed}"


@dataclass(frozen=True)
class Shard:
    """Examples ``offset`` .. ``offset + count - 1`` (positions in the run's selection) of one job."""

    job: AttackJob
    offset: int
    count: int


def attack_jobs(study: Study) -> list[AttackJob]:
    """Every (dataset, model, seed, attack, sampling) run of an attack study; ANNs once per attack."""
    return list(dict.fromkeys(  # an ANN's protocols are one run (AttackConfig.for_model): keep the first
        AttackJob(model, study.attack_config(attack, sampling).for_model(model.stochastic))
        for model in study.model_configs() for attack in study.attacks for sampling in study.samplings))


def _groups(configs: list[ModelConfig]) -> list[tuple[ModelConfig, ...]]:
    """Model configurations grouped by (dataset, seed): a group shares its prerequisites."""
    groups: dict[tuple, list[ModelConfig]] = {}
    for config in configs:
        groups.setdefault((config.dataset, config.seed), []).append(config)
    return [tuple(group) for group in groups.values()]


def shard_folder(plan: RunPlan) -> Path:
    return shard_path(plan.stem, 0).parent


def _shard_path(plan: RunPlan, shard: Shard) -> Path:
    return shard_path(plan.stem, shard.offset)


def _layout(job: AttackJob, done: int, selected: int, shard_size: int) -> list[Shard]:
    """The shards of a run whose own per-example file holds ``done`` of its ``selected`` examples: the positions
    after those, in ``shard_size`` steps (planning and merging must agree on it)."""
    return [Shard(job, offset, min(shard_size, selected - offset)) for offset in range(done, selected, shard_size)]


def plan_shards(job: AttackJob, plan: RunPlan, shard_size: int) -> list[Shard]:
    """The shards still to attack: the run's layout without the complete ones."""
    done = ExampleLog.valid_rows(plan.examples_file, plan.chosen)
    return [s for s in _layout(job, done, len(plan.chosen), shard_size)
            if ExampleLog.valid_rows(_shard_path(plan, s), plan.chosen[s.offset:s.offset + s.count]) < s.count]

def plan_jobs(study: Study, results: Path, parts_factory: str | None = None,
              progress=None) -> list[tuple[AttackJob, RunPlan]]:
    """Every run of an attack study with its plan, before any work (bad values fail here, not after training);
    ``progress`` receives a line with the number of runs first, then one at most every 30 seconds."""
    from robustbench_snn.attack_parts import AttackParts

    parts = resolve(parts_factory)() if parts_factory else AttackParts(study.option("masked_lm"))
    jobs, planned = attack_jobs(study), []
    say = progress or (lambda line: None)
    say(f"planning {len(jobs)} runs")
    last = time.monotonic()
    for number, job in enumerate(jobs, 1):
        plan = plan_run(job.model, job.attack, parts, results=results)
        planned.append((replace(job, digest=plan.digest), plan))
        if time.monotonic() - last > 30:
            say(f"planned {number}/{len(jobs)} runs")
            last = time.monotonic()
    return planned


def check_study(study: Study) -> Study:
    """Refuse recipes that cannot run, with the valid choices; returns ``study``."""
    from robustbench_snn.attack_files import load_attack
    from robustbench_snn.data import get_spec
    from robustbench_snn.zoo import check_kind
    from robustbench_snn.config import Sampling

    if study.table not in STUDY_TABLES:
        raise UserError(f"{study.name}: unknown table {study.table!r}; valid tables: {', '.join(STUDY_TABLES)}")
    if study.table in ("table1", "table3") and (study.table == "table3") != study.option("random_embeddings"):
        raise UserError(f"{study.name}: table3 records random-embedding models and table1 pre-trained ones; set "
                        f"random_embeddings: {str(study.table == 'table3').lower()}")
    if (study.table == "table2") != bool(study.attacks):
        raise UserError(f"{study.name}: attacks: belongs to table2 recipes, which need at least one attack")
    for dataset in study.datasets:
        get_spec(dataset)
    for kind in study.models:
        check_kind(kind)
    for attack in study.attacks:
        attack_file = load_attack(attack)
        if study.option("settings") not in attack_file.settings:
            raise UserError(f"{study.name}: attack {attack} has no settings {study.option('settings')!r}; it has "
                            f"{', '.join(attack_file.settings)}")
    for sampling in study.samplings:
        Sampling.parse(sampling)
    from robustbench_snn.energy import convention

    for name in study.conventions:
        convention(name)
    for config in study.model_configs():  # every sweep point is a valid configuration
        check_kind(config.kind)
    return study
