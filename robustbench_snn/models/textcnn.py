"""TextCNN (Kim 2014) and the SNN-friendly tailored TextCNN of Lv et al. (2023). Token ids [N, L] -> logits [N, C]."""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from robustbench_snn.paper import POPULATION

WIDTHS = (3, 4, 5)
FEATURE_MAPS = 100

_SKIP_PADDING = [True]  # see occupied_length; every_window() turns it off (the reference path of tests, benchmarks)


@contextmanager
def every_window():
    """Compute every convolution window, padding-only ones included (the path before padding-aware inference)."""
    _SKIP_PADDING.append(False)
    try:
        yield
    finally:
        _SKIP_PADDING.pop()


def occupied_length(ids: torch.Tensor) -> int:
    """How many leading columns of ``ids`` [N, L] the networks compute windows over: up to the last column holding a
    real token in any row, plus the widest window's reach past it. Padding (id 0, at the end) is an exact zero
    vector, so every window beyond lies on padding only: it gives a ReLU of zero (no bias), the bias itself (the
    original TextCNN) or no current and no spike (the SNN), which pooling accounts for without computing it, and
    it has no gradient to give. Training batches are grouped by length (``prepared.length_batches``) to make the
    most of it."""
    return padding_reach(ids) if _SKIP_PADDING[-1] else ids.shape[1]


def padding_reach(ids: torch.Tensor) -> int:
    """:func:`occupied_length` whatever the path (reference paths draw spikes for these columns too)."""
    length = ids.shape[1]
    if length <= max(WIDTHS):
        return length
    occupied = (ids != 0).any(0).nonzero()
    last = int(occupied[-1]) + 1 if len(occupied) else 0
    return min(length, max(last + max(WIDTHS) - 1, max(WIDTHS)))


def pad_windows(windows: torch.Tensor, full: int) -> torch.Tensor:
    """``windows`` [..., positions] padded with zeros to ``full`` positions: pooling then reduces the very tensor
    the full computation would give (the padding-only windows are exact zeros), so its floats are the same."""
    return windows if windows.shape[-1] == full else F.pad(windows, (0, full - windows.shape[-1]))


class WordEmbedding(nn.Module):
    """Token ids -> vectors. The first ``trainable`` rows (padding, unknown, training words) are a parameter;
    the rest (pre-trained words never seen in training) is a frozen buffer, rebuilt from the vector file on
    load rather than stored in checkpoints."""

    def __init__(self, trainable: torch.Tensor, frozen: torch.Tensor | None = None, unit_range: bool = True):
        super().__init__()
        self.weight = nn.Parameter(trainable.clone())
        self.register_buffer("frozen", frozen if frozen is not None else torch.zeros(0, trainable.shape[1]),
                             persistent=False)
        self.unit_range = unit_range  # keep rows in [0, 1] (spike probabilities) after each update

    @property
    def dim(self) -> int:
        return int(self.weight.shape[1])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        n = self.weight.shape[0]
        trained = F.embedding(ids.clamp(max=n - 1), self.weight, padding_idx=0)
        if self.frozen.numel() == 0:
            return trained
        rest = F.embedding((ids - n).clamp(min=0), self.frozen)
        return torch.where((ids < n).unsqueeze(-1), trained, rest)

    @torch.no_grad()
    def project_(self) -> None:
        """After an optimizer step: padding back to exact zeros, values back into [0, 1]."""
        self.weight[0].zero_()
        if self.unit_range:
            self.weight.clamp_(0.0, 1.0)


class TextCNN(nn.Module):
    """Kim (2014): widths 3/4/5 x 100 maps with biases, ReLU, max-pool over time, dropout 0.5, linear."""

    stochastic = False  # the model contract (see wrappers.Classifier): the same ids always get the same logits

    def __init__(self, embedding: WordEmbedding, num_classes: int, dropout: float = 0.5):
        super().__init__()
        self.embedding = embedding
        self.convs = nn.ModuleList(nn.Conv1d(embedding.dim, FEATURE_MAPS, k) for k in WIDTHS)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(FEATURE_MAPS * len(WIDTHS), num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.from_vectors(self.embedding(ids[:, :occupied_length(ids)]), ids.shape[1])

    def from_vectors(self, vectors: torch.Tensor, padded_length: int) -> torch.Tensor:
        """Logits of texts whose first columns' word vectors are ``vectors`` [N, L', D], padded to
        ``padded_length`` (white-box attacks differentiate with respect to them)."""
        x = vectors.transpose(1, 2)
        pooled = []
        for conv in self.convs:
            found = F.relu(conv(x)).amax(-1)
            # a padding-only window is exactly the bias: the max of the uncomputed ones
            pooled.append(found if vectors.shape[1] == padded_length else torch.maximum(found, F.relu(conv.bias)))
        return self.fc(self.dropout(torch.cat(pooled, dim=1)))


class TailoredTextCNN(nn.Module):
    """Lv et al. (2023): TextCNN made convertible. No biases, average pooling, inputs in [0, 1], ReLU on every
    layer including the output (a spiking neuron's rate is non-negative), population output of
    ``population_size`` neurons per class; a class score is the sum over its group. (The authors' network also
    has a ReLU after the pooling: on averages of ReLU outputs it is the identity, so it is left out here; the
    SNN's ``pool_neurons`` are its spiking counterpart.)"""

    stochastic = False

    def __init__(self, embedding: WordEmbedding, num_classes: int, dropout: float = 0.5,
                 population_size: int = POPULATION):
        super().__init__()
        self.embedding = embedding
        self.num_classes = num_classes
        self.population_size = population_size
        self.convs = nn.ModuleList(nn.Conv1d(embedding.dim, FEATURE_MAPS, k, bias=False) for k in WIDTHS)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(FEATURE_MAPS * len(WIDTHS), num_classes * population_size, bias=False)
        # Non-negative output weights at the start: every input here is non-negative, so every output neuron
        # starts active. From torch's signed start, the ReLU on the outputs let both output neurons of a
        # population-1 network die within 100 steps on SST-2 (all outputs 0: a constant prediction, and a
        # silent SNN after conversion); with population 10 a few dead neurons of a group went unnoticed.
        with torch.no_grad():
            self.fc.weight.abs_()

    def features(self, ids: torch.Tensor) -> list[torch.Tensor]:
        """ReLU outputs of each convolution, [N, maps, positions]: what the first spiking layer's rates model."""
        return self._features(self.embedding(ids[:, :occupied_length(ids)]), ids.shape[1])

    def _features(self, vectors: torch.Tensor, padded_length: int) -> list[torch.Tensor]:
        x = vectors.transpose(1, 2)
        return [pad_windows(F.relu(conv(x)), padded_length - k + 1) for conv, k in zip(self.convs, WIDTHS)]

    def population(self, ids: torch.Tensor) -> torch.Tensor:
        """ReLU outputs of the population layer, [N, C * population_size]."""
        return self._population(self._features(self.embedding(ids[:, :occupied_length(ids)]), ids.shape[1]))

    def _population(self, features: list[torch.Tensor]) -> torch.Tensor:
        pooled = torch.cat([f.mean(-1) for f in features], dim=1)
        return F.relu(self.fc(self.dropout(pooled)))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.from_vectors(self.embedding(ids[:, :occupied_length(ids)]), ids.shape[1])

    def from_vectors(self, vectors: torch.Tensor, padded_length: int) -> torch.Tensor:
        """Class scores of texts whose first columns' word vectors are ``vectors`` [N, L', D], padded to
        ``padded_length`` (white-box attacks differentiate with respect to them)."""
        population = self._population(self._features(vectors, padded_length))
        return population.view(vectors.shape[0], self.num_classes, self.population_size).sum(-1)
