"""The TextAttack model wrapper: any :class:`~robustbench_snn.classifiers.Classifier` under a named sampling
protocol, counting queries and SNN time steps.

TextAttack caches model outputs per text. That is right only for deterministic scores, so this module is the one
place that touches TextAttack's caches: :func:`set_goal_function_cache` sets a goal function's cache for a
wrapper, and a wrapper under ``fresh``/``eot:K`` turns off the cache of any goal function that calls it
(TextAttack's own ``Attacker`` and CLI included) instead of letting the first draw of each text be frozen. The
``frozen`` protocol keeps the cache on deliberately: it is the authors' code's protocol, named for what it does.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from robustbench_snn.classifiers import Classifier, Fresh, Seeded, check_scores, seeded_globals
from robustbench_snn.config import Sampling
from robustbench_snn.errors import UserError


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

    def __init__(self, classifier: Classifier, sampling: Sampling, seed: int, batch_size: int = 256,
                 num_classes: int | None = None):
        if classifier.stochastic and sampling.protocol == "seeded" and not classifier.seedable:
            raise UserError("this model is stochastic but takes no seed, so `seeded` sampling cannot fix its "
                            "draws: use sampling fresh or eot:K, or give its call a seed= argument")
        self.classifier, self.sampling, self.seed, self.batch_size = classifier, sampling, seed, batch_size
        self.num_classes = num_classes  # checked against every answer (None: any number of at least 2)
        self.randomness = Seeded(seed) if sampling.protocol == "seeded" or not classifier.stochastic else \
            Fresh(torch.Generator().manual_seed(seed))
        self.draws = sampling.draws if classifier.stochastic else 1
        # TextAttack reads `model` only to warn about classes it does not know: the adapter is a classifier by
        # construction (scores per class), so its own class is given (see _KnownModelsFilter)
        self.model = classifier
        self.queries = 0
        self.time_steps = 0
        self.model_seconds = 0.0  # time inside model queries (the rest of an attack is search and constraints)
        # white-box attacks: EOT draws per gradient and the surrogate's slope (None: the training one); spike
        # draws for gradients come from a generator of their own, reseeded per example like the queries'
        self.gradient_draws, self.slope = max(self.draws, 1), None
        self.gradient_generator = torch.Generator().manual_seed(seed)

    @property
    def stochastic(self) -> bool:
        return self.classifier.stochastic

    @property
    def deterministic(self) -> bool:
        """Whether a text always gets the same scores."""
        return isinstance(self.randomness, Seeded)

    @property
    def cached(self) -> bool:
        """Whether TextAttack may cache a text's scores: they never change, or the ``frozen`` protocol asks for
        the first draw of each text to stand for the rest of the example."""
        return self.deterministic or self.sampling.protocol == "frozen"

    def start_example(self, example_seed: int | None = None) -> None:
        """Zero the per-example counters, forget cached windows and reseed fresh draws from ``example_seed``, so
        an example's scores never depend on which examples ran before it in this process."""
        self.queries = self.time_steps = 0
        self.model_seconds = 0.0
        self.classifier.start_example()
        if example_seed is not None and isinstance(self.randomness, Fresh):
            self.randomness.generator.manual_seed(example_seed)
        if example_seed is not None:
            self.gradient_generator.manual_seed(example_seed + 1)

    # --- white-box access (TextAttack's get_grad convention) -------------------------------------------------

    def use_gradients(self, draws: int | None = None, slope: float | None = None) -> ClassifierWrapper:
        """Set the EOT draws per gradient (SNNs; ANNs take one) and the surrogate slope; refuses a model without
        white-box access in one line."""
        self.require_white_box()
        if draws is not None:
            self.gradient_draws = draws if self.stochastic else 1
        self.slope = slope
        return self

    @property
    def white_box(self):
        """The model's :class:`~robustbench_snn.gradients.WhiteBox` (a one-line error for a model without one)."""
        return self.require_white_box()

    def require_white_box(self):
        box = getattr(self.classifier, "white_box", None)
        if box is None:
            raise UserError("this attack needs the model's gradients, which only this package's networks expose "
                            "(a model from the zoo); use a black-box attack (pwws, textfooler, textbugger, "
                            "bert-attack) for this model")
        return box

    def loss_gradients(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(ids [N, L], gradient [N, L, D] of the loss per word vector, loss [N]) at the model's own prediction."""
        box = self.white_box
        ids = box.encode(texts)
        gradient, loss, _ = box.loss_gradients(ids, draws=self.gradient_draws, slope=self.slope,
                                               generator=self.gradient_generator)
        return ids, gradient, loss

    def get_grad(self, text_input: str) -> dict:
        """TextAttack's hook for gradient-based parts: the token ids of ``text_input`` and the loss gradient with
        respect to each token's vector, [tokens, D]."""
        ids, gradient, _ = self.loss_gradients([text_input])
        count = len(self.white_box.tokens(text_input))
        return {"ids": ids[0, :count].tolist(), "gradient": gradient[0, :count].numpy()}

    def tokenize(self, inputs: list[str], strip_prefix: bool = False) -> list[list[str]]:
        """The model's tokens per text (TextAttack aligns words with them for gradient word ranking)."""
        return [self.white_box.tokens(text) for text in inputs]

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
        if not self.cached:
            self._uncache_caller()
        began = time.perf_counter()
        texts = list(text_input_list)
        self.queries += len(texts)
        scores = torch.cat([self._scores(texts[i:i + self.batch_size], self.randomness, self.draws)
                            for i in range(0, len(texts), self.batch_size)])
        self.time_steps += len(texts) * self.classifier.steps * self.draws
        self.model_seconds += time.perf_counter() - began
        return scores.numpy()

    def _scores(self, texts: list[str], randomness, draws: int = 1) -> torch.Tensor:
        return check_scores(self.classifier.scores(texts, randomness, draws), len(texts), self.num_classes,
                            "the model")

    def fresh_predictions(self, texts: list[str], draws: int, seed: int) -> np.ndarray:
        """Predicted classes [draws, N] from ``draws`` independent fresh draws (re-scoring); one row for
        deterministic models. Does not count as attack queries."""
        # a deterministic model scores all texts at once, as it always has (its floats depend on the batch)
        draws, size = (draws, self.batch_size) if self.stochastic else (1, max(len(texts), 1))
        fresh = Fresh(torch.Generator().manual_seed(seed))
        with seeded_globals(seed):
            return np.stack([torch.cat([self._scores(texts[i:i + size], fresh).argmax(-1)
                                        for i in range(0, len(texts), size)]).numpy() for _ in range(draws)])


def set_goal_function_cache(goal_function, wrapper: ClassifierWrapper) -> None:
    """Keep TextAttack's per-text output cache only where a text always gets the same scores, or where the
    ``frozen`` protocol asks for it: under ``fresh`` and ``eot:K`` a cached score would freeze the first draw of
    every text for the rest of the attack."""
    goal_function.use_cache = wrapper.cached
    if not wrapper.cached:
        goal_function._call_model_cache = _NoMemory()


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
