"""Light stand-ins for the heavy attack resources: a dictionary-backed word swap and no sentence encoder.
Recipes keep their real search method, goal function and remaining constraints."""

from __future__ import annotations

from robustbench_snn.attacks import Components
from robustbench_snn.resources import prepare_textattack

SYNONYMS = {"good": ["great", "fine"], "bad": ["awful", "poor"], "movie": ["film"], "funny": ["amusing", "dull"],
            "boring": ["dull", "tedious"], "great": ["good", "terrible"], "best": ["worst"], "love": ["hate"]}


class DictionaryComponents(Components):
    """Every word swap looks words up in ``SYNONYMS``; constraints that need models are left out."""

    def __init__(self, synonyms: dict[str, list[str]] | None = None):
        prepare_textattack()
        from textattack.transformations import WordSwap

        table = synonyms or SYNONYMS

        class DictionarySwap(WordSwap):
            def _get_replacement_words(self, word):
                return list(table.get(word.lower(), []))

        self.swap_class = DictionarySwap
        self.masked_lm, self.masked_lm_stand_in = "dictionary", None

    def stand_ins(self) -> dict[str, str]:
        return {"all": "test dictionary swap, no sentence encoder"}

    def embedding_swap(self, max_candidates):
        return self.swap_class()

    def wordnet_swap(self, max_candidates=None):
        return self.swap_class()

    def masked_lm_swap(self, method, max_candidates):
        return self.swap_class()

    def word_embedding_distance(self, min_cos_sim):
        from textattack.constraints.pre_transformation import RepeatModification

        return RepeatModification()  # light placeholder: the real one loads the counter-fitted vectors

    def part_of_speech(self):
        return None

    def sentence_encoder(self, threshold, metric="cosine", **kwargs):
        return None
