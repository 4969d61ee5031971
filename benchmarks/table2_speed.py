"""The SST-2 Table 2 grid recipe (recipes/table2-sst2.yaml: four attacks x the TextCNN and the population-1 SNN
under seeded, fresh and eot:4, re-scoring included) on this tree against a reference revision, in one run.

The reference revision is checked out into a temporary git worktree; each side runs the recipe with
``snn-robust grid --executor local`` (one task at a time, in one process) on the same cached checkpoints, into a
results folder of its own. Prints seconds per attack and in all on each side, the speed-up, and asserts that
every per-example row (outcome, perturbed text, predictions, queries, model calls, words) is identical; only
the time fields may differ. Run identities differ when ATTACK_CODE_VERSION does, so rows are matched by run
(attack, model, sampling), not by file name.

    OMP_NUM_THREADS=1 SNN_ROBUST_OFFLINE=1 python benchmarks/table2_speed.py [EXAMPLES_PER_RUN] [REFERENCE] [ATTACKS]
    # defaults: 10 examples per run; 35412a0 (the last commit before the attack-speed work); all four attacks
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

REFERENCE = "35412a0"
TREE = Path(__file__).resolve().parents[1]
TIME_FIELDS = ("seconds", "model_seconds")


def run_grid(tree: Path, results: Path, examples: int, attacks: str | None) -> float:
    """Wall seconds of the recipe on ``tree`` (its package first on the path, its recipe and attack files)."""
    command = [sys.executable, "-c", "from robustbench_snn.cli import main; main()", "grid",
               "recipes/table2-sst2.yaml", "--num-examples", str(examples), "--executor", "local", "--no-train",
               "--results", str(results)] + (["--attacks", attacks] if attacks else [])
    environment = os.environ | {"PYTHONPATH": str(tree)}
    began = time.perf_counter()
    subprocess.run(command, cwd=tree, env=environment, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def runs(results: Path) -> dict[str, tuple[list[dict], float]]:
    """(per-example rows without their time fields, attack seconds) per run: attack folder and file name
    without the identity digest."""
    found = {}
    for path in sorted(results.rglob("*.jsonl")):
        rows = [{k: v for k, v in json.loads(line).items() if k not in TIME_FIELDS}
                for line in path.read_text().splitlines()[1:]]
        record = json.loads(path.with_suffix(".json").read_text())
        name = f"{path.parent.name}/{re.sub(r'-[0-9a-f]{10}$', '', path.stem)}"
        found[name] = (rows, record["attack_seconds"])
    return found


@contextmanager
def reference_tree(reference: str):
    """(a checkout of ``reference`` in a temporary git worktree, a temporary folder beside it), removed after."""
    with tempfile.TemporaryDirectory() as folder:
        worktree = Path(folder) / "reference-tree"
        subprocess.run(["git", "-C", str(TREE), "worktree", "add", "--detach", "-q", str(worktree), reference],
                       check=True)
        try:
            yield worktree, Path(folder)
        finally:
            subprocess.run(["git", "-C", str(TREE), "worktree", "remove", "--force", str(worktree)], check=True)


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    reference = sys.argv[2] if len(sys.argv) > 2 else REFERENCE
    attacks = sys.argv[3] if len(sys.argv) > 3 else None
    with reference_tree(reference) as (worktree, folder):
        sides = {}
        for side, tree in (("reference", worktree), ("this tree", TREE)):
            results = folder / f"results-{side.replace(' ', '-')}"
            sides[side] = (run_grid(tree, results, examples, attacks), runs(results))
    (wall_ref, ref), (wall_new, new) = sides["reference"], sides["this tree"]
    assert ref.keys() == new.keys(), (sorted(ref), sorted(new))
    differing = [name for name in ref if ref[name][0] != new[name][0]]
    assert not differing, f"per-example rows differ in {differing}"
    per_attack: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for name in ref:
        attack = name.split("/")[0].rsplit("-", 1)[0]
        per_attack[attack][0] += ref[name][1]
        per_attack[attack][1] += new[name][1]
    rows = sum(len(r) for r, _ in ref.values())
    print(f"SST-2 Table 2 recipe, {examples} examples per run, {len(ref)} runs, reference {reference}")
    for attack, (before, after) in sorted(per_attack.items()):
        print(f"{attack:12} attack seconds: reference {before:7.1f}, this tree {after:7.1f} ({before / after:.2f}x)")
    print(f"whole grid (wall, with start-up and re-scoring): reference {wall_ref:.0f} s, this tree {wall_new:.0f} s")
    print(f"Table 2 grid speed-up: {wall_ref / wall_new:.2f}x; per-example rows identical ({rows} rows)")


if __name__ == "__main__":
    main()
