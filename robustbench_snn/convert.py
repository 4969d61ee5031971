"""ANN -> SNN conversion as named stages: validate -> transfer weights -> normalize -> spiking model.

Normalizations (Diehl et al. 2015, "Fast-classifying, high-accuracy spiking deep networks through weight and
threshold balancing"):
- ``none``: weights as trained.
- ``mn`` (model-based): each layer divided by its largest possible input, the maximum over its neurons of the
  sum of positive incoming weights (inputs are spikes, at most 1), so no neuron needs more than one spike per
  step (Diehl's definition: the positive-input sum, not the largest single weight).
- ``dn`` (data-based): layer l multiplied by lambda_{l-1} / lambda_l, lambda_l being the largest ReLU
  activation of layer l measured on training data (lambda_0 = 1: inputs are in [0, 1]). The paper's authors
  hard-coded these divisors; here they are computed and returned for the record. ``percentile`` below 100 takes
  lambda_l at that percentile over training sentences of each sentence's largest activation instead, robust to
  outlier sentences (Rueckauer et al. 2017 take a percentile over all activations; per sentence is what a
  sentence-level outlier needs, see the README's "Data-based normalization and outlier sentences").
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from robustbench_snn.errors import UserError
from robustbench_snn.models import evaluation_mode
from robustbench_snn.models.spiking import SpikingTextCNN
from robustbench_snn.models.textcnn import TailoredTextCNN

NORMALIZATIONS = ("none", "mn", "dn")


def validate(ann: nn.Module, sample_ids: torch.Tensor | None = None) -> None:
    """Refuse what rate-coded LIF neurons cannot express: max-pooling, biases, inputs outside [0, 1]."""
    if not isinstance(ann, TailoredTextCNN):
        raise UserError(f"cannot convert {type(ann).__name__}: only the tailored TextCNN (average pooling, no "
                        "biases, inputs in [0, 1]) converts; train `--model tailored` first")
    biased = [name for name, module in ann.named_modules()
              if isinstance(module, (nn.Conv1d, nn.Linear)) and module.bias is not None]
    if biased:
        raise UserError(f"cannot convert: layers {', '.join(biased)} have biases; a spiking neuron has no bias "
                        "input (use the tailored TextCNN)")
    if any(isinstance(module, (nn.MaxPool1d, nn.AdaptiveMaxPool1d)) for module in ann.modules()):
        raise UserError("cannot convert: max-pooling has no rate-coded equivalent; use average pooling")
    with torch.no_grad():
        values = ann.embedding.weight if sample_ids is None else ann.embedding(sample_ids)
    low, high = float(values.detach().min()), float(values.detach().max())
    if low < 0.0 or high > 1.0:
        raise UserError(f"cannot convert: input values span [{low:.3g}, {high:.3g}] but spike probabilities "
                        "must lie in [0, 1]; use shifted embeddings")


@torch.no_grad()
def sentence_maxima(ann: TailoredTextCNN, batches: Iterable[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sentence's largest ReLU activation of the convolution layer and of the output layer, over ``batches``
    of ids: what data-based normalization's lambdas are taken from."""
    conv, out = [], []
    with evaluation_mode(ann):
        for ids in batches:
            conv.append(torch.stack([f.flatten(1).amax(1) for f in ann.features(ids)]).amax(0))
            out.append(ann.population(ids).flatten(1).amax(1))
    if not conv:
        raise ValueError("data-based normalization needs at least one batch of training sentences")
    return torch.cat(conv), torch.cat(out)


def data_scales(ann: TailoredTextCNN, batches: Iterable[torch.Tensor], percentile: float = 100.0
                ) -> tuple[float, float]:
    """Largest ReLU activation of the convolution layer and of the output layer over ``batches`` of ids; with
    ``percentile`` below 100, that percentile over sentences of each sentence's largest activation."""
    maxima = sentence_maxima(ann, batches)
    if percentile == 100.0:  # the maximum itself (a quantile interpolates in float64 and could round it)
        return tuple(float(x.max()) for x in maxima)
    return tuple(float(torch.quantile(x.double(), percentile / 100)) for x in maxima)


@torch.no_grad()
def normalize(snn: SpikingTextCNN, method: str, scales: tuple[float, float] | None = None) -> dict[str, float]:
    """Rescale the SNN's weights in place; returns the factors each layer's weights were divided by."""
    if method == "none":
        return {"conv": 1.0, "fc": 1.0}
    if method == "mn":
        conv_div = max(float(conv.weight.clamp(min=0).sum(dim=(1, 2)).max()) for conv in snn.convs)
        fc_div = float(snn.fc.weight.clamp(min=0).sum(dim=1).max())
    elif method == "dn":
        if scales is None:
            raise ValueError("data-based normalization needs activation scales from training data")
        conv_div, fc_div = scales[0], scales[1] / scales[0]
    else:
        raise UserError(f"unknown normalization {method!r}; valid: {', '.join(NORMALIZATIONS)}")
    for conv in snn.convs:
        conv.weight.div_(conv_div)
    snn.fc.weight.div_(fc_div)
    return {"conv": conv_div, "fc": fc_div}


def convert(ann: TailoredTextCNN, method: str = "none", scale_batches: Iterable[torch.Tensor] | None = None,
            dn_percentile: float = 100.0, **snn_kwargs) -> tuple[SpikingTextCNN, dict[str, float]]:
    """All stages: validate, copy weights into a spiking model, normalize. Returns the SNN and its factors."""
    validate(ann)
    snn = SpikingTextCNN.from_tailored(ann, **snn_kwargs)
    scales = data_scales(ann, scale_batches, dn_percentile) if method == "dn" and scale_batches is not None else None
    return snn, normalize(snn, method, scales)
