"""Splits: standard where published, seeded and reproducible elsewhere, with recorded content hashes."""

from __future__ import annotations

from collections import Counter

import pytest

from robustbench_snn.data import load_dataset, split_hash
from robustbench_snn.errors import UserError

MANIFEST_SIZES = {"mr": 10662, "sst2": 9613, "sst5": 11855, "subj": 10000, "chnsenti": 7766, "waimai": 11987}


@pytest.mark.slow  # the real datasets and resources of the bundle
@pytest.mark.parametrize("name", sorted(MANIFEST_SIZES))
def test_every_dataset_loads_with_manifest_sizes(name: str) -> None:
    data = load_dataset(name)
    assert data.raw_count == MANIFEST_SIZES[name]
    assert len(data.train) + len(data.dev) + len(data.test) == data.raw_count - sum(data.dropped.values())
    assert {label for _, label in data.train} == set(range(data.spec.num_classes))
    assert data.split["hashes"] == {s: split_hash(x) for s, x in data.splits().items()}


@pytest.mark.slow
def test_sst_uses_the_standard_split_and_ignores_the_seed() -> None:
    a, b = load_dataset("sst2", split_seed=0), load_dataset("sst2", split_seed=5)
    assert (len(a.train), len(a.dev), len(a.test)) == (6920, 872, 1821)
    assert a.split == b.split and a.split["seed"] is None


@pytest.mark.slow
def test_seeded_split_is_deterministic_and_partitions_the_data() -> None:
    first, again, other = load_dataset("mr", 0), load_dataset("mr", 0), load_dataset("mr", 1)
    assert first.split == again.split and first.split["hashes"] != other.split["hashes"]
    assert (len(first.train), len(first.dev), len(first.test)) == (8636, 960, 1066)
    whole = Counter(first.train + first.dev + first.test)
    assert whole == Counter(other.train + other.dev + other.test)
    # Pinned: the same seed must give the same split on every machine and numpy version.
    assert first.split["hashes"]["test"] == "1bca8da2891706a5"


def test_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(UserError, match="unknown dataset 'imdb'; valid datasets: chnsenti, mr, sst2, sst5, subj, tiny, waimai"):
        load_dataset("imdb")
