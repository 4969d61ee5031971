"""How many characters the paper's 32 jieba words cover on the Chinese datasets, against this project's 32
characters: the measurement behind the character length of ChnSenti and Waimai (see the README's deviations).

For every training review: its length in characters (the zh-char tokenizer's tokens) and the characters its first
32 jieba words span. Prints the share of each review's characters kept at 32 characters and at the chosen length,
and what 32 words keep. Needs jieba (`pip install jieba`; not a dependency of the project).

    SNN_ROBUST_BUNDLE=../shared/bundle python benchmarks/chinese_length.py
"""

from __future__ import annotations

import statistics

from robustbench_snn.data import load_dataset
from robustbench_snn.data.tokenizers import chinese_characters, chinese_words

WORDS = 32  # the paper's sentence length for the Chinese datasets, in jieba words


def kept(lengths: list[int], cap: int) -> float:
    """Share of all characters that a cut at ``cap`` keeps."""
    return sum(min(n, cap) for n in lengths) / sum(lengths)


def main() -> None:
    for name in ("chnsenti", "waimai"):
        texts = [t for t, _ in load_dataset(name, 0).train]
        characters = [len(chinese_characters(t)) for t in texts]
        covered = [len(chinese_characters("".join(chinese_words(t)[:WORDS]))) for t in texts]
        share_words = sum(covered) / sum(characters)
        print(f"{name}: {len(texts)} reviews, {statistics.mean(characters):.1f} characters on average "
              f"(median {statistics.median(characters):.0f}); 32 jieba words span {statistics.mean(covered):.1f} "
              f"characters on average (median {statistics.median(covered):.0f})")
        print(f"  characters kept: 32 characters {100 * kept(characters, 32):.1f}%, 32 words {100 * share_words:.1f}%")
        for cap in (48, 64, 80, 96, 128):
            print(f"  cut at {cap} characters keeps {100 * kept(characters, cap):.1f}%")


if __name__ == "__main__":
    main()
