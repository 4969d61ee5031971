"""The spiking TextCNN: rate-coded inputs, snntorch leaky integrate-and-fire neurons, spike-count readout.

Tensors over time are [T, N, ...]. :meth:`SpikingTextCNN.simulate` is the fast multi-step form: the stateless
layers (convolutions, pooling, the linear layer) run once over all T x N inputs and only the neuron update
is sequential. :meth:`SpikingTextCNN.simulate_stepwise` is the plain per-step snntorch loop it must equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import snntorch
import torch
from snntorch import surrogate
from torch import nn

from robustbench_snn.paper import POPULATION
from robustbench_snn.models.textcnn import FEATURE_MAPS, WIDTHS, TailoredTextCNN, WordEmbedding, occupied_length

# values [N, L, D] in [0, 1], token ids [N, L], steps -> spikes [T, N, L, D]
SpikeEncoder = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


class ExpectedInput:
    """No sampling: every step's input is the spike probabilities themselves. The SNN then becomes its own
    deterministic rate surrogate (the source model of a transfer attack)."""

    def __call__(self, values: torch.Tensor, ids: torch.Tensor, steps: int) -> torch.Tensor:
        return values.expand(steps, *values.shape)


class FreshBernoulli:
    """Rate coding with new random numbers on every call: a value p spikes with probability p per step
    (Bernoulli, the discrete-time Poisson encoding). ``generator`` makes a sequence of calls reproducible; its
    numbers are drawn on its own device (the CPU for this package's generators) and moved to the values', so a
    GPU simulation gets the same spike trains as the CPU's."""

    def __init__(self, generator: torch.Generator | None = None):
        self.generator = generator

    def __call__(self, values: torch.Tensor, ids: torch.Tensor, steps: int) -> torch.Tensor:
        where = self.generator.device if self.generator is not None else values.device
        noise = torch.rand((steps, *values.shape), generator=self.generator, dtype=values.dtype, device=where)
        return (noise.to(values.device) < values).to(values.dtype)


def _mix32(x: np.ndarray) -> np.ndarray:
    """A 32-bit integer hash (Mueller's ``hash32``) on uint32 arrays; numpy's uint32 arithmetic wraps
    modulo 2**32 by definition, so every platform computes the same bits."""
    x = ((x >> np.uint32(16)) ^ x) * np.uint32(0x45D9F3B)
    x = ((x >> np.uint32(16)) ^ x) * np.uint32(0x45D9F3B)
    return (x >> np.uint32(16)) ^ x


class SeededBernoulli:
    """Rate coding whose random numbers are a counter-based hash of (seed, token id, position, step, dim).

    Deterministic: the same ids always give the same spikes, and changing one token changes only the spikes
    at its position. This is the ``seeded`` sampling protocol of the attack harness.
    """

    keyed_by_position = True  # a column's spikes depend on its token and position only: columns can be drawn apart

    def __init__(self, seed: int):
        self.seed = seed

    def uniforms(self, ids: torch.Tensor, steps: int, dim: int, positions: torch.Tensor | None = None) -> torch.Tensor:
        """U[0, 1) numbers [T, N, L, D] with 24-bit resolution (exact in float32). ``positions`` [N, L]
        (default: 0..L-1 in every row) gives a slice of a text the numbers it has inside the whole text."""
        seed = _mix32(np.array([self.seed & 0xFFFFFFFF], dtype=np.uint32))
        where = np.arange(ids.shape[-1], dtype=np.uint32) if positions is None else positions.numpy().astype(np.uint32)
        key = _mix32(_mix32(seed ^ ids.numpy().astype(np.uint32)) ^ where)  # [N, L]
        counter = _mix32(np.arange(steps * dim, dtype=np.uint32) + np.uint32(0x9E3779B9)).reshape(steps, 1, 1, dim)
        bits = _mix32(key[None, :, :, None] ^ counter) >> np.uint32(8)
        return torch.from_numpy(bits.astype(np.float32)) * (1.0 / (1 << 24))

    def __call__(self, values: torch.Tensor, ids: torch.Tensor, steps: int) -> torch.Tensor:
        return (self.uniforms(ids.cpu(), steps, values.shape[-1]).to(values.device) < values).to(values.dtype)


@dataclass(frozen=True)
class LayerActivity:
    """Spiking activity of one layer over a batch: mean spikes per neuron per step, the share of neurons that
    spiked at least once in the T steps ("active"), and the counts they are means over (to combine batches)."""

    rate: float
    active: float
    neurons: int  # per example
    examples: int

    @classmethod
    def of(cls, spikes: torch.Tensor) -> LayerActivity:
        """From spikes [T, N, ...]."""
        steps, n = spikes.shape[:2]
        flat = spikes.detach().reshape(steps, n, -1)
        return cls(float(flat.mean()), float(flat.amax(0).mean()), flat.shape[-1], n)


def layers_together(parts: list[LayerActivity]) -> LayerActivity:
    """Several layers of the same examples as one (e.g. the three convolution widths)."""
    neurons = sum(p.neurons for p in parts)
    return LayerActivity(sum(p.rate * p.neurons for p in parts) / neurons,
                         sum(p.active * p.neurons for p in parts) / neurons, neurons, parts[0].examples)


def batches_together(parts: list[LayerActivity]) -> LayerActivity:
    """One layer over several batches of examples."""
    examples = sum(p.examples for p in parts)
    return LayerActivity(sum(p.rate * p.examples for p in parts) / examples,
                         sum(p.active * p.examples for p in parts) / examples, parts[0].neurons, examples)


@dataclass
class Trace:
    """One simulation: output spikes and, per layer, the activity energy estimates and the figures need."""

    output_spikes: torch.Tensor  # [T, N, C * population]
    # input, conv3/4/5, pool3/4/5 (with pool neurons; without: fc_input, the non-zero pooled rates), output
    activity: dict[str, LayerActivity]

    @property
    def input_rate(self) -> float:
        """Mean spike probability entering the convolutions."""
        return self.activity["input"].rate

    @property
    def hidden_rate(self) -> float:
        """Mean firing rate of the convolution neurons."""
        return layers_together([self.activity[f"conv{k}"] for k in WIDTHS]).rate


def leaky(threshold: float, beta: float, slope: float) -> snntorch.Leaky:
    """The paper's neuron: LIF with reset by subtraction and a fast-sigmoid surrogate gradient."""
    neuron = snntorch.Leaky(beta=beta, threshold=threshold, reset_mechanism="subtract",
                            spike_grad=surrogate.fast_sigmoid(slope=slope))
    neuron.slope = slope  # the surrogate's slope, for the fused layer (snntorch keeps it inside a closure)
    return neuron


def _scan(current: torch.Tensor, beta: float, threshold: float, out: torch.Tensor,
          shifted: torch.Tensor | None = None) -> torch.Tensor:
    """The LIF update over T steps, in place, with snntorch 1.0's float operations in its order:
    ``mem = (beta * mem + current) - reset * threshold``, ``reset`` = the previous step's spike, spikes where
    ``mem - threshold > 0``. Writes spikes into ``out`` (which may be ``current``: step t is read before it is
    written) and, when given, ``mem - threshold`` per step into ``shifted`` (what the surrogate needs)."""
    mem = torch.zeros_like(current[0])
    for t in range(current.shape[0]):
        if beta != 1.0:
            mem.mul_(beta)
        mem.add_(current[t])
        if t:  # no reset before the first step (subtracting 0 * threshold leaves every float as it is)
            mem.sub_(out[t - 1], alpha=threshold)
        if shifted is not None:
            torch.sub(mem, threshold, out=shifted[t])
        torch.gt(mem, threshold, out=out[t])
    return out


class FusedLIF(torch.autograd.Function):
    """A LIF layer's whole T-step scan as one autograd node: currents [T, N, F] -> spikes [T, N, F].

    The forward is :func:`_scan` (no per-step nodes) and keeps only the surrogate's denominator per step. The
    backward is one reverse scan of snntorch's per-step BPTT: the membrane's gradient is the spike's gradient
    through the fast sigmoid, ``grad / (slope * |mem - threshold| + 1) ** 2`` (snntorch's ``FastSigmoid``), plus
    ``beta`` times the next step's membrane gradient; the reset term carries none (snntorch detaches it). The
    same float operations in the same order as autograd's, so gradients equal the per-step loop's (tested)."""

    @staticmethod
    def forward(ctx, current, beta: float, threshold: float, slope: float):
        shifted = torch.empty_like(current)
        spikes = _scan(current.detach(), beta, threshold, torch.empty_like(current), shifted)
        ctx.save_for_backward((slope * shifted.abs_() + 1.0) ** 2)
        ctx.beta = beta
        return spikes

    @staticmethod
    def backward(ctx, grad_spikes):
        (denominator,) = ctx.saved_tensors
        grad = grad_spikes / denominator  # each step's own term, then the scan adds the later steps' in place
        # g_t = local_t + beta * g_{t+1}, summed in float32 in autograd's order (torch.cumsum accumulates in
        # double on the CPU and would differ in the last bits)
        for t in range(grad.shape[0] - 2, -1, -1):
            if ctx.beta == 1.0:
                grad[t].add_(grad[t + 1])
            else:
                grad[t].add_(grad[t + 1] * ctx.beta)  # rounded product, then the sum: no fused multiply-add
        return grad, None, None, None


def run_neurons_stepwise(neuron: snntorch.Leaky, current: torch.Tensor) -> torch.Tensor:
    """Reference: the snntorch neuron called step by step under autograd (what :class:`FusedLIF` must equal)."""
    mem = torch.zeros_like(current[0])
    spikes = []
    for step in current:
        spike, mem = neuron(step, mem)
        spikes.append(spike)
    return torch.stack(spikes)


def run_neurons(neuron: snntorch.Leaky, current: torch.Tensor, overwrite: bool = False) -> torch.Tensor:
    """Feed currents [T, N, F] through a neuron layer from rest; returns spikes [T, N, F].

    Both paths run snntorch 1.0's ``Leaky`` update with its float operations in its order (see :func:`_scan`),
    so spikes are identical to a plain per-step snntorch loop (tested), with a third of the tensor operations
    and no per-step allocation. With gradients on, the layer is one :class:`FusedLIF` node whose backward
    equals snntorch's per-step BPTT. Without, ``overwrite`` writes the spikes into ``current`` (saving a
    T x N x F buffer); spikes are floats throughout because bool-to-float conversions cost more than the update.
    """
    beta = float(neuron.beta.clamp(0, 1))
    threshold = float(neuron.threshold)
    if torch.is_grad_enabled() and current.requires_grad:
        return FusedLIF.apply(current, beta, threshold, neuron.slope)
    return _scan(current, beta, threshold, current if overwrite else torch.empty_like(current))


class SpikingTextCNN(nn.Module):
    """Token ids [N, L] -> spike counts per class [N, C]. Owns its time loop; every call starts from rest.

    Layers: rate-coded inputs -> per width a convolution and a LIF layer -> average pooling over positions ->
    (``pool_neurons``: a LIF layer per width, so the linear layer receives spikes) -> linear -> LIF output
    layer of ``population_size`` neurons per class.

    The model contract (see ``wrappers.Classifier``): it is ``stochastic``, and every call takes the spike
    encoder to draw its inputs with, which the sampling protocol owns; ``encoder`` set here is the default
    (training's, whose generator state is part of the training progress)."""

    stochastic = True

    def __init__(self, embedding: WordEmbedding, num_classes: int, steps: int = 50, beta: float = 1.0,
                 threshold: float = 1.0, slope: float = 25.0, encoder: SpikeEncoder | None = None,
                 population_size: int = POPULATION, pool_neurons: bool = True):
        super().__init__()
        self.embedding = embedding
        self.embedding.weight.requires_grad_(False)  # inputs are frozen for the SNN
        self.num_classes = num_classes
        self.population_size = population_size
        self.pool_neurons = pool_neurons
        self.steps = steps
        self.convs = nn.ModuleList(nn.Conv1d(embedding.dim, FEATURE_MAPS, k, bias=False) for k in WIDTHS)
        self.fc = nn.Linear(FEATURE_MAPS * len(WIDTHS), num_classes * population_size, bias=False)
        self.slope = slope
        self.set_neurons(threshold, beta)
        self.encoder: SpikeEncoder = encoder or FreshBernoulli()

    def set_neurons(self, threshold: float, beta: float) -> None:
        """(Re)build every neuron layer with this threshold and decay: at construction, and to evaluate a trained
        SNN at other values (its weights are untouched)."""
        self.threshold, self.beta = threshold, beta
        self.lif1 = leaky(threshold, beta, self.slope)
        self.lif2 = leaky(threshold, beta, self.slope)
        # one layer per width (the authors' code shares one module across widths, which mixes their states)
        self.pool_lifs = nn.ModuleList(leaky(threshold, beta, self.slope) for _ in WIDTHS) if self.pool_neurons \
            else nn.ModuleList()

    @classmethod
    def from_tailored(cls, ann: TailoredTextCNN, **kwargs) -> SpikingTextCNN:
        """Same weights as a tailored ANN (validate it first: see ``convert``)."""
        snn = cls(WordEmbedding(ann.embedding.weight.detach(), ann.embedding.frozen, unit_range=True),
                  ann.num_classes, population_size=ann.population_size, **kwargs)
        snn.load_state_dict({k: v for k, v in ann.state_dict().items() if not k.startswith("embedding.")},
                            strict=False)
        return snn.to(ann.embedding.weight.device)  # where its source lives (conversion then runs there)

    def input_spikes(self, ids: torch.Tensor, encoder: SpikeEncoder | None = None) -> torch.Tensor:
        """Rate-coded inputs [T, N, L, D], drawn by ``encoder`` (default: the model's own)."""
        with torch.no_grad():
            values = self.embedding(ids)
        return (encoder or self.encoder)(values, ids, self.steps)

    def fc_input(self, pooled: list[torch.Tensor]) -> torch.Tensor:
        """Per width, pooled rates [T, N, maps] -> the linear layer's input [T, N, widths x maps]: the spikes of
        the pool neurons, or the rates themselves without them. The widths' pool layers, alike by construction,
        run as one update over the concatenation (it is elementwise: the same floats, a third of the calls)."""
        rates = torch.cat(pooled, -1)
        if not self.pool_neurons:
            return rates
        if len({(float(lif.beta), float(lif.threshold)) for lif in self.pool_lifs}) > 1:
            return torch.cat([run_neurons(lif, x) for lif, x in zip(self.pool_lifs, pooled)], -1)
        return run_neurons(self.pool_lifs[0], rates, overwrite=not torch.is_grad_enabled())

    def simulate(self, spikes: torch.Tensor, measure: bool = False, padded_length: int | None = None) -> Trace:
        """Multi-step simulation of input spikes [T, N, L, D]; ``measure``: record every layer's activity
        (energy, firing-rate figures), which inference and training skip. ``padded_length``: the spikes are the
        first L columns of texts padded to this length (see ``textcnn.occupied_length``); the windows beyond get
        no current and never fire, so they are not simulated, and pooling still averages over every window."""
        steps, n, occupied, dim = spikes.shape
        length = padded_length or occupied
        x = spikes.reshape(steps * n, occupied, dim).transpose(1, 2)
        # One neuron layer per width, updated in place in its convolution's output: no concatenated copy, and
        # each [T, N, maps x positions] block pools without another (13% faster at batch 32 than one layer).
        hidden = [run_neurons(self.lif1, conv(x).reshape(steps, n, -1), overwrite=True) for conv in self.convs]
        # a mean over every window: spike counts are exact integers in any order, and torch's mean is sum / count
        fc_input = self.fc_input([h.view(steps, n, FEATURE_MAPS, -1).sum(-1) / (length - k + 1)
                                  for h, k in zip(hidden, WIDTHS)])
        output = run_neurons(self.lif2, self.fc(fc_input), overwrite=True)
        if not measure:
            return Trace(output, {})
        layers = [("input", spikes), *((f"conv{k}", h) for k, h in zip(WIDTHS, hidden))]
        # without pool neurons the linear layer gets rates: what it does per step depends on the non-zero ones
        layers += [(f"pool{k}", p) for k, p in zip(WIDTHS, fc_input.split(FEATURE_MAPS, -1))] if self.pool_neurons \
            else [("fc_input", (fc_input > 0).to(output.dtype))]
        return Trace(output, {name: LayerActivity.of(x) for name, x in [*layers, ("output", output)]})

    def simulate_stepwise(self, spikes: torch.Tensor) -> Trace:
        """Reference: a plain snntorch loop, one time step at a time through every layer."""
        mem1 = mem2 = None
        mem_pool = [None] * len(WIDTHS)
        outputs, hidden_steps, pool_steps = [], [], []
        for step in spikes:
            x = step.transpose(1, 2)
            maps = [conv(x) for conv in self.convs]
            current = torch.cat([m.reshape(m.shape[0], -1) for m in maps], dim=-1)
            hidden, mem1 = self.lif1(current, torch.zeros_like(current) if mem1 is None else mem1)
            hidden_steps.append(hidden.split([m[0].numel() for m in maps], -1))
            pooled = [s.reshape(s.shape[0], FEATURE_MAPS, -1).mean(-1) for s in hidden_steps[-1]]
            if self.pool_neurons:
                for i, (lif, p) in enumerate(zip(self.pool_lifs, pooled)):
                    pooled[i], mem_pool[i] = lif(p, torch.zeros_like(p) if mem_pool[i] is None else mem_pool[i])
            pool_steps.append(pooled)
            current2 = self.fc(torch.cat(pooled, -1))
            out, mem2 = self.lif2(current2, torch.zeros_like(current2) if mem2 is None else mem2)
            outputs.append(out)
        output = torch.stack(outputs)
        activity = {"input": LayerActivity.of(spikes)}
        activity |= {f"conv{k}": LayerActivity.of(torch.stack([h[i] for h in hidden_steps]))
                     for i, k in enumerate(WIDTHS)}
        if self.pool_neurons:
            activity |= {f"pool{k}": LayerActivity.of(torch.stack([p[i] for p in pool_steps]))
                         for i, k in enumerate(WIDTHS)}
        else:
            activity["fc_input"] = LayerActivity.of(torch.stack([(torch.cat(p, -1) > 0).float() for p in pool_steps]))
        activity["output"] = LayerActivity.of(output)
        return Trace(output, activity)

    def class_counts(self, output_spikes: torch.Tensor) -> torch.Tensor:
        """Spike counts per class group, [N, C]."""
        steps, n, _ = output_spikes.shape
        return output_spikes.sum(0).view(n, self.num_classes, self.population_size).sum(-1)

    def run(self, ids: torch.Tensor, encoder: SpikeEncoder | None = None) -> Trace:
        """Simulate texts ``ids`` [N, L], drawing spikes (by ``encoder``, default: the model's own) for the occupied
        columns only (``textcnn.occupied_length``): a padding column is a zero vector, which never spikes under any
        encoder, so the draws skipped are the ones that could only give zeros."""
        occupied = occupied_length(ids)
        return self.simulate(self.input_spikes(ids[:, :occupied], encoder), padded_length=ids.shape[1])

    def forward(self, ids: torch.Tensor, encoder: SpikeEncoder | None = None) -> torch.Tensor:
        return self.class_counts(self.run(ids, encoder).output_spikes)
