"""Executors: ``local`` (this process), ``process`` (a pool of local worker processes) and ``ray`` (a Ray cluster);
each maps a task function over tasks and yields (task, result) as they finish."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator

from robustbench_snn.errors import UserError
from robustbench_snn.grid.plan import AttackJob, Shard


EXECUTORS = ("local", "process", "ray")
RAY_HINT = "install it with: pip install 'snn-robust[ray]' (or pip install 'ray>=2.9,<3')"

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

    def submit(self, function: Callable, *args):
        """One task, as a future (for schedules whose tasks depend on earlier results; no retries)."""
        if self.pool is None:
            self._start()
        return self.pool.submit(function, *args)

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


def check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be at least 1 (got {workers})")


def make_executor(name: str, address: str | None = None, workers: int | None = None):
    if name not in EXECUTORS:
        raise UserError(f"unknown executor {name!r}; valid executors: {', '.join(EXECUTORS)}")
    check_workers(workers)
    if address and name != "ray":
        raise UserError("--address names a Ray cluster; use it with --executor ray")
    if name == "local":
        if workers not in (None, 1):
            raise UserError("--executor local runs one task at a time; use --executor process for --workers "
                            f"{workers}")
        return LocalExecutor()
    return ProcessExecutor(workers) if name == "process" else RayExecutor(address, workers)
