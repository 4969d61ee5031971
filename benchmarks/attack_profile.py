"""Where an attack run's time goes, per attack: model queries, the sentence encoder, candidate generation (the
transformation), the other constraints, and the search itself (everything else inside TextAttack's attack).

Each category is timed exclusively (a constraint that calls the encoder is charged only for its own time), by
wrapping the entry points of TextAttack's classes in this process; results are the same as an unwrapped run
(the wrappers only read the clock). Uses the cached seed-0 SST-2 checkpoints (trained on demand), the paper's
attack settings and the real offline resources; records go to a temporary folder.

    OMP_NUM_THREADS=1 python benchmarks/attack_profile.py [NUM_EXAMPLES] [ATTACKS] [SNN_SAMPLING]
    # defaults: 10 examples, all four attacks, the SNN under seeded spikes
"""

from __future__ import annotations

import functools
import sys
import tempfile
import time
from pathlib import Path

from robustbench_snn.config import ModelConfig
from robustbench_snn.config import AttackConfig
from robustbench_snn.harness import run
from robustbench_snn.runtime import keep_freed_memory

CATEGORIES = ("model", "encoder", "candidates", "constraints")


class ExclusiveClock:
    """Time per category, each interval charged to the innermost category running."""

    def __init__(self):
        self.totals = dict.fromkeys(CATEGORIES, 0.0)
        self.stack: list[tuple[str, float]] = []

    def wrap(self, owner, name: str, category: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            now = time.perf_counter()
            if self.stack:  # pause the enclosing category
                outer, began = self.stack[-1]
                self.totals[outer] += now - began
            self.stack.append((category, now))
            try:
                return original(*args, **kwargs)
            finally:
                _, began = self.stack.pop()
                now = time.perf_counter()
                self.totals[category] += now - began
                if self.stack:  # resume it
                    self.stack[-1] = (self.stack[-1][0], now)

        setattr(owner, name, timed)

    def reset(self) -> None:
        self.totals = dict.fromkeys(CATEGORIES, 0.0)


def instrument(clock: ExclusiveClock) -> None:
    from textattack.constraints import Constraint, PreTransformationConstraint
    from textattack.transformations import Transformation
    from robustbench_snn import attack_parts
    from robustbench_snn.wrappers import ClassifierWrapper

    clock.wrap(ClassifierWrapper, "__call__", "model")
    clock.wrap(attack_parts, "_encode_batch", "encoder")  # every encoding the offline USE constraint makes
    clock.wrap(Transformation, "__call__", "candidates")
    clock.wrap(Constraint, "call_many", "constraints")
    clock.wrap(PreTransformationConstraint, "__call__", "constraints")


def main() -> None:
    keep_freed_memory()
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    attacks = sys.argv[2].split(",") if len(sys.argv) > 2 else ["pwws", "textfooler", "textbugger", "bert-attack"]
    from robustbench_snn.attack_parts import AttackParts

    AttackParts()  # TextAttack's offline setup before it is imported
    clock = ExclusiveClock()
    instrument(clock)
    snn_sampling = sys.argv[3] if len(sys.argv) > 3 else "seeded"
    models = [("TextCNN", ModelConfig("sst2", "textcnn"), "seeded"),
              (f"SNN (pop. 1, {snn_sampling})", ModelConfig("sst2", "snn-ft", population=1), snn_sampling)]
    print(f"{count} SST-2 test examples per run, paper settings; seconds and share of the attack's time")
    print(f"{'attack':12} {'model':20} {'total':>7} " + " ".join(f"{c:>18}" for c in (*CATEGORIES, "search")))
    for attack in attacks:
        for label, config, sampling in models:
            with tempfile.TemporaryDirectory() as folder:
                run(config, AttackConfig(attack, "paper", sampling, num_examples=count, rescore_draws=1), Path(folder),
                    progress=False)  # trains or loads the model, warms every cache
                clock.reset()
                record = run(config, AttackConfig(attack, "paper", sampling, num_examples=count, rescore_draws=1,
                                                  masked_lm=None), Path(folder) / "timed", progress=False)
            total = record["attack_seconds"]
            parts = dict(clock.totals)
            parts["search"] = max(0.0, total - sum(parts.values()))
            cells = " ".join(f"{parts[c]:7.1f} s ({100 * parts[c] / total:4.0f}%)" for c in (*CATEGORIES, "search"))
            print(f"{attack:12} {label:20} {total:6.1f}s {cells}", flush=True)


if __name__ == "__main__":
    main()
