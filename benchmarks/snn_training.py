"""One SNN fine-tuning step, the fused LIF layer vs snntorch's per-step loop, at SST-2 shapes (T=50, L=25, D=50,
2 classes x 10 output neurons, pool neurons), on one thread (training's thread count).

A step is what ``train._fit_loop`` does per batch: spikes, forward, the rate loss, backward, AdamW. Both variants
start from the same weights and the same spikes; their losses and every weight gradient are asserted equal
(bit for bit), then each is timed (best of 5). Prints one line per batch size, the seconds one SST-2
fine-tuning epoch (6,920 sentences) would take at batch 32, and the convolutions' share of a step: their forward
and weight gradient on the step's own inputs, which both variants run alike and which therefore bound the
speed-up any neuron layer can give (spikes must stay identical, so the convolutions must stay as they are):

    OMP_NUM_THREADS=1 python benchmarks/snn_training.py
"""

from __future__ import annotations

import copy

import torch

from snn_simulation import CLASSES, LENGTH, best_time, model  # the same SST-2-shaped model and timing

from robustbench_snn.models import spiking
from robustbench_snn.models.spiking import FreshBernoulli, SpikingTextCNN
from robustbench_snn.runtime import keep_freed_memory
from robustbench_snn.train import TRAIN_THREADS, rate_loss

SST2_TRAIN = 6920


def stepwise(neuron, current, overwrite=False):
    """The per-step snntorch loop under autograd (the reference), the fast path without gradients."""
    if torch.is_grad_enabled() and current.requires_grad:
        return spiking.run_neurons_stepwise(neuron, current)
    return fused_run(neuron, current, overwrite)


fused_run = spiking.run_neurons


def step(snn: SpikingTextCNN, optimizer, ids, labels, loss_of, neurons) -> tuple[float, dict]:
    spiking.run_neurons = neurons  # simulate() looks the function up at call time
    try:
        loss = loss_of(snn, ids, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grads = {name: p.grad.clone() for name, p in snn.named_parameters() if p.grad is not None}
        optimizer.step()
    finally:
        spiking.run_neurons = fused_run
    return float(loss), grads


def timed(snn, ids, labels, loss_of, neurons) -> float:
    optimizer = torch.optim.AdamW([p for p in snn.parameters() if p.requires_grad], lr=1e-4)
    return best_time(lambda: step(snn, optimizer, ids, labels, loss_of, neurons))


def convolution_seconds(snn: SpikingTextCNN, ids: torch.Tensor) -> float:
    """Forward and weight gradient of the three convolutions, on input spikes laid out as ``simulate`` does."""
    spikes = snn.input_spikes(ids)
    steps, n, length, dim = spikes.shape
    x = spikes.reshape(steps * n, length, dim).transpose(1, 2)

    def once() -> None:
        for conv in snn.convs:
            out = conv(x)
            torch.autograd.grad(out, conv.weight, torch.ones_like(out))

    return best_time(once)


def main() -> None:
    torch.set_num_threads(TRAIN_THREADS)
    keep_freed_memory()
    loss_of = rate_loss(CLASSES)
    for batch in (32, 256):
        reference = model()
        ids = torch.randint(2, 2000, (batch, LENGTH))
        labels = torch.randint(0, CLASSES, (batch,))
        fused = copy.deepcopy(reference)
        fused.encoder = FreshBernoulli(torch.Generator().manual_seed(1))
        reference.encoder = FreshBernoulli(torch.Generator().manual_seed(1))
        opt_fused = torch.optim.AdamW([p for p in fused.parameters() if p.requires_grad], lr=1e-4)
        opt_ref = torch.optim.AdamW([p for p in reference.parameters() if p.requires_grad], lr=1e-4)
        loss_fused, grads_fused = step(fused, opt_fused, ids, labels, loss_of, fused_run)
        loss_ref, grads_ref = step(reference, opt_ref, ids, labels, loss_of, stepwise)
        assert loss_fused == loss_ref, (loss_fused, loss_ref)
        assert grads_fused.keys() == grads_ref.keys()
        for name in grads_ref:
            assert torch.equal(grads_fused[name], grads_ref[name]), f"{name} gradients differ"
        seconds_fused = timed(fused, ids, labels, loss_of, fused_run)
        seconds_ref = timed(reference, ids, labels, loss_of, stepwise)
        print(f"training speed-up (batch {batch}): {seconds_ref / seconds_fused:.2f}x "
              f"(fused {1000 * seconds_fused:.0f} ms, snntorch per-step {1000 * seconds_ref:.0f} ms per step; "
              f"gradients of {len(grads_ref)} weights equal bit for bit)", flush=True)
        if batch == 32:
            batches = -(-SST2_TRAIN // 32)
            print(f"SST-2 fine-tuning epoch ({batches} steps of 32): fused {batches * seconds_fused:.0f} s, "
                  f"snntorch per-step {batches * seconds_ref:.0f} s", flush=True)
        convolutions = convolution_seconds(fused, ids)
        print(f"convolutions (forward + weight gradient, batch {batch}): {1000 * convolutions:.0f} ms = "
              f"{100 * convolutions / seconds_fused:.0f}% of the fused step; a free neuron layer would reach at most "
              f"{seconds_ref / convolutions:.2f}x", flush=True)


if __name__ == "__main__":
    main()
