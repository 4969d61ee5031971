"""Datasets: registry, readers, seeded splits and tokenizers.

``load_dataset("sst2")`` returns train/dev/test examples plus the split's provenance (protocol, seed and
content hashes), which run records carry.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from robustbench_snn.data.readers import Example
from robustbench_snn.data.registry import (DATASETS, DatasetSpec, dataset_names, get_spec, local_dataset,
                                           register_dataset)
from robustbench_snn.checks import check_seed
from robustbench_snn.errors import UserError
from robustbench_snn.data.tokenizers import get_tokenizer
from robustbench_snn.resources import locate

TEST_FRACTION = 0.1  # the paper's random test split for datasets without a standard one
DEV_FRACTION = 0.1  # carved from the remaining training data, for model selection (the paper selected on test)

__all__ = ["DATASETS", "Dataset", "DatasetSpec", "Example", "cached_dataset", "dataset_names", "get_spec", "load_dataset", "local_dataset",
           "register_dataset", "split_hash"]


@dataclass(frozen=True)
class Dataset:
    """Examples of one dataset, split, with provenance."""

    spec: DatasetSpec
    train: list[Example]
    dev: list[Example]
    test: list[Example]
    split: dict = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    raw_count: int = 0

    def splits(self) -> dict[str, list[Example]]:
        return {"train": self.train, "dev": self.dev, "test": self.test}


def split_hash(examples: list[Example]) -> str:
    """Content hash of a split: sha256 over ``label<TAB>text`` lines, in order (16 hex digits)."""
    digest = hashlib.sha256()
    for text, label in examples:
        digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()[:16]


def seeded_split(examples: list[Example], seed: int) -> tuple[list[Example], list[Example], list[Example]]:
    """Shuffle with ``numpy.random.Generator(PCG64(seed))`` (stable across numpy versions); the first 10% is
    test, the next 10% of the remainder is dev, the rest train."""
    order = np.random.Generator(np.random.PCG64(seed)).permutation(len(examples))
    shuffled = [examples[i] for i in order]
    n_test = round(len(examples) * TEST_FRACTION)
    n_dev = round((len(examples) - n_test) * DEV_FRACTION)
    return shuffled[n_test + n_dev:], shuffled[n_test:n_test + n_dev], shuffled[:n_test]


def load_dataset(name: str, split_seed: int = 0, bundle: str | os.PathLike | None = None) -> Dataset:
    """Read, clean and split a registered dataset.

    Args:
        name: registry key (``mr``, ``sst2``, ``sst5``, ``subj``, ``chnsenti``, ``waimai``).
        split_seed: seed of the random test/dev split; ignored for datasets with a standard split (SST).
        bundle: explicit bundle folder (see ``resources``).
    """
    spec = get_spec(name)
    check_seed("split seed", split_seed)
    paths = {key: locate(res.name, bundle).path for key, res in spec.files.items()}
    read = spec.read(paths)
    dropped: Counter[str] = Counter()
    for result in read.values():
        dropped.update(result.dropped)
    raw_count = sum(len(r.examples) for r in read.values()) + sum(dropped.values())
    if spec.has_standard_split:
        train, dev, test = (read[s].examples for s in ("train", "dev", "test"))
        split = {"protocol": "standard train/dev/test files", "seed": None}
    else:
        train, dev, test = seeded_split(read["all"].examples, split_seed)
        split = {"protocol": f"seeded shuffle: {TEST_FRACTION:.0%} test, {DEV_FRACTION:.0%} of the rest dev",
                 "seed": split_seed}
    split["hashes"] = {"train": split_hash(train), "dev": split_hash(dev), "test": split_hash(test)}
    _check_splits(name, {"train": train, "dev": dev, "test": test})
    return Dataset(spec, train, dev, test, split, dict(dropped), raw_count)


def _check_splits(name: str, splits: dict[str, list[Example]]) -> None:
    """Refuse a dataset no model can be trained or measured on (an empty split); say when a split has one class
    only (its accuracy then measures the class balance, not a classifier)."""
    empty = [split for split, examples in splits.items() if not examples]
    if empty:
        raise UserError(f"dataset {name}: the {' and '.join(empty)} split(s) are empty; give it examples in every "
                        "split (or one 'all' file to split at random)")
    for split, examples in splits.items():
        if len({label for _, label in examples}) < 2:
            print(f"warning: dataset {name}: every {split} example has the same label; accuracy and robustness on "
                  "it measure nothing a classifier learned", file=sys.stderr)


@cache
def cached_dataset(name: str, split_seed: int = 0) -> Dataset:
    """:func:`load_dataset`, read once per process (planning many runs over one dataset)."""
    return load_dataset(name, split_seed)


def describe(dataset: Dataset) -> dict:
    """Sizes, label balance and average token length, for ``snn-robust datasets``."""
    tokenize = get_tokenizer(dataset.spec.tokenizer)
    everything = dataset.train + dataset.dev + dataset.test
    counts = Counter(label for _, label in everything)
    lengths = [len(tokenize(text)) for text, _ in everything]
    return {
        "name": dataset.spec.name,
        "language": dataset.spec.language,
        "classes": dataset.spec.num_classes,
        "train": len(dataset.train),
        "dev": len(dataset.dev),
        "test": len(dataset.test),
        "raw": dataset.raw_count,
        "dropped": sum(dataset.dropped.values()),
        "label balance": " / ".join(f"{100 * counts[c] / len(everything):.0f}%"
                                    for c in range(dataset.spec.num_classes)),
        "avg tokens": round(sum(lengths) / len(lengths), 1),
        "max_len": dataset.spec.max_len,
    }
