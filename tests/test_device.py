"""The compute device: its setting (``--device`` / ``$SNN_ROBUST_DEVICE``), one-line errors for bad or missing
devices, and its place in checkpoint identities (a GPU trains checkpoints of its own). A GPU itself is exercised by
``benchmarks/device_check.py`` where one is lent."""

from __future__ import annotations

import pytest
import torch

from robustbench_snn import runtime, zoo
from robustbench_snn.cli import main
from robustbench_snn.config import ModelConfig, TrainConfig
from robustbench_snn.errors import UserError
from robustbench_snn.models.spiking import FreshBernoulli, SeededBernoulli
from robustbench_snn.prepared import prepare


def test_auto_is_the_cpu_without_cuda_and_cuda_with_it(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.compute_device("auto") == torch.device("cpu")
    monkeypatch.setenv(runtime.DEVICE_SETTING, "auto")
    assert runtime.compute_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert runtime.compute_device() == torch.device("cuda")
    assert runtime.compute_device("CPU") == torch.device("cpu")  # an explicit setting wins over the default


@pytest.mark.parametrize(("setting", "message"), [
    ("banana", "unknown device 'banana'.*use auto, cpu, cuda or cuda:N"),
    ("meta", "device 'meta' is not supported"),
    ("cuda", "sees no CUDA GPU; use --device cpu"),
])
def test_bad_or_missing_devices_are_one_line_errors(monkeypatch, setting, message) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match=message):
        runtime.compute_device(setting)


def test_a_cuda_index_beyond_the_machine_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(UserError, match="has 2 CUDA device"):
        runtime.compute_device("cuda:3")


def test_the_command_line_refuses_a_bad_device_before_any_work(capsys) -> None:
    assert main(["--device", "banana", "datasets"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown device 'banana'" in err and "Traceback" not in err


def test_the_device_kind_is_in_every_checkpoint_identity(monkeypatch) -> None:
    prepared = prepare("tiny", 0, False, None)
    config = ModelConfig("tiny", "snn-ft")
    assert zoo.weights_identity(config, prepared)["device"] == "cpu"  # the default here (conftest pins it)
    cpu_folder = zoo.checkpoint_dir(config, prepared)
    # a GPU machine: another identity, so another checkpoint (floats differ across devices)
    monkeypatch.setattr(zoo, "compute_device", lambda: torch.device("cuda"))
    monkeypatch.setattr(zoo, "device_kind", lambda device: "cuda (NVIDIA H200)")
    assert zoo.weights_identity(config, prepared)["device"] == "cuda (NVIDIA H200)"
    assert zoo.checkpoint_dir(config, prepared) != cpu_folder


def test_the_device_kind_names_the_gpu_model(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    assert runtime.device_kind(torch.device("cuda:0")) == "cuda (NVIDIA H200)"
    assert runtime.device_kind(torch.device("cpu")) == "cpu"


def test_spike_draws_come_from_the_generator_whatever_the_values_device() -> None:
    """The encoders draw their numbers where their generator lives (the CPU) and move them to the values: a GPU
    simulation gets the CPU's spike trains, so the two differ only by float arithmetic."""
    values = torch.rand(3, 7, 5)
    ids = torch.randint(2, 50, (3, 7))
    spikes = FreshBernoulli(torch.Generator().manual_seed(4))(values, ids, 6)
    noise = torch.rand((6, 3, 7, 5), generator=torch.Generator().manual_seed(4))
    assert torch.equal(spikes, (noise < values).float())
    seeded = SeededBernoulli(9)
    assert torch.equal(seeded(values, ids, 6), (seeded.uniforms(ids, 6, 5) < values).float())


def test_models_and_queries_follow_the_module_device() -> None:
    """Every entry point moves ids to where the model lives and returns CPU tensors (here the CPU itself: the
    moves are no-ops, and the outputs equal direct calls)."""
    from robustbench_snn.classifiers import Fresh

    built = zoo.build_model(ModelConfig("tiny", "snn-ft", train=TrainConfig(ann_epochs=1, ft_epochs=1, patience=5)))
    assert runtime.module_device(built.model) == torch.device("cpu")
    assert runtime.module_device(torch.nn.Module()) == torch.device("cpu")
    classifier = built.classifier()
    texts = [text for text, _ in built.dataset.test[:4]]
    scores = classifier.scores(texts, Fresh(torch.Generator().manual_seed(1)))
    direct = built.model(built.prepared.encode(texts), FreshBernoulli(torch.Generator().manual_seed(1)))
    assert scores.device.type == "cpu" and torch.equal(scores, direct / built.model.steps)


def test_the_device_kit_prunes_only_data_an_english_run_never_reads(tmp_path) -> None:
    """benchmarks/device_kit.py: botocore's per-service models and jieba's dictionaries go, code and the JSON
    botocore reads at import stay (a pruned file a run did read would fail loudly, never change a number)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "device_kit.py"
    spec = importlib.util.spec_from_file_location("device_kit", path)
    kit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kit)
    files = ["botocore/__init__.py", "botocore/data/endpoints.json", "botocore/data/s3/2006-03-01/service-2.json",
             "jieba/__init__.py", "jieba/dict.txt", "jieba/analyse/idf.txt", "jieba/analyse/tfidf.py",
             "jieba/finalseg/prob_emit.p", "jieba/finalseg/prob_emit.py", "jieba/lac_small/model.py",
             "nltk/data.py", "nltk/__pycache__/data.cpython-312.pyc"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    kit._prune(tmp_path)
    kept = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert kept == ["botocore/__init__.py", "botocore/data/endpoints.json", "jieba/__init__.py",
                    "jieba/analyse/tfidf.py", "jieba/finalseg/prob_emit.py", "nltk/data.py"]
