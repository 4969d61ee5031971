"""The model contract and adapters for every kind of model.

A :class:`Classifier` maps texts to class scores [N, C] under the randomness a protocol hands it with every
call; it says whether it is ``stochastic`` and whether it is ``seedable`` (a seed fixes its draws per text):
:class:`Seeded` randomness (the ``seeded`` protocol) or :class:`Fresh` draws (``fresh``, ``eot:K``; see
:class:`~robustbench_snn.config.Sampling`).

Adapters: :class:`SpikingClassifier` (this package's SNN: the protocol's spike encoder is passed into every
call), :class:`ModuleClassifier` (any torch module over token ids with its tokenizer, Hugging Face sequence
classifiers included) and :class:`CallableClassifier` (any ``texts -> scores`` callable, TextAttack's
``ModelWrapper`` convention). :func:`as_classifier` picks one.

The SNN's scores are spike counts per class divided by T (mean spikes per step per class group): TextAttack
applies a softmax to them, which then grades how close a text is to flipping instead of saturating at 0/1.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from robustbench_snn.errors import UserError
from robustbench_snn.models.spiking import FreshBernoulli, SeededBernoulli
from robustbench_snn.models.window_cache import WindowCache
from robustbench_snn.runtime import module_device


@dataclass(frozen=True)
class Seeded:
    """Randomness fixed by ``seed``: the same text always gets the same draws."""

    seed: int


@dataclass(frozen=True)
class Fresh:
    """New draws on every call, from ``generator`` (models drawing from torch's global generator use that; the
    harness seeds both per example)."""

    generator: torch.Generator


class Classifier:
    """What the harness attacks: ``scores(texts, randomness, draws)`` -> float tensor [N, C].

    ``stochastic``: scores are random draws; ``takes_seed``: its call accepts ``seed=``, so :class:`Seeded`
    randomness fixes a stochastic model's scores per text (:attr:`seedable`);
    ``steps``: simulation steps per query (time-step counts; 0 for non-spiking models)."""

    stochastic = False
    takes_seed = False
    steps = 0
    white_box = None  # a gradients.WhiteBox where the model's gradients are known (this package's networks)
    transfer_source = None  # name -> a source Classifier for transfer attacks (this package's SNNs: zoo.Built)

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
        return self._counts(self.encode(texts).to(module_device(self.snn)), randomness, draws).cpu() / self.snn.steps

    def _counts(self, ids: torch.Tensor, randomness, draws: int) -> torch.Tensor:
        if isinstance(randomness, Seeded):
            if not self.incremental:
                return self.snn(ids, SeededBernoulli(randomness.seed))
            if self.window_cache is None or self.window_cache.encoder.seed != randomness.seed:
                self.window_cache = WindowCache(self.snn, randomness.seed)
            return self.window_cache.counts(ids)
        encoder = FreshBernoulli(randomness.generator)
        return sum(self.snn(ids, encoder) for _ in range(draws)) / draws


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
    """A model's output as a float tensor: a tensor or array, a Hugging Face output's ``logits``, or the first
    element of a tuple; anything else is a one-line error naming the model contract."""
    if hasattr(output, "logits"):
        output = output.logits
    elif isinstance(output, tuple | list) and output and not np.isscalar(output[0]):
        output = output[0] if isinstance(output[0], torch.Tensor) else output
    try:
        scores = output if isinstance(output, torch.Tensor) else torch.as_tensor(np.asarray(output, dtype=np.float32))
    except (TypeError, ValueError) as err:
        raise UserError(f"{where} returned {type(output).__name__} that is not numbers ({err}); {CONTRACT}") from None
    return scores.detach().float().cpu()


CONTRACT = "a classifier returns one row of finite class scores per text, [N texts, C classes]"


def check_scores(scores: torch.Tensor, texts: int, num_classes: int | None, where: str) -> torch.Tensor:
    """``scores`` if they keep the model contract (one row per text, one finite score per class of the dataset);
    else a one-line error saying what was wrong."""
    if scores.ndim != 2 or scores.shape[0] != texts:
        raise UserError(f"{where} returned scores of shape {tuple(scores.shape)} for {texts} texts; {CONTRACT}")
    if num_classes is not None and scores.shape[1] != num_classes:
        raise UserError(f"{where} returned {scores.shape[1]} scores per text for a dataset of {num_classes} classes; "
                        f"{CONTRACT}")
    if scores.shape[1] < 2:
        raise UserError(f"{where} returned one score per text; {CONTRACT} (at least two classes)")
    if not torch.isfinite(scores).all():
        bad = int((~torch.isfinite(scores)).any(1).sum())
        raise UserError(f"{where} returned NaN or infinite scores for {bad} of {texts} texts; {CONTRACT}")
    return scores


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


def _on(inputs, device: torch.device):
    """A tokenizer's output (ids, or a mapping of tensors) on the module's device."""
    if isinstance(inputs, torch.Tensor):
        return inputs.to(device)
    if isinstance(inputs, Mapping):
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
    return inputs


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
        inputs = _on(self.tokenize(texts), module_device(self.module))

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


def behaviour_digest(classifier: Classifier, texts: list[str]) -> str:
    """sha256 of a model's scores on ``texts`` (globals seeded): what a user's callable computes, for its identity,
    so two different functions under one name never share results (a model whose draws no seed fixes gets a new
    digest each time, so its results are never reused)."""
    import hashlib

    with seeded_globals(0):
        scores = classifier.scores(texts, Fresh(torch.Generator().manual_seed(0)))
    return hashlib.sha256(scores.numpy().astype(np.float32).tobytes()).hexdigest()


def as_classifier(model, tokenizer=None, stochastic: bool | None = None, probe_texts: list[str] | None = None,
                  num_classes: int | None = None) -> Classifier:
    """The :class:`Classifier` for ``model``: one already; a torch module with its ``tokenizer``; or a callable
    from texts to scores. ``probe_texts``: its scores on them are checked against the contract (``num_classes``
    columns); ``stochastic=None``: the model's ``stochastic`` attribute, else found by calling it twice on them (a
    stochastic model declared deterministic is refused the same way)."""
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
    if probe_texts:
        with seeded_globals(0):
            check_scores(classifier.scores(probe_texts, Fresh(torch.Generator().manual_seed(0))), len(probe_texts),
                         num_classes, type(model).__name__)
    if probe_texts and not classifier.stochastic:
        varies = probe_stochastic(classifier, probe_texts)
        if varies and declared is False:
            raise UserError(f"{type(model).__name__} was declared deterministic (stochastic=False) but gave "
                            "different scores for the same texts; pass stochastic=True")
        classifier.stochastic = varies
    return classifier
