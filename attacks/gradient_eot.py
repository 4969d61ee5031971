"""Gradient-guided word substitution with expectation over the spike draws (this benchmark's adaptive attack).

No text SNN paper has a white-box attack; in vision, SNNs looked robust until attacks used surrogate gradients and
expectation over the input encoder's randomness (Sharmin et al. 2019/2020; Bu et al., "Attacking the Spike",
arXiv 2209.03358; "Towards Reliable Evaluation of Adversarial Robustness for SNNs", arXiv 2512.22522). This attack
brings that to the paper's text setting, inside the paper's constraint set so that its numbers stand in Table 2
beside the four black-box attacks: the same 15 word-embedding neighbours as substitutes, at most 30% of words
changed, sentence-encoder similarity to the original at least 0.8, no stopword or word changed twice.

Search: at each step, the loss gradient with respect to every input word vector (ANNs: exact; SNNs: surrogate-
gradient BPTT through the fused LIF layers, a straight-through gradient through the rate encoding, averaged over
``gradient_draws`` spike draws) ranks every allowed (position, substitute) by the first-order change of the loss;
the best ``verify`` candidates are queried under the run's sampling protocol (eot:K averages K draws per query),
the best is kept if it raises the goal score, and the search stops at success or when nothing improves.
``slope``: the surrogate's slope for the attack's gradients (None: the slope the SNN was trained with).
Success is judged, as for every attack, by the run's queries and then re-scored by fresh draws.

Deviations: none from a paper (there is none); the first-order ranking is HotFlip's (Ebrahimi et al. 2018)
restricted to the paper's candidate set, with queried verification as in TextFooler's greedy step.
"""

from robustbench_snn.attack_parts import PAPER_SETTINGS, textattack_entry
from robustbench_snn.white_box_parts import gradient_guided_attack

NAME = "gradient-eot"
CITATION = "this benchmark (HotFlip ranking, Ebrahimi et al. 2018, with EOT, Athalye et al. 2018)"
WHITE_BOX = {"gradient_draws": 8, "slope": None, "verify": 5}
SETTINGS = {
    "paper": PAPER_SETTINGS | WHITE_BOX,
    "original": PAPER_SETTINGS | WHITE_BOX,  # this benchmark's attack: its own settings are the paper's set
    # the strength check: the same search with no similarity or word-share constraint
    "unconstrained": PAPER_SETTINGS | WHITE_BOX | {"max_perturbed": None, "use_threshold": None},
    # the strength check: the same candidates ranked at random instead of by the gradient
    "random-ranking": PAPER_SETTINGS | WHITE_BOX | {"gradient_draws": 0},
}
DEVIATIONS = ("white-box: uses the model's (surrogate) gradients, unlike the paper's four black-box attacks",)


def build(model_wrapper, settings, parts):
    return gradient_guided_attack(model_wrapper, settings, parts)


def attack(model_wrapper):
    """TextAttack's entry point under the paper settings: `textattack attack --attack-from-file <this file>`."""
    return textattack_entry(build, SETTINGS, model_wrapper)
