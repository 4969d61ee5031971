"""Energy estimates in the layout of Lv et al.'s Table 5.

ANN energy = FLOPs x E_MAC. SNN energy = SOPs x E_AC, where a layer's synaptic operations are
SOPs = T x (firing rate of the layer's input) x (the layer's FLOPs): each input spike costs one accumulate per
synapse it reaches. "FLOPs" here counts multiply-accumulates, as the paper's formula does. The energies per
operation are 45 nm figures (Horowitz 2014) and can be overridden; every printed figure names the ones used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from robustbench_snn.models.spiking import SpikingTextCNN
from robustbench_snn.models.textcnn import FEATURE_MAPS, POPULATION, WIDTHS

E_MAC_PJ = 4.6  # one 32-bit float multiply-accumulate (Horowitz 2014, 45 nm)
E_AC_PJ = 0.9  # one 32-bit float accumulate


@dataclass(frozen=True)
class LayerEnergy:
    """One layer, per classified example."""

    layer: str
    flops: int  # multiply-accumulates of the ANN layer
    input_rate: float  # mean spikes per input per time step in the SNN
    sops: float  # synaptic operations of the SNN layer over all time steps
    ann_pj: float
    snn_pj: float


def layer_flops(length: int, dim: int, num_classes: int) -> list[tuple[str, int]]:
    """Multiply-accumulates per example of each weighted layer of a (tailored) TextCNN."""
    convs = [(f"conv{k}", (length - k + 1) * FEATURE_MAPS * k * dim) for k in WIDTHS]
    return convs + [("fc", FEATURE_MAPS * len(WIDTHS) * num_classes * POPULATION)]


@torch.no_grad()
def firing_rates(snn: SpikingTextCNN, ids: torch.Tensor, batch_size: int = 256) -> tuple[float, float]:
    """(input rate of the convolutions, input rate of the linear layer) measured over ``ids``."""
    input_sum = hidden_sum = 0.0
    for start in range(0, len(ids), batch_size):
        batch = ids[start:start + batch_size]
        trace = snn.simulate(snn.input_spikes(batch))
        input_sum += trace.input_rate * len(batch)  # equal shapes per example: weighting by count is exact
        hidden_sum += trace.hidden_rate * len(batch)
    return input_sum / len(ids), hidden_sum / len(ids)


def estimate(flops: list[tuple[str, int]], steps: int, conv_rate: float, fc_rate: float,
             e_mac_pj: float = E_MAC_PJ, e_ac_pj: float = E_AC_PJ) -> list[LayerEnergy]:
    """Per-layer ANN and SNN energy per example from FLOPs, time steps and measured input rates."""
    layers = []
    for name, count in flops:
        rate = fc_rate if name == "fc" else conv_rate
        sops = steps * rate * count
        layers.append(LayerEnergy(name, count, rate, sops, count * e_mac_pj, sops * e_ac_pj))
    return layers


def summary(layers: list[LayerEnergy]) -> dict:
    """Totals and the reduction factor (ANN energy / SNN energy)."""
    ann, snn = sum(x.ann_pj for x in layers), sum(x.snn_pj for x in layers)
    return {"flops": sum(x.flops for x in layers), "sops": sum(x.sops for x in layers), "ann_pj": ann,
            "snn_pj": snn, "reduction": ann / snn if snn else float("inf"), "layers": [asdict(x) for x in layers]}
