"""The model contract, adapters for every kind of model, and the TextAttack model wrapper with named sampling
protocols for stochastic models.

A :class:`Classifier` maps texts to class scores [N, C] under the randomness a protocol hands it with every
call; it says whether it is ``stochastic`` and whether it is ``seedable`` (a seed fixes its draws per text). The
protocols (recorded in every result):

- ``seeded``: the randomness is a seed: the same text always gets the same scores (for the SNN: spikes are a hash
  of (run seed, token, position), so a one-word substitution changes only that word's spikes);
- ``fresh``: new draws on every query, from a generator seeded by the run seed (the paper's protocol);
- ``eot:K``: scores averaged over K fresh draws per query (expectation over transformation).

Adapters: :class:`SpikingClassifier` (this package's SNN: the protocol's spike encoder is passed into every
call), :class:`ModuleClassifier` (any torch module over token ids with its tokenizer, Hugging Face sequence
classifiers included) and :class:`CallableClassifier` (any ``texts -> scores`` callable, TextAttack's
``ModelWrapper`` convention). :func:`as_classifier` picks one.

TextAttack caches model outputs per text. That is right only for deterministic scores, so
:attr:`ClassifierWrapper.deterministic` tells the harness whether to keep the goal function's cache, and a
wrapper under ``fresh``/``eot:K`` turns off the cache of any goal function that calls it (TextAttack's own
``Attacker`` and CLI included), instead of letting the first draw of each text be frozen.

The SNN's scores are spike counts per class divided by T (mean spikes per step per class group): TextAttack
applies a softmax to them, which then grades how close a text is to flipping instead of saturating at 0/1.
"""

from __future__ import annotations

import inspect
import random
import re
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from robustbench_snn.errors import UserError
from robustbench_snn.models.spiking import FreshBernoulli, SeededBernoulli, WindowCache

PROTOCOLS = {"seeded": "draws keyed by the seed (SNN: by seed, token and position); deterministic",
             "fresh": "new draws on every query (the paper's protocol)",
             "eot:K": "scores averaged over K fresh draws per query"}


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


@dataclass(frozen=True)
class Seeded:
    """Randomness fixed by ``seed``: the same text always gets the same draws."""

    seed: int


@dataclass(frozen=True)
class Fresh:
    """New draws on every call, from ``generator`` (models drawing from torch's global generator use that; the
    harness seeds both per example)."""

    generator: torch.Generator


# --- the contract and its adapters ----------------------------------------------------------------------------

class Classifier:
    """What the harness attacks: ``scores(texts, randomness, draws)`` -> float tensor [N, C].

    ``stochastic``: scores are random draws; ``takes_seed``: its call accepts ``seed=``, so :class:`Seeded`
    randomness fixes a stochastic model's scores per text (:attr:`seedable`);
    ``steps``: simulation steps per query (time-step counts; 0 for non-spiking models)."""

    stochastic = False
    takes_seed = False
    steps = 0

    @property
    def seedable(self) -> bool:
        return self.stochastic and self.takes_seed

    def scores(self, texts: list[str], randomness: Seeded | Fresh, draws: int = 1) -> torch.Tensor:
        raise NotImplementedError

    def start_example(self) -> None:
        """Forget per-example state (caches), so an example's scores never depend on the ones before it."""

    def _averaged(self, once: Callable[[], torch.Tensor], draws: int) -> torch.Tensor:
        return once() if draws == 1 else sum(once() for _ in range(draws)) / draws


class SpikingClassifier(Classifier):
    """This package's :class:`~robustbench_snn.models.spiking.SpikingTextCNN`: token ids from ``encode``, spikes
    from the protocol's encoder (``seeded``: :class:`SeededBernoulli`, reusing unchanged convolution windows
    when ``incremental``; fresh: :class:`FreshBernoulli` over the protocol's generator)."""

    stochastic = takes_seed = True

    def __init__(self, snn: nn.Module, encode: Callable[[list[str]], torch.Tensor], incremental: bool = True):
        self.snn, self.encode, self.incremental = snn.eval(), encode, incremental
        self.window_cache: WindowCache | None = None

    @property
    def steps(self) -> int:
        return self.snn.steps

    def start_example(self) -> None:
        if self.window_cache is not None:
            self.window_cache.clear()

    @torch.no_grad()
    def scores(self, texts, randomness, draws=1):
        ids = self.encode(texts)
        if isinstance(randomness, Seeded):
            if not self.incremental:
                return self.snn(ids, SeededBernoulli(randomness.seed)) / self.snn.steps
            if self.window_cache is None or self.window_cache.encoder.seed != randomness.seed:
                self.window_cache = WindowCache(self.snn, randomness.seed)
            return self.window_cache.counts(ids) / self.snn.steps
        encoder = FreshBernoulli(randomness.generator)
        counts = sum(self.snn(ids, encoder) for _ in range(draws)) / draws
        return counts / self.snn.steps


def _accepts(function, name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _seed_argument(randomness: Seeded | Fresh, seedable: bool) -> dict:
    """The ``seed=`` a seedable model is called with: the protocol's seed, or under fresh draws a new one from the
    protocol's generator (so a model that requires a seed gets fresh draws too)."""
    if not seedable:
        return {}
    if isinstance(randomness, Seeded):
        return {"seed": randomness.seed}
    return {"seed": int(torch.randint(0, 2**31 - 1, (1,), generator=randomness.generator))}


def _as_scores(output, where: str) -> torch.Tensor:
    """A model's output as a float tensor [N, C]: a tensor or array, a Hugging Face output's ``logits``, or the
    first element of a tuple."""
    if hasattr(output, "logits"):
        output = output.logits
    elif isinstance(output, tuple | list) and output and not np.isscalar(output[0]):
        output = output[0] if isinstance(output[0], torch.Tensor) else output
    scores = output if isinstance(output, torch.Tensor) else torch.as_tensor(np.asarray(output, dtype=np.float32))
    if scores.ndim != 2:
        raise UserError(f"{where} returned scores of shape {tuple(scores.shape)}; a classifier returns one row of "
                        "class scores per text, [N, C]")
    return scores.detach().float().cpu()


def _tokenizer_function(tokenizer) -> Callable:
    """``texts -> model inputs``: a Hugging Face tokenizer is called with padding, truncation and tensors."""
    try:
        from transformers import PreTrainedTokenizerBase
    except ImportError:  # transformers is a dependency; only a broken install lacks it
        PreTrainedTokenizerBase = ()
    if isinstance(tokenizer, PreTrainedTokenizerBase):
        return lambda texts: tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    if not callable(tokenizer):
        raise UserError(f"tokenizer {tokenizer!r} is not callable; pass a function from a list of texts to token "
                        "ids, or a Hugging Face tokenizer")
    return tokenizer


class ModuleClassifier(Classifier):
    """A torch module mapping its tokenizer's output (token ids, or a Hugging Face tokenizer's mapping) to
    class scores. Randomness inside the module comes from torch's global generator (fresh draws per call); a
    forward that accepts ``seed=`` is seedable (under fresh draws it gets a new seed per call)."""

    def __init__(self, module: nn.Module, tokenizer, stochastic: bool):
        self.module, self.tokenize, self.stochastic = module.eval(), _tokenizer_function(tokenizer), stochastic
        self.takes_seed = _accepts(module.forward, "seed")
        self.steps = int(getattr(module, "steps", 0) or 0)

    @torch.no_grad()
    def scores(self, texts, randomness, draws=1):
        inputs = self.tokenize(texts)

        def once():
            seed = _seed_argument(randomness, self.seedable)
            output = self.module(**inputs, **seed) if isinstance(inputs, Mapping) else self.module(inputs, **seed)
            return _as_scores(output, type(self.module).__name__)

        return self._averaged(once, draws)


class CallableClassifier(Classifier):
    """Any callable from a list of texts to class scores [N, C] (TextAttack's ``ModelWrapper`` convention); one
    that accepts ``seed=`` is seedable."""

    def __init__(self, function: Callable, stochastic: bool):
        self.function, self.stochastic = function, stochastic
        self.takes_seed = _accepts(function, "seed")

    def scores(self, texts, randomness, draws=1):
        name = getattr(self.function, "__qualname__", type(self.function).__name__)
        return self._averaged(lambda: _as_scores(self.function(list(texts), **_seed_argument(randomness, self.seedable)),
                                                 name), draws)


@contextmanager
def seeded_globals(seed: int):
    """Run a block with Python's, numpy's and torch's global generators seeded by ``seed``, restoring them
    after: a user's model that draws from them gives reproducible draws (re-scoring, stochasticity probes)."""
    python, state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed & 0xFFFFFFFF)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(python)
            np.random.set_state(state)


def probe_stochastic(classifier: Classifier, texts: list[str]) -> bool:
    """Whether two calls on the same texts with differently seeded generators give different scores."""
    draws = []
    for seed in (1, 2):
        with seeded_globals(seed):
            draws.append(classifier.scores(texts, Fresh(torch.Generator().manual_seed(seed))))
    return not torch.equal(*draws)


def as_classifier(model, tokenizer=None, stochastic: bool | None = None,
                  probe_texts: list[str] | None = None) -> Classifier:
    """The :class:`Classifier` for ``model``: one already; a torch module with its ``tokenizer``; or a callable
    from texts to scores. ``stochastic=None``: the model's ``stochastic`` attribute, else found by calling it
    twice on ``probe_texts`` (a stochastic model declared deterministic is refused the same way)."""
    if isinstance(model, Classifier):
        return model
    declared = getattr(model, "stochastic", None) if stochastic is None else stochastic
    if isinstance(model, nn.Module):
        if tokenizer is None:
            raise UserError(f"a torch module ({type(model).__name__}) needs the tokenizer it expects: pass "
                            "tokenizer=<function from texts to token ids, or a Hugging Face tokenizer>")
        classifier = ModuleClassifier(model, tokenizer, bool(declared))
    elif callable(model):
        classifier = CallableClassifier(model, bool(declared))
    else:
        raise UserError(f"cannot benchmark a {type(model).__name__}: pass a model from load_model(), a torch "
                        "module with its tokenizer, or a callable from a list of texts to class scores")
    if probe_texts and not classifier.stochastic:
        varies = probe_stochastic(classifier, probe_texts)
        if varies and declared is False:
            raise UserError(f"{type(model).__name__} was declared deterministic (stochastic=False) but gave "
                            "different scores for the same texts; pass stochastic=True")
        classifier.stochastic = varies
    return classifier


# --- the TextAttack wrapper ------------------------------------------------------------------------------------

class _NoMemory(dict):
    """A goal-function cache that never reports a hit: every text is scored on every query (TextAttack stores
    each output and reads it straight back, so this mapping keeps only the latest)."""

    def __contains__(self, key) -> bool:
        return False

    def get_size(self) -> int:  # lru.LRU's interface, used by TextAttack when pickling a goal function
        return 0


class ClassifierWrapper:
    """Texts -> class scores [N, C] under a sampling protocol; counts queries and SNN time steps.

    A TextAttack ``ModelWrapper`` (registered as its virtual subclass by :func:`register_with_textattack`, so
    this module can be imported before TextAttack's offline setup has run). It owns the randomness: a seed
    under ``seeded``, else a generator reseeded per example (:meth:`start_example`)."""

    def __init__(self, classifier: Classifier, sampling: Sampling, seed: int, batch_size: int = 256):
        if classifier.stochastic and sampling.protocol == "seeded" and not classifier.seedable:
            raise UserError("this model is stochastic but takes no seed, so `seeded` sampling cannot fix its "
                            "draws: use sampling fresh or eot:K, or give its call a seed= argument")
        self.classifier, self.sampling, self.seed, self.batch_size = classifier, sampling, seed, batch_size
        self.randomness = Seeded(seed) if sampling.protocol == "seeded" or not classifier.stochastic else \
            Fresh(torch.Generator().manual_seed(seed))
        self.draws = sampling.draws if classifier.stochastic else 1
        # TextAttack reads `model` only to warn about classes it does not know: the adapter is a classifier by
        # construction (scores per class), so its own class is given (see _KnownModelsFilter)
        self.model = classifier
        self.queries = 0
        self.time_steps = 0
        self.model_seconds = 0.0  # time inside model queries (the rest of an attack is search and constraints)

    @property
    def stochastic(self) -> bool:
        return self.classifier.stochastic

    @property
    def deterministic(self) -> bool:
        """Whether a text always gets the same scores (so TextAttack may cache them)."""
        return isinstance(self.randomness, Seeded)

    def start_example(self, example_seed: int | None = None) -> None:
        """Zero the per-example counters, forget cached windows and reseed fresh draws from ``example_seed``, so
        an example's scores never depend on which examples ran before it in this process."""
        self.queries = self.time_steps = 0
        self.model_seconds = 0.0
        self.classifier.start_example()
        if example_seed is not None and isinstance(self.randomness, Fresh):
            self.randomness.generator.manual_seed(example_seed)

    def _uncache_caller(self) -> None:
        """Turn off the output cache of the TextAttack goal function calling this wrapper (draws vary)."""
        frame = sys._getframe(2)
        for _ in range(4):
            if frame is None:
                return
            caller = frame.f_locals.get("self")
            if getattr(caller, "use_cache", False) and not isinstance(caller._call_model_cache, _NoMemory):
                caller._call_model_cache = _NoMemory()
                return
            frame = frame.f_back

    def __call__(self, text_input_list: list[str]) -> np.ndarray:
        if not self.deterministic:
            self._uncache_caller()
        began = time.perf_counter()
        texts = list(text_input_list)
        self.queries += len(texts)
        scores = torch.cat([self.classifier.scores(texts[i:i + self.batch_size], self.randomness, self.draws)
                            for i in range(0, len(texts), self.batch_size)])
        self.time_steps += len(texts) * self.classifier.steps * self.draws
        self.model_seconds += time.perf_counter() - began
        return scores.numpy()

    def fresh_predictions(self, texts: list[str], draws: int, seed: int) -> np.ndarray:
        """Predicted classes [draws, N] from ``draws`` independent fresh draws (re-scoring); one row for
        deterministic models. Does not count as attack queries."""
        # a deterministic model scores all texts at once, as it always has (its floats depend on the batch)
        draws, size = (draws, self.batch_size) if self.stochastic else (1, max(len(texts), 1))
        fresh = Fresh(torch.Generator().manual_seed(seed))
        with seeded_globals(seed):
            return np.stack([torch.cat([self.classifier.scores(texts[i:i + size], fresh).argmax(-1)
                                        for i in range(0, len(texts), size)]).numpy() for _ in range(draws)])


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
