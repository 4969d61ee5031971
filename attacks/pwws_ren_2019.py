"""PWWS: Ren, Deng, He & Che (2019), "Generating Natural Language Adversarial Examples through Probability
Weighted Word Saliency", ACL. https://aclanthology.org/P19-1103/

Greedy search over words ranked by probability-weighted saliency, WordNet synonym swaps. Built from
TextAttack's components as its ``pwws_ren_2019`` recipe is (without the named-entity swap of the paper).
"""

from textattack import Attack
from textattack.goal_functions import UntargetedClassification
from textattack.search_methods import GreedyWordSwapWIR

from robustbench_snn.attack_parts import AUTHORS_CODE_SETTINGS, PAPER_SETTINGS, shared_constraints, textattack_entry

NAME = "pwws"
CITATION = "Ren et al. 2019, ACL (P19-1103)"
SETTINGS = {
    "paper": PAPER_SETTINGS,  # 15 word-embedding neighbours instead of WordNet synonyms, as Lv et al.'s code
    "authors-code": AUTHORS_CODE_SETTINGS,
    "original": {"transformation": "wordnet", "candidates": None},  # all WordNet synonyms, no budget, no encoder
}
DEVIATIONS = ("no named-entity swap (as TextAttack's recipe)",
              "paper settings add the 30% word budget and the sentence encoder, which PWWS does not use")


def build(model_wrapper, settings, parts):
    if settings.get("transformation") == "embedding":
        transformation = parts.embedding_swap(settings["candidates"])
    else:
        transformation = parts.wordnet_swap(settings.get("candidates"))
    return Attack(UntargetedClassification(model_wrapper), shared_constraints(parts, settings), transformation,
                  GreedyWordSwapWIR("weighted-saliency"))


def attack(model_wrapper):
    """TextAttack's entry point under the paper settings: `textattack attack --attack-from-file <this file>`."""
    return textattack_entry(build, SETTINGS, model_wrapper)
