"""White-box access to this package's networks: the gradient of the attack loss with respect to each input word's
vector, the attacker's view that black-box attacks lack.

- ANNs (the original and the tailored TextCNN): the exact gradient of the cross-entropy of their logits.
- The spiking TextCNN: backpropagation through time with the fused LIF layer's surrogate gradient (its slope an
  attack parameter, default the training one), a straight-through gradient through the rate encoding (a spike's
  expectation is its probability, so d spike / d p = 1), and the loss averaged over K spike draws (expectation over
  transformation, EOT), on the scores the attacks see (spike counts per class / T).

The loss is the margin of Carlini & Wagner (2017), the best other class's score minus the label's, not the
cross-entropy: a confident network's softmax saturates and its cross-entropy gradient vanishes (1e-12 on a
test model whose logits differ by 28), a form of gradient masking the margin does not have.

The label is the model's own prediction (TextAttack's ``get_grad`` convention; attacks start from correctly
classified examples) unless given. :class:`WhiteBox` also scores candidate texts by the first-order change of the
loss, which the gradient-guided attack ranks substitutions by.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from robustbench_snn.models.spiking import FreshBernoulli, SpikingTextCNN
from robustbench_snn.models.textcnn import TailoredTextCNN, TextCNN, occupied_length
from robustbench_snn.runtime import module_device


def margin_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per text: the best other class's score minus the label's (positive: misclassified)."""
    own = scores.gather(1, labels[:, None]).squeeze(1)
    others = scores.masked_fill(F.one_hot(labels, scores.shape[1]).bool(), float("-inf"))
    return others.amax(1) - own


@contextmanager
def surrogate_slope(snn: SpikingTextCNN, slope: float | None):
    """Every neuron layer's surrogate slope set to ``slope`` (None: left as trained) for the block."""
    neurons = [snn.lif1, snn.lif2, *snn.pool_lifs]
    saved = [n.slope for n in neurons]
    if slope is not None:
        for neuron in neurons:
            neuron.slope = slope
    try:
        yield
    finally:
        for neuron, value in zip(neurons, saved):
            neuron.slope = value


def straight_through_spikes(values: torch.Tensor, steps: int, generator: torch.Generator | None) -> torch.Tensor:
    """Bernoulli spikes [T, ...] of probabilities ``values`` (:class:`FreshBernoulli`'s draws) whose gradient passes
    to ``values`` unchanged."""
    hard = FreshBernoulli(generator)(values.detach(), None, steps)
    return hard + (values - values.detach())


class WhiteBox:
    """A network of this package over a prepared dataset: texts -> ids, loss gradients per word vector."""

    def __init__(self, model: nn.Module, encode, tokens, vocabulary_vectors: torch.Tensor, words: list[str],
                 expected_input: bool = False):
        self.model, self.encode, self.tokens = model, encode, tokens  # texts -> ids [N, L]; text -> its tokens
        self.table = vocabulary_vectors  # [V, D], row i: the model's input vector of token id i
        self.words = words  # id -> word
        self.spiking = isinstance(model, SpikingTextCNN)
        self.expected_input = expected_input  # an SNN fed its spike probabilities (its rate surrogate)

    def loss_gradients(self, ids: torch.Tensor, labels: torch.Tensor | None = None, draws: int = 1,
                       slope: float | None = None, generator: torch.Generator | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(gradient [N, L, D] of each text's loss with respect to its word vectors (zero on padding columns),
        the loss [N] (averaged over ``draws`` for an SNN), the labels used), on the CPU wherever the model runs."""
        device = module_device(self.model)
        ids = ids.to(device)
        labels = None if labels is None else labels.to(device)
        occupied = occupied_length(ids)
        with torch.no_grad():
            vectors = self.model.embedding(ids[:, :occupied])
        vectors = vectors.detach().requires_grad_()
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.enable_grad():
                if self.spiking:
                    scores = self._spiking_scores(vectors, ids.shape[1], draws, slope, generator)
                else:
                    scores = [self.model.from_vectors(vectors, ids.shape[1])]
                if labels is None:
                    labels = torch.stack([s.detach() for s in scores]).mean(0).argmax(-1)
                loss = torch.stack([margin_loss(s, labels) for s in scores]).mean(0)
                (gradient,) = torch.autograd.grad(loss.sum(), vectors)
        finally:
            self.model.train(was_training)
        full = torch.zeros((*ids.shape, vectors.shape[-1]), dtype=gradient.dtype)
        full[:, :occupied] = gradient.cpu()
        return full, loss.detach().cpu(), labels.cpu()

    def _spiking_scores(self, vectors, padded_length, draws, slope, generator) -> list[torch.Tensor]:
        snn = self.model

        def inputs():
            if self.expected_input:
                return vectors.expand(snn.steps, *vectors.shape)
            return straight_through_spikes(vectors, snn.steps, generator)

        with surrogate_slope(snn, slope):
            return [snn.class_counts(snn.simulate(inputs(), padded_length=padded_length).output_spikes) / snn.steps
                    for _ in range(1 if self.expected_input else draws)]

    def first_order_changes(self, ids: torch.Tensor, gradient: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """Predicted loss change of each candidate text's ids [M, L] against the text ``ids`` [L] with loss gradient
        ``gradient`` [L, D]: the sum over changed positions of gradient . (new vector - old vector)."""
        delta = self.table[candidates] - self.table[ids].unsqueeze(0)  # [M, L, D], zero where ids agree
        return (delta * gradient.unsqueeze(0)).sum((-1, -2))


def white_box(model: nn.Module, prepared, expected_input: bool = False) -> WhiteBox | None:
    """White-box access to one of this package's networks built over ``prepared`` (its vocabulary's input vectors,
    trainable and frozen; ``expected_input``: an SNN's rate surrogate); None for any other model."""
    if not isinstance(model, (TextCNN, TailoredTextCNN, SpikingTextCNN)):
        return None
    embedding = model.embedding
    with torch.no_grad():
        table = torch.cat([embedding.weight.detach(), embedding.frozen]) if embedding.frozen.numel() \
            else embedding.weight.detach().clone()
    table = table.cpu()  # candidates are ranked on the CPU, beside the gradients loss_gradients returns
    return WhiteBox(model, prepared.encode, prepared.tokens, table, ["<pad>", "<unk>", *prepared.vocab.words],
                    expected_input)
