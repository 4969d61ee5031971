"""Energy estimates in the layout of Lv et al.'s Table 5, under named conventions.

Operations are counted per classified example, layer by layer, from what each layer really receives:

- the ANN (tailored TextCNN): every weighted layer's multiply-accumulates ("FLOPs" in the paper's formula);
- the SNN: a layer whose inputs are spikes does one accumulate per input spike per synapse it reaches,
  SOPs = T x (mean input spikes per step) x (the layer's FLOPs); a layer whose inputs are not spikes (the
  linear layer of an SNN without pool neurons receives pooled spike *rates*) does a multiply-accumulate per
  non-zero input per synapse, T x (share of non-zero inputs) x FLOPs, priced as MACs.

Energy = operations x energy per operation, under a convention (:data:`CONVENTIONS`); neuron state updates
(T x neurons) are counted beside, not priced. Because SNN energy grows linearly with T at fixed firing rates,
the break-even T, where the SNN costs what the ANN does, is T x (ANN energy / SNN energy).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from robustbench_snn.models.spiking import LayerActivity, SpikingTextCNN, batches_together, layers_together
from robustbench_snn.models.textcnn import FEATURE_MAPS, WIDTHS
from robustbench_snn.runtime import module_device


@dataclass(frozen=True)
class Convention:
    """Energies per operation (pJ) and where they come from."""

    name: str
    e_mac_pj: float  # one multiply-accumulate (a "FLOP" of the paper's formula)
    e_ac_pj: float  # one accumulate (a synaptic operation)
    source: str


CONVENTIONS = {
    "45nm": Convention("45nm", 4.6, 0.9, "Horowitz 2014: 32-bit float multiply-add / add, 45 nm CMOS"),
    "neuromorphic": Convention("neuromorphic", 12.5, 0.077, "per FLOP / per SOP energies that Lv et al. cite "
                               "(Indiveri et al. 2015; Hu et al. 2018): 12.5 pJ / 77 fJ"),
}


def convention(name: str, e_mac_pj: float | None = None, e_ac_pj: float | None = None) -> Convention:
    """A named convention, or ``custom`` with both energies given."""
    from robustbench_snn.errors import UserError, unknown_name

    if name == "custom":
        if e_mac_pj is None or e_ac_pj is None or e_mac_pj <= 0 or e_ac_pj <= 0:
            raise UserError(f"the custom convention needs positive --e-mac and --e-ac (got {e_mac_pj}, {e_ac_pj})")
        return Convention("custom", e_mac_pj, e_ac_pj, "given on the command line")
    if name not in CONVENTIONS:
        raise unknown_name("energy convention", name, [*CONVENTIONS, "custom"])
    return CONVENTIONS[name]


@dataclass(frozen=True)
class LayerCount:
    """One weighted layer of one example: the ANN's MACs and the SNN's operations on its real inputs."""

    layer: str
    flops: int  # multiply-accumulates of the ANN layer
    input: str  # what the SNN layer receives: "spikes" or "rates" (not spikes)
    input_rate: float  # spikes per input per step, or (rates) the share of non-zero inputs per step
    snn_ops: float  # over all T steps: accumulates (spike inputs) or multiply-accumulates (rate inputs)

    @property
    def snn_acs(self) -> float:
        return self.snn_ops if self.input == "spikes" else 0.0

    @property
    def snn_macs(self) -> float:
        return self.snn_ops if self.input == "rates" else 0.0


def layer_flops(length: int, dim: int, num_classes: int, population: int) -> list[tuple[str, int]]:
    """Multiply-accumulates per example of each weighted layer of a (tailored) TextCNN."""
    convs = [(f"conv{k}", (length - k + 1) * FEATURE_MAPS * k * dim) for k in WIDTHS]
    return convs + [("fc", FEATURE_MAPS * len(WIDTHS) * num_classes * population)]


@torch.no_grad()
def measure_activity(snn: SpikingTextCNN, ids: torch.Tensor, labels: torch.Tensor | None = None,
                     batch_size: int = 256, encoder=None) -> tuple[dict[str, LayerActivity], float | None]:
    """Every layer's firing rate and active-neuron share over ``ids`` (one simulation per batch), plus for an
    SNN without pool neurons the share of non-zero pooled rates entering its linear layer (``fc_input``); and,
    given ``labels``, the accuracy of the same simulations (the draws ``train.accuracy`` would make). Spikes are
    drawn by ``encoder`` (default: the model's own)."""
    per_layer: dict[str, list[LayerActivity]] = {}
    correct, device = 0, module_device(snn)
    for start in range(0, len(ids), batch_size):
        trace = snn.simulate(snn.input_spikes(ids[start:start + batch_size].to(device), encoder), measure=True)
        if labels is not None:
            predicted = snn.class_counts(trace.output_spikes).argmax(-1).cpu()
            correct += int((predicted == labels[start:start + batch_size]).sum())
        for name, layer in trace.activity.items():
            per_layer.setdefault(name, []).append(layer)
    activity = {name: batches_together(parts) for name, parts in per_layer.items()}
    return activity, None if labels is None else correct / len(ids)


def count(flops: list[tuple[str, int]], steps: int, activity: dict[str, LayerActivity],
          pool_neurons: bool) -> list[LayerCount]:
    """Per-layer operations of the ANN and the SNN per example from measured activity."""
    layers = []
    for name, flop in flops:
        if name.startswith("conv"):
            kind, rate = "spikes", activity["input"].rate
        elif pool_neurons:
            kind, rate = "spikes", layers_together([activity[f"pool{k}"] for k in WIDTHS]).rate
        else:  # pooled rates: a row is non-zero at a step when any of its positions spiked (measured as fc_input)
            kind, rate = "rates", activity["fc_input"].rate
        layers.append(LayerCount(name, flop, kind, rate, steps * rate * flop))
    return layers


def neuron_updates(steps: int, activity: dict[str, LayerActivity]) -> int:
    """Membrane updates per example: every spiking neuron, every step (inputs are not neurons)."""
    return steps * sum(layer.neurons for name, layer in activity.items() if name not in ("input", "fc_input"))


def priced(layers: list[LayerCount], steps: int, rule: Convention) -> dict:
    """ANN and SNN energy per example under ``rule``, the reduction (ANN / SNN) and the break-even T; and the
    same with the first layer (the convolutions) priced as the ANN's MACs, as estimates that feed real values
    to the first layer do."""
    ann = sum(x.flops for x in layers) * rule.e_mac_pj
    snn = sum(x.snn_acs * rule.e_ac_pj + x.snn_macs * rule.e_mac_pj for x in layers)
    first = sum(x.flops for x in layers if x.layer.startswith("conv")) * rule.e_mac_pj
    rest = sum(x.snn_acs * rule.e_ac_pj + x.snn_macs * rule.e_mac_pj for x in layers if not x.layer.startswith("conv"))
    return {"convention": asdict(rule), "ann_pj": ann, "snn_pj": snn, "reduction": ann / snn if snn else None,
            "break_even_steps": steps * ann / snn if snn else None,
            "first_layer_mac": {"snn_pj": first + rest, "reduction": ann / (first + rest),
                                "break_even_steps": steps * (ann - first) / rest if rest and ann > first else None}}


def summary(layers: list[LayerCount], steps: int, activity: dict[str, LayerActivity],
            rules: list[Convention]) -> dict:
    """Counts, activity and every convention's energies, as a Table 5 record holds them."""
    return {"flops": sum(x.flops for x in layers), "snn_acs": sum(x.snn_acs for x in layers),
            "snn_macs": sum(x.snn_macs for x in layers), "neuron_updates": neuron_updates(steps, activity),
            "layers": [asdict(x) for x in layers], "activity": {k: asdict(v) for k, v in activity.items()},
            "energy": {rule.name: priced(layers, steps, rule) for rule in rules}}
