"""The GPU path against the CPU, in one run, where a CUDA GPU is present (a lent device machine, a user's box).

Each side, in a cache of its own (so both train from scratch): ``snn-robust --device D run`` on SST-2 with the
population-1 fine-tuned SNN (its tailored TextCNN trained first, the SNN fine-tuned for a few epochs), then PWWS
(the paper's settings) on the first N test examples under fresh spikes. Prints per side the training seconds per
epoch (tailored, fine-tuning), the attack seconds, Cln/Boa, and the GPU's speed-up over the CPU; and checks that
the GPU checkpoints are GPU ones (their identity names the card) and that the clean accuracies agree within a few
points (the spike draws are the same: the encoders draw on the CPU generator; only float arithmetic differs).

On a machine with 4 cores or more the two sides run at once, each pinned to a core of its own (``--one-by-one``
runs them in turn): the GPU side's host work and the CPU side then share no core, and the check takes half the
time on a lent machine whose minutes are counted.

    SNN_ROBUST_OFFLINE=1 python benchmarks/device_check.py [--examples 50] [--ft-epochs 2] [--ann-epochs N]
        [--threads 1] [--settings paper] [--vectors FILE] [--mlm FOLDER] [--out summary.json] [--logs FOLDER] [--one-by-one]
    # defaults: 50 examples, 2 fine-tuning epochs, the training default of ANN epochs (early stopping), the CPU
    # side on 1 thread (as this project's training runs), the dataset's vectors
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TREE = Path(__file__).resolve().parents[1]
CLN_GAP_POINTS = 5.0  # the two sides' clean accuracies on the same draws: float rounding, not a different model


def start_side(device: str, home: Path, args, core: int | None, log: Path) -> tuple[subprocess.Popen, float]:
    command = [sys.executable, "-c", "from robustbench_snn.cli import main; raise SystemExit(main())",
               "--device", device, "run", "--dataset", "sst2", "--attack", "pwws", "--settings", args.settings, "--models", "snn-ft",
               "--sampling", "fresh", "--num-examples", str(args.examples), "--ft-epochs", str(args.ft_epochs),
               "--workers", "1", "--results", str(home / "results")]
    command += ["--ann-epochs", str(args.ann_epochs)] if args.ann_epochs else []
    command += ["--vectors", str(Path(args.vectors).resolve())] if args.vectors else []
    command += ["--mlm", str(Path(args.mlm).resolve())] if args.mlm else []
    environment = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, (str(TREE), os.environ.get("PYTHONPATH")))),
                                "SNN_ROBUST_HOME": str(home), "OMP_NUM_THREADS": str(args.threads),
                                "PYTHONUNBUFFERED": "1"}
    pin = (lambda: os.sched_setaffinity(0, {core})) if core is not None else None
    log.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(command, cwd=TREE, env=environment, stdout=log.open("w"), stderr=subprocess.STDOUT,
                               preexec_fn=pin)
    return process, time.perf_counter()


def finish_side(home: Path, wall: float, settings: str) -> dict:
    [record] = [json.loads(p.read_text()) for p in (home / "results").rglob("*.json")
                if p.parent.name == f"pwws-{settings}"]
    provenance = record["model_provenance"]
    return {"wall": wall, "record": record, "ft_epoch": provenance["seconds_per_epoch"],
            "tailored_epoch": provenance["from"]["seconds_per_epoch"], "device": record["identity"]["model"]["device"]}


def run_sides(args, folder: Path, logs: Path) -> dict[str, dict]:
    """Both sides, at once on cores of their own or one after the other; a failed side stops the other (its log's
    tail is printed) so a lent machine's minutes are not spent finishing a check that has already failed."""
    together = not args.one_by_one and (os.cpu_count() or 1) >= 4
    cores = {"cuda": 2, "cpu": 3} if together else {"cuda": None, "cpu": None}
    order = ("cuda", "cpu")  # the GPU side first: a broken GPU path shows within a minute
    running, done = {}, {}
    for device in order:
        running[device] = start_side(device, folder / device, args, cores[device], logs / f"{device}.log")
        if not together:
            wait_for(running, done, folder, logs, args.settings)
    wait_for(running, done, folder, logs, args.settings)
    print(f"sides ran {'at once, pinned to cores 2 (cuda) and 3 (cpu) of ' + str(os.cpu_count()) if together else 'one after the other'}")
    return done


def wait_for(running: dict, done: dict, folder: Path, logs: Path, settings: str) -> None:
    while running:
        for device, (process, began) in list(running.items()):
            if process.poll() is None:
                continue
            del running[device]
            if process.returncode != 0:
                for other, _ in running.values():
                    other.kill()
                tail = (logs / f"{device}.log").read_text(errors="replace").splitlines()[-25:]
                raise SystemExit(f"the {device} side failed (exit {process.returncode}); its log ends:\n"
                                 + "\n".join(tail))
            done[device] = finish_side(folder / device, time.perf_counter() - began, settings)
        time.sleep(1)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--ft-epochs", type=int, default=2)
    parser.add_argument("--ann-epochs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--settings", default="paper", help="PWWS's settings: paper (counter-fitted embedding "
                        "swaps, the sentence-encoder threshold) or original (WordNet swaps, no encoder)")
    parser.add_argument("--vectors", help="a GloVe text file instead of the dataset's vectors (both sides)")
    parser.add_argument("--mlm", help="a masked LM folder (both sides); PWWS never loads one, but every run's "
                        "identity names it: any folder will do where the bundle's stand-in is absent")
    parser.add_argument("--out", help="write the figures as JSON here too")
    parser.add_argument("--logs", help="keep each side's log in this folder (default: a temporary one)")
    parser.add_argument("--one-by-one", action="store_true", help="run the sides in turn, not at once")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA GPU on this machine: nothing to compare (run this where one is present)")
        raise SystemExit(0)
    print(f"GPU {torch.cuda.get_device_name(0)}; torch {torch.__version__}; {os.cpu_count()} CPU cores", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        logs = Path(args.logs) if args.logs else Path(folder) / "logs"
        sides = run_sides(args, Path(folder), logs)
    cpu, gpu = sides["cpu"], sides["cuda"]
    for name, got in (("cpu", cpu), ("cuda", gpu)):
        metrics = got["record"]["metrics"]
        print(f"{name:5} device {got['device']}: tailored epoch {got['tailored_epoch']} s, fine-tuning epoch "
              f"{got['ft_epoch']} s, attack {got['record']['attack_seconds']:.1f} s, wall {got['wall']:.0f} s; "
              f"Cln {100 * metrics['cln']:.1f} Boa {100 * metrics['boa']:.1f}")
    gap = 100 * abs(cpu["record"]["metrics"]["cln"] - gpu["record"]["metrics"]["cln"])
    figures = {
        "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "examples": args.examples,
        "settings": args.settings,
        "cln_gap_points": round(gap, 1),
        "tailored_epoch_speedup": round(cpu["tailored_epoch"] / max(gpu["tailored_epoch"], 0.01), 2),
        "ft_epoch_speedup": round(cpu["ft_epoch"] / max(gpu["ft_epoch"], 0.01), 2),
        "attack_speedup": round(cpu["record"]["attack_seconds"] / gpu["record"]["attack_seconds"], 2),
        "sides": {name: {k: got[k] for k in ("wall", "ft_epoch", "tailored_epoch", "device")}
                  | {"attack_seconds": got["record"]["attack_seconds"], "metrics": got["record"]["metrics"]}
                  for name, got in (("cpu", cpu), ("cuda", gpu))},
    }
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=1))
    print(f"clean accuracy gap: {gap:.1f} points (same spike draws, different float arithmetic)")
    print(f"GPU tailored-epoch speed-up: {figures['tailored_epoch_speedup']:.2f}x")
    print(f"GPU fine-tuning epoch speed-up: {figures['ft_epoch_speedup']:.2f}x")
    print(f"GPU attack speed-up (sst2, pwws {args.settings}, snn fresh): {figures['attack_speedup']:.2f}x")
    assert "cuda" in str(gpu["device"]), f"the GPU side's checkpoint identity names {gpu['device']!r}, not a GPU"
    assert gap <= CLN_GAP_POINTS, f"the clean accuracies differ by {gap:.1f} points: more than float rounding"


if __name__ == "__main__":
    main()
