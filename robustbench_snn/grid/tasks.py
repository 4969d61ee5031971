"""The grid's tasks: module-level functions every executor can ship to its workers (train a group of models,
evaluate one, attack a shard, merge a run)."""

from __future__ import annotations

import shutil
from pathlib import Path

from robustbench_snn.config import ModelConfig
from robustbench_snn.errors import UserError
from robustbench_snn.grid.plan import AttackJob, Shard, _layout, _shard_path, shard_folder
from robustbench_snn.example_log import ExampleLog
from robustbench_snn.harness import Session, attack_examples, finish, open_session
from robustbench_snn.locks import Busy, exclusive
from robustbench_snn.references import resolve


_SESSIONS: dict[tuple, Session] = {}  # per worker process: the last few sessions, reused across shards


def _session(job: AttackJob, results: str, parts_factory: str | None) -> Session:
    key = (job, results, parts_factory)
    if key not in _SESSIONS:
        while len(_SESSIONS) >= 4:
            _SESSIONS.pop(next(iter(_SESSIONS)))
        parts = resolve(parts_factory)() if parts_factory else None
        session = open_session(job.model, job.attack, Path(results), train=False, parts=parts)
        if job.digest and session.plan.digest != job.digest:
            raise UserError(f"{job.describe()}: this worker computes run identity {session.plan.digest}, the driver "
                            f"{job.digest}; install the same snn-robust code and resources on every node")
        _SESSIONS[key] = session
    return _SESSIONS[key]




def _shard_header(session: Session, shard: Shard) -> dict:
    return {"header": "snn-robust attack shard", "run": session.header, "offset": shard.offset,
            "examples": session.chosen[shard.offset:shard.offset + shard.count]}


def train_group(configs: tuple[ModelConfig, ...]) -> str:
    """Train (or find) every model of one (dataset, seed) group, in order."""
    from robustbench_snn.zoo import build_model

    for config in configs:
        build_model(config, train=True)
    return f"{configs[0].dataset} seed {configs[0].seed}: {', '.join(c.kind for c in configs)} ready"


def evaluate_group(table: str, configs: tuple[ModelConfig, ...], train: bool, results: str,
                   conventions: tuple[str, ...] = ()) -> tuple[str, list, list]:
    """Accuracy (tables 1, 3) or energy (table 5, priced under ``conventions``) records of one (dataset, seed)
    group: (summary, records written now, records found finished with the identity asked for)."""
    from robustbench_snn.energy import CONVENTIONS, convention
    from robustbench_snn.evaluate import evaluate, evaluate_energy, finished_accuracy, finished_energy

    lines, written, existing = [], [], []
    for config in configs:
        if table == "table5":
            rules = [convention(name) for name in conventions] or list(CONVENTIONS.values())
            done = finished_energy(config, rules, Path(results))
            record = done or evaluate_energy(config, rules, train=train, results=Path(results))
            lines.append(f"{config.dataset} {config.kind} seed {config.seed}: ANN/SNN energy " + ", ".join(
                f"{name} {e['reduction']:.3f}x" for name, e in record["energy"].items()))
        else:
            done = finished_accuracy(config, Path(results))
            record = done or evaluate(config, train=train, results=Path(results))
            lines.append(f"{config.dataset} {config.kind} seed {config.seed}: test accuracy "
                         f"{100 * record['test_accuracy']:.2f}%")
        lines[-1] += " (found done)" if done else ""
        (existing if done else written).append(record)
    return "\n".join(lines), written, existing


def attack_shard(shard: Shard, results: str, parts_factory: str | None = None, repair: bool = False) -> str:
    """Attack one shard's examples, resuming its file; returns a progress line. A shard another process is
    attacking (a second grid over the same results) is left to it: the merge waits for it to finish."""
    session = _session(shard.job, results, parts_factory)
    path = _shard_path(session.plan, shard)
    where = f"{shard.job.describe()}: examples {shard.offset + 1}-{shard.offset + shard.count}"
    try:
        with exclusive(path, "a grid shard", wait=False):
            attack_shard_held(session, shard, repair)
    except Busy:
        return f"{where}: another process is attacking them (merged once it has)"
    return where


def attack_shard_held(session, shard: Shard, repair: bool = False) -> list[dict]:
    """The work of :func:`attack_shard` for a caller that holds the shard's lock: its rows, all attacked."""
    log = ExampleLog(_shard_path(session.plan, shard), _shard_header(session, shard), repair)
    indices = session.chosen[shard.offset:shard.offset + shard.count]
    attack_examples(session, log, indices[len(log.rows):], progress=False)
    return log.rows


def merge_run(job: AttackJob, shard_size: int, results: str, parts_factory: str | None = None,
              command: str | None = None, executor: str | None = None, repair: bool = False,
              wait: bool = True) -> dict:
    """Join a run's own per-example file and its shards into that file, then re-score and write the record
    (``command`` and ``executor``: the grid's command line and executor, for the record). A shard another
    process is attacking is waited for, or with ``wait`` False raises :class:`~robustbench_snn.locks.Busy`
    before the run's file or record is written; a shard whose attacker stopped part-way is finished here."""
    session = _session(job, results, parts_factory)
    path = session.plan.examples_file
    # a second grid over the same results waits here for the first's merge, and its shards for their attackers
    with exclusive(path, "an attack run", wait=True):
        finished = session.plan.finished_record()
        if finished is not None:  # the other grid merged it meanwhile
            return finished
        rows = ExampleLog(path, session.header, repair).rows
        for shard in _layout(job, len(rows), len(session.chosen), shard_size):
            shard_path = _shard_path(session.plan, shard)
            with exclusive(shard_path, "a grid shard", wait=wait):
                rows += attack_shard_held(session, shard, repair)  # nothing to attack unless its attacker stopped
        ExampleLog.rewrite(path, session.header, rows)  # complete or untouched, never half-merged
        record = finish(session, rows, command, {"executor": executor, "shard_size": shard_size})
    shutil.rmtree(shard_folder(session.plan), ignore_errors=True)
    return record
