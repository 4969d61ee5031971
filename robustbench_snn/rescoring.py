"""Re-scoring: every attacked example judged again by fresh draws of the model, instead of the attack's own queries.

For a stochastic model an attack's "success" may be one lucky draw; the strict majority of R fresh draws on the
clean and on the final text says whether it holds up (a transfer of the crafted text to the majority vote, not
robust accuracy). Deterministic models are scored once.
"""

from __future__ import annotations

import numpy as np

from robustbench_snn.outcomes import OUTCOMES, encode
from robustbench_snn.stats import summarize
from robustbench_snn.wrappers import ClassifierWrapper


def rescored_outcomes(clean_correct: np.ndarray, adversarial_correct: np.ndarray, draws: int) -> list[str]:
    """Outcomes judged by a strict majority of ``draws`` fresh draws instead of the attack's own queries:
    skipped when the clean text is misclassified, failed when the final text is still classified correctly,
    succeeded otherwise. ``*_correct`` count correct draws per example."""
    outcomes = []
    for clean, adversarial in zip(clean_correct, adversarial_correct):
        if 2 * clean <= draws:
            outcomes.append("skipped")
        else:
            outcomes.append("failed" if 2 * adversarial > draws else "succeeded")
    return outcomes


def rescore(wrapper: ClassifierWrapper, rows: list[dict], draws: int, seed: int) -> dict:
    """Re-score clean and final texts with ``draws`` fresh draws each (one pass for deterministic models): the
    record's ``rescored`` entry."""
    labels = np.array([r["label"] for r in rows])
    clean = wrapper.fresh_predictions([r["text"] for r in rows], draws, seed)
    adversarial = wrapper.fresh_predictions([r["perturbed_text"] for r in rows], draws, seed + 1)
    draws_used = clean.shape[0]
    clean_correct = (clean == labels).sum(0)
    adversarial_correct = (adversarial == labels).sum(0)
    outcomes = rescored_outcomes(clean_correct, adversarial_correct, draws_used)
    raw = [r["outcome"] for r in rows]
    hold = {o: sum(1 for a, b in zip(raw, outcomes) if a == o and b == o) for o in OUTCOMES}
    codes = encode(outcomes)
    return {"draws": draws_used, "rule": "strict majority of fresh draws", "metrics": summarize(codes),
            "outcomes": codes, "held_up": {o: {"held": hold[o], "of": raw.count(o)} for o in OUTCOMES},
            "clean_correct_draws": clean_correct.tolist(), "adversarial_correct_draws": adversarial_correct.tolist()}
