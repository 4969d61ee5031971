"""Padding-aware inference: computing only the convolution windows that touch a real token gives outputs identical
(bit for bit) to computing every window, for the three networks, at every dataset's padded length, under every
spike encoder; and the stepwise snntorch reference agrees."""

from __future__ import annotations

import pytest
import torch

from robustbench_snn.models.spiking import FreshBernoulli, SeededBernoulli, SpikingTextCNN
from robustbench_snn.models.textcnn import TailoredTextCNN, TextCNN, WordEmbedding, every_window, occupied_length

PADDED_LENGTHS = {"mr": 35, "subj": 35, "sst2": 25, "sst5": 25, "chnsenti": 32, "waimai": 32}


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
    ann = TailoredTextCNN(_embedding(), 3, population_size=2).eval()
    snn = SpikingTextCNN.from_tailored(ann, steps=12, pool_neurons=pool_neurons)
    with torch.no_grad():
        for conv in snn.convs:
            conv.weight.mul_(4.0)
        snn.fc.weight.mul_(16.0)
    return snn.eval()


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
        with every_window():
            reference = snn(ids, encoder())
        stepwise = snn.class_counts(snn.simulate_stepwise(snn.input_spikes(ids, encoder())).output_spikes)
    assert fast.sum() > 0 and torch.equal(fast, reference) and torch.equal(fast, stepwise)


def test_a_full_row_or_training_computes_every_window() -> None:
    ids = _ids(25, [25, 3])
    with torch.no_grad():
        assert occupied_length(ids) == 25
    assert occupied_length(_ids(25, [3, 4])) == 25  # grad enabled: training sums gradients over every window
    with torch.no_grad():
        assert occupied_length(_ids(25, [3, 4])) == 4 + 4  # the last real column and the widest window's reach
        assert occupied_length(_ids(25, [0, 0])) == 5  # no real token: one widest window
