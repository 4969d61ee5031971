"""A dataset made ready for a model: tokenized with the model's tokenizer, mapped to ids over a vocabulary built
from the training split, with the word vectors that initialise the embedding; plus mini-batches."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch

from robustbench_snn.config import ModelConfig
from robustbench_snn.data import Dataset, load_dataset
from robustbench_snn.data.tokenizers import get_tokenizer
from robustbench_snn.embeddings import Vocabulary, WordVectors, build_vocabulary, load_vectors, shifted_embeddings
from robustbench_snn.models.textcnn import WordEmbedding


@dataclass(frozen=True, eq=False)
class Prepared:
    """A dataset turned into id tensors, with the vocabulary and vectors that made them."""

    dataset: Dataset
    vocab: Vocabulary
    vectors: WordVectors | None
    ids: dict[str, torch.Tensor]  # split -> [n, max_len]
    labels: dict[str, torch.Tensor]  # split -> [n]

    tokenizer: str  # the tokenizer's name (see data.tokenizers)

    def encode(self, texts: list[str]) -> torch.Tensor:
        tokenize = get_tokenizer(self.tokenizer)
        max_len = self.dataset.spec.max_len
        return torch.tensor([self.vocab.encode(tokenize(t), max_len) for t in texts], dtype=torch.long)

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text`` the model reads (cut to the dataset's length), one per id column."""
        return get_tokenizer(self.tokenizer)(text)[:self.dataset.spec.max_len]


@cache
def prepare(dataset: str, split_seed: int, random_embeddings: bool, vectors: str | None,
            tokenizer: str | None = None) -> Prepared:
    """Load, tokenize and encode a dataset (cached per process); ``vectors`` and ``tokenizer`` default to the
    dataset's."""
    data = load_dataset(dataset, split_seed)
    tokenizer = tokenizer or data.spec.tokenizer
    tokenize = get_tokenizer(tokenizer)
    word_vectors = None if random_embeddings else load_vectors(vectors or data.spec.vectors)
    vocab = build_vocabulary((tokenize(t) for t, _ in data.train), word_vectors)
    prepared = Prepared(data, vocab, word_vectors, {}, {}, tokenizer)
    for split, examples in data.splits().items():
        prepared.ids[split] = prepared.encode([t for t, _ in examples])
        prepared.labels[split] = torch.tensor([label for _, label in examples], dtype=torch.long)
    return prepared


def prepare_for(config: ModelConfig) -> Prepared:
    """The prepared dataset ``config``'s model reads."""
    return prepare(config.dataset, config.split_seed, config.random_embeddings, config.vectors, config.tokenizer)


def make_embedding(config: ModelConfig, prepared: Prepared, shifted: bool = True) -> WordEmbedding:
    """Initial embedding: shifted (or raw) pre-trained vectors, or U[0, 1] random vectors for the ablation."""
    trainable_rows = prepared.vocab.num_trainable + 2
    if prepared.vectors is None:
        generator = torch.Generator().manual_seed(config.seed)
        weight = torch.rand(trainable_rows, 50, generator=generator)
        weight[0] = 0.0
        return WordEmbedding(weight, None, unit_range=True)
    matrix = torch.from_numpy(shifted_embeddings(prepared.vocab, prepared.vectors, shift=shifted))
    return WordEmbedding(matrix[:trainable_rows], matrix[trainable_rows:], unit_range=shifted)


# Training batches are grouped by length within windows of this many batches of a shuffled order: a batch then
# holds sentences of similar length, and the networks skip the windows its padding alone fills.
BUCKET_BATCHES = 50


def length_batches(ids: torch.Tensor, labels: torch.Tensor, size: int, generator: torch.Generator):
    """Shuffled mini-batches of similar lengths: a seeded random order, cut into windows of
    :data:`BUCKET_BATCHES` batches, each window sorted by length (stably) and cut into batches, and the batches of
    all windows visited in a seeded random order. Each epoch still sees every sentence once, in a new order."""
    order = torch.randperm(len(ids), generator=generator)
    lengths = (ids != 0).sum(1)
    groups = []
    for start in range(0, len(ids), size * BUCKET_BATCHES):
        window = order[start:start + size * BUCKET_BATCHES]
        window = window[torch.sort(lengths[window], stable=True).indices]
        groups.extend(window[i:i + size] for i in range(0, len(window), size))
    for g in torch.randperm(len(groups), generator=generator).tolist():
        yield ids[groups[g]], labels[groups[g]]


def batches(ids: torch.Tensor, labels: torch.Tensor, size: int, generator: torch.Generator | None = None):
    """Mini-batches in order, or shuffled when a generator is given."""
    order = torch.randperm(len(ids), generator=generator) if generator is not None else torch.arange(len(ids))
    for start in range(0, len(ids), size):
        index = order[start:start + size]
        yield ids[index], labels[index]
