"""Training on the tiny dataset (one or two epochs): caching, refusal of mismatched checkpoints, resume; the golden
weights digests on real SST-2 in the slow tier."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch

from robustbench_snn import prepared as prepared_module
from robustbench_snn import train as train_module
from robustbench_snn.config import ModelConfig, SNNConfig, TrainConfig, options_label
from robustbench_snn.errors import UserError
from robustbench_snn.zoo import build_model, checkpoint_dir

QUICK = TrainConfig(ann_epochs=2, patience=5)


def test_checkpoints_are_cached_and_self_describing() -> None:
    config = ModelConfig("tiny", "tailored", seed=11, train=QUICK)
    first = build_model(config)
    meta = json.loads((checkpoint_dir(config, first.prepared) / "checkpoint.json").read_text())
    assert meta["identity"]["seed"] == 11 and meta["identity"]["vocabulary"] == first.prepared.vocab.digest
    assert len(meta["history"]) == 2 and meta["weights_sha256"] == first.provenance["weights_sha256"]
    again = build_model(config, train=False)  # served from the cache
    assert again.provenance["weights_sha256"] == first.provenance["weights_sha256"]
    converted = build_model(config.with_kind("snn-conv-dn"), train=False)
    assert converted.provenance["from"]["weights_sha256"] == first.provenance["weights_sha256"]


def test_mismatched_or_corrupt_checkpoint_is_refused() -> None:
    config = ModelConfig("tiny", "tailored", seed=12, train=QUICK)
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
    with pytest.raises(UserError, match="run `snn-robust train --dataset tiny --model textcnn --seed 13 --ann-epochs 2`"):
        build_model(ModelConfig("tiny", "textcnn", seed=13, train=QUICK), train=False)


def test_interrupted_training_resumes_without_repeating_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    config = ModelConfig("tiny", "tailored", seed=14, train=replace(QUICK, ann_epochs=3))
    real_accuracy, calls = train_module.accuracy, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # dies during the second epoch's evaluation (each epoch measures dev, then test)
            raise KeyboardInterrupt
        return real_accuracy(*args, **kwargs)

    monkeypatch.setattr(train_module, "accuracy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_model(config)
    prepared = prepared_module.prepare("tiny", 0, False, None)
    folder = checkpoint_dir(config, prepared)
    assert not folder.exists() and (folder.with_name(folder.name + ".partial") / "progress.pt").exists()
    monkeypatch.setattr(train_module, "accuracy", real_accuracy)
    built = build_model(config)
    history = json.loads((folder / "checkpoint.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3] and built.provenance["epochs_run"] == 3


def test_unknown_model_kind_lists_valid_ones() -> None:
    with pytest.raises(UserError, match="valid models: snn-conv, snn-conv-dn, snn-conv-mn, snn-direct, snn-ft"):
        build_model(ModelConfig("tiny", "bert"))


def _own_home(monkeypatch: pytest.MonkeyPatch, home: str) -> None:
    monkeypatch.setenv("SNN_ROBUST_HOME", str(Path(os.environ["SNN_ROBUST_HOME"]) / home))


def _tiny_sst2(monkeypatch: pytest.MonkeyPatch, home: str) -> None:
    """SST-2 cut to 320 training sentences (100 dev, 100 test), in a home of its own."""
    full = prepared_module.prepare("sst2", 0, False, None)
    sizes = {"train": 320, "dev": 100, "test": 100}
    tiny = prepared_module.Prepared(full.dataset, full.vocab, full.vectors,
                                 {k: full.ids[k][:n] for k, n in sizes.items()},
                                 {k: full.labels[k][:n] for k, n in sizes.items()}, full.tokenizer)
    monkeypatch.setattr(prepared_module, "prepare", lambda *args: tiny)
    monkeypatch.setenv("SNN_ROBUST_HOME", str(Path(os.environ["SNN_ROBUST_HOME"]) / home))


def _golden_digests(dataset: str, pool_neurons: bool = False) -> tuple[str, str]:
    """(tailored ANN, fine-tuned SNN) weight digests of a tiny training run: 2 ANN epochs, 1 fine-tuning epoch."""
    quick = TrainConfig(ann_epochs=2, ft_epochs=1)
    built = build_model(ModelConfig(dataset, "snn-ft", seed=0, train=quick, snn=SNNConfig(pool_neurons=pool_neurons)))
    return built.provenance["from"]["weights_sha256"][:16], built.provenance["weights_sha256"][:16]


@pytest.mark.slow
def test_training_code_version_guards_the_weights_on_sst2(monkeypatch: pytest.MonkeyPatch, bundle) -> None:
    """Golden digests of a tiny training run (320 SST-2 sentences, seed 0): a change that alters trained weights
    fails here until TRAINING_CODE_VERSION is bumped and these digests are updated, so stale checkpoints are
    never reused silently."""
    _tiny_sst2(monkeypatch, "golden")
    assert train_module.TRAINING_CODE_VERSION == 3
    assert _golden_digests("sst2") == ("6bc55e8aae8d14f4", "c16757eb84d5c638")
    print("with pool neurons:", _golden_digests("sst2", pool_neurons=True)[1])


def test_training_code_version_guards_the_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same guard on the tiny dataset, in the default tier."""
    _own_home(monkeypatch, "golden")
    assert train_module.TRAINING_CODE_VERSION == 3
    assert _golden_digests("tiny") == ("acfc7bd2d4b9b335", "8ac681338ea1cea5")


def _onednn_isa(environment: dict) -> str:
    """The instruction set oneDNN reports for a convolution run after importing the package."""
    import subprocess
    import sys

    script = ("import robustbench_snn, torch; "
              "torch.nn.functional.conv1d(torch.rand(2, 4, 8), torch.rand(3, 4, 2))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"} | environment
                          | {"ONEDNN_VERBOSE": "1"})
    return next(line.split("isa:")[1] for line in (done.stdout + done.stderr).splitlines() if ",isa:" in line)


def test_importing_the_package_caps_onednn_at_avx2_kernels_unless_told_otherwise() -> None:
    """The golden digests above differ on an AVX-512 CPU without the cap (its convolutions sum in another order)."""
    assert "AVX-512" not in _onednn_isa({}) and "AVX" in _onednn_isa({})
    assert "AVX" not in _onednn_isa({"ONEDNN_MAX_CPU_ISA": "SSE41"})  # a user's own setting stands
    from robustbench_snn.records import environment

    assert environment()["cpu_kernels"]["onednn_max_isa"] == "AVX2"  # and every record says which


def test_a_cap_set_after_torch_is_said_in_records_and_warned_at_training() -> None:
    """oneDNN keeps the kernels of its first convolution: a process that imported torch first may run uncapped."""
    import subprocess
    import sys

    script = ("import torch, robustbench_snn\n"
              "from robustbench_snn.records import environment\n"
              "from robustbench_snn.train import reproducible_training\n"
              "print(environment()['cpu_kernels']['onednn_cap_set_by'])\n"
              "with reproducible_training(): pass\n"
              "with reproducible_training(): pass\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"})
    assert done.stdout.strip() == "snn-robust, after torch was loaded"
    assert done.stderr.count("warning: torch was imported before robustbench_snn") == 1  # once per process


def test_every_model_option_is_part_of_the_identity() -> None:
    from robustbench_snn.config import EvaluateAt
    from robustbench_snn.zoo import model_identity, weights_identity as identity

    prepared = prepared_module.prepare("tiny", 0, False, None)
    base = ModelConfig("tiny", "snn-ft")
    variants = [replace(base, population=1), replace(base, dropout=0.0), replace(base, snn=SNNConfig(pool_neurons=False)),
                replace(base, train=TrainConfig(early_stopping=False)), replace(base, train=TrainConfig(input_spikes="once"))]
    digests = {json.dumps(identity(c, prepared), sort_keys=True) for c in [base, *variants]}
    assert len(digests) == 6  # each option trains another model: another checkpoint
    # training spikes concern the SNN only: its tailored ANN is the default's
    once = replace(base, train=TrainConfig(input_spikes="once"))
    assert identity(once, prepared)["from"] == identity(base, prepared)["from"]
    assert "input_spikes" not in identity(base, prepared)  # the default leaves earlier identities as they were
    raw, shifted = ModelConfig("tiny", "textcnn"), ModelConfig("tiny", "textcnn", textcnn_input="shifted")
    assert identity(raw, prepared) != identity(shifted, prepared)
    # an evaluation-time setting leaves the checkpoint alone but makes another model output
    evaluated = replace(base, evaluate_at=EvaluateAt(threshold=0.5))
    assert identity(evaluated, prepared) == identity(base, prepared)
    assert model_identity(evaluated, prepared) == identity(base, prepared) | {"evaluated_at": {"threshold": 0.5}}
    # options a kind ignores are reset, so equal models compare equal
    assert replace(raw, population=1, evaluate_at=EvaluateAt(steps=5)).normalized() == raw
    assert replace(base, textcnn_input="shifted").normalized() == base


def test_a_dn_percentile_is_part_of_the_identity_only_where_dn_is_measured() -> None:
    from robustbench_snn.zoo import weights_identity as identity

    prepared = prepared_module.prepare("tiny", 0, False, None)
    robust = SNNConfig(dn_percentile=99.0)
    for kind in ("snn-conv-dn", "snn-ft", "snn-direct"):
        base = ModelConfig("tiny", kind)
        assert "dn_percentile" not in identity(base, prepared)["snn"]  # the maximum: earlier identities stand
        assert identity(replace(base, snn=robust), prepared)["snn"]["dn_percentile"] == 99.0
    for config in (ModelConfig("tiny", "snn-conv", snn=robust), ModelConfig("tiny", "snn-conv-mn", snn=robust),
                   ModelConfig("tiny", "snn-ft", snn=replace(robust, ft_from="none")),
                   ModelConfig("tiny", "snn-direct", snn=robust, train=TrainConfig(direct_init="shifted"))):
        default = replace(config, snn=replace(config.snn, dn_percentile=100.0))
        assert config.normalized() == default.normalized()  # no DN measured: the option means nothing
        assert identity(config, prepared) == identity(default, prepared)
    assert options_label(asdict(ModelConfig("tiny", "snn-conv-dn", snn=robust))) == "DN at the 99th percentile"
    assert options_label(asdict(ModelConfig("tiny", "snn-conv", snn=robust))) == ""


def test_a_trained_snn_is_evaluated_at_other_settings_without_retraining(monkeypatch: pytest.MonkeyPatch,
                                                                          capsys) -> None:
    from robustbench_snn.config import EvaluateAt
    from robustbench_snn.evaluate import evaluate

    _own_home(monkeypatch, "evaluate-at")
    config = ModelConfig("tiny", "snn-ft", train=TrainConfig(ann_epochs=1, ft_epochs=1))
    trained = build_model(config)
    capsys.readouterr()
    at = replace(config, evaluate_at=EvaluateAt(steps=20, threshold=0.5, beta=0.9))
    built = build_model(at, train=False)  # no training: the cached checkpoint, run at other settings
    assert "epoch" not in capsys.readouterr().out
    assert built.provenance["weights_sha256"] == trained.provenance["weights_sha256"]
    assert built.model.steps == 20 and float(built.model.lif1.threshold) == 0.5
    assert float(built.model.pool_lifs[2].beta) == pytest.approx(0.9)
    assert built.identity["evaluated_at"] == {"steps": 20, "threshold": 0.5, "beta": 0.9}
    results = Path(os.environ["SNN_ROBUST_HOME"]) / "results"
    plain, shifted = evaluate(config, results=results), evaluate(at, results=results)
    assert plain["identity_digest"] != shifted["identity_digest"]  # two records, never one overwritten
    assert shifted["options"].endswith("ft_epochs 1, evaluated at T=20, evaluated at threshold 0.5, evaluated at β=0.9")
    assert set(shifted["activity"]) == {"input", "conv3", "conv4", "conv5", "pool3", "pool4", "pool5", "output"}
    history = shifted["model_provenance"]["history"]
    assert len(history) == 1 and {"dev_accuracy", "test_accuracy"} <= set(history[0])


def test_population_and_pool_neurons_shape_the_models(monkeypatch: pytest.MonkeyPatch) -> None:
    _own_home(monkeypatch, "shapes")
    quick = TrainConfig(ann_epochs=1, ft_epochs=1)
    one = build_model(ModelConfig("tiny", "snn-conv-dn", population=1, snn=SNNConfig(pool_neurons=False), train=quick))
    assert one.model.fc.out_features == 2 and len(one.model.pool_lifs) == 0
    assert one.provenance["from"]["checkpoint"].split("/")[-1].startswith("tailored-s0-")
    ten = build_model(ModelConfig("tiny", "snn-conv-dn", train=quick))
    assert ten.model.fc.out_features == 20 and len(ten.model.pool_lifs) == 3
    assert build_model(ModelConfig("tiny", "textcnn", dropout=0.0, train=quick)).model.dropout.p == 0.0


def test_an_evaluation_setting_equal_to_the_trained_one_is_the_trained_model() -> None:
    from robustbench_snn.config import EvaluateAt, options_label
    from robustbench_snn.zoo import model_identity

    prepared = prepared_module.prepare("tiny", 0, False, None)
    base = ModelConfig("tiny", "snn-ft")
    same = replace(base, evaluate_at=EvaluateAt(threshold=1.0, steps=50))
    assert same.normalized() == base and model_identity(same, prepared) == model_identity(base, prepared)
    assert options_label({"dataset": "tiny", "kind": "snn-ft", "evaluate_at": {"threshold": 1.0}}) == ""


def test_training_spikes_once_as_the_authors_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """`input_spikes: once` trains on one spike train per sentence (another checkpoint, other weights) and leaves
    the trained SNN drawing fresh spikes, like every other."""
    from robustbench_snn.models.spiking import FreshBernoulli

    _own_home(monkeypatch, "spikes-once")
    quick = dict(ann_epochs=2, ft_epochs=2)
    fresh = build_model(ModelConfig("tiny", "snn-ft", seed=0, train=TrainConfig(**quick)))
    once = build_model(ModelConfig("tiny", "snn-ft", seed=0, train=TrainConfig(**quick, input_spikes="once")))
    assert once.provenance["from"]["weights_sha256"] == fresh.provenance["from"]["weights_sha256"]  # one ANN
    assert once.provenance["weights_sha256"] != fresh.provenance["weights_sha256"]
    assert isinstance(once.model.encoder, FreshBernoulli)


def test_direct_training_starts_from_dn_or_the_authors_shifted_weights() -> None:
    """`direct_init: shifted` (the authors' code) starts direct training from torch's signed default weights with
    a positive mean added and no normalization; `dn` (the default, identity as before) from DN-scaled ones."""
    from robustbench_snn.zoo import direct_start, weights_identity as identity

    prepared = prepared_module.prepare("tiny", 0, False, None)
    base = ModelConfig("tiny", "snn-direct")
    shifted = replace(base, train=TrainConfig(direct_init="shifted"))
    assert identity(base, prepared)["initialisation"] == "random, DN-scaled"
    assert identity(shifted, prepared)["initialisation"].endswith("the authors' code)")
    dn_model, dn_factors = direct_start(base, prepared)
    model, factors = direct_start(shifted, prepared)
    assert dn_factors != {"conv": 1.0, "fc": 1.0} and factors == {"conv": 1.0, "fc": 1.0}  # not normalized
    # torch's uniform start, +-1/sqrt(fan in) around the authors' mean: +0.08 for the output weights (here all
    # positive, as at their 300 inputs), +0.01 for the convolutions
    bound = model.fc.in_features ** -0.5
    assert float((model.fc.weight - 0.08).abs().max()) <= bound < 0.08
    assert 0.06 < float(model.fc.weight.mean()) < 0.10 and float(model.fc.weight.min()) < 0.08 - bound / 2
    conv = torch.cat([c.weight.flatten() for c in model.convs])
    assert float((conv - 0.01).abs().max()) <= model.convs[0].weight[0].numel() ** -0.5
    assert 0.0 < float(conv.mean()) < 0.02
    again, _ = direct_start(shifted, prepared)
    assert torch.equal(again.fc.weight, model.fc.weight)  # seeded
    with pytest.raises(UserError, match="direct_init 'plain' is not one of dn, shifted"):
        TrainConfig(direct_init="plain")


def test_rate_loss_cannot_tell_classes_apart_when_every_group_fires_alike() -> None:
    """The state direct training collapses into (benchmarks/direct_training_collapse.py): both class groups fire
    at every step, so each step's cross-entropy is ln C whatever the labels; any difference between the groups
    lowers the loss for one label and raises it for the other."""
    saturated = torch.ones(50, 4, 2 * 10)  # T, N, C x population
    labels = torch.tensor([0, 1, 0, 1])
    assert float(train_module.spike_rate_loss(saturated, labels, 2)) == pytest.approx(math.log(2))
    apart = saturated.clone()
    apart[:, :, 10:] = 0  # only class 0's group fires
    losses = [float(train_module.spike_rate_loss(apart, torch.full((4,), label), 2)) for label in (0, 1)]
    assert losses[0] < 0.01 and losses[1] > 9
