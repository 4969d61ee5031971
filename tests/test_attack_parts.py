"""The attack parts' savings compute what TextAttack's own code paths compute: BERT-Attack's masked-LM candidates
(unpadded, memoized, multi-piece words enumerated without their losses) and batched sentence encodings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import DictionaryParts

WORDS = ["the", "film", "movie", "was", "good", "bad", "dull", "fun", "a", "plot", "cast", "slow", "re", "over",
         "long", "##s", "##ing", "##ed", "##ly", "##film", "##act"]
SENTENCES = ["the films was good", "a dull plot , overacting cast", "refilming was slowly fun",
             "the movie was long and the cast was bad"]


def candidates(swap, text: str) -> list[list[str]]:
    from textattack.shared import AttackedText

    attacked = AttackedText(text)
    return [[t.text for t in swap._get_transformations(attacked, [i])] for i in range(len(attacked.words))]


def swaps(model: str, max_candidates: int = 15):
    from robustbench_snn.attack_parts import masked_lm_swap_class

    return [masked_lm_swap_class(textattack_path)(method="bert-attack", masked_language_model=model,
                                                  max_candidates=max_candidates) for textattack_path in (False, True)]


def test_masked_lm_candidates_equal_textattacks_on_a_tiny_bert(tmp_path: Path) -> None:
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    DictionaryParts()  # TextAttack's offline setup
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ",", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=len(WORDS) + 6, hidden_size=16, num_hidden_layers=1,
                               num_attention_heads=2, intermediate_size=32)).eval().save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    pieces = {len(tokenizer.encode(w, add_special_tokens=False)) for s in SENTENCES for w in s.split()}
    assert pieces >= {1, 2, 3}  # single-piece words, and multi-piece ones the enumeration handles
    lean, textattack = swaps(str(tmp_path), max_candidates=6)
    for sentence in SENTENCES:
        found = candidates(lean, sentence)
        assert found == candidates(textattack, sentence)
        assert any(found)
    assert lean._language_model.memo  # the current text's output was kept for its other words


@pytest.mark.slow
def test_masked_lm_candidates_equal_textattacks_on_sst2(bundle: Path) -> None:
    """The bundle's masked LM on SST-2 test sentences with words of 2 and 3 pieces: every word's candidates."""
    from robustbench_snn.attack_parts import AttackParts
    from robustbench_snn.data import load_dataset

    parts = AttackParts()
    lean, textattack = swaps(parts.masked_lm)
    tokenizer = lean._lm_tokenizer
    chosen = [text for text, _ in load_dataset("sst2").test[:40]
              if {2, 3} <= {len(tokenizer.encode(w, add_special_tokens=False)) for w in text.split()}][:2]
    assert len(chosen) == 2
    for sentence in chosen:
        assert candidates(lean, sentence) == candidates(textattack, sentence)


def test_sentence_encodings_are_the_ports_batch_ones_and_forgotten_per_example() -> None:
    from robustbench_snn.attack_parts import _use_model, offline_use

    DictionaryParts()
    texts = ["the movie was great fun", "a dull and tedious film", "i loved it", "a dull and tedious film"]
    encoder = offline_use(threshold=0.8)
    encoded = encoder.encode(texts)
    batch = _use_model().encode(texts[:3])  # each distinct text once, in first-seen order
    for text, encoding in zip(texts, encoded):
        assert np.array_equal(encoding, batch[texts.index(text)])
    again = encoder.encode(["i loved it", "a new text"])  # memoized, and only the new text encoded
    assert np.array_equal(again[0], batch[2]) and len(encoder.memo) == 4
    encoder.clear_cache()  # what the harness calls before every example (through attack.clear_cache)
    assert encoder.memo == {}
