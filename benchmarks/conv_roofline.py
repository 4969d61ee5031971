"""How close the spiking TextCNN's first layer runs to this machine's arithmetic limit, in one run: the three
convolutions of a PWWS-sized fresh-spike query batch (T = 50 steps x N texts, 50-dimensional inputs, 100 maps per
width 3/4/5, SST-2's occupied length) in GFLOP/s, against a plain float32 matrix product (the best case for the
CPU's BLAS) on the same thread. Under fresh spikes these convolutions are about 70% of an SNN query; a ratio near
1.0 means a faster attack must do less arithmetic (fewer queries or steps), not the same arithmetic faster.

    OMP_NUM_THREADS=1 python benchmarks/conv_roofline.py [TEXTS] [OCCUPIED_LENGTH]   # defaults: 32, 21
"""

from __future__ import annotations

import sys
import time

import torch
import torch.nn.functional as F

from robustbench_snn.models.textcnn import FEATURE_MAPS, WIDTHS

STEPS, DIM = 50, 50


def seconds(work, repeats: int = 7) -> float:
    work()
    best = float("inf")
    for _ in range(repeats):  # the best of several: the least disturbed
        began = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    torch.set_num_threads(1)
    texts = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    length = int(sys.argv[2]) if len(sys.argv) > 2 else 21
    generator = torch.Generator().manual_seed(0)
    spikes = (torch.rand(STEPS * texts, DIM, length, generator=generator) < 0.5).float()
    weights = [torch.randn(FEATURE_MAPS, DIM, k, generator=generator) for k in WIDTHS]
    conv_flops = sum(2 * STEPS * texts * (length - k + 1) * FEATURE_MAPS * DIM * k for k in WIDTHS)
    conv = seconds(lambda: [F.conv1d(spikes, w) for w in weights])
    a = torch.rand(STEPS * texts * length, 250, generator=generator)
    b = torch.rand(250, 300, generator=generator)
    gemm = seconds(lambda: a @ b)
    gemm_flops = 2 * a.shape[0] * 250 * 300
    conv_rate, gemm_rate = conv_flops / conv / 1e9, gemm_flops / gemm / 1e9
    print(f"first-layer convolutions ({texts} texts x {STEPS} steps, length {length}): {1000 * conv:.1f} ms, "
          f"{conv_rate:.1f} GFLOP/s; plain matrix product: {gemm_rate:.1f} GFLOP/s")
    print(f"convolution throughput / matrix-product throughput: {conv_rate / gemm_rate:.2f}x")


if __name__ == "__main__":
    main()
