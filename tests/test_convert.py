"""Conversion stages: refusals with clear messages, and the normalization factors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustbench_snn.convert import convert, data_scales, normalize, validate
from robustbench_snn.errors import UserError
from robustbench_snn.models.spiking import SpikingTextCNN
from robustbench_snn.models.textcnn import TailoredTextCNN, TextCNN, WordEmbedding


def _tailored() -> TailoredTextCNN:
    torch.manual_seed(0)
    return TailoredTextCNN(WordEmbedding(torch.rand(40, 6)), 2).eval()


def test_validate_refuses_what_spiking_neurons_cannot_express() -> None:
    with pytest.raises(UserError, match="only the tailored TextCNN .* converts"):
        validate(TextCNN(WordEmbedding(torch.rand(40, 6)), 2))
    biased = _tailored()
    biased.fc = nn.Linear(300, 20, bias=True)
    with pytest.raises(UserError, match="layers fc have biases"):
        validate(biased)
    pooled = _tailored()
    pooled.pool = nn.MaxPool1d(2)
    with pytest.raises(UserError, match="max-pooling has no rate-coded equivalent"):
        validate(pooled)
    outside = TailoredTextCNN(WordEmbedding(torch.rand(40, 6) * 2 - 0.5), 2)
    with pytest.raises(UserError, match=r"input values span \[-0\.\d+, 1\.\d+\] .* must lie in \[0, 1\]"):
        validate(outside)
    validate(_tailored())  # the tailored model passes


def test_model_based_normalization_divides_by_largest_positive_input() -> None:
    snn = SpikingTextCNN.from_tailored(_tailored())
    with torch.no_grad():
        for conv in snn.convs:
            conv.weight.fill_(-0.01)
        snn.convs[1].weight[7, 0, 0] = 0.5
        snn.convs[1].weight[7, 1, 2] = 0.25
        snn.fc.weight.fill_(0.0)
        snn.fc.weight[3, :4] = torch.tensor([1.0, 2.0, -5.0, 3.0])
    factors = normalize(snn, "mn")
    assert factors == pytest.approx({"conv": 0.75, "fc": 6.0})
    assert float(snn.convs[1].weight[7, 0, 0]) == pytest.approx(0.5 / 0.75)
    assert float(snn.fc.weight[3, 3]) == pytest.approx(0.5)


def test_data_based_normalization_brings_max_activations_to_one() -> None:
    ann = _tailored()
    batches = [torch.randint(0, 40, (32, 10)) for _ in range(3)]
    conv_max, out_max = data_scales(ann, batches)
    assert conv_max > 0 and out_max > 0
    snn, factors = convert(ann, "dn", batches)
    assert factors == pytest.approx({"conv": conv_max, "fc": out_max / conv_max})
    # The ANN with the normalized weights has its largest activations at exactly 1 on the same data.
    rescaled = _tailored()
    rescaled.load_state_dict({k: v for k, v in snn.state_dict().items() if not k.startswith(("lif", "embedding"))},
                             strict=False)
    assert data_scales(rescaled, batches) == pytest.approx((1.0, 1.0))


def test_data_based_normalization_at_a_percentile_takes_it_over_sentence_maxima() -> None:
    ann = _tailored()
    batches = [torch.randint(0, 40, (32, 10)) for _ in range(3)]
    with torch.no_grad():
        conv = torch.cat([torch.stack([f.flatten(1).amax(1) for f in ann.features(b)]).amax(0) for b in batches])
        out = torch.cat([ann.population(b).flatten(1).amax(1) for b in batches])
    assert data_scales(ann, batches, 100.0) == data_scales(ann, batches) == (float(conv.max()), float(out.max()))
    assert data_scales(ann, batches, 50.0) == pytest.approx((float(conv.double().quantile(0.5)),
                                                             float(out.double().quantile(0.5))))
    assert data_scales(ann, batches, 50.0)[0] < data_scales(ann, batches)[0]
    snn, factors = convert(ann, "dn", batches, dn_percentile=50.0)
    assert factors["conv"] == pytest.approx(float(conv.double().quantile(0.5)))


def test_unknown_normalization_lists_valid_ones() -> None:
    with pytest.raises(UserError, match="valid: none, mn, dn"):
        normalize(SpikingTextCNN.from_tailored(_tailored()), "minmax")
