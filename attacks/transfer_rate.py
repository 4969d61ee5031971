"""Transfer from the SNN's rate surrogate: adversarial texts crafted on the SNN fed its spike probabilities instead of
spikes at every step (a deterministic network with the SNN's own weights and neurons), judged on the SNN with
fresh draws (this benchmark's transfer attack).

The crafting is the gradient-guided search of ``gradient_eot.py`` against the surrogate (surrogate-gradient BPTT,
no draws), inside the paper's constraint set (15 embedding neighbours, at most 30% of words, sentence similarity
>= 0.8); the SNN itself is never queried during the attack. The raw columns report the attack on the surrogate;
the re-scored columns, the strict majority of fresh SNN draws on the clean and the crafted text, are the transfer
result. Attack SNN kinds only.
"""

from robustbench_snn.attack_parts import PAPER_SETTINGS, textattack_entry
from robustbench_snn.white_box_parts import transfer_attack

NAME = "transfer-rate"
CITATION = "this benchmark (transfer from the rate surrogate, as Sharmin et al. 2019 for vision SNNs)"
WHITE_BOX = {"gradient_draws": 1, "slope": None, "verify": 5}
SETTINGS = {
    "paper": PAPER_SETTINGS | WHITE_BOX,
    "original": PAPER_SETTINGS | WHITE_BOX,  # this benchmark's attack: its own settings are the paper's set
}
DEVIATIONS = ("transfer: crafted on the rate surrogate without querying the SNN; raw columns describe the source, "
              "re-scored columns the SNN",)


def build(model_wrapper, settings, parts):
    return transfer_attack(model_wrapper, "rate", settings, parts)


def attack(model_wrapper):
    """TextAttack's entry point under the paper settings: `textattack attack --attack-from-file <this file>`."""
    return textattack_entry(build, SETTINGS, model_wrapper)
