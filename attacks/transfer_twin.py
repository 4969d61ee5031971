"""Transfer from the ANN twin: adversarial texts crafted on the tailored TextCNN the SNN was converted from, judged
on the SNN (this benchmark's transfer attack; Sharmin et al. 2019 found such transfers strong against converted
vision SNNs).

The crafting is the gradient-guided search of ``gradient_eot.py`` against the twin (exact gradients, no draws),
inside the paper's constraint set (15 embedding neighbours, at most 30% of words, sentence similarity >= 0.8); the
SNN itself is never queried during the attack. What the run's raw columns report is the attack on the twin; the
re-scored columns, the strict majority of fresh SNN draws on the clean and the crafted text, are the transfer
result. Attack SNN kinds only (the source is derived from the SNN's own training chain).
"""

from robustbench_snn.attack_parts import PAPER_SETTINGS, textattack_entry
from robustbench_snn.white_box_parts import transfer_attack

NAME = "transfer-twin"
CITATION = "this benchmark (transfer from the ANN twin, as Sharmin et al. 2019 for vision SNNs)"
WHITE_BOX = {"gradient_draws": 1, "slope": None, "verify": 5}
SETTINGS = {
    "paper": PAPER_SETTINGS | WHITE_BOX,
    "original": PAPER_SETTINGS | WHITE_BOX,  # this benchmark's attack: its own settings are the paper's set
}
DEVIATIONS = ("transfer: crafted on the tailored ANN twin without querying the SNN; raw columns describe the source, "
              "re-scored columns the SNN",)


def build(model_wrapper, settings, parts):
    return transfer_attack(model_wrapper, "twin", settings, parts)


def attack(model_wrapper):
    """TextAttack's entry point under the paper settings: `textattack attack --attack-from-file <this file>`."""
    return textattack_entry(build, SETTINGS, model_wrapper)
