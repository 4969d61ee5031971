"""Training on real SST-2 (one or two epochs): caching, refusal of mismatched checkpoints, resume."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from robustbench_snn import train as train_module
from robustbench_snn.config import ModelConfig, SNNConfig, TrainConfig
from robustbench_snn.errors import UserError
from robustbench_snn.train import build_model, checkpoint_dir

QUICK = TrainConfig(ann_epochs=2, patience=5)


def test_checkpoints_are_cached_and_self_describing() -> None:
    config = ModelConfig("sst2", "tailored", seed=11, train=QUICK)
    first = build_model(config)
    meta = json.loads((checkpoint_dir(config, first.prepared) / "checkpoint.json").read_text())
    assert meta["identity"]["seed"] == 11 and meta["identity"]["vocabulary"] == first.prepared.vocab.digest
    assert len(meta["history"]) == 2 and meta["weights_sha256"] == first.provenance["weights_sha256"]
    again = build_model(config, train=False)  # served from the cache
    assert again.provenance["weights_sha256"] == first.provenance["weights_sha256"]
    converted = build_model(config.with_kind("snn-conv-dn"), train=False)
    assert converted.provenance["from"]["weights_sha256"] == first.provenance["weights_sha256"]


def test_mismatched_or_corrupt_checkpoint_is_refused() -> None:
    config = ModelConfig("sst2", "tailored", seed=12, train=QUICK)
    built = build_model(config)
    folder = checkpoint_dir(config, built.prepared)
    meta_file = folder / "checkpoint.json"
    meta = json.loads(meta_file.read_text())
    meta["identity"]["ann_lr"] = 0.5
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(UserError, match="does not match the requested configuration \\(ann_lr differ\\)"):
        build_model(config, train=False)
    meta["identity"]["ann_lr"] = config.ann_lr()
    meta_file.write_text(json.dumps(meta))
    (folder / "weights.pt").write_bytes(b"not weights")
    with pytest.raises(UserError, match="is corrupt"):
        build_model(config, train=False)


def test_missing_model_without_training_says_which_command_trains_it() -> None:
    with pytest.raises(UserError, match="run `snn-robust train --dataset sst2 --model textcnn --seed 13 --ann-epochs 2`"):
        build_model(ModelConfig("sst2", "textcnn", seed=13, train=QUICK), train=False)


def test_interrupted_training_resumes_without_repeating_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    config = ModelConfig("sst2", "tailored", seed=14, train=replace(QUICK, ann_epochs=3))
    real_accuracy, calls = train_module.accuracy, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # dies during the second epoch's evaluation
            raise KeyboardInterrupt
        return real_accuracy(*args, **kwargs)

    monkeypatch.setattr(train_module, "accuracy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_model(config)
    prepared = train_module.prepare("sst2", 0, False, None)
    folder = checkpoint_dir(config, prepared)
    assert not folder.exists() and (folder.with_name(folder.name + ".partial") / "progress.pt").exists()
    monkeypatch.setattr(train_module, "accuracy", real_accuracy)
    built = build_model(config)
    history = json.loads((folder / "checkpoint.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3] and built.provenance["epochs_run"] == 3


def test_unknown_model_kind_lists_valid_ones() -> None:
    with pytest.raises(UserError, match="valid models: snn-conv, snn-conv-dn, snn-conv-mn, snn-direct, snn-ft"):
        build_model(ModelConfig("sst2", "bert"))


def test_training_code_version_guards_the_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    """Golden digests of a tiny training run (320 SST-2 sentences, seed 0): a change that alters trained weights
    fails here until TRAINING_CODE_VERSION is bumped and these digests are updated, so stale checkpoints are
    never reused silently."""
    full = train_module.prepare("sst2", 0, False, None)
    sizes = {"train": 320, "dev": 100, "test": 100}
    tiny = train_module.Prepared(full.dataset, full.vocab, full.vectors,
                                 {k: full.ids[k][:n] for k, n in sizes.items()},
                                 {k: full.labels[k][:n] for k, n in sizes.items()})
    monkeypatch.setattr(train_module, "prepare", lambda *args: tiny)
    monkeypatch.setenv("SNN_ROBUST_HOME", str(Path(os.environ["SNN_ROBUST_HOME"]) / "golden"))
    quick = TrainConfig(ann_epochs=2, ft_epochs=1)
    built = build_model(ModelConfig("sst2", "snn-ft", seed=0, train=quick, snn=SNNConfig(pool_neurons=False)))
    assert train_module.TRAINING_CODE_VERSION == 2
    assert built.provenance["from"]["weights_sha256"][:16] == "6ea2c8d242b26989"  # the tailored ANN
    assert built.provenance["weights_sha256"][:16] == "0738d80c4fbe04c2"  # fine-tuned through the converted SNN
    pooled = build_model(ModelConfig("sst2", "snn-ft", seed=0, train=quick, snn=SNNConfig(pool_neurons=True)))
    print(pooled.provenance["weights_sha256"][:16])
