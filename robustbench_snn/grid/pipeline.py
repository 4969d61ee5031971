"""`snn-robust run --workers N`: a few runs on a pool of local processes, trained and attacked as a pipeline.

Each model is trained by one worker (stochastic models first: a spiking network's fine-tuning is the long pole)
while the other workers attack the models already trained; a run's remaining examples are split into the grid's
shards as soon as its model is ready, so every worker attacks until the last shard, and a run is merged (re-scored,
its record written) once its shards are done. The tasks are the grid's, so the rows are the ones one process
writes (examples are attacked independently), and an interrupted run resumes from its shards.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

from robustbench_snn.config import AttackConfig, ModelConfig
from robustbench_snn.errors import UserError
from robustbench_snn.grid.executors import ProcessExecutor
from robustbench_snn.grid.plan import AttackJob, plan_shards
from robustbench_snn.grid.tasks import attack_shard, merge_run, train_group
from robustbench_snn.records import invocation


def attack_pipelined(runs: list[tuple[ModelConfig, AttackConfig]], workers: int, results: Path,
                     shard_size: int = 25, train: bool = True, repair: bool = False,
                     say: Callable[[str], None] = print) -> list[dict]:
    """The records of ``runs`` (model, attack) in their order, made on ``workers`` processes; see the module."""
    from robustbench_snn.attack_parts import AttackParts
    from robustbench_snn.planning import plan_run

    jobs, plans, records = [], {}, {}
    for model, attack in runs:
        job = AttackJob(model, attack.for_model(model.stochastic))
        plan = plan_run(job.model, job.attack, AttackParts(attack.masked_lm), results=results)
        job = replace(job, digest=plan.digest)
        jobs.append(job)
        plans[job] = plan
        if (record := plan.finished_record()) is not None:
            records[job] = record
    executor, futures, shards_left = ProcessExecutor(workers), {}, {}
    where = f"process x {workers} (pipelined)"

    def submit(what: tuple, function, *args) -> None:
        futures[executor.submit(function, *args)] = what

    def merge(job: AttackJob) -> None:
        submit(("merge", job), merge_run, job, shard_size, str(results), None, invocation(), where, repair)

    def shards_of(job: AttackJob) -> None:
        shards = plan_shards(job, plans[job], shard_size)
        shards_left[job] = len(shards)
        for shard in shards:
            submit(("shard", job, shard), attack_shard, shard, str(results), None, repair)
        if not shards:
            merge(job)

    todo = sorted((j for j in jobs if j not in records), key=lambda j: not j.model.stochastic)
    try:
        for job in todo:
            if train:
                submit(("train", job), train_group, (job.model,))
            else:
                shards_of(job)
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                what = futures.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    raise UserError("a worker process died (out of memory?); rerun the command to continue from "
                                    "the examples already attacked") from None
                step, job = what[0], what[1]
                if step == "train":
                    say(f"[trained] {result}")
                    shards_of(job)
                elif step == "shard":
                    shards_left[job] -= 1
                    say(f"[shard] {result} ({shards_left[job]} shards of this run left)")
                    if shards_left[job] == 0:
                        merge(job)
                else:
                    records[job] = result
    finally:
        for future in futures:
            future.cancel()
        executor.close()
    return [records[job] for job in jobs]
