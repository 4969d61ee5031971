"""TextBugger: Li, Ji, Du, Li & Wang (2019), "TextBugger: Generating Adversarial Text Against Real-world
Applications", NDSS. https://arxiv.org/abs/1812.05271

Character edits (insert a space, delete, swap neighbours, homoglyphs) and embedding-neighbour word swaps,
words ranked by deletion importance, under a sentence-encoder constraint; built like TextAttack's
``textbugger_li_2018`` recipe. Offline stand-ins: the counter-fitted vectors and the numpy USE.
"""

from textattack import Attack
from textattack.goal_functions import UntargetedClassification
from textattack.search_methods import GreedyWordSwapWIR
from textattack.transformations import (
    CompositeTransformation,
    WordSwapNeighboringCharacterSwap,
    WordSwapRandomCharacterDeletion,
    WordSwapRandomCharacterInsertion,
)

from robustbench_snn.attack_parts import AUTHORS_CODE_SETTINGS, PAPER_SETTINGS, shared_constraints, textattack_entry

NAME = "textbugger"
CITATION = "Li et al. 2019, NDSS (arXiv 1812.05271)"
SETTINGS = {
    # Lv et al.'s code replaced the whole transformation (character bugs too) by 15 embedding neighbours
    "paper": PAPER_SETTINGS,
    "authors-code": AUTHORS_CODE_SETTINGS,
    "original": {"transformation": "bugs", "candidates": 5, "use_threshold": 0.8, "use_metric": "angular",
               "use_window": None, "use_compare_original": True},
}
DEVIATIONS = ("the character edits (recipe settings) pick random positions: results depend on Python's random "
              "state, seeded per example",)


def build(model_wrapper, settings, parts):
    if settings.get("transformation") == "embedding":
        return Attack(UntargetedClassification(model_wrapper), shared_constraints(parts, settings),
                      parts.embedding_swap(settings["candidates"]), GreedyWordSwapWIR(wir_method="delete"))
    edges = {"random_one": True, "skip_first_char": True, "skip_last_char": True}
    transformation = CompositeTransformation([
        WordSwapRandomCharacterInsertion(letters_to_insert=" ", **edges),
        WordSwapRandomCharacterDeletion(**edges),
        WordSwapNeighboringCharacterSwap(**edges),
        parts.homoglyph_swap(),
        parts.embedding_swap(settings["candidates"]),
    ])
    return Attack(UntargetedClassification(model_wrapper), shared_constraints(parts, settings), transformation,
                  GreedyWordSwapWIR(wir_method="delete"))


def attack(model_wrapper):
    """TextAttack's entry point under the paper settings: `textattack attack --attack-from-file <this file>`."""
    return textattack_entry(build, SETTINGS, model_wrapper)
