"""The command line: the README's commands, exit codes, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from robustbench_snn.cli import main


@pytest.mark.slow  # the real datasets and resources of the bundle
def test_datasets_command_lists_all_six(capsys) -> None:
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name, train in [("mr", 8636), ("sst2", 6920), ("sst5", 8544), ("subj", 8100), ("chnsenti", 6290),
                        ("waimai", 9698)]:
        line = next(row for row in out.splitlines() if row.startswith(name + " "))
        assert str(train) in line


@pytest.mark.slow  # the real datasets and resources of the bundle
def test_doctor_exit_codes(capsys, tmp_path) -> None:
    from robustbench_snn.resources import REQUIRED_PACKAGES, all_resources

    assert main(["doctor"]) == 0
    checks = len(all_resources()) + len(REQUIRED_PACKAGES) + 1  # files, packages, TextAttack's setup
    assert f"all {checks} checks passed" in capsys.readouterr().out
    assert main(["--bundle", str(tmp_path), "doctor"]) == 1
    assert "missing; each line above says how to fix it" in capsys.readouterr().out


def test_bad_input_gives_one_line_errors(capsys, tmp_path) -> None:
    assert main(["datasets", "imdb"]) == 2
    err = capsys.readouterr().err
    assert err == "error: unknown dataset 'imdb'; valid datasets: chnsenti, mr, sst2, sst5, subj, tiny, waimai\n"
    assert main(["--bundle", str(tmp_path / "nowhere"), "datasets", "sst2"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_console_script_end_to_end() -> None:
    done = subprocess.run([sys.executable, "-m", "robustbench_snn.cli", "datasets", "tiny"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr  # registered in the child through $SNN_ROBUST_DATASETS
    assert "tiny" in done.stdout and "60" in done.stdout


@pytest.mark.slow  # the real datasets and resources of the bundle
def test_bundle_option_reaches_every_command_and_is_restored(capsys, tmp_path, monkeypatch) -> None:
    import os

    bundle = os.environ["SNN_ROBUST_BUNDLE"]
    monkeypatch.setenv("SNN_ROBUST_BUNDLE", str(tmp_path / "elsewhere"))  # a wrong default the option overrides
    assert main(["--bundle", bundle, "datasets", "sst2"]) == 0
    assert os.environ["SNN_ROBUST_BUNDLE"] == str(tmp_path / "elsewhere")  # restored after the call
    capsys.readouterr()
    assert main(["--bundle", str(tmp_path / "nowhere"), "train", "--dataset", "sst2", "--model", "textcnn"]) == 2
    assert "bundle folder" in capsys.readouterr().err


@pytest.mark.slow  # the real datasets and resources of the bundle
def test_doctor_prints_the_exports_textattacks_own_cli_needs(capsys) -> None:
    import os
    import shlex

    assert main(["doctor", "--print-env"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("export ")]
    exports = dict(shlex.split(line[len("export "):])[0].split("=", 1) for line in lines)
    assert {"NLTK_DATA", "TA_CACHE_DIR", "HF_HUB_OFFLINE", "SNN_ROBUST_BUNDLE"} <= set(exports)
    assert (Path(exports["TA_CACHE_DIR"]) / "word_embeddings" / "paragramcf").is_dir()
    assert all(os.path.isdir(root) for root in exports["NLTK_DATA"].split(os.pathsep))


def test_vectors_option_reaches_the_model_from_the_command_line_and_recipes(tmp_path) -> None:
    from robustbench_snn.cli import _model_config, build_parser
    from robustbench_snn.config import load_study
    from robustbench_snn.zoo import train_command

    vectors = tmp_path / "mine.300d.txt"
    vectors.write_text("the 0.1 0.2\nmovie 0.3 0.4\n")
    args = build_parser().parse_args(["evaluate", "--dataset", "sst2", "--model", "tailored", "--vectors",
                                      str(vectors)])
    config = _model_config(args, args.model)
    assert config.vectors == str(vectors)
    assert f"--vectors {vectors}" in train_command(config)  # the hint for a missing model keeps the option
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"table: table1\ndatasets: [sst2]\nmodels: [tailored]\nvectors: {vectors}\n")
    assert load_study(recipe).model_configs()[0].vectors == str(vectors)


def test_tokenizer_option_reaches_the_model_from_the_command_line_and_recipes(tmp_path) -> None:
    from robustbench_snn.cli import _model_config, build_parser
    from robustbench_snn.config import ModelConfig, load_study
    from robustbench_snn.errors import UserError
    from robustbench_snn.prepared import prepare
    from robustbench_snn.zoo import train_command, weights_identity as identity

    args = build_parser().parse_args(["train", "--dataset", "chnsenti", "--model", "tailored", "--tokenizer",
                                      "zh-jieba"])
    config = _model_config(args, args.model)
    assert config.tokenizer == "zh-jieba" and "--tokenizer zh-jieba" in train_command(config)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("table: table1\ndatasets: [chnsenti]\nmodels: [tailored]\ntokenizer: zh-jieba\n")
    assert load_study(recipe).model_configs()[0].tokenizer == "zh-jieba"
    # the dataset's own tokenizer is the default model (same identity); another one is another model
    assert ModelConfig("tiny", "tailored", tokenizer="en-word").normalized() == ModelConfig("tiny", "tailored")
    prepared = prepare("tiny", 0, False, None)
    assert "tokenizer" not in identity(ModelConfig("tiny", "tailored"), prepared)
    other = ModelConfig("tiny", "tailored", tokenizer="zh-char")
    assert identity(other, prepare("tiny", 0, False, None, "zh-char"))["tokenizer"] == "zh-char"
    with pytest.raises(UserError, match="valid tokenizers: en-word, zh-char, zh-jieba"):
        ModelConfig("tiny", "tailored", tokenizer="bpe")

