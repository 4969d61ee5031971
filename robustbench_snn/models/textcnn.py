"""TextCNN (Kim 2014) and the SNN-friendly tailored TextCNN of Lv et al. (2023). Token ids [N, L] -> logits [N, C]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from robustbench_snn.paper import POPULATION

WIDTHS = (3, 4, 5)
FEATURE_MAPS = 100


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
        x = self.embedding(ids).transpose(1, 2)
        pooled = torch.cat([F.relu(conv(x)).amax(-1) for conv in self.convs], dim=1)
        return self.fc(self.dropout(pooled))


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

    def features(self, ids: torch.Tensor) -> list[torch.Tensor]:
        """ReLU outputs of each convolution, [N, maps, positions]: what the first spiking layer's rates model."""
        x = self.embedding(ids).transpose(1, 2)
        return [F.relu(conv(x)) for conv in self.convs]

    def population(self, ids: torch.Tensor) -> torch.Tensor:
        """ReLU outputs of the population layer, [N, C * population_size]."""
        pooled = torch.cat([f.mean(-1) for f in self.features(ids)], dim=1)
        return F.relu(self.fc(self.dropout(pooled)))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.population(ids).view(ids.shape[0], self.num_classes, self.population_size).sum(-1)
