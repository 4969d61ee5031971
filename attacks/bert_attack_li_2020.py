"""BERT-Attack: Li, Ma, Guo, Xue & Qiu (2020), "BERT-ATTACK: Adversarial Attack Against BERT Using BERT",
EMNLP. https://arxiv.org/abs/2004.09984

Words ranked by the score drop when replaced with [UNK], replaced by a masked LM's predictions; built like
TextAttack's ``bert_attack_li_2020`` recipe. The masked LM is any name or path (``--mlm``); offline,
``bert-base-uncased`` is replaced by the bundle's MiniLM stand-in (recorded). Offline USE: the numpy port.
"""

from textattack import Attack
from textattack.goal_functions import UntargetedClassification
from textattack.search_methods import GreedyWordSwapWIR

from robustbench_snn.attack_parts import AUTHORS_CODE_SETTINGS, PAPER_SETTINGS, shared_constraints, textattack_entry

NAME = "bert-attack"
CITATION = "Li et al. 2020, EMNLP (arXiv 2004.09984)"
SETTINGS = {
    "paper": PAPER_SETTINGS | {"transformation": "masked-lm"},  # the paper's text: 15 candidates from BERT
    "authors-code": AUTHORS_CODE_SETTINGS | {"transformation": "masked-lm", "candidates": 48},  # their code kept 48
    # TextAttack's recipe: 8 candidates (the paper's K=48 is too slow), 40% words, cosine USE >= 0.2
    "original": {"transformation": "masked-lm", "candidates": 8, "max_perturbed": 0.4, "use_threshold": 0.2,
               "use_metric": "cosine", "use_window": None, "use_compare_original": True},
}
DEVIATIONS = ("words of more than 3 word pieces get no substitutes (TextAttack enumerates K**pieces combinations "
              "in Python: 15**6 = 11 M for one word)",
              "a word of 2-3 pieces gets the first K one-word piece combinations in product order, as TextAttack "
              "0.3.11 computes them (it discards its sort by perplexity), not the K of lowest perplexity")


def build(model_wrapper, settings, parts):
    return Attack(UntargetedClassification(model_wrapper), shared_constraints(parts, settings),
                  parts.masked_lm_swap("bert-attack", settings["candidates"]), GreedyWordSwapWIR(wir_method="unk"))


def attack(model_wrapper):
    """TextAttack's entry point under the paper settings: `textattack attack --attack-from-file <this file>`."""
    return textattack_entry(build, SETTINGS, model_wrapper)
