"""Energy arithmetic (Table 5): worked values for FLOPs, synaptic operations and energies."""

from __future__ import annotations

import pytest
import torch

from robustbench_snn.energy import E_AC_PJ, E_MAC_PJ, estimate, firing_rates, layer_flops, summary
from robustbench_snn.models.spiking import FreshBernoulli, SpikingTextCNN
from robustbench_snn.models.textcnn import WordEmbedding


def test_layer_flops_worked_values() -> None:
    # SST-2 shapes: length 25, 50-d vectors, 2 classes x 10 population neurons.
    assert layer_flops(25, 50, 2) == [("conv3", 23 * 100 * 3 * 50), ("conv4", 22 * 100 * 4 * 50),
                                      ("conv5", 21 * 100 * 5 * 50), ("fc", 300 * 20)]


def test_energy_worked_values() -> None:
    layers = estimate([("conv3", 1000), ("fc", 100)], steps=10, conv_rate=0.5, fc_rate=0.25)
    assert [(x.sops, x.ann_pj, x.snn_pj) for x in layers] == [
        (5000, 1000 * E_MAC_PJ, 5000 * E_AC_PJ), (250, 100 * E_MAC_PJ, 250 * E_AC_PJ)]
    total = summary(layers)
    assert total["flops"] == 1100 and total["sops"] == 5250
    assert total["reduction"] == pytest.approx(1100 * 4.6 / (5250 * 0.9))
    custom = summary(estimate([("fc", 100)], steps=2, conv_rate=0, fc_rate=1.0, e_mac_pj=1.0, e_ac_pj=0.5))
    assert (custom["ann_pj"], custom["snn_pj"], custom["reduction"]) == (100.0, 100.0, 1.0)


def test_firing_rates_are_measured_from_the_simulation() -> None:
    # Vectors of ones spike on every step; padding (id 0) never does: 3 of 6 positions fire -> rate 0.5.
    weight = torch.ones(5, 8)
    weight[0] = 0.0
    snn = SpikingTextCNN(WordEmbedding(weight, None, unit_range=True), 2, steps=5,
                         encoder=FreshBernoulli(torch.Generator().manual_seed(0)))
    ids = torch.tensor([[1, 2, 3, 0, 0, 0], [4, 4, 1, 0, 0, 0], [2, 3, 4, 0, 0, 0]] * 3)
    conv_rate, fc_rate = firing_rates(snn, ids, batch_size=4)
    assert conv_rate == pytest.approx(0.5)
    assert 0.0 <= fc_rate <= 1.0
