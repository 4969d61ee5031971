"""Attack recipes: every registered recipe builds and runs on tiny models (dictionary swap, no heavy resources);
broken recipe files fail with their path; `snn-robust attacks` lists them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import DictionaryParts

from robustbench_snn.gradients import WhiteBox
from robustbench_snn.attack_files import SETTING_NAMES, load_attack, load_attack_file, registry
from robustbench_snn.cli import main
from robustbench_snn.errors import UserError
from robustbench_snn.models.textcnn import TailoredTextCNN, WordEmbedding
from robustbench_snn.classifiers import ModuleClassifier
from robustbench_snn.config import Sampling
from robustbench_snn.wrappers import ClassifierWrapper

WORDS = ["<pad>", "<unk>", "the", "movie", "film", "was", "good", "great", "fine", "bad", "awful", "poor", "funny",
         "amusing", "dull", "boring", "tedious", "a", "best", "worst", "love", "hate", "terrible", "i", "it"]
POSITIVE = {"good", "great", "fine", "funny", "amusing", "best", "love"}


def encode(texts: list[str]) -> torch.Tensor:
    index = {w: i for i, w in enumerate(WORDS)}
    rows = [[index.get(w.strip(".,!").lower(), 1) for w in t.split()][:8] for t in texts]
    return torch.tensor([r + [0] * (8 - len(r)) for r in rows])


def lexicon_model() -> TailoredTextCNN:
    """A tailored TextCNN whose score is the count of positive words: a tiny model attacks can flip."""
    weight = torch.zeros(len(WORDS), 4)
    for i, word in enumerate(WORDS[1:], 1):
        weight[i] = torch.tensor([1.0, 0, 0, 0]) if word in POSITIVE else torch.tensor([0, 1.0, 0, 0])
    model = TailoredTextCNN(WordEmbedding(weight, None, unit_range=True), 2).eval()
    with torch.no_grad():
        for conv in model.convs:
            conv.weight.zero_()
            conv.weight[:50, 0, 0] = 1.0  # first half of the maps count positive words, second half the rest
            conv.weight[50:, 1, 0] = 1.0
        model.fc.weight.zero_()
        model.fc.weight[10:, [m for k in range(3) for m in range(100 * k, 100 * k + 50)]] = 0.1  # positive words weigh 10x the rest
        model.fc.weight[:10, [m for k in range(3) for m in range(100 * k + 50, 100 * k + 100)]] = 0.01
    return model


def lexicon_classifier() -> ModuleClassifier:
    """The lexicon model as a classifier with white-box access (as the zoo's networks have)."""
    model = lexicon_model()
    classifier = ModuleClassifier(model, encode, False)
    classifier.white_box = WhiteBox(model, encode, lambda text: [w.strip(".,!").lower() for w in text.split()][:8],
                                    model.embedding.weight.detach(), list(WORDS))
    classifier.transfer_source = lambda name: lexicon_classifier()  # a copy stands for the twin and the surrogate
    return classifier


RECIPE_FILES = sorted((Path(__file__).resolve().parents[1] / "attacks").glob("[!_]*.py"))  # no loading at collection


def test_the_four_paper_recipes_are_registered() -> None:
    assert set(registry()) >= {"pwws", "textfooler", "textbugger", "bert-attack"}
    for recipe in registry().values():
        assert set(SETTING_NAMES) <= set(recipe.settings) and recipe.citation and recipe.module.__doc__


@pytest.mark.parametrize("setting", SETTING_NAMES)
@pytest.mark.parametrize("path", RECIPE_FILES, ids=lambda p: p.stem)
def test_every_recipe_runs_on_a_tiny_model(path: Path, setting: str) -> None:
    parts = DictionaryParts()
    from textattack.attack_results import FailedAttackResult, SkippedAttackResult, SuccessfulAttackResult

    wrapper = ClassifierWrapper(lexicon_classifier(), Sampling("seeded"), seed=0)
    attack = load_attack_file(path).build(wrapper, setting, parts)
    result = attack.attack("the movie was good and funny", 1)
    assert isinstance(result, SuccessfulAttackResult | FailedAttackResult | SkippedAttackResult)
    transfer = path.stem.startswith("transfer_")  # crafted on a source model: the attacked one is never queried
    assert (wrapper.queries == 0 if transfer else wrapper.queries > 0) and result.perturbed_result.num_queries > 0


def test_word_swap_attack_flips_the_lexicon_model() -> None:
    parts = DictionaryParts()  # prepares TextAttack's offline setup before it is imported
    from textattack.attack_results import SuccessfulAttackResult

    wrapper = ClassifierWrapper(ModuleClassifier(lexicon_model(), encode, False), Sampling("seeded"), seed=0)
    assert wrapper(["the movie was good", "the movie was bad"]).argmax(-1).tolist() == [1, 0]
    result = load_attack("pwws").build(wrapper, "original", parts).attack("the movie was great", 1)
    assert isinstance(result, SuccessfulAttackResult)
    assert result.perturbed_result.attacked_text.text == "the movie was terrible"


@pytest.mark.parametrize("source, message", [
    ("def build(:\n", "SyntaxError"),
    ("NAME = 'x'\n", "lacks CITATION, SETTINGS, build; start from attacks/_template.py"),
    ("NAME, CITATION = 'x', 'c'\nSETTINGS = {'paper': {}}\ndef build(w, s, p): pass\n", "SETTINGS lacks original"),
    ("raise RuntimeError('boom')\n", "RuntimeError at import: boom"),
])
def test_broken_attack_files_fail_with_their_path(tmp_path: Path, source: str, message: str) -> None:
    path = tmp_path / "broken_attack.py"
    path.write_text(source)
    with pytest.raises(UserError) as caught:
        load_attack_file(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_an_attack_file_adds_a_recipe(tmp_path: Path, capsys) -> None:
    template = Path(__file__).resolve().parents[1] / "attacks" / "_template.py"
    extra = tmp_path / "mine_2026.py"
    extra.write_text(template.read_text())
    assert "my-attack" in registry((str(extra),))
    assert main(["attacks", "--attack-file", str(extra)]) == 0
    out = capsys.readouterr().out
    assert "my-attack" in out and "pwws" in out and "Ren et al. 2019" in out
    assert main(["run", "--dataset", "sst2", "--attack", "nope", "--no-train"]) == 2
    assert "unknown attack 'nope'; valid attacks: bert-attack, gradient-eot, pwws, textbugger, textfooler, transfer-rate, transfer-twin" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("setting", SETTING_NAMES)
@pytest.mark.parametrize("path", RECIPE_FILES, ids=lambda p: p.stem)
def test_every_recipe_runs_with_the_real_resources(path: Path, setting: str) -> None:
    """WordNet, counter-fitted vectors, the masked LM (stand-in offline) and the numpy USE, for real."""
    from robustbench_snn.attack_parts import AttackParts

    parts = AttackParts()
    from textattack.attack_results import FailedAttackResult, SkippedAttackResult, SuccessfulAttackResult

    wrapper = ClassifierWrapper(lexicon_classifier(), Sampling("seeded"), seed=0)
    result = load_attack_file(path).build(wrapper, setting, parts).attack("the movie was good and funny", 1)
    assert isinstance(result, SuccessfulAttackResult | FailedAttackResult | SkippedAttackResult)
    assert result.perturbed_result.num_queries > 0 and parts.stand_ins()


def test_an_examples_sentence_encodings_do_not_depend_on_the_examples_before_it() -> None:
    from robustbench_snn.attack_parts import offline_use

    DictionaryParts()  # TextAttack's offline setup
    texts = ["the movie was great fun", "a dull and tedious film", "i loved it"]
    used = offline_use(threshold=0.8)
    used.encode([texts[1], "an earlier example's text"])  # batched with other texts: other last digits
    used.clear_cache()  # the harness clears every cache before an example
    assert np.array_equal(used.encode(texts), offline_use(threshold=0.8).encode(texts))


class RecordingComponents(DictionaryParts):
    """Dictionary components that note which resource-backed part each recipe asks for, with its values."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def embedding_swap(self, max_candidates):
        self.calls.append(("embedding", max_candidates))
        return super().embedding_swap(max_candidates)

    def wordnet_swap(self, max_candidates=None):
        self.calls.append(("wordnet", max_candidates))
        return super().wordnet_swap(max_candidates)

    def masked_lm_swap(self, method, max_candidates):
        self.calls.append(("masked-lm", max_candidates))
        return super().masked_lm_swap(method, max_candidates)

    def homoglyph_swap(self):
        self.calls.append(("homoglyph",))
        return super().homoglyph_swap()

    def word_embedding_distance(self, min_cos_sim):
        self.calls.append(("embedding distance", min_cos_sim))
        return super().word_embedding_distance(min_cos_sim)

    def sentence_encoder(self, threshold, metric="cosine", **kwargs):
        self.calls.append(("encoder", threshold, metric, kwargs["window_size"], kwargs["compare_against_original"],
                           kwargs["skip_text_shorter_than_window"]))
        return None


WHOLE_TEXT = ("encoder", 0.8, "cosine", None, True, False)
WINDOWED = ("encoder", 0.8, "angular", 15, False, True)  # the authors' code: 15 words, previous text, short skipped


@pytest.mark.parametrize("attack, setting, expected", [
    # the paper's text as its code implemented it: 15 embedding neighbours, no embedding-distance constraint
    ("pwws", "paper", [WHOLE_TEXT, ("embedding", 15)]),
    ("textfooler", "paper", [WHOLE_TEXT, ("embedding", 15)]),
    ("textbugger", "paper", [WHOLE_TEXT, ("embedding", 15)]),  # no character bugs
    ("bert-attack", "paper", [WHOLE_TEXT, ("masked-lm", 15)]),
    ("pwws", "authors-code", [WINDOWED, ("embedding", 15)]),
    ("textfooler", "authors-code", [WINDOWED, ("embedding", 15)]),
    ("textbugger", "authors-code", [WINDOWED, ("embedding", 15)]),
    ("bert-attack", "authors-code", [WINDOWED, ("masked-lm", 48)]),
    # the original recipes
    ("pwws", "original", [("wordnet", None)]),
    ("textfooler", "original", [("encoder", 0.840845057, "angular", 15, False, True), ("embedding distance", 0.5),
                              ("embedding", 50)]),
    ("textbugger", "original", [("encoder", 0.8, "angular", None, True, False), ("homoglyph",), ("embedding", 5)]),
    ("bert-attack", "original", [("encoder", 0.2, "cosine", None, True, False), ("masked-lm", 8)]),
])
def test_named_settings_build_what_they_say(attack: str, setting: str, expected: list) -> None:
    parts = RecordingComponents()
    wrapper = ClassifierWrapper(ModuleClassifier(lexicon_model(), encode, False), Sampling("seeded"), seed=0)
    built = load_attack(attack).build(wrapper, setting, parts)
    assert sorted(parts.calls, key=str) == sorted(expected, key=str)
    from textattack.transformations import CompositeTransformation

    assert isinstance(built.transformation, CompositeTransformation) == (attack == "textbugger" and setting == "original")
    budget = [c for c in built.constraints if type(c).__name__ == "MaxWordsPerturbed"]
    assert [c.max_percent for c in budget] == ([0.3] if setting != "original" else [0.4] if attack == "bert-attack" else [])


def test_textattacks_unknown_model_warning_is_silenced_for_this_packages_models_only(caplog) -> None:
    DictionaryParts()  # TextAttack's offline setup, then the recipes register the filter
    load_attack("pwws")
    from textattack.shared import logger

    for name, expected in (("robustbench_snn.models.textcnn.TextCNN", False), ("mypackage.Model", True)):
        record = logger.makeRecord(logger.name, 30, __file__, 0, f"Unknown if model of class <class '{name}'> "
                                   "compatible with goal function <class 'x'>.", (), None)
        assert logger.filter(record) == expected


def test_parts_need_no_file_that_their_attack_never_reads(tmp_path: Path) -> None:
    """PWWS with WordNet swaps reads neither the counter-fitted embeddings nor a masked LM: its run records their
    stand-in notes and digests from the catalog (the default tier has no bundle), and only the parts that read the
    embeddings ask for them."""
    from robustbench_snn.attack_parts import AttackParts
    from robustbench_snn.resources import sha256_of

    parts = AttackParts(str(tmp_path))  # a masked LM folder PWWS never loads
    assert "counter-fitted" in parts.stand_ins()["textattack/paragramcf"].lower()
    assert parts.identity()["masked_lm"] == sha256_of(tmp_path)
    with pytest.raises(UserError, match="textattack/paragramcf not found"):
        parts.embedding_swap(15)
