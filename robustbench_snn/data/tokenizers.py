"""Tokenizers. The English one splits words exactly as TextAttack does, so the word an attack swaps is the token
the model sees; punctuation is dropped for the same reason (TextAttack's ``AttackedText.words`` drops it).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from robustbench_snn.errors import unknown_name

# TextAttack (textattack.shared.utils.strings.words_from_text) keeps word characters, its homoglyph set and
# ' - _ * @ inside a word, and strips those five from a word's ends.
_HOMOGLYPHS = "˗৭Ȣ𝟕бƼᏎƷᒿlO`ɑЬϲԁе𝚏ɡհіϳ𝒌ⅼｍոорԛⲅѕ𝚝սѵԝ×уᴢ"
_EDGE_CHARS = "'-_*@"
_WORD = re.compile("[\\w" + re.escape(_HOMOGLYPHS) + "'\\-_*@]+")

Tokenizer = Callable[[str], list[str]]


def english_words(text: str) -> list[str]:
    """Lower-cased words of ``text``, split as TextAttack's ``AttackedText.words`` splits them."""
    words = []
    for chunk in text.split():
        for piece in _WORD.findall(chunk.strip(_EDGE_CHARS)):
            piece = piece.strip(_EDGE_CHARS)
            if piece:
                words.append(piece.lower())
    return words


def chinese_characters(text: str) -> list[str]:
    """Every non-space character: the bundle's Chinese vectors are per character."""
    return [char for char in text if not char.isspace()]


def chinese_words(text: str) -> list[str]:
    """jieba words (precise mode), for word-level Chinese vectors such as the paper's sgns.merge.bigram."""
    import jieba  # imported lazily: jieba prints and builds its prefix dictionary on first use

    return [word for word in jieba.lcut(text) if word.strip()]


TOKENIZERS: dict[str, Tokenizer] = {
    "en-word": english_words,
    "zh-char": chinese_characters,
    "zh-jieba": chinese_words,
}


def get_tokenizer(name: str) -> Tokenizer:
    """The tokenizer registered as ``name``."""
    if name not in TOKENIZERS:
        raise unknown_name("tokenizer", name, TOKENIZERS)
    return TOKENIZERS[name]
