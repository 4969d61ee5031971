"""Training loops: AdamW over shuffled batches with dev selection, early stopping and per-epoch progress files,
bit-reproducible (fixed threads, deterministic algorithms, every generator seeded and saved); the losses of the
ANNs and the SNNs; and accuracy. Which model is trained from what, and under which identity, is
:mod:`robustbench_snn.zoo`'s business.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from snntorch import functional as snn_functional
from torch import nn
from tqdm.auto import tqdm

from robustbench_snn.checkpoints import read_progress, write_checkpoint
from robustbench_snn.config import ModelConfig
from robustbench_snn.models import evaluation_mode
from robustbench_snn.models.spiking import FreshBernoulli, SpikingTextCNN
from robustbench_snn.prepared import Prepared, batches, length_batches
from robustbench_snn.runtime import CAP_SET_AFTER_TORCH, compute_device, cpu_kernels, duration, module_device

# Bump whenever a change alters the weights training produces (initialisation, data order, loss, optimiser,
# selection, ...): every cached checkpoint is then retrained instead of being reused under the new code.
# tests/test_train.py pins the weights digest of a tiny training run, so such a change fails the suite until
# this number (and the pinned digest) is updated. 3: batches grouped by length (prepared.length_batches), the
# windows padding alone fills skipped, an SNN's spikes drawn for the occupied columns only, and the tailored
# network's output layer started from non-negative weights (models.textcnn.TailoredTextCNN).
TRAINING_CODE_VERSION = 3
# Training runs with a fixed intra-op thread count: MKL and oneDNN reduce in a thread-dependent order, and on
# SST-2 one thread and two trained the same configuration to different weights (39 vs 25 epochs). One thread
# is available everywhere; grids parallelise over workers instead.
TRAIN_THREADS = 1


@torch.no_grad()
def accuracy(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor, batch_size: int = 256,
             encoder=None) -> float:
    """Share of correct argmax predictions (ties go to the lower class index); an SNN draws its spikes with
    ``encoder`` (default: its own)."""
    call = model if encoder is None else (lambda x: model(x, encoder))
    device = module_device(model)
    with evaluation_mode(model):
        correct = sum(int((call(x.to(device)).argmax(-1).cpu() == y).sum()) for x, y in batches(ids, labels, batch_size))
    return correct / len(ids)


def _trainable_state(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}




@contextmanager
def seeded(seed: int):
    """Run a block with torch's global generator seeded by ``seed``, restoring the caller's state after:
    weight initialisation and dropout then never depend on what the process did before."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


_warned: list[bool] = []  # the warning below, once per process


@contextmanager
def reproducible_training():
    """Fixed thread count and deterministic algorithms for the duration of a training run."""
    if cpu_kernels()["onednn_cap_set_by"] == CAP_SET_AFTER_TORCH and not _warned:
        _warned.append(True)
        print("warning: torch was imported before robustbench_snn, so oneDNN may run uncapped kernels here and train "
              "other weights than the records' (import robustbench_snn first, or export ONEDNN_MAX_CPU_ISA=AVX2)",
              file=sys.stderr)
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(TRAIN_THREADS)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


# --- training loops ------------------------------------------------------------------------------------------

def _encoder_generator(model: nn.Module) -> torch.Generator | None:
    """The spike encoder's generator of an SNN under training (its draws are part of the training state)."""
    return getattr(getattr(model, "encoder", None), "generator", None)




def fit(model: nn.Module, loss_of, prepared: Prepared, config: ModelConfig, lr: float, epochs: int,
        folder: Path, ident: dict, desc: str, project=None, patience: int | None = None,
        stochastic: bool = False) -> dict:
    """Shared loop: AdamW, shuffled batches, dev selection with early stopping after ``patience`` epochs
    without improvement (default: the config's), per-epoch progress files. Bit-reproducible: fixed threads,
    deterministic algorithms, every generator seeded from the config and saved in the progress file. ``ident``:
    the identity the progress and checkpoint files are checked against; ``stochastic``: the model is an SNN
    (monitoring draws its own spikes)."""
    with reproducible_training(), seeded(config.seed):
        return _fit_loop(model, loss_of, prepared, config, lr, epochs, folder, ident, desc, project,
                         config.train.patience if patience is None else patience, stochastic)


def _fit_loop(model, loss_of, prepared, config, lr, epochs, folder, ident, desc, project, patience,
              stochastic) -> dict:
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    # the device the checkpoint's identity names (runtime.compute_device); on the CPU every move is a no-op
    device = compute_device()
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=config.train.weight_decay)
    shuffle = torch.Generator().manual_seed(config.seed)
    spikes = _encoder_generator(model)
    start, best, best_state, stale, history = 0, -1.0, None, 0, []
    progress_file = partial / "progress.pt"
    if progress_file.exists():  # resume an interrupted run
        saved = read_progress(progress_file, ident)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        shuffle.set_state(saved["shuffle"])
        torch.set_rng_state(saved["torch_rng"])
        if device.type == "cuda":  # dropout on a GPU draws from its generator
            torch.cuda.set_rng_state(saved["cuda_rng"], device)
        if spikes is not None:
            spikes.set_state(saved["spikes_rng"])
        start, best, best_state, stale, history = (saved[k] for k in ("epoch", "best", "best_state", "stale",
                                                                       "history"))
    train_ids, train_labels = prepared.ids["train"], prepared.labels["train"]
    steps = (len(train_ids) + config.train.batch_size - 1) // config.train.batch_size
    for epoch in range(start, epochs):
        if config.train.early_stopping and stale >= patience:
            break
        model.train()
        began, total = time.time(), 0.0
        bar = tqdm(length_batches(train_ids, train_labels, config.train.batch_size, shuffle), total=steps,
                   desc=f"{desc} epoch {epoch + 1}/{epochs}", leave=False, disable=None)
        for ids, labels in bar:
            loss = loss_of(model, ids.to(device), labels.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if project is not None:
                project()
            value = float(loss.detach())
            total += value
            bar.set_postfix(loss=f"{value:.3f}")
        seconds = round(time.time() - began, 1)
        dev = accuracy(model, prepared.ids["dev"], prepared.labels["dev"])
        test = _monitor_accuracy(model, prepared, config.seed, epoch, stochastic)
        history.append({"epoch": epoch + 1, "loss": total / steps, "dev_accuracy": dev, "test_accuracy": test,
                        "seconds": seconds})
        per_epoch = sum(h["seconds"] for h in history) / len(history)
        left = f", at most {duration(per_epoch * (epochs - epoch - 1))} left" if epoch + 1 < epochs else ""
        print(f"{desc} epoch {epoch + 1}/{epochs}: loss {total / steps:.4f} dev {dev:.4f} test {test:.4f} "
              f"({seconds:.0f} s{left})", flush=True)
        if dev > best:
            best, best_state, stale = dev, _trainable_state(model), 0
        else:
            stale += 1
        state = {"identity": ident, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "shuffle": shuffle.get_state(), "torch_rng": torch.get_rng_state(), "epoch": epoch + 1,
                 "best": best, "best_state": best_state, "stale": stale, "history": history}
        if spikes is not None:
            state["spikes_rng"] = spikes.get_state()
        if device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(device)
        torch.save(state, progress_file.with_suffix(".tmp"))
        os.replace(progress_file.with_suffix(".tmp"), progress_file)
    return write_checkpoint(folder, partial, ident, best_state, history, {"best_dev_accuracy": best,
                                                                 "threads": TRAIN_THREADS,
                                                                 "cpu_kernels": cpu_kernels()})


def _monitor_accuracy(model: nn.Module, prepared: Prepared, seed: int, epoch: int, stochastic: bool) -> float:
    """Test accuracy after an epoch, for the training-curve figure only (selection uses dev). An SNN draws its
    spikes here from a generator of its own, so monitoring never changes the training's spike stream."""
    encoder = FreshBernoulli(torch.Generator().manual_seed(seed * 1000 + 500 + epoch)) \
        if stochastic else None
    return accuracy(model, prepared.ids["test"], prepared.labels["test"], encoder=encoder)


def ce_loss(model, ids, labels):
    return F.cross_entropy(model(ids), labels)


def rate_loss(num_classes: int):
    """Cross-entropy of each step's per-class spike counts, averaged over steps (snntorch's ce_rate_loss).
    The groups are summed here: snntorch 1.0's ``population_code=True`` path fails without class weights and
    never sums the groups."""
    def loss(model: SpikingTextCNN, ids, labels):
        return spike_rate_loss(model.run(ids).output_spikes, labels, num_classes)

    return loss


def spike_rate_loss(spikes: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """:func:`rate_loss` of output spikes [T, N, C * population] already simulated."""
    steps, n, _ = spikes.shape
    return snn_functional.ce_rate_loss()(spikes.view(steps, n, num_classes, -1).sum(-1), labels)
