"""TextAttack model wrappers for every model kind, with named sampling protocols for the stochastic SNN.

Protocols (recorded in every result):

- ``fresh``: new spikes on every query, drawn from a generator seeded by the run seed (the paper's protocol).
- ``seeded``: spikes are a hash of (run seed, token, position): the same text always gets the same logits and a
  one-word substitution changes only that word's spikes.
- ``eot:K``: logits averaged over K fresh draws per query (expectation over transformation).

TextAttack caches model outputs per text. That is right only for deterministic models, so
:meth:`ClassifierWrapper.deterministic` tells the harness whether to keep the goal function's cache.

The SNN's scores are spike counts per class divided by T (mean spikes per step per class group): TextAttack
applies a softmax to them, which then grades how close a text is to flipping instead of saturating at 0/1.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from robustbench_snn.errors import UserError
from robustbench_snn.models.spiking import FreshBernoulli, SeededBernoulli, SpikingTextCNN, WindowCache

PROTOCOLS = {"seeded": "spikes keyed by (seed, token, position); deterministic",
             "fresh": "new spikes on every query (the paper's protocol)",
             "eot:K": "logits averaged over K fresh draws per query"}


@dataclass(frozen=True)
class Sampling:
    """A sampling protocol: ``seeded``, ``fresh`` or ``eot`` with ``draws`` K."""

    protocol: str
    draws: int = 1

    @classmethod
    def parse(cls, text: str) -> Sampling:
        if text in ("seeded", "fresh"):
            return cls(text)
        if re.fullmatch(r"eot:[0-9]+", text) and int(text[4:]) >= 1:  # ASCII digits only: "eot:²" is no K
            return cls("eot", int(text[4:]))
        raise UserError(f"unknown sampling protocol {text!r}; valid protocols: seeded, fresh, eot:K (K >= 1, "
                        "e.g. eot:10)")

    def __str__(self) -> str:
        return f"eot:{self.draws}" if self.protocol == "eot" else self.protocol


class ClassifierWrapper:
    """Texts -> class scores [N, C] for any model kind; counts queries and SNN time steps.

    A TextAttack ``ModelWrapper`` (registered as its virtual subclass by :func:`register_with_textattack`, so
    this module can be imported before TextAttack's offline setup has run). For an SNN it sets the model's
    spike encoder to the protocol's: one wrapper per model at a time."""

    def __init__(self, model: nn.Module, encode: Callable[[list[str]], torch.Tensor], sampling: Sampling,
                 seed: int, batch_size: int = 256, incremental: bool = True):
        self.model = model.eval()
        self.encode = encode
        self.sampling = sampling
        self.seed = seed
        self.batch_size = batch_size
        self.spiking = isinstance(model, SpikingTextCNN)
        if self.spiking:
            self.model.encoder = (SeededBernoulli(seed) if sampling.protocol == "seeded"
                                  else FreshBernoulli(torch.Generator().manual_seed(seed)))
        # seeded queries reuse the work of unchanged convolution windows (same counts, see WindowCache)
        self.window_cache = (WindowCache(model, seed) if self.spiking and incremental
                             and sampling.protocol == "seeded" else None)
        self.queries = 0
        self.time_steps = 0
        self.model_seconds = 0.0  # time inside model queries (the rest of an attack is search and constraints)

    @property
    def deterministic(self) -> bool:
        """Whether a text always gets the same scores (so TextAttack may cache them)."""
        return not self.spiking or self.sampling.protocol == "seeded"

    def start_example(self) -> None:
        """Zero the per-example counters and forget cached windows, so an example's scores never depend on
        which examples ran before it in this process (see ``harness.attack_one``)."""
        self.queries = self.time_steps = 0
        self.model_seconds = 0.0
        if self.window_cache is not None:
            self.window_cache.clear()

    @torch.no_grad()
    def scores(self, ids: torch.Tensor) -> torch.Tensor:
        """Class scores for token ids: logits (ANN) or spike counts / T averaged over the protocol's draws."""
        if not self.spiking:
            return self.model(ids)
        if self.window_cache is not None:
            counts = self.window_cache.counts(ids)
        else:
            counts = sum(self.model(ids) for _ in range(self.sampling.draws)) / self.sampling.draws
        self.time_steps += len(ids) * self.model.steps * self.sampling.draws
        return counts / self.model.steps

    def __call__(self, text_input_list: list[str]) -> np.ndarray:
        began = time.perf_counter()
        self.queries += len(text_input_list)
        ids = self.encode(list(text_input_list))
        scores = torch.cat([self.scores(ids[i:i + self.batch_size]) for i in range(0, len(ids), self.batch_size)])
        self.model_seconds += time.perf_counter() - began
        return scores.numpy()

    @torch.no_grad()
    def fresh_predictions(self, texts: list[str], draws: int, seed: int) -> np.ndarray:
        """Predicted classes [draws, N] from ``draws`` independent fresh draws (re-scoring); one row for
        deterministic ANNs. Does not count as attack queries."""
        ids = self.encode(texts)
        if not self.spiking:
            return self.model(ids).argmax(-1).numpy()[None]
        encoder = self.model.encoder
        self.model.encoder = FreshBernoulli(torch.Generator().manual_seed(seed))
        try:
            return np.stack([torch.cat([self.model(ids[i:i + self.batch_size]).argmax(-1)
                                        for i in range(0, len(ids), self.batch_size)]).numpy()
                             for _ in range(draws)])
        finally:
            self.model.encoder = encoder


class _KnownModelsFilter:
    """Drops TextAttack's "Unknown if model of class ... compatible with goal function" warning for this package's
    models: they are classifiers by construction (scores per class), so on a healthy run the warning only worries."""

    def filter(self, record) -> bool:
        message = record.getMessage()
        return not (message.startswith("Unknown if model of class <class 'robustbench_snn.") and
                    "compatible with goal function" in message)


def register_with_textattack() -> None:
    """Make :class:`ClassifierWrapper` a TextAttack ``ModelWrapper``; call after ``prepare_textattack()``."""
    from textattack.models.wrappers import ModelWrapper
    from textattack.shared import logger  # the logger TextAttack's validators warn through

    ModelWrapper.register(ClassifierWrapper)
    if not any(isinstance(f, _KnownModelsFilter) for f in logger.filters):
        logger.addFilter(_KnownModelsFilter())
