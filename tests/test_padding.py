"""Padding-aware inference: computing only the convolution windows that touch a real token gives outputs identical
(bit for bit) to computing every window, for the three networks, at every dataset's padded length, under every
spike encoder; and the stepwise snntorch reference agrees."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from fakes import busy_snn

from robustbench_snn.models.spiking import FreshBernoulli, SeededBernoulli, SpikingTextCNN
from robustbench_snn.models.textcnn import TailoredTextCNN, TextCNN, WordEmbedding, every_window, occupied_length
from robustbench_snn.prepared import length_batches

PADDED_LENGTHS = {"mr": 35, "subj": 35, "sst2": 25, "sst5": 25, "chnsenti": 48, "waimai": 48}


def _ids(length: int, real: list[int], vocab: int = 60, seed: int = 0) -> torch.Tensor:
    """Rows with ``real`` tokens each (ids 1.. vocab-1, unknown words included), padded with 0 at the end."""
    generator = torch.Generator().manual_seed(seed)
    rows = [torch.cat([torch.randint(1, vocab, (n,), generator=generator), torch.zeros(length - n, dtype=torch.long)])
            for n in real]
    return torch.stack(rows)


def _embedding(raw: bool = False) -> WordEmbedding:
    torch.manual_seed(0)
    weight = torch.randn(60, 8) if raw else torch.rand(60, 8)
    weight[0] = 0.0  # padding: an exact zero vector
    return WordEmbedding(weight, unit_range=not raw)


def _snn(pool_neurons: bool) -> SpikingTextCNN:
    return busy_snn(_embedding(), 3, 2, pool_neurons)


BATCHES = {  # real-token counts per row: short ones, one full row (nothing to skip), an empty row
    "short": [3, 7, 5, 1],
    "mixed": [9, 12, 2],
    "with an empty row": [4, 0, 6],
}


@pytest.mark.parametrize("dataset", sorted(PADDED_LENGTHS))
@pytest.mark.parametrize("batch", sorted(BATCHES))
def test_anns_give_identical_outputs(dataset: str, batch: str) -> None:
    ids = _ids(PADDED_LENGTHS[dataset], BATCHES[batch])
    with torch.no_grad():
        assert occupied_length(ids) < ids.shape[1]  # there is padding to skip
    for model in (TextCNN(_embedding(raw=True), 3).eval(), TailoredTextCNN(_embedding(), 3, population_size=2).eval()):
        with torch.no_grad():
            fast = model(ids)
            with every_window():
                reference = model(ids)
        assert torch.equal(fast, reference)


@pytest.mark.parametrize("dataset", ["mr", "sst2", "waimai"])
@pytest.mark.parametrize("pool_neurons", [True, False])
@pytest.mark.parametrize("encoding", ["fresh", "seeded"])
def test_the_snn_gives_identical_spike_counts(dataset: str, pool_neurons: bool, encoding: str) -> None:
    snn = _snn(pool_neurons)
    ids = _ids(PADDED_LENGTHS[dataset], [3, 11, 6, 0, 8])

    def encoder():
        return FreshBernoulli(torch.Generator().manual_seed(5)) if encoding == "fresh" else SeededBernoulli(5)

    with torch.no_grad():
        fast = snn(ids, encoder())
        # the reference: the same draws (the occupied columns), padding columns as the zeros they always are
        occupied = occupied_length(ids)
        spikes = F.pad(snn.input_spikes(ids[:, :occupied], encoder()), (0, 0, 0, ids.shape[1] - occupied))
        if encoding == "seeded":  # keyed by position: drawing every column gives the very same spikes
            assert torch.equal(spikes, snn.input_spikes(ids, encoder()))
        with every_window():
            reference = snn.class_counts(snn.simulate(spikes).output_spikes)
        stepwise = snn.class_counts(snn.simulate_stepwise(spikes).output_spikes)
    assert fast.sum() > 0 and torch.equal(fast, reference) and torch.equal(fast, stepwise)


def test_only_a_full_row_computes_every_window() -> None:
    with torch.no_grad():
        assert occupied_length(_ids(25, [25, 3])) == 25
    assert occupied_length(_ids(25, [3, 4])) == 4 + 4  # the last real column and the widest window's reach
    assert occupied_length(_ids(25, [0, 0])) == 5  # no real token: one widest window


@pytest.mark.parametrize("network", ["textcnn", "tailored", "snn"])
def test_training_gradients_equal_every_window_ones(network: str) -> None:
    """Training skips the padding windows too: the loss is the same function, so its gradients agree with the
    every-window computation up to the order floats are summed in."""
    ids = _ids(25, [3, 9, 6])
    labels = torch.tensor([0, 2, 1])

    def gradients(model_seed: int = 0) -> list[torch.Tensor]:
        torch.manual_seed(model_seed)
        if network == "snn":
            model = _snn(True)
            model.encoder = SeededBernoulli(3)
            loss = F.cross_entropy(model(ids).float(), labels)
        else:
            model = (TextCNN(_embedding(raw=True), 3) if network == "textcnn"
                     else TailoredTextCNN(_embedding(), 3, population_size=2)).eval()
            loss = F.cross_entropy(model(ids), labels)
        return [g for g in torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad])]

    fast = gradients()
    with every_window():
        reference = gradients()
    assert any(g.abs().sum() > 0 for g in fast)
    for a, b in zip(fast, reference):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_length_batches_visit_every_sentence_once_in_a_seeded_order() -> None:
    lengths = [int(n) for n in torch.randint(1, 25, (1000,), generator=torch.Generator().manual_seed(1))]
    ids = _ids(25, lengths)
    labels = torch.arange(1000)

    def epoch(seed: int) -> list[torch.Tensor]:
        return [y for _, y in length_batches(ids, labels, 8, torch.Generator().manual_seed(seed))]

    first = epoch(0)
    assert sorted(torch.cat(first).tolist()) == list(range(1000))  # every sentence once
    assert len(first) == 125 and [len(b) for b in first] == [8] * 125
    assert all(torch.equal(a, b) for a, b in zip(first, epoch(0)))  # seeded
    assert not all(torch.equal(a, b) for a, b in zip(first, epoch(1)))
    spread = sum(int(max(lengths[i] for i in b) - min(lengths[i] for i in b)) for b in first) / len(first)
    assert spread < 3  # grouped by length: a batch is cut to its longest sentence with little padding left
