"""TextFooler: Jin, Jin, Zhou & Szolovits (2020), "Is BERT Really Robust? A Strong Baseline for Natural Language
Attack on Text Classification and Entailment", AAAI. https://arxiv.org/abs/1907.11932

Words ranked by deletion importance, replaced by counter-fitted embedding neighbours that keep the part of
speech, under a sentence-encoder constraint. Built like TextAttack's ``textfooler_jin_2019`` recipe.
Offline stand-ins: the counter-fitted vectors (GloVe-50d counter-fitted, not Paragram-SL999) and the numpy USE.
"""

from textattack import Attack
from textattack.goal_functions import UntargetedClassification
from textattack.search_methods import GreedyWordSwapWIR

from robustbench_snn.attack_parts import AUTHORS_CODE_SETTINGS, PAPER_SETTINGS, shared_constraints, textattack_entry

NAME = "textfooler"
CITATION = "Jin et al. 2020, AAAI (arXiv 1907.11932)"
SETTINGS = {
    # Lv et al.'s code dropped the word-embedding-distance constraint; it keeps the part-of-speech check.
    "paper": PAPER_SETTINGS | {"min_cos_sim": None},
    "authors-code": AUTHORS_CODE_SETTINGS | {"min_cos_sim": None},
    "original": {"transformation": "embedding", "candidates": 50, "min_cos_sim": 0.5, "use_threshold": 0.840845057,
               "use_metric": "angular", "use_window": 15, "use_compare_original": False},
}
DEVIATIONS = ("TextAttack's recipe uses its own stopword list; this uses TextAttack's default stopwords",)


def build(model_wrapper, settings, parts):
    constraints = shared_constraints(parts, settings)
    if settings.get("min_cos_sim") is not None:
        constraints.append(parts.word_embedding_distance(settings["min_cos_sim"]))
    pos = parts.part_of_speech()
    if pos is not None:
        constraints.append(pos)
    return Attack(UntargetedClassification(model_wrapper), constraints, parts.embedding_swap(settings["candidates"]),
                  GreedyWordSwapWIR(wir_method="delete"))


def attack(model_wrapper):
    """TextAttack's entry point under the paper settings: `textattack attack --attack-from-file <this file>`."""
    return textattack_entry(build, SETTINGS, model_wrapper)
