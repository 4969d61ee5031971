"""`snn-robust rederive`: a record's checkpoints trained again in a scratch cache, each sha256 compared."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from robustbench_snn.cli import main
from robustbench_snn.config import ModelConfig, TrainConfig
from robustbench_snn.evaluate import evaluate, record_path
from robustbench_snn.rederive import read_paths, rederive

QUICK = TrainConfig(ann_epochs=2, ft_epochs=1)


def test_a_records_checkpoints_are_retrained_in_a_scratch_cache_and_match(tmp_path: Path) -> None:
    config = ModelConfig("tiny", "snn-ft", seed=21, train=QUICK)
    evaluate(config, results=tmp_path)
    evaluate(config.with_kind("snn-conv-dn"), results=tmp_path)  # shares the tailored ANN: trained once
    home = os.environ["SNN_ROBUST_HOME"]
    before = sorted(p.name for p in Path(home).rglob("*"))
    lines = []
    checked = rederive(read_paths([tmp_path]), say=lines.append)
    assert [Path(c.folder).name.split("-s21")[0] for c in checked] == ["tailored", "snn-ft"]  # prerequisite first
    assert all(c.matches for c in checked) and all("re-derived" in line for line in lines)
    assert os.environ["SNN_ROBUST_HOME"] == home and sorted(p.name for p in Path(home).rglob("*")) == before


def test_a_record_whose_weights_differ_is_named_and_fails_the_command(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    config = ModelConfig("tiny", "snn-conv", seed=22, train=QUICK)
    evaluate(config, results=tmp_path)
    path = record_path(config, tmp_path)
    record = json.loads(path.read_text())
    capsys.readouterr()  # the training's progress lines
    assert main(["rederive", "--plan", str(path), "--results", str(tmp_path)]) == 0  # priced, nothing trained
    planned = capsys.readouterr().out.splitlines()
    assert len(planned) == 2 and "tailored-s22" in planned[0] and "epochs x" in planned[0]
    assert planned[1].startswith("about 0.0 CPU-hours to retrain them")
    assert main(["rederive", str(path)]) == 0 and "1 re-derived, 0 not" in capsys.readouterr().out
    record["model_provenance"]["from"]["weights_sha256"] = "0" * 64  # as if trained by other arithmetic
    path.write_text(json.dumps(record))
    assert main(["rederive", str(path)]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS: recorded 0000000000000000 (torch" in out and "0 re-derived, 1 not" in out


def test_bad_paths_and_records_without_checkpoints_are_one_line_errors(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture) -> None:
    assert main(["rederive", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["rederive", str(tmp_path)]) == 2  # an empty folder
    assert "none of these records names a checkpoint" in capsys.readouterr().err
