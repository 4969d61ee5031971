"""The positive shift (worked values), vector file parsing, and the vocabulary's OOV/padding policy."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from robustbench_snn.data import load_dataset
from robustbench_snn.data.tokenizers import english_words
from robustbench_snn.embeddings import (
    PAD,
    UNK,
    ShiftStats,
    build_vocabulary,
    load_vectors,
    shifted_embeddings,
)
from robustbench_snn.errors import UserError


def test_shift_worked_values() -> None:
    # 99 zeros and one 100: mean 1, std sqrt(99); 100 lies beyond mean + 3 std and is clipped to 1.
    values = np.array([0.0] * 99 + [100.0])
    stats = ShiftStats.of(values)
    assert stats.mean == pytest.approx(1.0) and stats.std == pytest.approx(math.sqrt(99))
    sigma = math.sqrt(99)
    assert stats.shift(np.array([0.0]))[0] == pytest.approx((3 * sigma - 1) / (6 * sigma))  # 0.48325
    assert stats.shift(np.array([1.0]))[0] == pytest.approx(0.5)  # the mean maps to the middle
    assert stats.shift(np.array([100.0, -1e6]))[:].tolist() == [1.0, 0.0]
    assert stats.shift(np.array([1 + 1.5 * sigma]))[0] == pytest.approx(0.75)


def test_real_glove_statistics_and_range() -> None:
    vectors = load_vectors("glove-6b-50d")
    stats = ShiftStats.of(vectors.matrix)
    assert vectors.matrix.shape == (400000, 50)
    assert stats.mean == pytest.approx(0.02094, abs=1e-5) and stats.std == pytest.approx(0.64410, abs=1e-5)
    shifted = stats.shift(vectors.matrix)
    assert shifted.min() == 0.0 and shifted.max() == 1.0


@pytest.fixture(scope="module")
def sst2_vocab():
    vectors = load_vectors("glove-6b-50d")
    data = load_dataset("sst2")
    vocab = build_vocabulary((english_words(t) for t, _ in data.train), vectors)
    return vocab, vectors, shifted_embeddings(vocab, vectors)


@pytest.mark.slow  # the real datasets and resources of the bundle
def test_vocabulary_policy(sst2_vocab) -> None:
    vocab, vectors, matrix = sst2_vocab
    stats = ShiftStats.of(vectors.matrix)
    assert matrix.shape == (vocab.size, 50) and matrix.min() >= 0.0 and matrix.max() <= 1.0
    assert not matrix[PAD].any()  # padding: exact zeros
    np.testing.assert_allclose(matrix[UNK], stats.shift(np.zeros(50)))  # unknown: zero vector before the shift
    assert vocab.words[0] == "the"  # most frequent training word first
    ids = vocab.ids
    assert ids["movie"] < vocab.num_trainable + 2  # a training word is trainable
    # "zyzzyva" never occurs in SST-2's training data but has a GloVe vector: it keeps its own.
    assert "zyzzyva" in vectors.index and ids["zyzzyva"] >= vocab.num_trainable + 2
    np.testing.assert_allclose(matrix[ids["zyzzyva"]], stats.shift(vectors.matrix[vectors.index["zyzzyva"]]))
    assert vocab.encode(["the", "zyzzyva", "qqqxqqq"], 5) == [2, ids["zyzzyva"], UNK, PAD, PAD]
    assert vocab.encode(["the"] * 9, 3) == [2, 2, 2]


def test_random_embedding_vocabulary_has_only_training_words() -> None:
    vocab = build_vocabulary([["b", "a", "b"], ["c"]], None)
    assert vocab.words == ("b", "a", "c") and vocab.num_trainable == 3 and vocab.size == 5
    assert vocab.digest != build_vocabulary([["a"]], None).digest


def test_text_vector_files(tmp_path: Path) -> None:
    glove = tmp_path / "tiny.glove.txt"
    glove.write_text("the 1.0 2.0\nnew york 0.5 -1\n")
    word2vec = tmp_path / "tiny.w2v.txt"
    word2vec.write_text("2 2\n好 1 2\n棒 3 4\n")
    a, b = load_vectors(str(glove)), load_vectors(str(word2vec))
    assert a.words == ("the", "new york") and a.matrix.tolist() == [[1.0, 2.0], [0.5, -1.0]]
    assert b.words == ("好", "棒") and b.dim == 2 and "sha256" in b.identity


@pytest.mark.slow  # the real datasets and resources of the bundle
def test_bundle_chinese_vectors() -> None:
    vectors = load_vectors("zh-char-tencent-200d")
    assert vectors.matrix.shape == (4729, 200) and "好" in vectors.index


def test_bad_vector_inputs(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown vectors 'glove-840b'"):
        load_vectors("glove-840b")
    broken = tmp_path / "broken.txt"
    broken.write_text("a 1 2 3\nb 1 x 3\n")
    with pytest.raises(UserError, match=r"broken\.txt:2: expected 3 numbers"):
        load_vectors(str(broken))
    short = tmp_path / "short.txt"
    short.write_text("a 1 2 3\nb 1\n")
    with pytest.raises(UserError, match=r"short\.txt:2: expected a word and 3 numbers"):
        load_vectors(str(short))
