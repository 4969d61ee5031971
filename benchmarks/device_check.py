"""The GPU path against the CPU, in one run, where a CUDA GPU is present (a lent device machine, a user's box).

Each side, in a cache of its own (so both train from scratch): ``snn-robust --device D run`` on SST-2 with the
population-1 fine-tuned SNN (its tailored TextCNN trained first, the SNN fine-tuned for a few epochs), then PWWS
(the paper's settings) on the first N test examples under fresh spikes. Prints per side the training seconds per
epoch (tailored, fine-tuning), the attack seconds, Cln/Boa, and the GPU's speed-up over the CPU; and checks that
the GPU checkpoints are GPU ones (their identity names the card) and that the clean accuracies agree within a few
points (the spike draws are the same: the encoders draw on the CPU generator; only float arithmetic differs).

    SNN_ROBUST_OFFLINE=1 python benchmarks/device_check.py [EXAMPLES] [FT_EPOCHS] [THREADS]
    # defaults: 50 examples, 2 fine-tuning epochs, the CPU side on 1 thread (as this project's training runs)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TREE = Path(__file__).resolve().parents[1]


def side(device: str, home: Path, examples: int, ft_epochs: int, threads: int) -> dict:
    results = home / "results"
    command = [sys.executable, "-c", "from robustbench_snn.cli import main; raise SystemExit(main())",
               "--device", device, "run", "--dataset", "sst2", "--attack", "pwws", "--models", "snn-ft",
               "--sampling", "fresh", "--num-examples", str(examples), "--ft-epochs", str(ft_epochs),
               "--workers", "1", "--results", str(results)]
    environment = os.environ | {"PYTHONPATH": str(TREE), "SNN_ROBUST_HOME": str(home),
                                "OMP_NUM_THREADS": str(threads)}
    began = time.perf_counter()
    subprocess.run(command, cwd=TREE, env=environment, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    [record] = [json.loads(p.read_text()) for p in results.rglob("*.json") if p.parent.name == "pwws-paper"]
    provenance = record["model_provenance"]
    return {"wall": wall, "record": record, "ft_epoch": provenance["seconds_per_epoch"],
            "tailored_epoch": provenance["from"]["seconds_per_epoch"], "device": record["identity"]["model"]["device"]}


def main() -> None:
    import torch

    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    ft_epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    if not torch.cuda.is_available():
        print("no CUDA GPU on this machine: nothing to compare (run this where one is present)")
        raise SystemExit(0)
    with tempfile.TemporaryDirectory() as folder:
        cpu = side("cpu", Path(folder) / "cpu", examples, ft_epochs, threads)
        gpu = side("cuda", Path(folder) / "cuda", examples, ft_epochs, threads)
    for name, got in (("cpu", cpu), ("cuda", gpu)):
        metrics = got["record"]["metrics"]
        print(f"{name:5} device {got['device']}: tailored epoch {got['tailored_epoch']} s, fine-tuning epoch "
              f"{got['ft_epoch']} s, attack {got['record']['attack_seconds']:.1f} s, wall {got['wall']:.0f} s; "
              f"Cln {100 * metrics['cln']:.1f} Boa {100 * metrics['boa']:.1f}")
    assert "cuda" in str(gpu["device"]), f"the GPU side's checkpoint identity names {gpu['device']!r}, not a GPU"
    gap = 100 * abs(cpu["record"]["metrics"]["cln"] - gpu["record"]["metrics"]["cln"])
    print(f"clean accuracy gap: {gap:.1f} points (same spike draws, different float arithmetic)")
    print(f"GPU fine-tuning epoch speed-up: {cpu['ft_epoch'] / max(gpu['ft_epoch'], 0.1):.2f}x")
    print(f"GPU attack speed-up (sst2, pwws, snn fresh): "
          f"{cpu['record']['attack_seconds'] / gpu['record']['attack_seconds']:.2f}x")


if __name__ == "__main__":
    main()
