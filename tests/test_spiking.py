"""The spiking TextCNN: LIF worked values, multi-step = step-by-step, and convergence to the ANN's rates."""

from __future__ import annotations

import pytest
import torch

from robustbench_snn.models.spiking import FreshBernoulli, SpikingTextCNN, leaky, run_neurons
from robustbench_snn.models.textcnn import TailoredTextCNN, WordEmbedding


@pytest.mark.parametrize("grad", [True, False])
def test_lif_worked_values(grad: bool) -> None:
    # beta 1, threshold 1, reset by subtraction, spike only when mem > threshold (strictly):
    # a constant 0.25 gives mem .25 .5 .75 1.0 1.25* .5 .75 1.0 1.25*  -> spikes at steps 5 and 9.
    current = torch.full((9, 1, 1), 0.25)
    with torch.set_grad_enabled(grad):
        spikes = run_neurons(leaky(1.0, 1.0, 25.0), current.requires_grad_(grad))
    assert spikes.flatten().tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 1]


def test_lif_rate_is_current_over_threshold() -> None:
    with torch.no_grad():
        currents = torch.tensor([0.3, 0.15, 0.6, 1.5]).expand(1000, 1, 4)
        spikes = run_neurons(leaky(1.0, 1.0, 25.0), currents)
    assert spikes.sum(0).flatten().tolist() == pytest.approx([300, 150, 600, 1000], abs=1)  # saturates at 1


def _tiny_snn(beta: float = 1.0, steps: int = 20, scale: float = 4.0, pool_neurons: bool = True,
              population: int = 10) -> SpikingTextCNN:
    torch.manual_seed(0)
    ann = TailoredTextCNN(WordEmbedding(torch.rand(60, 8)), 3, population_size=population).eval()
    ann.fc.reset_parameters()  # signed output weights: some output neurons fire, some stay silent
    snn = SpikingTextCNN.from_tailored(ann, steps=steps, beta=beta, pool_neurons=pool_neurons,
                                       encoder=FreshBernoulli(torch.Generator().manual_seed(1)))
    with torch.no_grad():  # large enough weights that both layers fire
        for conv in snn.convs:
            conv.weight.mul_(scale)
        snn.fc.weight.mul_(scale * 4)
    return snn


@pytest.mark.parametrize("beta", [1.0, 0.9])
@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("pool_neurons,population", [(True, 10), (False, 10), (True, 1)])
def test_multistep_equals_stepwise_snntorch_loop(beta: float, grad: bool, pool_neurons: bool,
                                                 population: int) -> None:
    snn = _tiny_snn(beta, pool_neurons=pool_neurons, population=population)
    ids = torch.randint(0, 60, (7, 12))
    spikes = snn.input_spikes(ids)
    with torch.set_grad_enabled(grad):
        fast, reference = snn.simulate(spikes, measure=True), snn.simulate_stepwise(spikes)
    assert 0.0 < float(fast.output_spikes.detach().mean()) < 1.0  # both layers actually spike
    assert fast.output_spikes.shape[-1] == 3 * population
    assert torch.equal(fast.output_spikes, reference.output_spikes)
    assert fast.activity.keys() == reference.activity.keys()
    assert {k for k in fast.activity if k.startswith(("pool", "fc_"))} == \
        ({"pool3", "pool4", "pool5"} if pool_neurons else {"fc_input"})
    for name, layer in fast.activity.items():
        assert layer.rate == pytest.approx(reference.activity[name].rate, rel=1e-6)
        assert layer.active == pytest.approx(reference.activity[name].active, rel=1e-6)


def test_layer_activity_worked_values() -> None:
    from robustbench_snn.models.spiking import LayerActivity, batches_together, layers_together

    # 2 steps, 2 examples, 2 neurons: neuron (0, 0) fires twice, (1, 1) once, the others never
    spikes = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]])
    layer = LayerActivity.of(spikes)
    assert (layer.rate, layer.active, layer.neurons, layer.examples) == (3 / 8, 2 / 4, 2, 2)
    wide = LayerActivity(0.1, 0.5, 6, 2)
    assert layers_together([layer, wide]).rate == pytest.approx((3 / 8 * 2 + 0.1 * 6) / 8)
    assert layers_together([layer, wide]).neurons == 8
    more = LayerActivity(0.5, 1.0, 2, 6)
    assert batches_together([layer, more]).active == pytest.approx((0.5 * 2 + 1.0 * 6) / 8)
    assert batches_together([layer, more]).examples == 8


def test_every_call_starts_from_rest_and_encoder_generator_is_explicit() -> None:
    snn = _tiny_snn()
    ids = torch.randint(0, 60, (4, 12))
    spikes = snn.input_spikes(ids)
    assert torch.equal(snn.simulate(spikes).output_spikes, snn.simulate(spikes).output_spikes)
    again = _tiny_snn()
    assert torch.equal(again.input_spikes(ids), spikes)  # same generator seed, same spikes
    assert snn(ids).shape == (4, 3)


@pytest.mark.parametrize("pool_neurons", [True, False])
def test_rates_approach_the_tailored_ann_as_time_grows(pool_neurons: bool) -> None:
    torch.manual_seed(0)
    ann = TailoredTextCNN(WordEmbedding(torch.rand(60, 8)), 2).eval()
    ids = torch.randint(2, 60, (16, 12))
    with torch.no_grad():  # keep every activation below 1 spike per step, so rates are not clipped
        for conv in ann.convs:
            conv.weight.abs_()
        conv_max = max(float(f.max()) for f in ann.features(ids))
        for conv in ann.convs:
            conv.weight.mul_(0.9 / conv_max)
        ann.fc.weight.abs_()
        ann.fc.weight.mul_(0.9 / float(ann.population(ids).max()))
    with torch.no_grad():
        target = ann.population(ids)
        assert 0.05 < float(target.mean()) and float(target.max()) < 1.0
        errors = []
        for steps in (10, 100, 1000):
            snn = SpikingTextCNN.from_tailored(ann, steps=steps, pool_neurons=pool_neurons,
                                               encoder=FreshBernoulli(torch.Generator().manual_seed(0)))
            rates = snn.simulate(snn.input_spikes(ids)).output_spikes.mean(0)
            errors.append(float((rates - target).abs().mean()))
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.02, errors


def test_seeded_spikes_are_keyed_by_seed_token_and_position() -> None:
    from robustbench_snn.models.spiking import SeededBernoulli

    values = torch.rand(4, 9, 6)
    ids = torch.randint(2, 500, (4, 9))
    spikes = SeededBernoulli(7)(values, ids, 30)
    assert torch.equal(spikes, SeededBernoulli(7)(values, ids, 30))  # deterministic
    assert not torch.equal(spikes, SeededBernoulli(8)(values, ids, 30))  # keyed by the seed
    swapped = ids.clone()
    swapped[:, 4] = 1
    changed = SeededBernoulli(7)(values, swapped, 30)
    others = [p for p in range(9) if p != 4]
    assert torch.equal(changed[:, :, others], spikes[:, :, others]) and not torch.equal(changed[:, :, 4], spikes[:, :, 4])
    assert float(SeededBernoulli(7)(torch.full((64, 25, 50), 0.3), torch.randint(2, 500, (64, 25)), 50).mean()) == \
        pytest.approx(0.3, abs=0.005)  # the rate code: P(spike) = value


@pytest.mark.parametrize("pool_neurons", [True, False])
def test_window_cache_counts_equal_the_full_seeded_model(pool_neurons: bool) -> None:
    from robustbench_snn.models.spiking import SeededBernoulli
    from robustbench_snn.models.window_cache import WindowCache

    snn = _tiny_snn(steps=30, pool_neurons=pool_neurons)
    seeded = SeededBernoulli(4)
    ids = torch.randint(2, 60, (6, 12))
    ids[:, 9:] = 0
    cache = WindowCache(snn, 4)
    with torch.no_grad():
        assert torch.equal(cache.counts(ids), snn(ids, seeded))
        edits = ids[:1].repeat(8, 1)
        edits[torch.arange(8), torch.arange(8)] = torch.randint(2, 60, (8,))  # one word changed per row
        assert torch.equal(cache.counts(edits), snn(edits, seeded))  # sums corrected from the reference (row 0)
        twice = edits.clone()
        twice[:, 10] = 7  # two windows runs away from the reference
        assert torch.equal(cache.counts(twice), snn(twice, seeded))
        longer = torch.cat([twice, twice[:, :3]], 1)  # another length: plain sums and a new reference
        assert torch.equal(cache.counts(longer), snn(longer, seeded))
        assert torch.equal(cache.counts(longer[:, :-3]), snn(longer[:, :-3], seeded))
    assert cache.reused > 0 and cache.computed < 6 * 27 + 8 * 27  # only windows over the edits were new


@pytest.mark.parametrize("beta", [1.0, 0.9])
@pytest.mark.parametrize("pool_neurons,population", [(True, 10), (False, 10), (True, 1), (False, 1)])
def test_fused_lif_gradients_equal_snntorchs_per_step_bptt(beta: float, pool_neurons: bool, population: int,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The fused layer's spikes and the gradient of every weight (all three widths, the output layer) equal
    snntorch's per-step loop bit for bit: fine-tuning with it trains the same weights."""
    from robustbench_snn.models import spiking
    from robustbench_snn.train import rate_loss

    ids, labels = torch.randint(0, 60, (7, 12)), torch.randint(0, 3, (7,))
    found = []
    for neurons in (spiking.run_neurons, lambda neuron, current, overwrite=False: spiking.run_neurons_stepwise(
            neuron, current) if torch.is_grad_enabled() else spiking.run_neurons(neuron, current, overwrite)):
        snn = _tiny_snn(beta, pool_neurons=pool_neurons, population=population)
        monkeypatch.setattr(spiking, "run_neurons", neurons)
        loss = rate_loss(3)(snn, ids, labels)
        loss.backward()
        found.append((float(loss), {name: p.grad for name, p in snn.named_parameters() if p.grad is not None}))
    (fused_loss, fused), (loop_loss, loop) = found
    assert fused_loss == loop_loss and fused.keys() == loop.keys() == {"convs.0.weight", "convs.1.weight",
                                                                       "convs.2.weight", "fc.weight"}
    for name in loop:
        assert loop[name].abs().sum() > 0, name  # gradients reach every layer
        assert torch.equal(fused[name], loop[name]), name


def test_fused_lif_gradient_worked_values() -> None:
    # beta 1, threshold 1: currents 0.6, 0.6, 0.6 -> mem .6 1.2* .8 (reset by 1) -> spikes 0 1 0. With a loss
    # sum(w * spikes), dL/dI_t = sum_{s>=t} w_s / (25 |mem_s - 1| + 1)^2 (the fast sigmoid, no reset gradient).
    from robustbench_snn.models.spiking import FusedLIF

    current = torch.tensor([0.6, 0.6, 0.6]).reshape(3, 1, 1).requires_grad_()
    spikes = FusedLIF.apply(current, 1.0, 1.0, 25.0)
    assert spikes.flatten().tolist() == [0, 1, 0]
    w = torch.tensor([1.0, 2.0, 3.0]).reshape(3, 1, 1)
    (spikes * w).sum().backward()
    terms = [1.0 / (25 * 0.4 + 1) ** 2, 2.0 / (25 * 0.2 + 1) ** 2, 3.0 / (25 * 0.2 + 1) ** 2]
    expected = [sum(terms), terms[1] + terms[2], terms[2]]
    assert current.grad.flatten().tolist() == pytest.approx(expected, rel=1e-5)
