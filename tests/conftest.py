"""Shared fixtures: an isolated cache per test session, tiny resources made here, and the offline bundle for the
slow tier.

The default tier (``-m 'not slow'``) runs without the bundle, which it hides: its data are the tiny dataset,
vectors and NLTK stopword list that :func:`tiny` writes, so it runs anywhere in about two minutes. Tests that
need the real, heavy resources are marked ``slow`` and ask for the ``bundle`` fixture.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
BUNDLE = Path(os.environ.get("SNN_ROBUST_BUNDLE") or REPO.parent / "shared" / "bundle")


def _runs_slow_tests(config: pytest.Config) -> bool:
    return config.option.markexpr.replace(" ", "") != "notslow"


@pytest.fixture(scope="session")
def bundle(request: pytest.FixtureRequest) -> Path:
    """The offline bundle: $SNN_ROBUST_BUNDLE, else ../shared/bundle beside the checkout (slow tier only)."""
    if not _runs_slow_tests(request.config):
        pytest.fail("a test of the default tier asked for the bundle; mark it slow or use the tiny fixtures")
    if not (BUNDLE / "SHA256SUMS").exists():
        pytest.fail(f"offline bundle not found at {BUNDLE}; set SNN_ROBUST_BUNDLE")
    return BUNDLE


POSITIVE = ("good", "great", "fun", "funny", "charming", "moving", "clever", "warm", "fine", "amusing")
NEGATIVE = ("bad", "awful", "boring", "dull", "tedious", "flat", "stupid", "cold", "terrible", "poor")
NOUNS = ("movie", "film", "story", "plot", "cast", "script")
TEMPLATES = ("the {noun} was {adj}", "a {adj} {noun}", "what a {adj} {noun} !", "i found the {noun} {adj}",
             "{adj} , really {adj}")
OTHER_WORDS = ("the", "was", "a", "what", "i", "found", "really", "and", "it", "is")


@dataclass(frozen=True)
class Tiny:
    """The tiny English dataset ``tiny`` (registered for the session) and its 16-d vectors file."""

    dataset: str
    vectors: str
    folder: Path


def _sentences() -> list[tuple[int, str]]:
    examples = []
    for template, noun, (label, adjectives) in itertools.product(TEMPLATES, NOUNS, ((1, POSITIVE), (0, NEGATIVE))):
        for adj in adjectives[:7]:
            examples.append((label, template.format(noun=noun, adj=adj)))
    return examples  # 5 x 6 x 2 x 7 = 420 sentences


def _write_tiny(folder: Path) -> Tiny:
    rng = np.random.default_rng(0)
    examples = [_sentences()[i] for i in rng.permutation(len(_sentences()))]
    splits = {"test": examples[:60], "dev": examples[60:100], "train": examples[100:]}
    files = {}
    for split, rows in splits.items():
        files[split] = folder / f"tiny.{split}"
        files[split].write_text("".join(f"{label} {text}\n" for label, text in rows))
    words = sorted(set(POSITIVE + NEGATIVE + NOUNS + OTHER_WORDS + ("!", ",")))
    vectors = folder / "tiny-16d.glove.txt"
    with vectors.open("w") as out:
        for word in words:
            vector = rng.normal(0, 0.3, 16)
            vector[0] = 1.0 if word in POSITIVE else -1.0 if word in NEGATIVE else 0.0  # a sentiment direction
            out.write(word + " " + " ".join(f"{x:.4f}" for x in vector) + "\n")
    description = folder / "tiny.json"  # read by every process through $SNN_ROBUST_DATASETS (grid workers too)
    description.write_text(json.dumps({"name": "tiny", "files": {k: v.name for k, v in files.items()},
                                       "max_len": 10, "vectors": str(vectors), "ann_lr": 5e-3}))
    return Tiny("tiny", str(vectors), folder)


@pytest.fixture(scope="session")
def tiny_data(isolated_env) -> Tiny:
    return isolated_env


@pytest.fixture(scope="session", autouse=True)
def isolated_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Every test sees a private cache shared by the session, no network downloads, the tiny resources, and the
    bundle only in the slow tier."""
    folder = tmp_path_factory.mktemp("tiny")
    made = _write_tiny(folder)
    stopwords = folder / "nltk_data" / "corpora" / "stopwords"
    stopwords.mkdir(parents=True)
    # TextAttack reads NLTK's English stopword list at import; the bundle's is the real one
    (stopwords / "english").write_text("\n".join(("a", "an", "the", "and", "is", "was", "i", "it", "really")) + "\n")
    with pytest.MonkeyPatch.context() as patch:
        if _runs_slow_tests(request.config):
            patch.setenv("SNN_ROBUST_BUNDLE", str(BUNDLE))
        else:
            patch.delenv("SNN_ROBUST_BUNDLE", raising=False)
        patch.setenv("SNN_ROBUST_HOME", str(tmp_path_factory.getbasetemp() / "snn-robust-home"))
        patch.setenv("SNN_ROBUST_OFFLINE", "1")
        patch.setenv("SNN_ROBUST_DEVICE", "cpu")  # the pinned digests are CPU floats, GPU or not
        patch.setenv("NLTK_DATA", str(folder / "nltk_data"))
        patch.setenv("SNN_ROBUST_DATASETS", str(folder / "tiny.json"))
        from robustbench_snn.data.registry import dataset_file, register_dataset

        register_dataset(dataset_file(folder / "tiny.json"))  # in case the registry was imported before
        yield made
