"""Grids: a recipe expanded into tasks, run by an executor (``local``, ``process`` or ``ray``), written as the
same records ``snn-robust evaluate``, ``energy`` and ``run`` write.

Accuracy and energy studies (tables 1, 3, 5) run one task per (dataset, seed): its model kinds in recipe order,
so prerequisites (the tailored ANN of the SNNs) are trained once, by one worker.

Attack studies (table 2) run in three phases:

1. **train**: one task per (dataset, seed) builds every model kind the attacks need, once;
2. **shards**: each run's remaining examples are split into shards of ``shard_size``; a shard is its own
   resumable per-example file (``<run>.shards/<offset>.jsonl``), so a worker that dies loses only the example
   it was attacking, and the retried shard continues after the last complete line;
3. **merge**: a run whose shards are complete gets the per-example file ``snn-robust run`` writes (its header,
   then the rows in selection order, replaced atomically), is re-scored and gets its record; then its shards
   are deleted.

Every run is planned in the driver (:func:`~robustbench_snn.harness.plan_run`): its identity digest names its
files, and a worker refuses a shard whose identity it computes differently (other code or resources on that
node). Rerunning the command after a crash skips runs whose record has their identity and shards that are
complete, and resumes the rest; one process writes a file at a time (locks). Workers of the ``process``
executor die with their driver, even a ``kill -9``-ed one (parent-death signal). Examples are
attacked independently (each reseeds every generator from (seed, index)), and with ``seeded`` sampling a text
always gets the same scores, so the records do not depend on the executor or the worker count (tested).
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from robustbench_snn.config import ModelConfig, Study
from robustbench_snn.errors import UserError
from robustbench_snn.harness import (AttackConfig, ExampleLog, RunPlan, Session, attack_examples, finish,
                                     open_session, plan_run)
from robustbench_snn.locks import exclusive
from robustbench_snn.records import RESULTS, invocation, shard_path

EXECUTORS = ("local", "process", "ray")
STUDY_TABLES = ("table1", "table2", "table3", "table5")  # what a recipe's records feed (Table 4 rows: table1)
RAY_HINT = "install it with: pip install 'snn-robust[ray]' (or pip install 'ray>=2.9,<3')"


# --- plan --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AttackJob:
    """One attack run of a grid: what ``snn-robust run`` would do for one model."""

    model: ModelConfig
    attack: AttackConfig
    digest: str = ""  # the run's identity digest, as the driver planned it (see plan_run)

    def describe(self) -> str:
        sampling = f" {self.attack.sampling}" if self.model.spiking else ""
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
        AttackJob(model, AttackConfig(attack, study.settings, sampling, study.num_examples, study.rescore_draws,
                                      study.masked_lm).for_model(model.spiking))
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


# --- tasks (module-level functions, so every executor can ship them to its workers) ---------------------------------

_SESSIONS: dict[tuple, Session] = {}  # per worker process: the last few sessions, reused across shards


def _session(job: AttackJob, results: str, components: str | None) -> Session:
    key = (job, results, components)
    if key not in _SESSIONS:
        while len(_SESSIONS) >= 4:
            _SESSIONS.pop(next(iter(_SESSIONS)))
        parts = _load_object(components)() if components else None
        session = open_session(job.model, job.attack, Path(results), train=False, parts=parts)
        if job.digest and session.plan.digest != job.digest:
            raise UserError(f"{job.describe()}: this worker computes run identity {session.plan.digest}, the driver "
                            f"{job.digest}; install the same snn-robust code and resources on every node")
        _SESSIONS[key] = session
    return _SESSIONS[key]


def _load_object(spec: str):
    """``module:attribute`` -> the attribute (grid tests pass light attack components this way)."""
    module, _, attribute = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as err:
        raise UserError(f"cannot load {spec!r} ({err}); expected module:attribute") from None


def _shard_header(session: Session, shard: Shard) -> dict:
    return {"header": "snn-robust attack shard", "run": session.header, "offset": shard.offset,
            "examples": session.chosen[shard.offset:shard.offset + shard.count]}


def train_group(configs: tuple[ModelConfig, ...]) -> str:
    """Train (or find) every model of one (dataset, seed) group, in order."""
    from robustbench_snn.train import build_model

    for config in configs:
        build_model(config, train=True)
    return f"{configs[0].dataset} seed {configs[0].seed}: {', '.join(c.kind for c in configs)} ready"


def evaluate_group(table: str, configs: tuple[ModelConfig, ...], train: bool, results: str,
                   conventions: tuple[str, ...] = ()) -> tuple[str, list]:
    """Accuracy (tables 1, 3) or energy (table 5, priced under ``conventions``) records of one (dataset, seed)
    group: (summary, records)."""
    from robustbench_snn.energy import convention
    from robustbench_snn.evaluate import evaluate, evaluate_energy

    lines, records = [], []
    for config in configs:
        if table == "table5":
            record = evaluate_energy(config, [convention(name) for name in conventions] or None, train=train,
                                     results=Path(results))
            lines.append(f"{config.dataset} {config.kind} seed {config.seed}: ANN/SNN energy " + ", ".join(
                f"{name} {e['reduction']:.3f}x" for name, e in record["energy"].items()))
        else:
            record = evaluate(config, train=train, results=Path(results))
            lines.append(f"{config.dataset} {config.kind} seed {config.seed}: test accuracy "
                         f"{100 * record['test_accuracy']:.2f}%")
        records.append(record)
    return "\n".join(lines), records


def attack_shard(shard: Shard, results: str, components: str | None = None, repair: bool = False) -> str:
    """Attack one shard's examples, resuming its file; returns a progress line."""
    session = _session(shard.job, results, components)
    path = _shard_path(session.plan, shard)
    with exclusive(path, "a grid shard", wait=False):
        log = ExampleLog(path, _shard_header(session, shard), repair)
        indices = session.chosen[shard.offset:shard.offset + shard.count]
        attack_examples(session, log, indices[len(log.rows):], progress=False)
    return f"{shard.job.describe()}: examples {shard.offset + 1}-{shard.offset + shard.count}"


def merge_run(job: AttackJob, shard_size: int, results: str, components: str | None = None,
              command: str | None = None, executor: str | None = None, repair: bool = False) -> dict:
    """Join a run's own per-example file and its shards into that file, then re-score and write the record
    (``command`` and ``executor``: the grid's command line and executor, for the record)."""
    session = _session(job, results, components)
    path = session.plan.examples_file
    with exclusive(path, "an attack run", wait=False):
        rows = ExampleLog(path, session.header, repair).rows
        for shard in _layout(job, len(rows), len(session.chosen), shard_size):
            shard_path = _shard_path(session.plan, shard)
            with exclusive(shard_path, "a grid shard", wait=False):
                shard_rows = ExampleLog(shard_path, _shard_header(session, shard), repair).rows
            if len(shard_rows) < shard.count:
                raise UserError(f"shard {shard_path} is incomplete; rerun the grid")
            rows += shard_rows
        ExampleLog.rewrite(path, session.header, rows)  # complete or untouched, never half-merged
        record = finish(session, rows, command, {"executor": executor, "shard_size": shard_size})
    shutil.rmtree(shard_folder(session.plan), ignore_errors=True)
    return record


# --- executors ----------------------------------------------------------------------------------------------------

Task = tuple  # the positional arguments of one call


class LocalExecutor:
    """Tasks one after another in this process (the default; a crash is resumed by rerunning)."""

    name, workers = "local", 1

    def map(self, function: Callable, tasks: list[Task]) -> Iterator[tuple[Task, object]]:
        for task in tasks:
            yield task, function(*task)

    def close(self) -> None:
        pass


def _init_worker(threads: int, path: list[str], driver: int) -> None:
    import torch

    from robustbench_snn.runtime import die_with_parent, keep_freed_memory

    die_with_parent(driver)  # a kill -9 of the driver takes its workers with it: no orphan writes shards
    sys.path[:] = path
    torch.set_num_threads(threads)
    keep_freed_memory()


class ProcessExecutor:
    """A pool of local worker processes (spawned, so no parent state is shared); a pool whose worker died is
    rebuilt and the tasks it had in flight are retried, up to ``retries`` times each."""

    name = "process"

    def __init__(self, workers: int | None = None, retries: int = 2):
        self.workers = workers or os.cpu_count() or 1
        self.retries = retries
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)
        self.pool = None

    def _start(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(self.workers, multiprocessing.get_context("spawn"),
                                        initializer=_init_worker, initargs=(self.threads, list(sys.path), os.getpid()))

    def map(self, function: Callable, tasks: list[Task]) -> Iterator[tuple[Task, object]]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        attempts = {i: 0 for i in range(len(tasks))}
        pending = set(attempts)  # indices not yet yielded
        while pending:
            if self.pool is None:
                self._start()
            futures = {self.pool.submit(function, *tasks[i]): i for i in sorted(pending)}
            broken = False
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    i = futures.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    pending.discard(i)
                    yield tasks[i], result
            if broken:  # a worker died: every task still pending is retried in a new pool
                self.pool.shutdown(cancel_futures=True)
                self.pool = None
                for i in pending:
                    attempts[i] += 1
                    if attempts[i] > self.retries:
                        raise UserError(f"a worker died {attempts[i]} times running {function.__name__}"
                                        f"{_short(tasks[i])}; rerun the grid to continue, or check memory")

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


class RayExecutor:
    """Tasks on a Ray cluster: ``address`` None starts a local one with ``workers`` CPUs. Ray retries a task
    whose worker died (``max_retries``); workers get this process's resource settings (``SNN_ROBUST_*``, ...)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, retries: int = 2):
        try:
            import ray
        except ImportError:
            raise UserError(f"--executor ray needs Ray, which is not installed; {RAY_HINT}") from None
        self.ray, self.retries = ray, retries
        prefixes = ("SNN_ROBUST_", "TA_CACHE_DIR", "NLTK_DATA", "HF_", "TRANSFORMERS_", "PYTHONPATH")
        env = {k: v for k, v in os.environ.items() if k.startswith(prefixes)}
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home from offline machines
        ray.init(address=address, num_cpus=workers if address is None else None, include_dashboard=False,
                 runtime_env={"env_vars": env}, logging_level="ERROR", log_to_driver=False)
        self.workers = int(ray.cluster_resources().get("CPU", 1))

    def map(self, function: Callable, tasks: list[Task]) -> Iterator[tuple[Task, object]]:
        remote = self.ray.remote(num_cpus=1, max_retries=self.retries)(function)
        refs = {remote.remote(*task): task for task in tasks}
        try:
            yield from self._collect(function, refs)
        finally:  # an error, or the driver stopping early: nothing keeps running for it
            for ref in refs:
                self.ray.cancel(ref, force=True)

    def _collect(self, function: Callable, refs: dict) -> Iterator[tuple[Task, object]]:
        while refs:
            [ref], _ = self.ray.wait(list(refs), num_returns=1)
            task = refs.pop(ref)
            try:
                result = self.ray.get(ref)
            except self.ray.exceptions.RayTaskError as err:
                cause = getattr(err, "cause", None)
                raise cause if isinstance(cause, UserError) else UserError(
                    f"{function.__name__}{_short(task)} failed on Ray: {str(err).splitlines()[0]}") from None
            except self.ray.exceptions.RayError as err:  # the worker died more than max_retries times
                raise UserError(f"{function.__name__}{_short(task)} was lost {self.retries + 1} times on Ray "
                                f"({type(err).__name__}); rerun the grid to continue") from None
            yield task, result

    def close(self) -> None:
        self.ray.shutdown()


def _short(task: Task) -> str:
    first = task[0]
    job = first.job if isinstance(first, Shard) else first if isinstance(first, AttackJob) else None
    return f" ({job.describe()})" if job else ""


def make_executor(name: str, address: str | None = None, workers: int | None = None):
    if name not in EXECUTORS:
        raise UserError(f"unknown executor {name!r}; valid executors: {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be at least 1 (got {workers})")
    if address and name != "ray":
        raise UserError("--address names a Ray cluster; use it with --executor ray")
    if name == "local":
        if workers not in (None, 1):
            raise UserError("--executor local runs one task at a time; use --executor process for --workers "
                            f"{workers}")
        return LocalExecutor()
    return ProcessExecutor(workers) if name == "process" else RayExecutor(address, workers)


# --- driver -------------------------------------------------------------------------------------------------------

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


def plan_jobs(study: Study, results: Path, components: str | None = None) -> list[tuple[AttackJob, RunPlan]]:
    """Every run of an attack study with its plan, before any work (bad values fail here, not after training)."""
    from robustbench_snn.attack_parts import Components

    parts = _load_object(components)() if components else Components(study.masked_lm)
    planned = []
    for job in attack_jobs(study):
        plan = plan_run(job.model, job.attack, parts, results=results)
        planned.append((replace(job, digest=plan.digest), plan))
    return planned


def run_study(study: Study, executor, results: Path = RESULTS, train: bool = True,
              components: str | None = None, echo: bool = True, repair: bool = False) -> GridReport:
    """Run every job of ``study`` on ``executor``; records land where ``evaluate`` / ``run`` put them. A run is
    skipped only when its record has the identity this study asks for."""
    report = GridReport([], 0, 0.0, [])
    if study.table != "table2":
        tasks = [(study.table, group, train, str(results), study.conventions)
                 for group in _groups(study.model_configs())]
        for number, (_, (summary, records)) in enumerate(executor.map(evaluate_group, tasks), 1):
            report.records += records
            _say(report, f"[{number}/{len(tasks)}] {summary}", echo)
        return report

    planned = plan_jobs(study, results, components)
    if train:
        groups = _groups(list(dict.fromkeys(job.model for job, _ in planned)))
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
    began = time.perf_counter()
    for number, (task, summary) in enumerate(executor.map(attack_shard, [(s, str(results), components, repair)
                                                                          for s in shards]), 1):
        report.examples_attacked += task[0].count
        elapsed = time.perf_counter() - began
        eta = elapsed / number * (len(shards) - number)
        _say(report, f"[shard {number}/{len(shards)}] {summary} ({elapsed:.0f} s, ETA {eta:.0f} s)", echo)
    report.attack_seconds = time.perf_counter() - began
    where = f"{executor.name} x {executor.workers}"
    merges = [(job, study.shard_size, str(results), components, invocation(), where, repair) for job, _ in todo]
    stems = {job: plan.stem for job, plan in todo}
    for number, (task, record) in enumerate(executor.map(merge_run, merges), 1):
        job, metrics = task[0], record["metrics"]
        report.records.append(record)
        _say(report, f"[merge {number}/{len(merges)}] {job.describe()}: Cln {metrics['cln']:.1f} Boa "
             f"{metrics['boa']:.1f} Suc {metrics['suc'] or 0:.1f} -> {stems[job]}.json", echo)
    return report


def check_study(study: Study) -> Study:
    """Refuse recipes that cannot run, with the valid choices; returns ``study``."""
    from robustbench_snn.attack_files import load_attack
    from robustbench_snn.data import get_spec
    from robustbench_snn.train import check_kind
    from robustbench_snn.wrappers import Sampling

    if study.table not in STUDY_TABLES:
        raise UserError(f"{study.name}: unknown table {study.table!r}; valid tables: {', '.join(STUDY_TABLES)}")
    if study.table in ("table1", "table3") and (study.table == "table3") != study.random_embeddings:
        raise UserError(f"{study.name}: table3 records random-embedding models and table1 pre-trained ones; set "
                        f"random_embeddings: {str(study.table == 'table3').lower()}")
    if (study.table == "table2") != bool(study.attacks):
        raise UserError(f"{study.name}: attacks: belongs to table2 recipes, which need at least one attack")
    for dataset in study.datasets:
        get_spec(dataset)
    for kind in study.models:
        check_kind(kind)
    for attack in study.attacks:
        recipe = load_attack(attack)
        if study.settings not in recipe.settings:
            raise UserError(f"{study.name}: attack {attack} has no settings {study.settings!r}; it has "
                            f"{', '.join(recipe.settings)}")
    for sampling in study.samplings:
        Sampling.parse(sampling)
    from robustbench_snn.energy import convention

    for name in study.conventions:
        convention(name)
    for config in study.model_configs():  # every sweep point is a valid configuration
        check_kind(config.kind)
    return study
