"""Valid per-example rows and headers, for tests that damage them."""

from __future__ import annotations

HEADER = {"header": "snn-robust attack run", "identity": {"test": 1}, "identity_digest": "0123456789",
          "examples": [5, 3, 8, 1]}


def row(index: int, text: str = "a good movie") -> dict:
    """A schema-valid per-example row for test example ``index``."""
    return {"index": index, "label": 1, "outcome": "failed", "text": text, "perturbed_text": text,
            "original_prediction": 1, "perturbed_prediction": 1, "queries": 3, "model_calls": 3, "time_steps": 0,
            "words": 3, "perturbed_words": 0, "perturbed_share": 0.0, "seconds": 0.1, "model_seconds": 0.01}
