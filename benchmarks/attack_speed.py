"""One attack run on this tree against a reference revision, in one run: PWWS (the paper's settings) against the
population-1 fine-tuned SNN under fresh spikes, the first N selected SST-2 test examples, the cached checkpoint.

The reference revision is checked out into a temporary git worktree; each side runs ``snn-robust run`` into a
results folder of its own, one process, one thread. Prints the attack seconds of each side and their ratio, and
how many per-example outcomes agree: since attack code version 5 the sentence encodings are batched, which moves
similarities by at most 2.4e-7, so an outcome may differ where a similarity sits at the 0.8 threshold.

    OMP_NUM_THREADS=1 SNN_ROBUST_OFFLINE=1 python benchmarks/attack_speed.py [EXAMPLES] [REFERENCE]
    # defaults: 100 examples; 63f043c (the last commit before padding-aware inference and batched encodings)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from table2_speed import TREE, reference_tree

REFERENCE = "63f043c"


def attack(tree: Path, results: Path, examples: int) -> tuple[float, dict]:
    command = [sys.executable, "-c", "from robustbench_snn.cli import main; main()", "run", "--dataset", "sst2",
               "--attack", "pwws", "--models", "snn-ft", "--sampling", "fresh", "--num-examples", str(examples),
               "--no-train", "--results", str(results)]
    began = time.perf_counter()
    subprocess.run(command, cwd=tree, env=os.environ | {"PYTHONPATH": str(tree)}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    [record] = [json.loads(p.read_text()) for p in results.rglob("*.json") if p.parent.name == "pwws-paper"]
    return wall, record


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    reference = sys.argv[2] if len(sys.argv) > 2 else REFERENCE
    with reference_tree(reference) as (worktree, folder):
        before_wall, before = attack(worktree, folder / "reference", examples)
        after_wall, after = attack(TREE, folder / "this-tree", examples)
    same = sum(a == b for a, b in zip(before["outcomes"], after["outcomes"]))
    print(f"reference {reference}: attack {before['attack_seconds']:.1f} s (wall {before_wall:.0f} s); this tree: "
          f"attack {after['attack_seconds']:.1f} s (wall {after_wall:.0f} s); outcomes agree on {same}/{examples}")
    print(f"attack speed-up (sst2, pwws, snn fresh): {before['attack_seconds'] / after['attack_seconds']:.2f}x")


if __name__ == "__main__":
    main()
