"""White-box gradients: the SNN's surrogate-gradient path against autograd through the stepwise snntorch model,
the straight-through rate encoding, the ANNs' exact gradients, and TextAttack's gradient parts driven by
``get_grad`` on an SNN and an ANN."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fakes import DictionaryParts, busy_snn
from test_attacks import encode, lexicon_classifier, lexicon_model

from robustbench_snn.classifiers import SpikingClassifier
from robustbench_snn.config import Sampling
from robustbench_snn.gradients import WhiteBox, margin_loss, straight_through_spikes, surrogate_slope
from robustbench_snn.models.spiking import SpikingTextCNN
from robustbench_snn.models.textcnn import TailoredTextCNN, TextCNN, WordEmbedding
from robustbench_snn.wrappers import ClassifierWrapper


def _snn(pool_neurons: bool = True) -> SpikingTextCNN:
    torch.manual_seed(0)
    return busy_snn(WordEmbedding(torch.rand(30, 6)), 2, 3, pool_neurons, fc_scale=12.0)


def test_straight_through_encoding_passes_the_gradient_unchanged() -> None:
    values = torch.tensor([0.0, 0.25, 1.0], requires_grad=True)
    spikes = straight_through_spikes(values, 4, torch.Generator().manual_seed(0))
    assert spikes.shape == (4, 3) and set(spikes.detach().unique().tolist()) <= {0.0, 1.0}
    assert spikes[:, 0].sum() == 0 and spikes[:, 2].sum() == 4  # p = 0 never spikes, p = 1 always does
    (weights := torch.tensor([1.0, 2.0, 3.0])).requires_grad_(False)
    (spikes * weights).sum().backward()
    assert values.grad.tolist() == [4.0, 8.0, 12.0]  # d E[spike] / dp = 1 per step: T x the weight


@pytest.mark.parametrize("pool_neurons", [True, False])
@pytest.mark.parametrize("slope", [None, 5.0])
def test_snn_gradients_equal_autograd_through_the_stepwise_snntorch_model(pool_neurons: bool, slope) -> None:
    snn = _snn(pool_neurons)
    ids = torch.tensor([[3, 7, 9, 2, 11, 4], [5, 6, 8, 12, 13, 14]])
    labels = torch.tensor([0, 1])
    box = WhiteBox(snn, None, None, snn.embedding.weight.detach(), [str(i) for i in range(30)])
    fast, loss, _ = box.loss_gradients(ids, labels, draws=1, slope=slope, generator=torch.Generator().manual_seed(4))

    vectors = snn.embedding(ids).detach().requires_grad_()
    spikes = straight_through_spikes(vectors, snn.steps, torch.Generator().manual_seed(4))
    with surrogate_slope(snn, slope):
        if slope is not None:  # the stepwise reference reads snntorch's own surrogate: rebuild it at this slope
            snn.slope = slope
            snn.set_neurons(snn.threshold, snn.beta)
        counts = snn.class_counts(snn.simulate_stepwise(spikes).output_spikes) / snn.steps
    reference_loss = margin_loss(counts, labels)
    (reference,) = torch.autograd.grad(reference_loss.sum(), vectors)
    assert reference.abs().sum() > 0
    torch.testing.assert_close(loss, reference_loss.detach())
    torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-7)


def test_the_surrogate_slope_is_an_attack_parameter() -> None:
    snn = _snn()
    ids = torch.tensor([[3, 7, 9, 2, 11, 4]])
    box = WhiteBox(snn, None, None, snn.embedding.weight.detach(), [])
    steep, _, _ = box.loss_gradients(ids, draws=1, slope=25.0, generator=torch.Generator().manual_seed(1))
    flat, _, _ = box.loss_gradients(ids, draws=1, slope=1.0, generator=torch.Generator().manual_seed(1))
    assert not torch.allclose(steep, flat)
    assert snn.lif1.slope == snn.slope  # restored after the call


def test_eot_averages_the_loss_over_draws() -> None:
    snn = _snn()
    ids = torch.tensor([[3, 7, 9, 2, 11, 4]])
    box = WhiteBox(snn, None, None, snn.embedding.weight.detach(), [])
    label = torch.tensor([0])
    one = [box.loss_gradients(ids, label, 1, None, torch.Generator().manual_seed(s)) for s in range(2)]
    g = torch.Generator().manual_seed(0)
    both = box.loss_gradients(ids, label, 2, None, g)
    # two draws from one generator: the first is seed 0's; the mean of the losses is the EOT loss
    assert torch.allclose(both[1], (one[0][1] + box.loss_gradients(ids, label, 1, None, _after_one_draw(snn))[1]) / 2)


def _after_one_draw(snn) -> torch.Generator:
    generator = torch.Generator().manual_seed(0)
    torch.rand((snn.steps, 1, 6, 6), generator=generator)
    return generator


@pytest.mark.parametrize("network", ["textcnn", "tailored"])
def test_ann_gradients_are_exact(network: str) -> None:
    torch.manual_seed(0)
    weight = torch.rand(30, 6)
    weight[0] = 0.0  # padding: an exact zero vector, as in every trained model
    embedding = WordEmbedding(weight)
    model = (TextCNN(embedding, 2) if network == "textcnn" else TailoredTextCNN(embedding, 2, population_size=2)).eval()
    ids = torch.tensor([[3, 7, 9, 2, 11, 0, 0, 0, 0, 0]])
    box = WhiteBox(model, None, None, embedding.weight.detach(), [])
    gradient, loss, label = box.loss_gradients(ids)
    assert gradient[0, 9].abs().sum() == 0 and gradient[0, :5].abs().sum() > 0  # padding columns get none
    # a directional derivative by central differences on the first word's vector
    direction = torch.randn(6, dtype=torch.float64)
    double = model.double()
    vectors = embedding(ids).detach().double()

    def loss_at(step: float) -> float:
        moved = vectors.clone()
        moved[0, 0] += step * direction
        return float(margin_loss(double.from_vectors(moved, 10), label))

    numeric = (loss_at(1e-5) - loss_at(-1e-5)) / 2e-5
    assert float(gradient[0, 0].double() @ direction) == pytest.approx(numeric, rel=1e-3, abs=1e-6)


def test_get_grad_drives_textattack_hotflip_and_gradient_ranking_on_an_snn_and_an_ann() -> None:
    DictionaryParts()  # TextAttack's offline setup
    from textattack import Attack
    from textattack.attack_results import FailedAttackResult, SkippedAttackResult, SuccessfulAttackResult
    from textattack.goal_functions import UntargetedClassification
    from textattack.search_methods import GreedyWordSwapWIR
    from textattack.shared import AttackedText

    from robustbench_snn.white_box_parts import hotflip_swap

    text = AttackedText("the movie was good and funny")
    ann = ClassifierWrapper(lexicon_classifier(), Sampling("seeded"), seed=0)
    model = lexicon_model()
    snn = SpikingTextCNN.from_tailored(model, steps=20)
    spiking = SpikingClassifier(snn, encode)
    spiking.white_box = lexicon_classifier().white_box.__class__(
        snn, encode, lexicon_classifier().white_box.tokens, snn.embedding.weight.detach(),
        lexicon_classifier().white_box.words)
    for wrapper in (ann, ClassifierWrapper(spiking, Sampling("eot:2"), seed=0).use_gradients(draws=4)):
        grad = wrapper.get_grad(text.text)
        assert len(grad["ids"]) == 6 and grad["gradient"].shape == (6, 4) and np.abs(grad["gradient"]).sum() > 0
        swaps = hotflip_swap(wrapper, top_n=3)._get_transformations(text, [3])
        assert len(swaps) == 3 and all(s.words[:3] + s.words[4:] == text.words[:3] + text.words[4:] for s in swaps)
        # TextAttack's own white-box attack: gradient word ranking and HotFlip swaps, end to end
        attack = Attack(UntargetedClassification(wrapper), [], hotflip_swap(wrapper, top_n=5),
                        GreedyWordSwapWIR(wir_method="gradient"))
        result = attack.attack(text.text, 1)
        expected = SuccessfulAttackResult if wrapper is ann else (SuccessfulAttackResult | FailedAttackResult |
                                                                  SkippedAttackResult)
        assert isinstance(result, expected) and wrapper.queries > 0


def test_gradient_ranking_beats_random_ranking_of_the_same_candidates() -> None:
    """The strength check's control: verifying one candidate at a time, the gradient picks the swaps that flip the
    lexicon model (positive -> negative words) first; a random order of the same candidates finds them later."""
    parts = DictionaryParts()
    from textattack.attack_results import SuccessfulAttackResult

    from robustbench_snn.attack_files import load_attack

    attack_file = load_attack("gradient-eot")
    text = "the movie was great and funny"

    def attacked(setting: str, seed: int) -> tuple[bool, int]:
        torch.manual_seed(seed)
        wrapper = ClassifierWrapper(lexicon_classifier(), Sampling("seeded"), seed=0)
        attack = attack_file.build(wrapper, setting, parts)
        attack.search_method.verify = 1
        result = attack.attack(text, 1)
        return isinstance(result, SuccessfulAttackResult), result.perturbed_result.num_queries

    ranked = attacked("paper", 0)
    assert ranked[0]
    randomly = [attacked("random-ranking", seed) for seed in range(8)]
    # both get there (every candidate is eventually verified), the gradient with fewer queries
    assert all(ok for ok, _ in randomly) and all(q >= ranked[1] for _, q in randomly)
    assert np.mean([q for _, q in randomly]) > ranked[1]


def test_without_constraints_the_attack_reaches_what_the_constraints_forbid() -> None:
    """The strength check's other control: a text the lexicon model only changes its mind on when every positive
    word goes (here 2 of 2, over the paper's 30% word share) withstands the paper settings and falls unconstrained:
    the search's gradients lead it there; only the constraint stopped it."""
    parts = DictionaryParts()
    from textattack.attack_results import FailedAttackResult, SuccessfulAttackResult

    from robustbench_snn.attack_files import load_attack

    attack_file = load_attack("gradient-eot")

    def result(setting: str):
        classifier = lexicon_classifier()
        with torch.no_grad():  # a less confident lexicon: TextAttack's softmax saturates at its full margins
            classifier.module.fc.weight.mul_(0.05)
        wrapper = ClassifierWrapper(classifier, Sampling("seeded"), seed=0)
        return attack_file.build(wrapper, setting, parts).attack("great funny", 1)

    assert isinstance(result("paper"), FailedAttackResult)
    assert isinstance(result("unconstrained"), SuccessfulAttackResult)
