"""Multi-step SNN simulation vs the step-by-step snntorch reference, at SST-2 shapes (T=50, L=25, D=50, 2 classes).

Prints, per batch size: equality of outputs (asserted), seconds per call and the speed ratio, peak working
memory of each variant (growth of peak RSS during the simulation, each in its own child process), and the convolution stage's achieved FLOP rate
as a share of this machine's fp32 matrix-multiply peak, measured here too.

    python benchmarks/snn_simulation.py            # batch 32 and 256
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import torch

from robustbench_snn.models.spiking import FreshBernoulli, SpikingTextCNN
from robustbench_snn.models.textcnn import WIDTHS, TailoredTextCNN, WordEmbedding
from robustbench_snn.runtime import keep_freed_memory

STEPS, LENGTH, DIM, CLASSES, REPEATS = 50, 25, 50, 2, 5


def model() -> SpikingTextCNN:
    torch.manual_seed(0)
    snn = SpikingTextCNN.from_tailored(TailoredTextCNN(WordEmbedding(torch.rand(2000, DIM)), CLASSES).eval(),
                                       steps=STEPS, encoder=FreshBernoulli(torch.Generator().manual_seed(0)))
    with torch.no_grad():  # firing rates like a converted model's (~0.1-0.4)
        for conv in snn.convs:
            conv.weight.mul_(3.0)
        snn.fc.weight.mul_(10.0)
    return snn


def best_time(fn) -> float:
    fn()
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def matmul_peak() -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    return 2 * 2048 ** 3 / best_time(lambda: a @ b)


def peak_resident_kib() -> int:
    """This process's peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries that across exec from the
    parent, so a child started by a large parent reports the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def child(variant: str, batch: int) -> None:
    """Run one variant in this process (for a clean peak-memory reading)."""
    keep_freed_memory()
    snn = model()
    spikes = snn.input_spikes(torch.randint(2, 2000, (batch, LENGTH)))
    before = peak_resident_kib()
    with torch.no_grad():
        run = snn.simulate if variant == "multi" else snn.simulate_stepwise
        for _ in range(3):
            run(spikes)
    # the simulation's own working memory: growth of the peak over the model + inputs
    print((peak_resident_kib() - before) / 1024)


def simulation_peak_mb(variant: str, batch: int) -> float:
    done = subprocess.run([sys.executable, __file__, "--child", variant, str(batch)], capture_output=True,
                          text=True, check=True)
    return float(done.stdout.split()[-1])


def main() -> None:
    keep_freed_memory()
    peak = matmul_peak()
    print(f"threads {torch.get_num_threads()}, fp32 matmul peak {peak / 1e9:.1f} GFLOP/s (2048^3)")
    snn = model()
    for batch in (32, 256):
        spikes = snn.input_spikes(torch.randint(2, 2000, (batch, LENGTH)))
        with torch.no_grad():
            fast, reference = snn.simulate(spikes, measure=True), snn.simulate_stepwise(spikes)
            assert torch.equal(fast.output_spikes, reference.output_spikes), "multi-step differs from reference"
            t_multi = best_time(lambda: snn.simulate(spikes))
            t_step = best_time(lambda: snn.simulate_stepwise(spikes))
            x = spikes.reshape(STEPS * batch, LENGTH, DIM).transpose(1, 2)
            t_conv = best_time(lambda: [conv(x) for conv in snn.convs])
        flops = 2 * STEPS * batch * sum((LENGTH - k + 1) * k * DIM * 100 for k in WIDTHS)
        print(f"batch {batch:4d}: equal outputs yes | multi-step {t_multi * 1e3:7.1f} ms, step-by-step "
              f"{t_step * 1e3:7.1f} ms, speed-up {t_step / t_multi:4.2f}x | peak memory multi "
              f"+{simulation_peak_mb('multi', batch):.0f} MB, step +{simulation_peak_mb('step', batch):.0f} MB | "
              "conv stage "
              f"{flops / t_conv / 1e9:5.1f} GFLOP/s = {flops / t_conv / peak:4.0%} of matmul peak "
              f"(firing: in {fast.input_rate:.2f}, hidden {fast.hidden_rate:.2f})")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
