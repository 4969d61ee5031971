"""The grid: recipes expand into jobs, executors (local, process, ray) give the same records as `run`, a dead
worker loses only its shard in flight, a crashed driver continues on rerun, and nothing is written twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from robustbench_snn import grid
from robustbench_snn.config import load_study
from robustbench_snn.errors import UserError
from robustbench_snn.grid import (LocalExecutor, ProcessExecutor, attack_jobs, check_study, make_executor,
                                  run_study, shard_folder)
from robustbench_snn.harness import run

REPO = Path(__file__).resolve().parents[1]
FAKES = "fakes:DictionaryParts"
TIMING = ("seconds", "model_seconds")


def smoke(**changes):
    """recipes/smoke-grid.yaml on the tiny dataset, smaller: 8 examples per run in shards of 3 (the last one
    short)."""
    return check_study(load_study(REPO / "recipes" / "smoke-grid.yaml")).with_options(
        datasets=("tiny",), num_examples=8, shard_size=3, **changes)


def outcomes(results: Path) -> dict:
    """Per run: the per-example rows without timings, and the record's metrics."""
    found = {}
    for path in sorted(results.rglob("*.jsonl")):
        rows = [{k: v for k, v in json.loads(line).items() if k not in TIMING}
                for line in path.read_text().splitlines()]
        record = json.loads(path.with_suffix(".json").read_text())
        found[path.relative_to(results).as_posix()] = (rows, record["metrics"], record["rescored"]["metrics"])
    return found


@pytest.fixture(scope="module")
def sequential(tmp_path_factory) -> Path:
    """The reference: every job of the smoke grid through `harness.run`, one after another (trains them)."""
    from fakes import DictionaryParts

    results = tmp_path_factory.mktemp("sequential")
    grid.train_group(tuple(dict.fromkeys(job.model for job in attack_jobs(smoke()))))
    for job in attack_jobs(smoke()):
        run(job.model, job.attack, results, parts=DictionaryParts(), progress=False)
    return results


def test_recipes_expand_into_jobs() -> None:
    jobs = attack_jobs(smoke(samplings=("seeded", "fresh")))
    assert [(j.model.kind, j.attack.sampling) for j in jobs] == [("textcnn", "seeded"), ("snn-conv-dn", "seeded"),
                                                                 ("snn-conv-dn", "fresh")]  # ANNs run once
    paper = check_study(load_study(REPO / "recipes" / "paper-table2.yaml"))
    # per dataset and attack: the TextCNN once, the population-1 and -10 SNNs under two protocols each
    assert len(attack_jobs(paper)) == 4 * 4 * (1 + 2 * 2) and paper.option("num_examples") == 1000


def test_bad_recipes_and_options_are_refused(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("table: table2\ndatasets: [sst2]\nmodels: [textcnn]\n")
    with pytest.raises(UserError, match="need at least one attack"):
        check_study(load_study(recipe))
    recipe.write_text("table: table2\ndatasets: [sst2]\nmodels: [textcnn]\nattacks: [pwws]\nsamplings: [poisson]\n")
    with pytest.raises(UserError, match="valid protocols"):
        check_study(load_study(recipe))
    recipe.write_text("table: table1\ndatasets: [sst2]\nmodels: [textcnn]\nattacks: [pwws]\n")
    with pytest.raises(UserError, match="belongs to table2"):
        check_study(load_study(recipe))
    with pytest.raises(UserError, match="valid executors: local, process, ray"):
        make_executor("slurm")
    with pytest.raises(UserError, match="use --executor process"):
        make_executor("local", workers=2)
    with pytest.raises(UserError, match="with --executor ray"):
        make_executor("process", address="auto")


def test_ray_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(UserError, match=r"pip install 'snn-robust\[ray\]'"):
        make_executor("ray")


def test_local_grid_writes_what_run_writes(sequential: Path, tmp_path: Path) -> None:
    report = run_study(smoke(), LocalExecutor(), tmp_path, parts_factory=FAKES, echo=False)
    assert outcomes(tmp_path) == outcomes(sequential)
    assert report.examples_attacked == 16 and len(report.records) == 2
    assert not list(tmp_path.rglob("*.shards"))  # merged shards are deleted
    again = run_study(smoke(), LocalExecutor(), tmp_path, parts_factory=FAKES, echo=False)
    assert again.examples_attacked == 0 and again.records == []  # finished runs are skipped ...
    assert len(again.existing) == 2  # ... and found as the study's own records
    assert not any(line.startswith("[train") for line in again.lines)  # their models are not even loaded


class StopsAfter(LocalExecutor):
    """A local executor whose driver is interrupted after ``shards`` shard tasks (a campaign stopped mid-grid)."""

    def __init__(self, shards: int):
        self.shards = shards

    def map(self, function, tasks):
        for number, item in enumerate(super().map(function, tasks)):
            if function is grid.attack_shard and number == self.shards:
                raise KeyboardInterrupt
            yield item


def test_a_run_is_merged_as_soon_as_its_shards_are_done(sequential: Path, tmp_path: Path) -> None:
    """An interrupted grid keeps the records of the runs it finished: the first run (3 shards) has its record
    before the second run's shards are attacked; the rerun merges the second, and both equal the reference."""
    with pytest.raises(KeyboardInterrupt):
        run_study(smoke(), StopsAfter(4), tmp_path, parts_factory=FAKES, echo=False)
    first, second = [plan for _, plan in grid.plan_jobs(smoke(), tmp_path, FAKES)]
    assert first.finished_record() is not None and second.finished_record() is None
    again = run_study(smoke(), LocalExecutor(), tmp_path, parts_factory=FAKES, echo=False)
    assert len(again.existing) == 1 and len(again.records) == 1
    assert outcomes(tmp_path) == outcomes(sequential)


def test_a_run_whose_shards_were_all_attacked_before_is_merged_first(tmp_path: Path) -> None:
    """A grid interrupted between a run's last shard and its merge: the rerun merges that run before attacking."""
    job, plan = grid.plan_jobs(smoke(), tmp_path, FAKES)[0]
    for shard in grid.plan_shards(job, plan, 3):
        grid.attack_shard(shard, str(tmp_path), FAKES)
    with pytest.raises(KeyboardInterrupt):
        run_study(smoke(), StopsAfter(0), tmp_path, parts_factory=FAKES, echo=False)
    assert plan.finished_record() is not None


def test_a_shard_whose_attacker_stopped_part_way_is_finished_by_the_merge(sequential: Path, tmp_path: Path) -> None:
    job, plan = grid.plan_jobs(smoke(), tmp_path, FAKES)[0]
    shards = grid.plan_shards(job, plan, 3)
    for shard in shards:
        grid.attack_shard(shard, str(tmp_path), FAKES)
    cut = grid.shard_folder(plan) / f"{shards[1].offset:06d}.jsonl"
    lines = cut.read_text().splitlines(keepends=True)
    cut.write_text("".join(lines[:-1]))  # its attacker stopped before the last example
    grid.merge_run(job, 3, str(tmp_path), FAKES)
    name = plan.stem.relative_to(tmp_path).as_posix() + ".jsonl"
    assert outcomes(tmp_path)[name] == outcomes(sequential)[name]


def test_a_cost_plan_says_what_is_done_and_prices_the_rest_from_the_records(sequential: Path) -> None:
    from robustbench_snn.grid.costs import describe_plan, plan_costs

    jobs = plan_costs(smoke(), sequential, FAKES)
    attacks = [j for j in jobs if j.what.startswith("attack")]
    assert len(attacks) == 2 and all(j.done for j in attacks)  # the sequential runs are this study's
    assert jobs == attacks  # a finished study trains nothing, cache or no cache (as the grid itself does)
    bigger = plan_costs(smoke().with_options(num_examples=16), sequential, FAKES)  # priced by the runs done
    assert [j.what.split(" (")[0] for j in bigger if j.what.startswith("train")] == ["train tiny textcnn seed 0",
                                                                                     "train tiny tailored seed 0"]
    todo = [j for j in bigger if j.what.startswith("attack")]
    assert all(not j.done and j.seconds is not None and "16 x" in j.basis and "(tiny)" in j.basis for j in todo)
    assert "estimated" in describe_plan(bigger) and "2 to do" in describe_plan(bigger)


def test_a_training_rate_from_another_dataset_is_scaled_by_its_size_and_padded_length(tmp_path: Path) -> None:
    """Waimai's fine-tuning (48 characters) priced from SST-2's (25 words): per example alone it came out at
    half what it took."""
    from robustbench_snn.config import ModelConfig
    from robustbench_snn.grid.costs import Rates, _Trained

    rates = Rates(tmp_path / "no-records")
    rates.trained = [_Trained("sst2", "snn-ft", seconds_per_epoch=100.0, epochs=10, train_size=1000, steps=50)]
    seconds, basis = rates.training(ModelConfig(dataset="waimai", kind="snn-ft"), train_size=2000)
    assert seconds == pytest.approx(100.0 * 2 * 48 / 25 * 10)  # twice the examples, 48 / 25 the tokens, 10 epochs
    assert "scaled by size and padded length" in basis
    same, basis = rates.training(ModelConfig(dataset="sst2", kind="snn-ft"), train_size=1000)
    assert same == pytest.approx(1000.0) and "(sst2;" in basis  # its own dataset's rate: not scaled
    rates.trained = [_Trained("users-data", "snn-ft", 100.0, 10, 1000, 50)]  # a dataset this process lacks
    unscaled, _ = rates.training(ModelConfig(dataset="sst2", kind="snn-ft"), train_size=1000)
    assert unscaled == pytest.approx(1000.0)  # by size only: its padded length is unknown here


def test_a_training_is_priced_from_the_nearest_trainings_measured(tmp_path: Path) -> None:
    """ChnSenti's directly-trained SNN, priced from MR's, came out at 57 s an epoch and took 180 s, as ChnSenti's
    fine-tuning does: its own dataset's stand-in comes before its kind elsewhere, and datasets with its word vectors
    before the rest."""
    from robustbench_snn.config import ModelConfig
    from robustbench_snn.grid.costs import Rates, _Trained

    rates = Rates(tmp_path / "no-records")
    rates.trained = [_Trained("mr", "snn-direct", 40.0, 30, 1000, 50),
                     _Trained("chnsenti", "snn-ft", 180.0, 12, 1000, 50)]
    seconds, basis = rates.training(ModelConfig(dataset="chnsenti", kind="snn-direct"), train_size=1000)
    assert seconds == pytest.approx(180.0 * 30)  # fine-tuning's epoch there, direct training's 30 epochs
    assert "(chnsenti; 1 trained; epochs priced as fine-tuning's)" in basis
    seconds, basis = rates.training(ModelConfig(dataset="sst2", kind="snn-direct"), train_size=1000)
    assert "(mr, scaled by size and padded length; 1 trained)" in basis  # its kind, on the English vectors
    rates.trained += [_Trained("waimai", "snn-direct", 200.0, 30, 1000, 50)]
    _, basis = rates.training(ModelConfig(dataset="chnsenti", kind="snn-direct"), train_size=1000)
    assert "(chnsenti; 1 trained; epochs priced as fine-tuning's)" in basis  # its own dataset still comes first
    _, basis = rates.training(ModelConfig(dataset="chnsenti", kind="snn-ft"), train_size=1000)
    assert basis.startswith("12 epochs x 180 s (chnsenti;")
    rates.trained = [rates.trained[0], rates.trained[2]]
    _, basis = rates.training(ModelConfig(dataset="chnsenti", kind="snn-direct"), train_size=1000)
    assert "(waimai, scaled by size and padded length; 1 trained)" in basis  # the Chinese vectors, not MR's


@pytest.mark.slow  # worker processes each import TextAttack: tens of seconds
def test_process_pool_of_two_reproduces_the_sequential_records(sequential: Path, tmp_path: Path) -> None:
    executor = ProcessExecutor(workers=2)
    try:
        run_study(smoke(), executor, tmp_path, train=False, parts_factory=FAKES, echo=False)
    finally:
        executor.close()
    assert outcomes(tmp_path) == outcomes(sequential)


@pytest.mark.slow  # worker processes each import TextAttack: tens of seconds
def test_a_dead_worker_loses_only_its_shard_which_is_retried(sequential: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "died"
    monkeypatch.setenv("SNN_ROBUST_TEST_DIE_ONCE", str(marker))
    monkeypatch.setenv("SNN_ROBUST_TEST_DIE_AT", "8")  # a worker sees 2-4 examples of a run, ~10 swaps each
    executor = ProcessExecutor(workers=2)
    try:
        run_study(smoke(), executor, tmp_path / "results", train=False, parts_factory="fakes:DyingParts",
                  echo=False)
    finally:
        executor.close()
    assert marker.exists()  # a worker did die mid-shard
    assert outcomes(tmp_path / "results") == outcomes(sequential)  # and nothing was lost or repeated


@pytest.mark.slow  # worker processes each import TextAttack: tens of seconds
def test_a_crashed_driver_continues_where_it_stopped(sequential: Path, tmp_path: Path) -> None:
    results, marker = tmp_path / "results", tmp_path / "died"
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from test_grid import smoke; "
              "from robustbench_snn.grid import LocalExecutor, run_study; "
              "run_study(smoke(), LocalExecutor(), __import__('pathlib').Path(sys.argv[2]), train=False, "
              "parts_factory='fakes:DyingParts', echo=False)")
    env = os.environ | {"SNN_ROBUST_TEST_DIE_ONCE": str(marker), "SNN_ROBUST_TEST_DIE_AT": "12"}
    command = [sys.executable, "-c", script, str(REPO / "tests"), str(results)]
    crashed = subprocess.run(command, env=env, capture_output=True, text=True)
    assert crashed.returncode == 9 and marker.exists()  # the driver died (local tasks run in it) ...
    partial = list(results.rglob("*.shards/*.jsonl"))
    assert partial and not list(results.rglob("*.json"))  # ... after some shards, before any record
    rerun = subprocess.run(command, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert outcomes(results) == outcomes(sequential)
    for path in results.rglob("*.jsonl"):  # no example written twice
        indices = [json.loads(line)["index"] for line in path.read_text().splitlines()[1:]]
        assert len(indices) == len(set(indices)) == 8


@pytest.mark.slow  # worker processes each import TextAttack: tens of seconds
def test_ray_local_cluster_of_two_reproduces_the_sequential_records(sequential: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray", reason="Ray is the optional extra: pip install '.[ray]'")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]))
    marker = tmp_path / "died"
    monkeypatch.setenv("SNN_ROBUST_TEST_DIE_ONCE", str(marker))
    monkeypatch.setenv("SNN_ROBUST_TEST_DIE_AT", "8")
    executor = make_executor("ray", workers=2)
    try:
        assert executor.workers == 2
        run_study(smoke(), executor, tmp_path / "clean", train=False, parts_factory=FAKES, echo=False)
        run_study(smoke(), executor, tmp_path / "dying", train=False, parts_factory="fakes:DyingParts",
                  echo=False)
    finally:
        executor.close()
    assert outcomes(tmp_path / "clean") == outcomes(sequential)
    assert marker.exists() and outcomes(tmp_path / "dying") == outcomes(sequential)  # Ray retried the shard


def test_shards_of_an_unfinished_run_are_resumed_not_repeated(sequential: Path, tmp_path: Path) -> None:
    job, plan = grid.plan_jobs(smoke(), tmp_path, FAKES)[0]
    executor = LocalExecutor()
    tasks = [(s, str(tmp_path), FAKES) for s in grid.plan_shards(job, plan, 3)]
    list(executor.map(grid.attack_shard, tasks[:2]))  # two of three shards, then "a crash"
    assert [(s.offset, s.count) for s in grid.plan_shards(job, plan, 3)] == [(6, 2)]
    assert len(list(shard_folder(plan).glob("*.jsonl"))) == 2
    from fakes import DictionaryParts

    with pytest.raises(UserError, match=r"attacked in shards .* rerun with --workers 2 or more, or rerun the grid"):
        run(job.model, job.attack, tmp_path, parts=DictionaryParts(), progress=False)  # would redo them
    run_study(replace(smoke(), models=("textcnn",)), executor, tmp_path, train=False, parts_factory=FAKES, echo=False)
    stem = plan.stem
    assert outcomes(tmp_path)[stem.relative_to(tmp_path).as_posix() + ".jsonl"] == \
        outcomes(sequential)[stem.relative_to(tmp_path).as_posix() + ".jsonl"]


def test_accuracy_recipes_run_on_executors_too(sequential: Path, tmp_path: Path) -> None:
    study = replace(smoke(), table="table1", attacks=(), models=("textcnn", "tailored", "snn-conv-dn"))
    executor = ProcessExecutor(workers=2)
    try:
        report = run_study(study, executor, tmp_path, train=False, echo=False)
    finally:
        executor.close()
    records = sorted(tmp_path.rglob("*.json"))
    assert [p.parent.name for p in records] == ["snn-conv-dn", "tailored", "textcnn"]
    assert report.lines[0].startswith("3 models in 1 tasks") and len(report.lines) == 2  # one (dataset, seed) task:
    # prerequisites trained once, by one worker
    assert all(0.5 < json.loads(p.read_text())["test_accuracy"] <= 1 for p in records)


def test_a_rerun_accuracy_grid_finds_its_records_done_and_measures_nothing_again(sequential: Path,
                                                                                  tmp_path: Path) -> None:
    study = replace(smoke(), table="table1", attacks=(), models=("textcnn", "snn-conv-dn"))
    from robustbench_snn.grid.costs import plan_costs

    before = plan_costs(study, tmp_path)
    assert [j.what.split(" (")[0] for j in before if j.what.startswith("train")] == ["train tiny textcnn seed 0",
                                                                                     "train tiny tailored seed 0"]
    first = run_study(study, LocalExecutor(), tmp_path, train=False, echo=False)
    assert all(j.done and j.what.startswith("evaluate") for j in plan_costs(study, tmp_path))  # nothing to train
    files = sorted(tmp_path.rglob("*.json"))
    written = {p: p.read_bytes() for p in files}
    again = run_study(study, LocalExecutor(), tmp_path, train=False, echo=False)
    assert (len(first.records), len(first.existing)) == (2, 0) and (len(again.records), len(again.existing)) == (0, 2)
    assert again.existing == first.records and "(found done)" in again.lines[-1]
    assert {p: p.read_bytes() for p in sorted(tmp_path.rglob("*.json"))} == written  # not even rewritten
    files[0].write_text("{damaged")  # a damaged record is no record: measured again
    third = run_study(study, LocalExecutor(), tmp_path, train=False, echo=False)
    remeasured, before = json.loads(files[0].read_text()), json.loads(written[files[0]])
    for record in (remeasured, before):  # the one timing in a record: it differs under load
        record.pop("wall_seconds")
    assert len(third.records) == 1 and remeasured == before


@pytest.mark.slow  # worker processes each import TextAttack: tens of seconds
def test_a_two_node_ray_cluster_losing_a_node_mid_grid_reproduces_the_sequential_records(
        sequential: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two raylets on this machine (ray.cluster_utils.Cluster: a head and a worker node, one CPU each), the grid
    joins them through --address like a real cluster, and the worker node is removed while shards run on it:
    Ray retries the lost tasks on the head, and the records equal one process's."""
    ray = pytest.importorskip("ray", reason="Ray is the optional extra: pip install '.[ray]'")
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    results = tmp_path / "cluster"
    removed = []

    def remove_the_worker_node_once(line: str) -> None:
        if line.startswith("[shard 1/") and not removed:  # one shard done: the grid is under way on both nodes
            cluster.remove_node(worker, allow_graceful=False)
            removed.append(line)

    executor = make_executor("ray", address=cluster.address)
    try:
        assert executor.workers == 2 and len([n for n in ray.nodes() if n["Alive"]]) == 2
        monkeypatch.setattr(grid, "_say", lambda rep, line, echo: (rep.lines.append(line),
                                                                   remove_the_worker_node_once(line)))
        report = run_study(smoke(), executor, results, train=False, parts_factory=FAKES, echo=False)
        assert removed
        import time

        for _ in range(60):  # the cluster notices a dead raylet after its heartbeat timeout
            if len([n for n in ray.nodes() if n["Alive"]]) == 1:
                break
            time.sleep(1)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 1
    finally:
        executor.close()
        cluster.shutdown()
    assert len(report.records) == 2
    assert outcomes(results) == outcomes(sequential)


@pytest.mark.slow
def test_run_with_workers_gives_the_rows_of_one_worker(tmp_path: Path, bundle) -> None:
    """`snn-robust run --workers 2` trains each model in its own process and attacks the trained ones in shards on
    both (a pipeline): the same rows and metrics as one process, merged into one file per run."""
    from robustbench_snn.cli import main

    def rows(folder: str) -> dict[str, list[dict]]:
        found = {}
        for path in sorted((tmp_path / folder).rglob("*.jsonl")):
            lines = [json.loads(line) for line in path.read_text().splitlines()[1:]]
            found[path.name] = [{k: v for k, v in r.items() if k not in ("seconds", "model_seconds")} for r in lines]
        return found

    for workers, folder in ((2, "two"), (1, "one")):
        assert main(["run", "--dataset", "tiny", "--attack", "pwws", "--models", "textcnn,snn-ft", "--sampling",
                     "fresh", "--num-examples", "6", "--workers", str(workers), "--results", str(tmp_path / folder)]) == 0
    two = rows("two")
    assert len(two) == 2 and all(len(r) == 6 for r in two.values()) and two == rows("one")
    records = {folder: sorted((json.loads(p.read_text()) for p in (tmp_path / folder).rglob("*.json")),
                              key=lambda r: r["examples_file"]) for folder in ("one", "two")}
    assert [r["metrics"] for r in records["two"]] == [r["metrics"] for r in records["one"]]
    assert {r["grid"]["executor"] for r in records["two"]} == {"process x 2 (pipelined)"}
    assert not list((tmp_path / "two").rglob("*.shards"))  # merged, shards gone


def test_calibration_prices_the_runs_no_record_has_a_rate_for(sequential: Path, tmp_path: Path) -> None:
    """`grid --plan --calibrate N`: a kind of run without a measured rate (here, another attack) is run on N
    examples into a scratch folder, and the plan prices it from those timings."""
    from robustbench_snn.grid.costs import calibrate, plan_costs

    study = smoke().with_options(attacks=("textbugger",))
    before = [j for j in plan_costs(study, sequential, FAKES) if j.what.startswith("attack")]
    assert before and all(j.seconds is None for j in before)
    lines = calibrate(study, sequential, 2, tmp_path, FAKES)
    assert len(lines) == 2 and all(line.startswith("calibrated tiny") for line in lines)
    after = [j for j in plan_costs(study, sequential, FAKES, calibration=tmp_path) if j.what.startswith("attack")]
    assert all(j.seconds is not None and "8 x" in j.basis for j in after)


HOLDER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from test_grid import smoke, FAKES
from robustbench_snn import grid
from robustbench_snn.grid.tasks import _session, attack_shard_held
from robustbench_snn.locks import exclusive
from robustbench_snn.records import shard_path
results, marker, go = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
job, plan = grid.plan_jobs(smoke(), Path(results), FAKES)[0]
shard = grid.plan_shards(job, plan, 3)[0]
with exclusive(shard_path(plan.stem, shard.offset), "a grid shard", wait=False):
    marker.write_text("held")
    while not go.exists():
        time.sleep(0.05)
    attack_shard_held(_session(job, results, FAKES), shard)
"""


def test_a_second_grid_leaves_a_shard_to_the_process_attacking_it_and_merges_after(sequential: Path,
                                                                                   tmp_path: Path) -> None:
    """Two grids over one results folder cooperate: a shard another process holds is skipped (not an error that
    stops a campaign), and the merge waits for that process, then writes the record an uninterrupted grid writes."""
    results, marker, go = tmp_path / "results", tmp_path / "held", tmp_path / "go"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(REPO / "tests"), str(results), str(marker), str(go)],
                              stderr=subprocess.PIPE, text=True)
    try:
        while not marker.exists():
            assert holder.poll() is None, holder.stderr.read()[-2000:]
        job, plan = grid.plan_jobs(smoke(), results, FAKES)[0]
        first, *rest = grid.plan_shards(job, plan, 3)
        assert "another process is attacking them" in grid.attack_shard(first, str(results), FAKES)
        for shard in rest:
            grid.attack_shard(shard, str(results), FAKES)
        go.write_text("go")  # the holder attacks its shard now, still holding it: the merge waits for it
        record = grid.merge_run(job, 3, str(results), FAKES)
        assert holder.wait(timeout=120) == 0
    finally:
        holder.kill()
    name = plan.stem.relative_to(results).as_posix() + ".jsonl"
    assert outcomes(results)[name] == outcomes(sequential)[name]
    assert record["metrics"] == outcomes(sequential)[name][1]
