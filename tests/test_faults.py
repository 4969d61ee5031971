"""The fault tier: every way a user or a crash can damage a run ends as the correct result or a one-line error
naming the file or value and the fix (issue 10's cases, numbered as there)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from fakes import DictionaryParts, schema_record
from faults import HEADER, row

from robustbench_snn import resources
from robustbench_snn import prepared as prepared_module
from robustbench_snn import zoo
from robustbench_snn.cli import main
from robustbench_snn.config import ModelConfig, TrainConfig
from robustbench_snn.errors import UserError
from robustbench_snn.example_log import ExampleLog
from robustbench_snn.config import AttackConfig
from robustbench_snn.harness import run
from robustbench_snn.locks import exclusive
from robustbench_snn.records import read_records, write_record
from robustbench_snn.tables import render_results

REPO = Path(__file__).resolve().parents[1]


def one_line_error(argv: list[str], capsys, *fragments: str) -> str:
    """Run the CLI, expect exit 2 with one line on stderr containing every fragment."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    for fragment in fragments:
        assert fragment in err, err
    return err


# --- 6, 8: damaged per-example files ---------------------------------------------------------------------------

def _log_with(tmp_path: Path, lines: list[bytes]) -> Path:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def _line(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


HEAD = _line(HEADER)
GOOD = [_line(row(i)) for i in HEADER["examples"]]


@pytest.mark.parametrize("bad, problem", [
    (b"garbage{", "not a JSON line"),
    (b"", "blank line"),
    (b"\xff\xfe not utf-8", "invalid UTF-8 at byte 0"),
    (b"{}", "field 'index' is missing"),
    (_line(row(3) | {"outcome": "won"}), "outcome 'won' is not one of"),
    (_line(row(3) | {"queries": True}), "field 'queries' has the wrong type"),
    (GOOD[0], "example 5 where the selection order has 3"),  # duplicated row
    (GOOD[2], "example 8 where the selection order has 3"),  # swapped, or a row missing in the middle
])
def test_a_damaged_row_is_refused_naming_file_and_line_and_repair_keeps_the_prefix(tmp_path: Path, bad: bytes,
                                                                                   problem: str) -> None:
    path = _log_with(tmp_path, [HEAD, GOOD[0], bad, GOOD[1]])
    before = path.read_bytes()
    with pytest.raises(UserError, match=f"run.jsonl:3: {problem}.*rerun with --repair to keep the 1 valid rows"):
        ExampleLog(path, HEADER)
    assert path.read_bytes() == before  # a refusal never changes the file
    repaired = ExampleLog(path, HEADER, repair=True)
    assert repaired.rows == [row(5)] and path.read_bytes() == HEAD + b"\n" + GOOD[0] + b"\n"


def test_more_rows_than_selected_are_refused(tmp_path: Path) -> None:
    path = _log_with(tmp_path, [HEAD, *GOOD, GOOD[0]])
    with pytest.raises(UserError, match="run.jsonl:6: more rows than the 4 selected examples"):
        ExampleLog(path, HEADER)


def test_a_partial_header_starts_the_run_over_and_a_foreign_one_names_the_fields(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(HEAD[:20])  # disk full while writing the header: no complete line, no rows
    assert ExampleLog(path, HEADER).rows == [] and path.read_bytes() == HEAD + b"\n"
    other = HEADER | {"identity": {"test": 2}, "weights_sha256": "abc"}
    _log_with(tmp_path, [_line(other), GOOD[0]])
    with pytest.raises(UserError, match=r"run.jsonl:1: it holds another run \(identity.test, weights_sha256 "
                                        r"differ\); delete the file"):
        ExampleLog(path, HEADER)
    assert ExampleLog(path, HEADER, repair=True).rows == [] and path.read_bytes() == HEAD + b"\n"


def test_a_crash_mid_line_is_dropped_silently(tmp_path: Path) -> None:
    path = _log_with(tmp_path, [HEAD, GOOD[0]])
    with path.open("ab") as handle:
        handle.write(GOOD[1][:9])
    assert ExampleLog(path, HEADER).rows == [row(5)]
    assert path.read_bytes() == HEAD + b"\n" + GOOD[0] + b"\n"


# --- 2: one writer per file --------------------------------------------------------------------------------------

def test_a_second_writer_of_a_run_is_refused_in_one_line(tmp_path: Path) -> None:
    target = tmp_path / "run.jsonl"
    with exclusive(target, "an attack run", wait=False):
        with pytest.raises(UserError, match="another process is writing .*run.jsonl \\(an attack run\\); let it "
                                            "finish or stop it"):
            with exclusive(target, "an attack run", wait=False):
                pass
    with exclusive(target, "an attack run", wait=False):  # released: free again
        pass


def test_a_second_trainer_waits_for_the_first(tmp_path: Path, capsys) -> None:
    target, order = tmp_path / "ckpt", []

    def second():
        with exclusive(target, "training", wait=True):
            order.append("second")

    with exclusive(target, "training", wait=True):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append("first")
    thread.join(5)
    assert order == ["first", "second"] and "waiting for another process writing" in capsys.readouterr().err


CONCURRENT = """
import sys; sys.path.insert(0, sys.argv[1])
from pathlib import Path
from fakes import DictionaryParts
from robustbench_snn.config import ModelConfig, TrainConfig
from robustbench_snn.errors import UserError
from robustbench_snn.config import AttackConfig
from robustbench_snn.harness import run
config = ModelConfig("tiny", "textcnn", seed=0, train=TrainConfig(ann_epochs=2))
try:
    run(config, AttackConfig("pwws", "original", num_examples=10, rescore_draws=1), Path(sys.argv[2]),
        parts=DictionaryParts(), progress=False)
    print("finished")
except UserError as err:
    print("refused:", err)
"""


@pytest.mark.slow  # two processes importing TextAttack
def test_two_identical_runs_at_once_leave_one_valid_file(tmp_path: Path) -> None:
    zoo.build_model(ModelConfig("tiny", "textcnn", seed=0, train=TrainConfig(ann_epochs=2)))
    command = [sys.executable, "-c", CONCURRENT, str(REPO / "tests"), str(tmp_path)]
    first, second = (subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2))
    outputs = sorted(p.communicate(timeout=600)[0].strip().splitlines()[-1] for p in (first, second))
    assert outputs[0] == "finished", outputs  # sorted: "finished" < "refused"
    assert outputs[1] == "finished" or outputs[1].startswith("refused: another process is writing")
    [examples] = tmp_path.rglob("*.jsonl")
    log = ExampleLog(examples, json.loads(examples.read_text().splitlines()[0]))  # validates every row
    assert len(log.rows) == 10 and len(examples.read_text().splitlines()) == 11


# --- 1, 3: stale records, resumes across code versions ------------------------------------------------------------

def test_a_grid_over_another_configurations_record_writes_and_shows_its_own(tmp_path: Path, capsys) -> None:
    from test_grid import smoke

    from robustbench_snn.grid import LocalExecutor, run_study

    old = run_study(smoke().with_options(num_examples=4), LocalExecutor(), tmp_path, parts_factory="fakes:DictionaryParts",
                    echo=False)
    new_study = smoke().with_options(num_examples=4, dropout=0.0)  # the recipe trains differently
    new = run_study(new_study, LocalExecutor(), tmp_path, parts_factory="fakes:DictionaryParts", echo=False)
    assert new.existing == [] and len(new.records) == 2  # the old records were not taken for the new ones
    digests = {r["identity_digest"] for r in old.records} | {r["identity_digest"] for r in new.records}
    assert len(digests) == 4 and len(list(tmp_path.rglob("table2/**/*.json"))) == 4
    textcnn = [r for r in old.records + new.records if r["model"] == "textcnn"]
    assert textcnn[0]["model_provenance"]["weights_sha256"] != textcnn[1]["model_provenance"]["weights_sha256"]
    table = render_results(tmp_path, "table2")
    rows = [line for line in table.splitlines() if "Original TextCNN" in line]
    assert len(rows) == 2  # both configurations shown, each labelled by the option that differs, never pooled
    assert sorted("dropout 0.0" in row for row in rows) == [False, True]
    # records of one configuration label that differ in identity still show their digests
    twin = dict(textcnn[1], options=textcnn[0]["options"])
    from robustbench_snn.tables import render

    assert f"[{textcnn[0]['identity_digest']}]" in render([textcnn[0], twin], "table2")


def test_editing_the_attack_recipe_never_resumes_the_old_rows(tmp_path: Path, tiny_textcnn) -> None:
    recipe = tmp_path / "my_pwws.py"
    recipe.write_text((REPO / "attacks" / "pwws_ren_2019.py").read_text().replace('NAME = "pwws"', 'NAME = "mine"'))
    attack = AttackConfig("mine", "original", num_examples=3, rescore_draws=1, attack_files=(str(recipe),))
    first = run(tiny_textcnn.config, attack, tmp_path, parts=DictionaryParts(), built=tiny_textcnn,
                progress=False)
    recipe.write_text(recipe.read_text() + "\n# edited\n")
    second = run(tiny_textcnn.config, attack, tmp_path, parts=DictionaryParts(), built=tiny_textcnn,
                 progress=False)
    assert first["attack_file"]["file_sha256"] != second["attack_file"]["file_sha256"]
    assert first["examples_file"] != second["examples_file"]


@pytest.fixture(scope="module")
def tiny_textcnn():
    return zoo.build_model(ModelConfig("tiny", "textcnn", seed=0, train=TrainConfig(ann_epochs=2)))


# --- 7: bad values before any work ----------------------------------------------------------------------------

@pytest.mark.parametrize("argv, fragments", [
    (["train", "--dataset", "tiny", "--model", "textcnn", "--patience", "0"], ["TrainConfig.patience must be at "
                                                                                "least 1 (got 0)"]),
    (["train", "--dataset", "tiny", "--model", "textcnn", "--ann-epochs", "0"], ["TrainConfig.ann_epochs"]),
    (["train", "--dataset", "tiny", "--model", "textcnn", "--seed", "-1"], ["seed must be an integer from 0 to "
                                                                             "4294967295 (got -1)"]),
    (["train", "--dataset", "tiny", "--model", "textcnn", "--seed", "18446744073709551616"], ["seed must be"]),
    (["evaluate", "--dataset", "tiny", "--model", "textcnn", "--split-seed", "-1"], ["split_seed must be"]),
    (["run", "--dataset", "tiny", "--attack", "pwws", "--sampling", "eot:²"], ["unknown sampling protocol 'eot:²'"]),
    (["run", "--dataset", "tiny", "--attack", "pwws", "--num-examples", "1000000000000"],
     ["num_examples 1000000000000 exceeds the 60 test examples of tiny; use at most 60"]),
    (["run", "--dataset", "tiny", "--attack", "pwws", "--rescore-draws", "0"], ["rescore_draws must be at least 1"]),
])
def test_bad_values_are_refused_before_any_work(argv: list[str], fragments: list[str], capsys) -> None:
    began = time.perf_counter()
    one_line_error(argv, capsys, *fragments)
    assert time.perf_counter() - began < 60  # refused up front, not after minutes of training


# --- 9, 11: damaged records and checkpoints, file-system errors ---------------------------------------------------

def _energy_record() -> dict:
    from robustbench_snn.energy import CONVENTIONS, count, layer_flops, summary
    from robustbench_snn.models.spiking import LayerActivity

    activity = {"input": LayerActivity(0.3, 0.9, 1250, 10), "output": LayerActivity(0.1, 0.5, 20, 10),
                **{f"pool{k}": LayerActivity(0.2, 0.8, 100, 10) for k in (3, 4, 5)}}
    counted = count(layer_flops(25, 50, 2, 10), 50, activity, pool_neurons=True)
    return schema_record("table5", steps=50, **summary(counted, 50, activity, list(CONVENTIONS.values())))


ENERGY_RECORD = _energy_record()


def test_a_corrupt_record_is_skipped_with_a_warning_naming_it(tmp_path: Path, capsys) -> None:
    write_record(tmp_path / "table5" / "sst2" / "seed0.json", ENERGY_RECORD)
    (tmp_path / "table5" / "sst2" / "seed1.json").write_text('{"table": "table5", "dat')
    assert read_records(tmp_path / "table5") == [ENERGY_RECORD]
    assert "warning: skipping record" in capsys.readouterr().err
    assert "sst2" in render_results(tmp_path, "table5")


def test_an_unwritable_results_folder_is_one_line(tmp_path: Path, capsys) -> None:
    write_record(tmp_path / "table5" / "sst2" / "seed0.json", ENERGY_RECORD)
    (tmp_path / "tables").write_text("a file where the tables folder should be")
    one_line_error(["table", "table5", "--results", str(tmp_path)], capsys, "cannot write or read", "tables",
                   "check that the folder exists and is writable")


def test_damaged_checkpoint_files_are_one_line_errors(tmp_path: Path) -> None:
    config = ModelConfig("tiny", "tailored", seed=21, train=TrainConfig(ann_epochs=1))
    built = zoo.build_model(config)
    folder = zoo.checkpoint_dir(config, built.prepared)
    meta = (folder / "checkpoint.json").read_text()
    (folder / "checkpoint.json").write_text(meta[:40])
    with pytest.raises(UserError, match="checkpoint.json is damaged .*delete .* to retrain it"):
        zoo.build_model(config, train=False)
    (folder / "checkpoint.json").write_text(meta)
    (folder / "weights.pt").unlink()
    with pytest.raises(UserError, match="is corrupt \\(weights sha256 missing"):
        zoo.build_model(config, train=False)


def test_damaged_progress_file_is_a_one_line_error_and_never_unpickled(tmp_path: Path) -> None:
    config = ModelConfig("tiny", "tailored", seed=22, train=TrainConfig(ann_epochs=1))
    prepared = prepared_module.prepare("tiny", 0, False, None)
    folder = zoo.checkpoint_dir(config, prepared)
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True)

    class Exploit:  # a crafted pickle: weights_only loading refuses to run it
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    torch.save({"identity": Exploit()}, partial / "progress.pt")
    with pytest.raises(UserError, match="progress.pt is damaged .*delete .*progress.pt to restart"):
        zoo.build_model(config)
    assert not (tmp_path / "pwned").exists()


def test_records_cite_checkpoints_relative_to_the_cache(tiny_textcnn) -> None:
    checkpoint = tiny_textcnn.provenance["checkpoint"]
    assert checkpoint.startswith("checkpoints/tiny/textcnn-s0-") and not Path(checkpoint).is_absolute()


# --- 10: TextAttack's unpacked cache ---------------------------------------------------------------------------

@pytest.mark.slow
def test_a_damaged_textattack_cache_is_detected_and_unpacked_again(bundle) -> None:
    resources.prepare_textattack()
    nn = resources.textattack_cache_dir() / "word_embeddings" / "paragramcf" / "nn.npy"
    good = resources.sha256_of(nn)
    with nn.open("r+b") as handle:
        handle.truncate(1000)
    assert not resources.textattack_cache_ok()
    check = [c for c in resources.doctor() if c.name == "textattack offline setup"][0]
    assert check.ok and "did not match and was unpacked again" in check.detail
    assert resources.textattack_cache_ok() and resources.sha256_of(nn) == good


# --- 4: reproducible training ----------------------------------------------------------------------------------

def test_two_trainings_of_one_identity_in_fresh_homes_give_one_sha256(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    config = ModelConfig("tiny", "textcnn", seed=5, train=TrainConfig(ann_epochs=2))
    digests = []
    for home, noise, threads in ((tmp_path / "a", 0, 1), (tmp_path / "b", 7, 2)):
        monkeypatch.setenv("SNN_ROBUST_HOME", str(home))
        torch.rand(noise)  # another process history: consumed random numbers, another thread count
        torch.set_num_threads(threads)
        digests.append(zoo.build_model(config).provenance["weights_sha256"])
    assert digests[0] == digests[1]


# --- 5: workers die with their driver -----------------------------------------------------------------------------

POOL_DRIVER = """
import sys, time
from robustbench_snn.grid import ProcessExecutor
executor = ProcessExecutor(workers=2)
for _ in executor.map(time.sleep, [(600,), (600,)]):
    pass
"""


def test_kill_9_of_the_grid_driver_takes_its_pool_workers_with_it() -> None:
    driver = subprocess.Popen([sys.executable, "-c", POOL_DRIVER])
    deadline = time.time() + 120
    workers: list[int] = []
    while time.time() < deadline and len(workers) < 2:
        time.sleep(0.5)
        workers = _children(driver.pid)
    assert len(workers) >= 2, "the pool never started"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and "spawn_main" in (entry / "cmdline").read_text():
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
