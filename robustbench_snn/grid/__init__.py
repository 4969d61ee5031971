"""Grids: a recipe expanded into tasks, run by an executor (``local``, ``process`` or ``ray``), written as the
same records ``snn-robust evaluate``, ``energy`` and ``run`` write.

Accuracy and energy studies (tables 1, 3, 5) run one task per (dataset, seed): its model kinds in recipe order,
so prerequisites (the tailored ANN of the SNNs) are trained once, by one worker.

Attack studies (table 2) run in three phases:

1. **train**: one task per (dataset, seed) builds every model kind the attacks need, once;
2. **shards**: each run's remaining examples are split into shards of ``shard_size``; a shard is its own
   resumable per-example file (``<run>.shards/<offset>.jsonl``), so a worker that dies loses only the example
   it was attacking, and the retried shard continues after the last complete line;
3. **merge**: as soon as a run's last shard is back, the driver gives it the per-example file ``snn-robust run``
   writes (its header, then the rows in selection order, replaced atomically), re-scores it and writes its
   record; then its shards are deleted. A run with a shard another process still attacks is merged at the end,
   after that process; a shard whose attacker stopped part-way is finished by the merge.

Every run is planned in the driver (:func:`~robustbench_snn.planning.plan_run`): its identity digest names its
files, and a worker refuses a shard whose identity it computes differently (other code or resources on that
node). Rerunning the command after a crash skips runs whose record has their identity and shards that are
complete, and resumes the rest; one process writes a file at a time (locks). Workers of the ``process``
executor die with their driver, even a ``kill -9``-ed one (parent-death signal). Examples are
attacked independently (each reseeds every generator from (seed, index)), and with ``seeded`` sampling a text
always gets the same scores, so the records do not depend on the executor or the worker count (tested).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from robustbench_snn.config import Study
from robustbench_snn.grid.executors import (EXECUTORS, RAY_HINT, LocalExecutor, ProcessExecutor, RayExecutor,
                                            make_executor)
from robustbench_snn.grid.plan import (STUDY_TABLES, AttackJob, Shard, _groups, attack_jobs, check_study, plan_jobs,
                                       plan_shards, shard_folder)
from robustbench_snn.grid.tasks import attack_shard, evaluate_group, merge_run, train_group
from robustbench_snn.locks import Busy
from robustbench_snn.records import RESULTS, invocation

__all__ = ["EXECUTORS", "RAY_HINT", "STUDY_TABLES", "AttackJob", "GridReport", "LocalExecutor", "ProcessExecutor",
           "RayExecutor", "Shard", "attack_jobs", "attack_shard", "check_study", "evaluate_group", "make_executor",
           "merge_run", "plan_jobs", "plan_shards", "run_study", "shard_folder", "train_group"]


@dataclass
class GridReport:
    """What a grid run did (for the command line and the benchmark): ``records`` were written now, ``existing``
    were found finished with the identity the study asks for; together they are the study's records."""

    records: list[dict]
    examples_attacked: int
    attack_seconds: float  # wall time of the shard phase
    lines: list[str]
    existing: list[dict] = field(default_factory=list)


def _say(report: GridReport, line: str, echo: bool) -> None:
    report.lines.append(line)
    if echo:
        print(line, flush=True)




def run_study(study: Study, executor, results: Path = RESULTS, train: bool = True,
              parts_factory: str | None = None, echo: bool = True, repair: bool = False) -> GridReport:
    """Run every job of ``study`` on ``executor``; records land where ``evaluate`` / ``run`` put them. A run is
    skipped only when its record has the identity this study asks for."""
    report = GridReport([], 0, 0.0, [])
    if study.table != "table2":
        configs = study.model_configs()
        tasks = [(study.table, group, train, str(results), study.conventions) for group in _groups(configs)]
        _say(report, f"{len(configs)} models in {len(tasks)} tasks (one per dataset and seed) on {executor.name} x "
             f"{executor.workers}", echo)
        for number, (_, (summary, written, existing)) in enumerate(executor.map(evaluate_group, tasks), 1):
            report.records += written
            report.existing += existing
            _say(report, f"[{number}/{len(tasks)}] {summary}", echo)
        return report

    planned = plan_jobs(study, results, parts_factory, progress=(lambda line: _say(report, line, echo)))
    if train:  # the models of unfinished runs only: a rerun campaign loaded every finished run's model first
        groups = _groups(list(dict.fromkeys(job.model for job, plan in planned if plan.finished_record() is None)))
        for number, (_, summary) in enumerate(executor.map(train_group, [(g,) for g in groups]), 1):
            _say(report, f"[train {number}/{len(groups)}] {summary}", echo)
    todo, shards = [], []
    for job, plan in planned:
        record = plan.finished_record()
        if record is not None:
            report.existing.append(record)
        else:
            todo.append((job, plan))
            shards += plan_shards(job, plan, study.shard_size)
    _say(report, f"{len(planned)} runs: {len(planned) - len(todo)} done, {len(todo)} to do; {len(shards)} shards of "
         f"up to {study.shard_size} examples on {executor.name} x {executor.workers}", echo)
    where, command = f"{executor.name} x {executor.workers}", invocation()
    stems, merged = {job: plan.stem for job, plan in todo}, {}

    def merge_task(job: AttackJob) -> tuple:
        return job, study.shard_size, str(results), parts_factory, command, where, repair

    def merged_now(job: AttackJob, record: dict) -> None:
        merged[job] = record
        metrics = record["metrics"]
        _say(report, f"[merge {len(merged)}/{len(todo)}] {job.describe()}: Cln {100 * metrics['cln']:.1f} Boa "
             f"{100 * metrics['boa']:.1f} Suc {100 * (metrics['suc'] or 0):.1f} -> {stems[job]}.json", echo)

    # A run is merged by the driver as soon as its last shard is back, so an interrupted grid has the records of
    # the runs it finished; a run with a shard another process still attacks is left to the merges at the end.
    def merge_if_free(job: AttackJob) -> None:
        try:
            merged_now(job, merge_run(*merge_task(job), wait=False))
        except Busy:
            pass

    shards_left = Counter(shard.job for shard in shards)
    for job, _ in todo:
        if not shards_left[job]:  # every shard attacked before (an interrupted grid): nothing to wait for
            merge_if_free(job)
    began = time.perf_counter()
    for number, (task, summary) in enumerate(executor.map(attack_shard, [(s, str(results), parts_factory, repair)
                                                                          for s in shards]), 1):
        job = task[0].job
        report.examples_attacked += task[0].count
        elapsed = time.perf_counter() - began
        eta = elapsed / number * (len(shards) - number)
        _say(report, f"[shard {number}/{len(shards)}] {summary} ({elapsed:.0f} s, ETA {eta:.0f} s)", echo)
        shards_left[job] -= 1
        if shards_left[job] == 0:
            merge_if_free(job)
    report.attack_seconds = time.perf_counter() - began
    for task, record in executor.map(merge_run, [merge_task(job) for job, _ in todo if job not in merged]):
        merged_now(task[0], record)
    report.records += [merged[job] for job, _ in todo]  # in the study's order, however they finished
    return report
