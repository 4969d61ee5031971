"""The public API: the paper's models and bring-your-own models (a torch ANN, an snntorch SNN, a Hugging Face
classifier, plain callables) through `benchmark`, and TextAttack's own Attacker and CLI on `textattack_wrapper`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import DictionaryParts
from torch import nn

import robustbench_snn as rs
from robustbench_snn.errors import UserError

REPO = Path(__file__).resolve().parents[1]
POSITIVE = {"good", "great", "fun", "funny", "charming", "moving", "clever", "fine", "amusing"}
NEGATIVE = {"bad", "awful", "boring", "dull", "tedious", "flat", "stupid", "terrible", "poor"}
def light() -> dict:
    """benchmark options for light runs: dictionary swaps, PWWS's own settings, 3 re-scoring draws."""
    return {"parts": DictionaryParts(), "settings": "original", "rescore_draws": 3}


def lexicon_scores(texts: list[str]) -> np.ndarray:
    """A deterministic callable: (negative, positive) word counts."""
    return np.array([[sum(w in NEGATIVE for w in t.split()), 0.5 + sum(w in POSITIVE for w in t.split())]
                     for t in texts], dtype=np.float32)


class WordIds:
    """A user's tokenizer: texts -> padded word ids over a fixed vocabulary."""

    def __init__(self):
        self.vocab = {w: i + 1 for i, w in enumerate(sorted(POSITIVE | NEGATIVE))}

    def __call__(self, texts: list[str]) -> torch.Tensor:
        rows = [[self.vocab.get(w, 0) for w in t.split()][:10] for t in texts]
        return torch.tensor([r + [0] * (10 - len(r)) for r in rows], dtype=torch.long)


class BagOfWords(nn.Module):
    """A user's torch ANN: a fixed bag-of-words classifier (no `stochastic` attribute)."""

    def __init__(self, tokenizer: WordIds):
        super().__init__()
        weight = torch.zeros(len(tokenizer.vocab) + 1, 2)
        for word, i in tokenizer.vocab.items():
            weight[i, int(word in POSITIVE)] = 1.0
        self.embedding = nn.Embedding.from_pretrained(weight)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids).sum(1) + torch.tensor([0.0, 0.5])


class RateCodedSNN(nn.Module):
    """A user's snntorch SNN: rate-coded word evidence (snntorch.spikegen, torch's global generator) into LIF
    neurons; scores are output spike counts."""

    def __init__(self, tokenizer: WordIds, steps: int = 20):
        super().__init__()
        import snntorch

        self.steps = steps
        self.bag = BagOfWords(tokenizer)
        self.lif = snntorch.Leaky(beta=1.0, threshold=1.0)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        from snntorch import spikegen

        rates = torch.sigmoid(self.bag(ids) - 0.5)
        spikes = spikegen.rate(rates, num_steps=self.steps)
        mem, counts = torch.zeros_like(rates), torch.zeros_like(rates)
        for step in spikes:
            out, mem = self.lif(step * 1.5, mem)
            counts += out
        return counts


def test_lists_name_what_the_registries_hold() -> None:
    assert {"sst2", "mr", "sst5", "subj", "chnsenti", "waimai", "tiny"} <= set(rs.list_datasets())
    assert rs.list_models() == ["textcnn", "tailored", "snn-direct", "snn-conv", "snn-conv-mn", "snn-conv-dn",
                                "snn-ft"]
    assert rs.list_attacks() == ["bert-attack", "gradient-eot", "pwws", "textbugger", "textfooler",
                                 "transfer-rate", "transfer-twin"]


def test_load_model_and_benchmark_the_papers_snn(tmp_path: Path) -> None:
    snn = rs.load_model("tiny", "snn-conv-dn", population=1, train={"ann_epochs": 2}, snn={"steps": 10})
    assert snn.config.population == 1 and snn.model.steps == 10
    [record] = rs.benchmark(snn, "tiny", attacks="pwws", sampling="fresh", num_examples=6, results=tmp_path, **light())
    assert {"cln", "boa", "suc", "ci95"} <= set(record["metrics"]) and record["sampling"]["protocol"] == "fresh"
    assert record["model"] == "snn-conv-dn" and list(tmp_path.rglob("*.jsonl"))
    again = rs.benchmark(snn, "tiny", attacks=["pwws"], sampling="fresh", num_examples=6, results=tmp_path, **light())
    assert again == [record]  # a finished run with this identity is returned as it is
    with pytest.raises(UserError, match="trained on tiny, not sst2"):
        rs.benchmark(snn, "sst2")
    with pytest.raises(UserError, match="unknown option"):
        rs.benchmark(snn, "tiny", num_examples=2, steps=5)


def test_a_users_torch_ann_is_benchmarked_deterministically(tmp_path: Path) -> None:
    tokenizer = WordIds()
    [record] = rs.benchmark(BagOfWords(tokenizer), "tiny", sampling="fresh", num_examples=8, tokenizer=tokenizer,
                            name="my-bow", results=tmp_path, **light())
    assert record["model"] == "my-bow" and record["sampling"]["protocol"] == "deterministic"  # probed: the same scores twice
    assert record["identity"]["model"]["weights_sha256"] == record["model_provenance"]["weights_sha256"]
    assert record["metrics"]["cln"] > 0.8 and record["metrics"]["succeeded"] > 0  # the dictionary flips words
    from robustbench_snn.tables import render_results

    assert "my-bow" in render_results(tmp_path, "table2")  # a row of its own, under its own name
    with pytest.raises(UserError, match="needs the tokenizer it expects"):
        rs.benchmark(BagOfWords(tokenizer), "tiny", num_examples=2)
    with pytest.raises(UserError, match="is a registered model kind"):
        rs.benchmark(lexicon_scores, "tiny", num_examples=2, name="snn-ft")


def test_a_users_snntorch_snn_is_stochastic_under_fresh_and_eot() -> None:
    tokenizer = WordIds()
    snn = RateCodedSNN(tokenizer)
    fresh, eot = (rs.benchmark(snn, "tiny", sampling=s, num_examples=6, tokenizer=tokenizer, name="my-snn",
                               **light())[0] for s in ("fresh", "eot:3"))
    assert fresh["sampling"]["protocol"] == "fresh" and eot["sampling"]["protocol"] == "eot:3"  # found stochastic by calling it twice
    assert eot["mean_model_calls"] > 0 and fresh["rescored"]["draws"] == 3
    with pytest.raises(UserError, match="stochastic but takes no seed"):
        rs.benchmark(snn, "tiny", sampling="seeded", num_examples=2, tokenizer=tokenizer, **light())
    with pytest.raises(UserError, match="declared deterministic"):
        rs.benchmark(snn, "tiny", num_examples=2, tokenizer=tokenizer, stochastic=False, **light())


def test_a_stochastic_callable_and_a_seedable_one() -> None:
    def noisy(texts):
        return lexicon_scores(texts) + np.random.normal(0, 0.3, (len(texts), 2)).astype(np.float32)

    [record] = rs.benchmark(noisy, "tiny", sampling="eot:2", num_examples=5, stochastic=True, **light())
    assert record["sampling"]["protocol"] == "eot:2" and record["sampling"]["steps"] is None
    with pytest.raises(UserError, match="takes no seed"):
        rs.benchmark(noisy, "tiny", sampling="seeded", num_examples=2, stochastic=True, **light())

    def keyed(texts, seed):
        noise = [np.random.default_rng([seed, len(t)]).normal(0, 0.3, 2) for t in texts]
        return lexicon_scores(texts) + np.array(noise, dtype=np.float32)

    wrapper = rs.textattack_wrapper(keyed, sampling="seeded", stochastic=True)
    texts = ["a good film", "a dull plot"]
    assert wrapper.deterministic and np.array_equal(wrapper(texts), wrapper(texts))
    [seeded] = rs.benchmark(keyed, "tiny", sampling="seeded", num_examples=4, stochastic=True, **light())
    assert seeded["sampling"]["protocol"] == "seeded" and seeded["sampling"]["textattack_cache"]


def test_a_hugging_face_sequence_classifier_with_its_tokenizer(tmp_path: Path) -> None:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(POSITIVE | NEGATIVE),
                                "the", "movie", "film", "was", "a"]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=32, num_labels=2))
    [record] = rs.benchmark(model, "tiny", num_examples=4, tokenizer=tokenizer, name="tiny-bert", **light())
    assert record["metrics"]["n"] == 4 and record["sampling"]["protocol"] == "deterministic"  # eval mode: no dropout


def _attack_with_light_parts(wrapper):
    from robustbench_snn.attack_files import load_attack

    return load_attack("pwws").build(wrapper, "original", DictionaryParts())


@pytest.mark.parametrize("sampling", ["seeded", "fresh"])
def test_textattacks_own_attacker_on_textattack_wrapper(sampling: str) -> None:
    import textattack

    wrapper = rs.textattack_wrapper(lexicon_scores if sampling == "seeded" else _noisy, sampling=sampling,
                                    stochastic=sampling == "fresh")
    assert isinstance(wrapper, textattack.models.wrappers.ModelWrapper)
    attack = _attack_with_light_parts(wrapper)
    examples = [("the movie was good", 1), ("a dull plot", 0), ("what a charming film !", 1)]
    args = textattack.AttackArgs(num_examples=3, silent=True, disable_stdout=True, random_seed=0)
    results = textattack.Attacker(attack, textattack.datasets.Dataset(examples), args).attack_dataset()
    assert len(results) == 3 and wrapper.queries > 0
    cache = attack.goal_function._call_model_cache
    if sampling == "fresh":  # a stochastic wrapper turned TextAttack's output cache off
        assert type(cache).__name__ == "_NoMemory"
    else:  # TextAttack's own cache, kept: seeded scores are fixed per text
        assert type(cache).__name__ == "LRU"


def _noisy(texts):
    return lexicon_scores(texts) + np.random.normal(0, 0.2, (len(texts), 2)).astype(np.float32)


MODEL_FILE = """
import numpy as np
import robustbench_snn as rs
POSITIVE = {"good", "great", "fun", "charming"}
def lexicon(texts):
    return np.array([[0.5, float(sum(w in POSITIVE for w in t.split()))] for t in texts], dtype=np.float32)
model = rs.textattack_wrapper(lexicon)
"""
ATTACK_FILE = """
import sys
sys.path.insert(0, {tests!r})
from fakes import DictionaryParts
from robustbench_snn.attack_files import load_attack
def attack(model_wrapper):
    return load_attack("pwws").build(model_wrapper, "original", DictionaryParts())
"""


@pytest.mark.slow  # a TextAttack process: 10 s of imports
def test_textattacks_cli_with_model_from_file(tmp_path: Path) -> None:
    from robustbench_snn.resources import prepare_textattack

    prepare_textattack()  # the exports `snn-robust doctor --print-env` prints
    (tmp_path / "my_model.py").write_text(MODEL_FILE)
    (tmp_path / "light_attack.py").write_text(ATTACK_FILE.format(tests=str(REPO / "tests")))
    (tmp_path / "data.py").write_text("import textattack\n"
                                      "dataset = textattack.datasets.Dataset([('the movie was good', 1), "
                                      "('a great cast', 1)])\n")
    textattack = Path(sys.executable).with_name("textattack")
    done = subprocess.run([str(textattack), "attack", "--model-from-file", "my_model.py", "--attack-from-file",
                           "light_attack.py", "--dataset-from-file", "data.py", "--num-examples", "2",
                           "--disable-stdout", "--silent"],
                          cwd=tmp_path, capture_output=True, text=True, env=os.environ | {"OMP_NUM_THREADS": "1"},
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[Succeeded / Failed / Skipped / Total] 2 / 0 / 0 / 2" in done.stderr, done.stderr[-2000:]  # tqdm


@pytest.mark.slow
def test_textattacks_cli_with_a_shipped_attack_file(tmp_path: Path, bundle: Path) -> None:
    """`--attack-from-file attacks/pwws_ren_2019.py` (its paper settings, the real components)."""
    from robustbench_snn.resources import prepare_textattack

    prepare_textattack()
    (tmp_path / "my_model.py").write_text(MODEL_FILE)
    (tmp_path / "data.py").write_text("import textattack\n"
                                      "dataset = textattack.datasets.Dataset([('the movie was good', 1)])\n")
    textattack = Path(sys.executable).with_name("textattack")
    done = subprocess.run([str(textattack), "attack", "--model-from-file", "my_model.py", "--attack-from-file",
                           str(REPO / "attacks" / "pwws_ren_2019.py"), "--dataset-from-file", "data.py",
                           "--num-examples", "1", "--disable-stdout", "--silent"],
                          cwd=tmp_path, capture_output=True, text=True, env=os.environ | {"OMP_NUM_THREADS": "1"},
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[Succeeded / Failed / Skipped / Total]" in done.stderr and " / 1:" in done.stderr, done.stderr[-2000:]


def test_every_record_of_a_users_model_is_its_own(tmp_path: Path) -> None:
    """Two different user models under one name never share a record: weights are part of the identity."""
    tokenizer = WordIds()
    first, second = BagOfWords(tokenizer), BagOfWords(tokenizer)
    with torch.no_grad():
        second.embedding.weight[1] += 1.0
    one = rs.benchmark(first, "tiny", num_examples=3, tokenizer=tokenizer, name="mine", results=tmp_path, **light())
    two = rs.benchmark(second, "tiny", num_examples=3, tokenizer=tokenizer, name="mine", results=tmp_path, **light())
    assert one[0]["identity_digest"] != two[0]["identity_digest"]
    assert len(list(tmp_path.rglob("table2/**/*.json"))) == 2
    assert json.loads(next(tmp_path.rglob("table2/**/*.json")).read_text())["model_name"] == "mine"


def test_a_model_kind_is_one_registry_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding a kind: one register_model call (its identity and build); load_model, benchmark, tables and
    records then know it."""
    from robustbench_snn.models import registry
    from robustbench_snn.models.registry import model_kind

    monkeypatch.setattr(registry, "MODEL_KINDS", dict(registry.MODEL_KINDS))  # the kind is this test's only
    from robustbench_snn.tables import render_results
    from robustbench_snn.prepared import prepare_for
    from robustbench_snn.zoo import Built

    def identity(config, prepared):
        return {"kind": config.kind, "dataset": config.dataset, "vocabulary": prepared.vocab.digest}

    def build(config, train):  # a fixed bag-of-words model over the dataset's vocabulary (a real kind trains here)
        prepared = prepare_for(config)
        weight = torch.zeros(len(prepared.vocab.words) + 2, 2)
        for word in POSITIVE | NEGATIVE:
            weight[prepared.vocab.encode([word], 1)[0], int(word in POSITIVE)] = 1.0
        model = nn.Sequential(nn.Embedding.from_pretrained(weight), Sum())
        return Built(model, config, prepared, {"weights_sha256": None}, identity(config, prepared))

    rs.register_model(rs.ModelKind("bow", "Bag of words", False, ("population", "snn", "evaluate_at"), identity,
                                   build))
    assert "bow" in rs.list_models() and not model_kind("bow").stochastic
    [record] = rs.benchmark(rs.load_model("tiny", "bow"), "tiny", num_examples=3, results=tmp_path, **light())
    assert record["model_name"] == "Bag of words" and record["model"] == "bow" and record["metrics"]["cln"] > 0
    assert "Bag of words" in render_results(tmp_path, "table2")
    with pytest.raises(UserError, match="already registered"):
        rs.register_model(rs.ModelKind("bow", "Another", True, (), identity, build))


class Sum(nn.Module):
    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        return vectors.sum(1) + torch.tensor([0.0, 0.5])


def test_textattack_attack_builds_this_projects_recipes() -> None:
    import textattack

    wrapper = rs.textattack_wrapper(lexicon_scores)
    attack = rs.textattack_attack("pwws", wrapper, settings="original", parts=DictionaryParts())
    assert isinstance(attack, textattack.Attack)
    result = attack.attack("the movie was great", 1)
    assert type(result).__name__ == "SuccessfulAttackResult"  # great -> terrible
