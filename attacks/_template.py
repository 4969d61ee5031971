"""<Attack name>: <authors> (<year>), "<title>", <venue>. <link>

One paragraph: what the search, transformation and constraints are, and every deviation from the paper
(including offline stand-ins). Copy this file to attacks/<short>_<author>_<year>.py; `snn-robust attacks`
lists it, `snn-robust run --attack <NAME>` runs it. Files starting with "_" are not loaded.
"""

from textattack import Attack
from textattack.goal_functions import UntargetedClassification
from textattack.search_methods import GreedyWordSwapWIR

from robustbench_snn.attack_parts import PAPER_SETTINGS, shared_constraints, textattack_entry

NAME = "my-attack"  # the name users pass to --attack
CITATION = "Author et al. YEAR, Venue"
SETTINGS = {
    "paper": PAPER_SETTINGS,  # Lv et al.'s uniform settings: 30% words, 15 candidates, USE >= 0.8
    "original": {"candidates": 50},  # the original recipe's own values
}
DEVIATIONS = ()  # strings recorded with every result


def build(model_wrapper, settings, parts):
    """parts builds resource-backed pieces (embedding_swap, wordnet_swap, masked_lm_swap, sentence_encoder, ...),
    so tests can replace them with light ones."""
    return Attack(UntargetedClassification(model_wrapper), shared_constraints(parts, settings),
                  parts.embedding_swap(settings["candidates"]), GreedyWordSwapWIR(wir_method="delete"))


def attack(model_wrapper):
    """TextAttack's entry point under the paper settings: `textattack attack --attack-from-file <this file>`."""
    return textattack_entry(build, SETTINGS, model_wrapper)
