"""The English tokenizer must split exactly as TextAttack's AttackedText, so swapped words are model tokens."""

from __future__ import annotations

import pytest

from robustbench_snn.data import load_dataset
from robustbench_snn.data.tokenizers import chinese_characters, chinese_words, english_words, get_tokenizer
from robustbench_snn.errors import UserError
from robustbench_snn.resources import prepare_textattack

TRICKY = [
    "it's a well-made , 'good' film -- really !",
    "\"quoted\" words and -dashes- and *stars* @home e-mail@x.com",
    "ｍоvіе with homoglyphs and 3-d 1990s fun ... ?",
    "",
    "  !!! ...  ",
    "The CAPITALS are Lower-Cased",
]


@pytest.fixture(scope="module")
def attacked_text():
    prepare_textattack()
    from textattack.shared import AttackedText

    return AttackedText


def test_agrees_with_textattack_on_tricky_strings(attacked_text) -> None:
    for text in TRICKY:
        assert english_words(text) == [w.lower() for w in attacked_text(text).words], text


@pytest.mark.slow  # the real datasets and resources of the bundle
@pytest.mark.parametrize("name", ["sst2", "mr", "subj"])
def test_agrees_with_textattack_on_real_sentences(attacked_text, name: str) -> None:
    data = load_dataset(name)
    for text, _ in data.test[:400]:
        assert english_words(text) == [w.lower() for w in attacked_text(text).words], text


def test_chinese_tokenizers() -> None:
    assert chinese_characters("很快，好吃 ok") == ["很", "快", "，", "好", "吃", "o", "k"]
    assert "".join(chinese_words("味道还可以，送餐很快")) == "味道还可以，送餐很快"
    assert len(chinese_words("味道还可以，送餐很快")) < len(chinese_characters("味道还可以，送餐很快"))


def test_unknown_tokenizer_lists_valid_names() -> None:
    with pytest.raises(UserError, match="valid tokenizers: en-word, zh-char, zh-jieba"):
        get_tokenizer("bpe")
