"""TextAttack parts that use a model's gradients (:mod:`robustbench_snn.gradients` through the wrapper's
``get_grad`` / ``loss_gradients``): the gradient-guided substitution search of the adaptive attack, and TextAttack's
own HotFlip transformation adapted to this package's networks. TextAttack is imported inside the builders, so this
module imports before TextAttack's offline setup has run.
"""

from __future__ import annotations

import torch
from torch import nn


def gradient_guided_search(verify: int = 5, ranked: bool = True):
    """A TextAttack search method: at each step rank every allowed (position, substitute) of the current text by
    the first-order change of the (EOT) loss, query them ``verify`` at a time in that order (under the run's
    sampling protocol) until a group holds one that raises the goal score, keep that group's best, and stop at
    success, when no candidate improves, or when the query budget is spent.
    ``ranked`` False: the same search with candidates in a random order (seeded per example by the harness's
    global seeding), the control that shows what the gradient adds."""
    from textattack.goal_function_results import GoalFunctionResultStatus
    from textattack.search_methods import SearchMethod

    class GradientGuidedSearch(SearchMethod):
        def __init__(self, verify: int, ranked: bool):
            self.verify, self.ranked = verify, ranked

        @property
        def is_black_box(self) -> bool:
            return False

        def perform_search(self, initial_result):
            wrapper = self.get_victim_model()
            current = initial_result
            while current.goal_status != GoalFunctionResultStatus.SUCCEEDED:
                candidates = self.get_transformations(current.attacked_text, original_text=initial_result.attacked_text)
                if not candidates:
                    break
                if self.ranked:
                    ids, gradient, _ = wrapper.loss_gradients([current.attacked_text.text])
                    candidate_ids = wrapper.white_box.encode([c.text for c in candidates])
                    changes = wrapper.white_box.first_order_changes(ids[0], gradient[0], candidate_ids)
                    order = changes.argsort(descending=True, stable=True).tolist()
                else:
                    order = torch.randperm(len(candidates)).tolist()
                improved, search_over = None, False
                # the best-ranked `verify` first; the next ones only when none of them raises the goal score
                for start in range(0, len(order), self.verify):
                    results, search_over = self.get_goal_results([candidates[i] for i in order[start:start + self.verify]])
                    better = [r for r in results if r.score > current.score]
                    if better:
                        improved = max(better, key=lambda r: r.score)
                    if better or search_over:
                        break
                if improved is None:
                    break
                current = improved
                if search_over:  # the query budget is spent
                    break
            return current

        def extra_repr_keys(self):
            return ["verify", "ranked"]

    return GradientGuidedSearch(verify, ranked)


class _VocabularyTokenizer:
    """The parts of a tokenizer HotFlip reads: id -> word and the padding id."""

    pad_token_id = 0

    def __init__(self, words: list[str]):
        self.words = words

    def convert_id_to_word(self, index: int) -> str:
        return self.words[index]


class _InputVectors(nn.Module):
    """The network as HotFlip sees it: its input vector table (``get_input_embeddings``)."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = nn.Embedding.from_pretrained(table, freeze=True)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.table


def hotflip_swap(model_wrapper, top_n: int = 1):
    """TextAttack's ``WordSwapGradientBased`` (HotFlip, Ebrahimi et al. 2018) over this package's networks. Its
    constructor admits TextAttack's own LSTM only (it checks the class); this subclass sets up the same attributes
    from the wrapper's white-box view instead, and the transformation itself runs unchanged."""
    from textattack.transformations import WordSwapGradientBased

    class NetworkHotFlip(WordSwapGradientBased):
        def __init__(self, model_wrapper, top_n: int):
            super(WordSwapGradientBased, self).__init__()  # WordSwap's own set-up, without the class check
            box = model_wrapper.white_box
            self.model = _InputVectors(box.table)
            self.model_wrapper = model_wrapper
            self.tokenizer = _VocabularyTokenizer(box.words)
            self.top_n = top_n
            self.is_black_box = False

    return NetworkHotFlip(model_wrapper, top_n)


def gradient_guided_attack(model_wrapper, settings: dict, parts):
    """The gradient-guided attack on ``model_wrapper``'s own model, inside the constraint set ``settings`` names
    (the paper's: 15 embedding neighbours, 30% of words, sentence similarity >= 0.8)."""
    from textattack import Attack
    from textattack.goal_functions import UntargetedClassification

    from robustbench_snn.attack_parts import shared_constraints

    model_wrapper.use_gradients(settings["gradient_draws"] or 1, settings["slope"])
    return Attack(UntargetedClassification(model_wrapper), shared_constraints(parts, settings),
                  parts.embedding_swap(settings["candidates"]),
                  gradient_guided_search(settings["verify"], ranked=settings["gradient_draws"] > 0))


def transfer_attack(model_wrapper, source: str, settings: dict, parts):
    """The gradient-guided attack crafted on a deterministic source model instead of the attacked one (``twin``:
    the tailored ANN it was converted from; ``rate``: the SNN fed its spike probabilities), making no queries
    to the attacked model; the run's re-scoring then judges the crafted texts on it with fresh draws."""
    from robustbench_snn.config import Sampling
    from robustbench_snn.errors import UserError
    from robustbench_snn.wrappers import ClassifierWrapper

    make = getattr(model_wrapper.classifier, "transfer_source", None)
    if make is None:
        raise UserError("transfer attacks need a spiking network of this package (a model from the zoo, e.g. "
                        "snn-ft) to derive their source model from")
    source_wrapper = ClassifierWrapper(make(source), Sampling("seeded"), model_wrapper.seed,
                                       num_classes=model_wrapper.num_classes)
    return gradient_guided_attack(source_wrapper, settings | {"gradient_draws": 1}, parts)
