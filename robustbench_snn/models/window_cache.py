"""Incremental ``seeded`` inference for the spiking TextCNN: attack queries that differ from the text before them
by a word or two reuse the spike trains of every convolution window the edit did not touch."""

from __future__ import annotations

import torch
from torch import nn

from robustbench_snn.models.spiking import SeededBernoulli, SpikingTextCNN, run_neurons
from robustbench_snn.models.textcnn import FEATURE_MAPS, WIDTHS
from robustbench_snn.runtime import module_device


class WindowCache:
    """``seeded``-protocol inference that reuses the work of convolution windows an edit did not touch.

    Under :class:`SeededBernoulli` a window's input spikes depend only on (seed, its tokens, their positions),
    so its currents and the spike trains of its first-layer neurons [T, FEATURE_MAPS] do too. Attack queries
    mostly differ from the current text by one word: per width k only the k windows covering it are new. Runs
    of new windows are computed by the model's own ``Conv1d`` over the token span they cover, which yields the
    same floats as the full-length convolution, and by the same neuron update. Pooling sums spike trains, which
    are 0/1, so sums are exact integers in any order: a row's sum is a reference text's sum plus its windows
    that differ from the reference's minus the reference's, and ``sum / count`` equals the model's ``mean``.
    The linear layer and output neurons run as usual. Counts therefore equal ``snn(ids)`` with
    ``SeededBernoulli(seed)`` (tested).
    """

    def __init__(self, snn: SpikingTextCNN, seed: int, max_windows: int = 20_000):
        self.snn = snn
        self.device = module_device(snn)  # the windows live where the network runs
        self.encoder = SeededBernoulli(seed)
        self.max_windows = max_windows  # each holds T x FEATURE_MAPS floats (20 kB at T = 50)
        self.windows: dict[tuple, torch.Tensor] = {}
        self.references: dict[int, tuple[list, torch.Tensor]] = {}  # width -> (window keys, summed trains [T, maps])
        self.computed = self.reused = 0

    def clear(self) -> None:
        self.windows.clear()
        self.references.clear()  # their windows are gone

    def _currents(self, width: int, conv: nn.Conv1d, spans: list[tuple[int, tuple]]) -> list[tuple]:
        """First-layer currents of every window inside each (start, tokens) span, grouped by span length:
        [(width, group of spans, currents [T, G, maps x windows])]."""
        by_length: dict[int, list] = {}
        for span in spans:
            by_length.setdefault(len(span[1]), []).append(span)
        found = []
        for length, group in by_length.items():
            ids = torch.tensor([tokens for _, tokens in group], dtype=torch.long)  # [G, S]
            positions = torch.tensor([start for start, _ in group])[:, None] + torch.arange(length)
            values = self.snn.embedding(ids.to(self.device))
            uniforms = self.encoder.uniforms(ids, self.snn.steps, values.shape[-1], positions).to(self.device)
            spikes = (uniforms < values).to(values.dtype)
            steps, count = spikes.shape[:2]
            currents = conv(spikes.reshape(steps * count, length, -1).transpose(1, 2)).reshape(steps, count, -1)
            found.append((width, group, currents))
        return found

    def _compute(self, pending: list[tuple]) -> None:
        """Spike trains of the windows whose currents ``_currents`` found, cached by (width, position, tokens).
        One neuron update runs over all of them: it is elementwise, and per-width loops cost 3x the steps."""
        flat = torch.cat([currents.reshape(currents.shape[0], -1) for _, _, currents in pending], 1)
        hidden = run_neurons(self.snn.lif1, flat, overwrite=True).split([c[0].numel() for _, _, c in pending], 1)
        for (width, group, currents), spikes in zip(pending, hidden):
            steps, count = currents.shape[:2]
            per_span = spikes.reshape(steps, count, FEATURE_MAPS, -1).permute(1, 3, 0, 2).contiguous()
            for (start, tokens), per_window in zip(group, per_span):  # [windows, T, maps] each
                for offset, train in enumerate(per_window):
                    self.windows[(width, start + offset, tokens[offset:offset + width])] = train
            self.computed += count * per_span.shape[1]

    def _pooled_sums(self, width: int, keys: list[list[tuple]]) -> torch.Tensor:
        """Summed window trains per row [N, T, maps]: the reference's sum corrected by the windows that differ
        from it, or a plain sum for rows unlike it (the first of which becomes the next reference)."""
        reference = self.references.get(width)
        sums = torch.zeros(len(keys), self.snn.steps, FEATURE_MAPS, device=self.device)
        added: tuple[list, list] = ([], [])  # (row index, window key) of windows to add and to subtract
        removed: tuple[list, list] = ([], [])
        new_reference = None
        for i, row_keys in enumerate(keys):
            changed = None
            if reference is not None and len(reference[0]) == len(row_keys):
                changed = [p for p, (key, old) in enumerate(zip(row_keys, reference[0])) if key != old]
            if changed is None or len(changed) > len(row_keys) // 2:
                new_reference = i if new_reference is None else new_reference
                added[0].extend([i] * len(row_keys))
                added[1].extend(row_keys)
                continue
            sums[i] = reference[1]
            for (where, what), source in ((added, row_keys), (removed, reference[0])):
                where.extend([i] * len(changed))
                what.extend(source[p] for p in changed)
        for (where, what), sign in ((added, 1), (removed, -1)):
            if what:
                trains = torch.stack([self.windows[key] for key in what])
                sums.index_add_(0, torch.tensor(where, device=self.device), trains, alpha=sign)
        if new_reference is not None:
            self.references[width] = (keys[new_reference], sums[new_reference].clone())
        return sums

    @torch.no_grad()
    def counts(self, ids: torch.Tensor) -> torch.Tensor:
        """Spike counts per class [N, C], equal to ``snn(ids)`` with ``SeededBernoulli(seed)``."""
        if len(self.windows) > self.max_windows:
            self.clear()
        rows = [tuple(row) for row in ids.tolist()]
        n = len(rows)
        keys_by_width, pending = [], []
        for width, conv in zip(WIDTHS, self.snn.convs):
            count = len(rows[0]) - width + 1
            keys = [[(width, p, row[p:p + width]) for p in range(count)] for row in rows]
            spans, seen = [], set()
            for row, row_keys in zip(rows, keys):
                missing = [p for p, key in enumerate(row_keys) if key not in self.windows and key not in seen]
                seen.update(row_keys[p] for p in missing)
                while missing:  # runs of consecutive new windows -> one span of tokens each
                    end = 0
                    while end + 1 < len(missing) and missing[end + 1] == missing[end] + 1:
                        end += 1
                    first, last = missing[0], missing[end]
                    spans.append((first, row[first:last + width]))
                    missing = missing[end + 1:]
            pending += self._currents(width, conv, spans)
            self.reused += n * count - sum(len(tokens) - width + 1 for _, tokens in spans)
            keys_by_width.append(keys)
        if pending:
            self._compute(pending)
        fc_input = self.snn.fc_input([(self._pooled_sums(width, keys) / len(keys[0])).transpose(0, 1)  # [T, N, maps]
                                      for width, keys in zip(WIDTHS, keys_by_width)])
        output = run_neurons(self.snn.lif2, self.snn.fc(fc_input), overwrite=True)
        return self.snn.class_counts(output)
