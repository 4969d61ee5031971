"""Light stand-ins for the heavy attack resources: a dictionary-backed word swap and no sentence encoder.
Recipes keep their real search method, goal function and remaining constraints."""

from __future__ import annotations

from robustbench_snn.attack_parts import AttackParts
from robustbench_snn.resources import prepare_textattack

SYNONYMS = {"good": ["great", "fine"], "bad": ["awful", "poor"], "movie": ["film"], "funny": ["amusing", "dull"],
            "boring": ["dull", "tedious"], "great": ["good", "terrible"], "best": ["worst"], "love": ["hate"]}
# Sentiment flips for common review words, so attacks on real SST-2 examples sometimes succeed.
SYNONYMS |= {"fun": ["dull"], "beautiful": ["ugly"], "worst": ["best"], "fascinating": ["tedious"],
             "entertaining": ["tiresome"], "well": ["badly"], "interesting": ["boring"], "clever": ["stupid"],
             "smart": ["dumb"], "charming": ["annoying"], "enjoyable": ["unpleasant"], "powerful": ["weak"],
             "moving": ["flat"], "strong": ["weak"], "perfect": ["flawed"], "better": ["worse"], "rich": ["thin"],
             "original": ["derivative"], "warm": ["cold"], "delightful": ["dreadful"], "new": ["stale"],
             "compelling": ["unconvincing"], "lighthearted": ["heavy-handed"], "find": ["miss"], "most": ["least"],
             "dull": ["lively"], "tedious": ["gripping"], "little": ["much"], "nothing": ["everything"],
             "never": ["always"], "too": ["just"], "work": ["fail"], "life": ["death"], "heart": ["cynicism"]}


class DictionaryParts(AttackParts):
    """Every word swap looks words up in ``SYNONYMS``; constraints that need models are left out."""

    def __init__(self, synonyms: dict[str, list[str]] | None = None):
        prepare_textattack()
        from textattack.transformations import WordSwap

        table = synonyms or SYNONYMS

        class DictionarySwap(WordSwap):
            def _get_replacement_words(self, word):
                return list(table.get(word.lower(), []))

        self.swap_class = DictionarySwap
        self._masked_lm_name, self._masked_lm = "dictionary", ("dictionary", None)

    def stand_ins(self) -> dict[str, str]:
        return {"all": "test dictionary swap, no sentence encoder"}

    def embedding_swap(self, max_candidates):
        return self.swap_class()

    def wordnet_swap(self, max_candidates=None):
        return self.swap_class()

    def masked_lm_swap(self, method, max_candidates):
        return self.swap_class()

    def homoglyph_swap(self):
        return self.swap_class()

    def word_embedding_distance(self, min_cos_sim):
        from textattack.constraints.pre_transformation import RepeatModification

        return RepeatModification()  # light placeholder: the real one loads the counter-fitted vectors

    def part_of_speech(self):
        return None

    def sentence_encoder(self, threshold, metric="cosine", **kwargs):
        return None

    def mean_similarity(self, rows):
        return None


class DyingParts(DictionaryParts):
    """Dictionary components whose process exits abruptly, like a killed worker, at its
    ``$SNN_ROBUST_TEST_DIE_AT``-th word swap, once: the file ``$SNN_ROBUST_TEST_DIE_ONCE`` records the death.
    (The ``SNN_ROBUST_`` prefix makes the Ray executor pass both to its workers.)"""

    def __init__(self):
        import os

        super().__init__()
        base, marker, limit = self.swap_class, os.environ["SNN_ROBUST_TEST_DIE_ONCE"], int(
            os.environ.get("SNN_ROBUST_TEST_DIE_AT", "20"))
        calls = [0]

        class DyingSwap(base):
            def _get_replacement_words(self, word):
                calls[0] += 1
                if calls[0] >= limit and not os.path.exists(marker):
                    open(marker, "w").close()
                    os._exit(9)
                return super()._get_replacement_words(word)

        self.swap_class = DyingSwap

    def identity(self) -> dict:
        # dying once changes no row: its runs are the dictionary runs they are compared with
        return super().identity() | {"parts": DictionaryParts.__qualname__}


def schema_record(table: str, **fields) -> dict:
    """A record of the current schema with the fields every record has, at neutral values, and ``fields`` (what a
    test's tables or figures read)."""
    from robustbench_snn.records import SCHEMA_VERSION

    model = fields.get("model", "snn-ft")
    stochastic = model.startswith("snn")
    base = {"table": table, "schema_version": SCHEMA_VERSION, "identity_digest": "fixture", "dataset": "sst2",
            "model": model, "stochastic": stochastic, "seed": 0, "options": "", "code": {"revision": "fixture"},
            "config": {"dataset": fields.get("dataset", "sst2"), "kind": model, "seed": 0},
            "sampling": {"protocol": "fresh" if stochastic else "deterministic"}}
    return base | fields


def busy_snn(embedding, num_classes: int, population_size: int, pool_neurons: bool = True, steps: int = 12,
             fc_scale: float = 16.0):
    """A spiking TextCNN converted from an untrained tailored one, with signed output weights (some output neurons
    fire, some stay silent) and weights scaled up so every layer fires within a few steps: real neurons, cheap."""
    import torch

    from robustbench_snn.models.spiking import SpikingTextCNN
    from robustbench_snn.models.textcnn import TailoredTextCNN

    ann = TailoredTextCNN(embedding, num_classes, population_size=population_size).eval()
    ann.fc.reset_parameters()
    snn = SpikingTextCNN.from_tailored(ann, steps=steps, pool_neurons=pool_neurons)
    with torch.no_grad():
        for conv in snn.convs:
            conv.weight.mul_(4.0)
        snn.fc.weight.mul_(fc_scale)
    return snn.eval()
