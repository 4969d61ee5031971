"""The fault tier, second part: the remaining cases of the fault catalogue (issue 20, numbered as there). Each is
the exact scenario, asserting the correct result or one line naming the problem, and that nothing was written
outside the folders given."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes import DictionaryParts, schema_record

import robustbench_snn as rs
from robustbench_snn import resources
from robustbench_snn.cli import main
from robustbench_snn.errors import UserError
from robustbench_snn.records import write_record

REPO = Path(__file__).resolve().parents[1]
POSITIVE = ("good", "great", "fun", "funny", "charming", "moving", "clever")


def light(**extra) -> dict:
    return {"parts": DictionaryParts(), "settings": "original", "rescore_draws": 2, "num_examples": 3} | extra


def one_line(argv: list[str], capsys, *fragments: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")} if folder.exists() else set()


# --- 1-4: silent wrong results ----------------------------------------------------------------------------------

def test_1_two_callables_with_the_default_name_never_share_a_result(tmp_path: Path) -> None:
    def lexicon(texts):
        return np.array([[0.5, float(sum(w in POSITIVE for w in t.split()))] for t in texts])

    def contrarian(texts):
        return np.array([[float(sum(w in POSITIVE for w in t.split())), 0.5] for t in texts])

    [first] = rs.benchmark(lexicon, "tiny", results=tmp_path, **light())
    [second] = rs.benchmark(contrarian, "tiny", results=tmp_path, **light())
    assert first["identity_digest"] != second["identity_digest"]
    assert first["metrics"]["cln"] != second["metrics"]["cln"]  # each measured, neither returned for the other


@pytest.mark.parametrize("scores, problem", [
    (lambda n: np.ones((n, 3)), "3 scores per text for a dataset of 2 classes"),
    (lambda n: np.ones((n, 1)), "1 scores per text for a dataset of 2 classes"),
    (lambda n: np.ones((n + 1, 2)), "for 8 texts"),
    (lambda n: np.where(np.arange(n)[:, None] % 2, np.nan, 1.0) * np.ones((n, 2)), "NaN or infinite scores for 4"),
    (lambda n: np.full((n, 2), np.inf), "NaN or infinite scores for 8 of 8 texts"),
    (lambda n: np.full((n, 2), np.nan), "NaN or infinite scores"),
    (lambda n: [["a", "b"]] * n, "not numbers"),
])
def test_2_and_10_scores_that_break_the_model_contract_are_one_line(scores, problem: str, tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        rs.benchmark(lambda texts: scores(len(texts)), "tiny", results=tmp_path, **light())
    message = str(caught.value)
    assert problem in message and "one row of finite class scores per text" in message and "\n" not in message
    assert "stochastic" not in message  # an all-NaN model is not told it is "stochastic but takes no seed"
    assert not list(tmp_path.rglob("*.json"))


def test_3_non_finite_settings_are_refused(tmp_path: Path, capsys) -> None:
    one_line(["evaluate", "--dataset", "tiny", "--model", "snn-conv-dn", "--eval-threshold", "inf", "--results",
              str(tmp_path)], capsys, "must be a finite number (got inf)")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("table: table1\ndatasets: [tiny]\nmodels: [snn-ft]\nsnn: {threshold: 1e309}\n")
    one_line(["grid", str(recipe), "--results", str(tmp_path)], capsys, "finite number")
    assert not list(tmp_path.rglob("*.json"))


def _local_dataset(folder: Path, name: str, test_lines: list[str]) -> Path:
    lines = [f"{i % 2} a {'good fun' if i % 2 else 'dull bad'} film number {i}" for i in range(40)]
    for split, content in (("train", lines), ("dev", lines[:10]), ("test", test_lines)):
        (folder / f"{name}.{split}").write_text("\n".join(content) + "\n")
    description = folder / f"{name}.json"
    description.write_text(json.dumps({"name": name, "files": {s: f"{name}.{s}" for s in ("train", "dev", "test")}}))
    return description


@pytest.fixture
def private_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Datasets a test registers stay that test's."""
    from robustbench_snn.data import registry

    monkeypatch.setattr(registry, "DATASETS", dict(registry.DATASETS))


def test_4_a_test_split_of_one_class_is_said(tmp_path: Path, capsys, private_registry) -> None:
    from robustbench_snn.data import load_dataset
    from robustbench_snn.data.registry import dataset_file, register_dataset

    register_dataset(dataset_file(_local_dataset(tmp_path, "onesided", [f"1 good film {i}" for i in range(6)])))
    load_dataset("onesided")
    assert "every test example has the same label" in capsys.readouterr().err


# --- 5-7: security and paths --------------------------------------------------------------------------------------

@pytest.mark.slow  # the bundle's counter-fitted archive
def test_5_textattack_cache_files_are_checked_against_digests_shipped_with_the_code(bundle: Path) -> None:
    import pickle

    resources.prepare_textattack()
    folder = resources.textattack_cache_dir() / "word_embeddings" / "paragramcf"
    good = {name: resources.sha256_of(folder / name) for name in ("cos_sim.p", "nn.npy")}
    marker = folder.parent / "code-ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (folder / "cos_sim.p").write_bytes(pickle.dumps(Payload()))
    nn = folder / "nn.npy"
    stat = nn.stat()
    data = np.load(nn)
    np.save(nn, data[:, ::-1].copy())  # permuted columns: same size; the same modification time below
    os.utime(nn, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    resources._digest_memo.clear()  # a new process
    assert not resources.textattack_cache_ok()
    resources.prepare_textattack()
    assert {name: resources.sha256_of(folder / name) for name in good} == good
    assert not marker.exists()


def test_6_names_that_would_leave_their_folders_are_refused(tmp_path: Path, capsys, private_registry) -> None:
    from robustbench_snn.data.registry import local_dataset, register_dataset

    outside = tmp_path / "outside"
    before = files_under(tmp_path)
    with pytest.raises(UserError, match="dataset name '../../../../outside' must be"):
        register_dataset(local_dataset("../../../../outside", {"all": tmp_path / "x.txt"}))
    with pytest.raises(UserError, match="dataset name '' must be"):
        register_dataset(local_dataset("", {"all": tmp_path / "x.txt"}))
    for source in ('NAME = "../escape"', 'SETTINGS = {"paper": {}, "original": {}, "../x": {}}'):
        attack = tmp_path / "bad_attack.py"
        attack.write_text((REPO / "attacks" / "pwws_ren_2019.py").read_text() + "\n" + source + "\n")
        one_line(["run", "--dataset", "tiny", "--attack", "pwws", "--attack-file", str(attack), "--results",
                  str(tmp_path / "r")], capsys, "must be 1-100 letters")
        attack.unlink()
    with pytest.raises(UserError, match="model name '../up' must be"):
        rs.benchmark(lambda t: np.ones((len(t), 2)), "tiny", name="../up", results=tmp_path, **light())
    assert files_under(tmp_path) == before and not outside.exists()


def test_6_a_bad_name_in_the_dataset_environment_is_refused(tmp_path: Path) -> None:
    description = tmp_path / "evil.json"
    description.write_text(json.dumps({"name": "../../outside", "files": {"all": "x.txt"}}))
    done = subprocess.run([sys.executable, "-m", "robustbench_snn.cli", "datasets"], capture_output=True, text=True,
                          env=os.environ | {"SNN_ROBUST_DATASETS": str(description)}, cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and "dataset name '../../outside' must be" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path.parent / "outside").exists()


def test_7_records_carry_no_machine_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from robustbench_snn.resources import home, portable_path

    monkeypatch.chdir(tmp_path)
    assert portable_path(tmp_path / "results" / "x.json") == "results/x.json"
    assert portable_path(home() / "checkpoints" / "a") == "<home>/checkpoints/a"
    attack = tmp_path / "attacks_elsewhere" / "mine.py"
    attack.parent.mkdir()
    attack.write_text((REPO / "attacks" / "pwws_ren_2019.py").read_text().replace('NAME = "pwws"', 'NAME = "mine"'))
    [record] = rs.benchmark(lambda t: np.array([[0.5, float("good" in x)] for x in t]), "tiny", attacks="mine",
                            results=tmp_path / "results", **light(attack_files=(str(attack),)))
    text = json.dumps(record)
    assert str(tmp_path) not in text and record["attack_config"]["attack_files"] == ["attacks_elsewhere/mine.py"]


# --- 8-14: tracebacks where a user needs one line ---------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    {"table": "table2", "schema_version": 5},
    schema_record("table2", attack="pwws", settings="paper", attack_config={}, outcomes="sf", mean_queries=1.0,
                  metrics={"n": 4, "cln": 0.5, "boa": 0.25, "suc": 0.5},
                  rescored={"metrics": {"n": 4, "cln": 0.5, "boa": 0.25, "suc": 0.5}, "outcomes": "sfff"}),
])
def test_8_an_incomplete_record_is_skipped_with_a_warning_naming_it(bad: dict, tmp_path: Path, capsys) -> None:
    rates = {"n": 2, "cln": 1.0, "boa": 0.5, "suc": 0.5}
    good = schema_record("table2", attack="pwws", settings="paper", attack_config={}, metrics=rates,
                         outcomes="sf", rescored={"metrics": rates, "outcomes": "sf", "draws": 1,
                                                  "held_up": {"succeeded": {"held": 1, "of": 1}}},
                         mean_queries=1.0, mean_perturbed_share=0.1)
    write_record(tmp_path / "table2" / "good.json", good)
    write_record(tmp_path / "table2" / "bad.json", bad)
    for command in (["table", "table2"], ["table", "paired"], ["plot", "eot"]):
        code = main([*command, "--results", str(tmp_path)])
        err = capsys.readouterr().err
        assert "warning: skipping record" in err and "bad.json" in err and "Traceback" not in err
        assert code in (0, 2)  # the plot has no eot records to draw: a one-line error, not a traceback


def test_9_a_bad_dataset_environment_breaks_no_import_and_no_help(tmp_path: Path) -> None:
    script = ("import robustbench_snn\nfrom robustbench_snn.cli import main\ntry:\n    main(['--help'])\n"
              "except SystemExit as done:\n    print('help', done.code)\n"
              "print('datasets', main(['datasets']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=os.environ | {"SNN_ROBUST_DATASETS": str(tmp_path / "missing.json")})
    assert "Traceback" not in done.stderr, done.stderr[-1500:]
    assert done.stdout.splitlines()[-2:] == ["help 0", "datasets 2"]
    assert "missing.json" in done.stderr and done.stderr.strip().count("\n") == 0


def test_11_empty_splits_are_refused(tmp_path: Path, private_registry) -> None:
    from robustbench_snn.data import load_dataset
    from robustbench_snn.data.registry import dataset_file, register_dataset

    register_dataset(dataset_file(_local_dataset(tmp_path, "emptytest", [])))
    with pytest.raises(UserError, match="dataset emptytest: the test split\\(s\\) are empty"):
        load_dataset("emptytest")


def test_12_an_impossible_allocation_is_one_line(capsys) -> None:
    one_line(["train", "--dataset", "tiny", "--model", "tailored", "--population", str(10**9), "--ann-epochs", "1"],
             capsys, "not enough memory for what was asked")


@pytest.mark.slow  # the bundle's NLTK files
def test_13_a_bundle_of_symbolic_links_works(bundle: Path, tmp_path: Path) -> None:
    linked = tmp_path / "bundle"
    for path in bundle.rglob("*"):
        if path.is_file():
            target = linked / path.relative_to(bundle)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    script = ("from robustbench_snn.resources import prepare_textattack; prepare_textattack()\n"
              "from nltk.corpus import wordnet; print(len(wordnet.synsets('good')))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env=os.environ | {"SNN_ROBUST_BUNDLE": str(linked)})
    assert done.returncode == 0 and int(done.stdout.split()[-1]) > 10, done.stderr[-1500:]


def test_14_the_earlier_catalogues_tracebacks_are_one_line(tmp_path: Path, capsys) -> None:
    from robustbench_snn.attack_files import load_attack_file

    one_line(["datasets", "tiny", "--split-seed", "-1"], capsys, "split seed must be an integer from 0")
    text = tmp_path / "good.txt"
    text.write_text("NAME = 'x'\n")
    one_line(["attacks", "--attack-file", str(text)], capsys, "an attack file is a .py file")
    base = (REPO / "attacks" / "pwws_ren_2019.py").read_text().replace('NAME = "pwws"', 'NAME = "broken"')
    for number, (extra, fragment) in enumerate((("SETTINGS = ['paper']", "SETTINGS must be a dict"),
                                                ("NAME = 7", "NAME 7 must be"),
                                                ("import sys\nsys.exit(0)", "SystemExit at import"))):
        attack = tmp_path / f"broken_{number}.py"
        attack.write_text(base + "\n" + extra + "\n")
        one_line(["attacks", "--attack-file", str(attack)], capsys, fragment)
    for number, (returned, fragment) in enumerate((("'an attack'", "build() returned str, not a textattack.Attack"),
                                                   ("None", "build() returned NoneType"))):
        attack = tmp_path / f"returns_{number}.py"
        attack.write_text(base + f"\ndef build(model_wrapper, settings, parts):\n    return {returned}\n")
        with pytest.raises(UserError, match=fragment.replace("(", "\\(").replace(")", "\\)")):
            load_attack_file(attack).build(None, "paper", DictionaryParts())


def test_14_a_checkpoint_without_its_history_is_one_line(capsys) -> None:
    from robustbench_snn import zoo
    from robustbench_snn.config import ModelConfig, TrainConfig
    from robustbench_snn.prepared import prepare_for

    config = ModelConfig("tiny", "textcnn", seed=21, train=TrainConfig(ann_epochs=1))
    zoo.build_model(config)
    meta_file = zoo.checkpoint_dir(config, prepare_for(config)) / "checkpoint.json"
    meta = json.loads(meta_file.read_text())
    del meta["history"]
    meta_file.write_text(json.dumps(meta))
    one_line(["train", "--dataset", "tiny", "--model", "textcnn", "--seed", "21", "--ann-epochs", "1"], capsys,
             "checkpoint.json is damaged", "delete")


# --- 15-19: misleading or silent ---------------------------------------------------------------------------------

def test_16_a_checkout_copy_whose_attacks_folder_holds_the_built_in_files_runs(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from robustbench_snn.attack_files import registry

    shutil.copytree(REPO / "attacks", tmp_path / "attacks")
    monkeypatch.chdir(tmp_path)
    assert {"pwws", "textfooler", "textbugger", "bert-attack"} <= set(registry())
    changed = tmp_path / "attacks" / "pwws_ren_2019.py"
    changed.write_text(changed.read_text() + "\n# edited\n")
    with pytest.raises(UserError, match="attack name 'pwws' is defined twice, differently"):
        registry()


def test_17_a_full_disk_names_the_file_and_says_the_run_resumes(tmp_path: Path) -> None:
    script = f"""
import resource, signal, sys
sys.path.insert(0, {str(REPO / 'tests')!r})
from robustbench_snn.cli import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the file-size limit raises EFBIG instead of killing
resource.setrlimit(resource.RLIMIT_FSIZE, (10, 10))
sys.exit(main(['table', 'table1', '--results', {str(tmp_path)!r}]))
"""
    write_record(tmp_path / "table1" / "a.json", schema_record("table1", test_accuracy=0.5, dev_accuracy=0.5))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-1500:]
    assert "tables/table1" in done.stderr and "File too large" in done.stderr and "free space" in done.stderr


def test_18_empty_recipe_lists_are_refused(tmp_path: Path, capsys) -> None:
    for key in ("datasets", "seeds", "models"):
        recipe = tmp_path / "r.yaml"
        values = {"datasets": "[tiny]", "seeds": "[0]", "models": "[textcnn]"} | {key: "[]"}
        recipe.write_text("table: table1\n" + "".join(f"{k}: {v}\n" for k, v in values.items()))
        one_line(["grid", str(recipe), "--results", str(tmp_path)], capsys, f"{key} is empty")


def test_19_help_says_where_results_go(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "./results of the working folder" in " ".join(capsys.readouterr().out.split())
