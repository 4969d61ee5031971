"""Training (ANN, SNN fine-tuning, direct SNN training), self-describing checkpoints, and models by kind.

``build_model(config)`` returns a ready model of any kind, training and caching what it needs first: a
converted SNN needs the tailored ANN, fine-tuning needs the converted SNN. Checkpoints are folders
``<home>/checkpoints/<dataset>/<kind>-<key>`` where ``key`` hashes the configuration that determines the
weights; each holds ``checkpoint.json`` (that configuration, the vector file and vocabulary digests, the
split hashes, the training history and the weights' sha256, which records cite) and ``weights.pt``.
Training saves ``progress.pt`` in a ``.partial`` folder after every epoch and resumes from it; the finished
folder appears atomically, so an interrupted run never leaves a checkpoint that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from snntorch import functional as snn_functional
from torch import nn
from tqdm.auto import tqdm

from robustbench_snn.config import ModelConfig
from robustbench_snn.convert import convert
from robustbench_snn.data import Dataset, load_dataset
from robustbench_snn.data.tokenizers import get_tokenizer
from robustbench_snn.embeddings import (
    Vocabulary,
    WordVectors,
    build_vocabulary,
    load_vectors,
    shifted_embeddings,
)
from robustbench_snn.errors import UserError, unknown_name
from robustbench_snn.models.spiking import FreshBernoulli, SpikingTextCNN
from robustbench_snn.models.textcnn import TailoredTextCNN, TextCNN, WordEmbedding
from robustbench_snn.resources import home

MODEL_KINDS = {
    "textcnn": "Original TextCNN (Kim 2014)",
    "tailored": "Tailored TextCNN",
    "snn-direct": "Directly-trained SNN",
    "snn-conv": "Conv SNN",
    "snn-conv-mn": "Conv SNN + MN",
    "snn-conv-dn": "Conv SNN + DN",
    "snn-ft": "Conv SNN FT",
}
_CONVERSION = {"snn-conv": "none", "snn-conv-mn": "mn", "snn-conv-dn": "dn"}
_TRAINED = ("textcnn", "tailored", "snn-direct", "snn-ft")


def check_kind(kind: str) -> str:
    if kind not in MODEL_KINDS:
        raise unknown_name("model", kind, MODEL_KINDS)
    return kind


# --- data ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Prepared:
    """A dataset turned into id tensors, with the vocabulary and vectors that made them."""

    dataset: Dataset
    vocab: Vocabulary
    vectors: WordVectors | None
    ids: dict[str, torch.Tensor]  # split -> [n, max_len]
    labels: dict[str, torch.Tensor]  # split -> [n]

    def encode(self, texts: list[str]) -> torch.Tensor:
        tokenize = get_tokenizer(self.dataset.spec.tokenizer)
        max_len = self.dataset.spec.max_len
        return torch.tensor([self.vocab.encode(tokenize(t), max_len) for t in texts], dtype=torch.long)


@cache
def prepare(dataset: str, split_seed: int, random_embeddings: bool, vectors: str | None) -> Prepared:
    """Load, tokenize and encode a dataset (cached per process)."""
    data = load_dataset(dataset, split_seed)
    tokenize = get_tokenizer(data.spec.tokenizer)
    word_vectors = None if random_embeddings else load_vectors(vectors or data.spec.vectors)
    vocab = build_vocabulary((tokenize(t) for t, _ in data.train), word_vectors)
    prepared = Prepared(data, vocab, word_vectors, {}, {})
    for split, examples in data.splits().items():
        prepared.ids[split] = prepared.encode([t for t, _ in examples])
        prepared.labels[split] = torch.tensor([label for _, label in examples], dtype=torch.long)
    return prepared


def make_embedding(config: ModelConfig, prepared: Prepared, shifted: bool = True) -> WordEmbedding:
    """Initial embedding: shifted (or raw) pre-trained vectors, or U[0, 1] random vectors for the ablation."""
    trainable_rows = prepared.vocab.num_trainable + 2
    if prepared.vectors is None:
        generator = torch.Generator().manual_seed(config.seed)
        weight = torch.rand(trainable_rows, 50, generator=generator)
        weight[0] = 0.0
        return WordEmbedding(weight, None, unit_range=True)
    matrix = torch.from_numpy(shifted_embeddings(prepared.vocab, prepared.vectors, shift=shifted))
    return WordEmbedding(matrix[:trainable_rows], matrix[trainable_rows:], unit_range=shifted)


def batches(ids: torch.Tensor, labels: torch.Tensor, size: int, generator: torch.Generator | None = None):
    """Mini-batches, shuffled when a generator is given."""
    order = torch.randperm(len(ids), generator=generator) if generator is not None else torch.arange(len(ids))
    for start in range(0, len(ids), size):
        index = order[start:start + size]
        yield ids[index], labels[index]


@torch.no_grad()
def accuracy(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> float:
    """Share of correct argmax predictions (ties go to the lower class index)."""
    was_training = model.training
    model.eval()
    correct = sum(int((model(x).argmax(-1) == y).sum()) for x, y in batches(ids, labels, batch_size))
    model.train(was_training)
    return correct / len(ids)


# --- checkpoints ---------------------------------------------------------------------------------------------

def identity(config: ModelConfig, prepared: Prepared) -> dict:
    """What determines a model's weights. Checkpoints are keyed and checked on this."""
    key = {"dataset": config.dataset, "kind": config.kind, "seed": config.seed, "split_seed": config.split_seed,
           "random_embeddings": config.random_embeddings,
           "vectors": prepared.vectors.identity if prepared.vectors else "random U[0,1]",
           "vocabulary": prepared.vocab.digest, "split_hashes": prepared.dataset.split["hashes"],
           "batch_size": config.train.batch_size, "weight_decay": config.train.weight_decay,
           "patience": config.train.patience}
    if config.kind in ("textcnn", "tailored", "snn-ft"):
        key |= {"ann_lr": config.ann_lr(), "ann_epochs": config.train.ann_epochs}
    if config.kind in ("snn-direct", "snn-ft"):
        key |= {"snn": asdict(config.snn)}
    if config.kind == "snn-ft":
        key |= {"ft_lr": config.train.ft_lr, "ft_epochs": config.train.ft_epochs}
    if config.kind == "snn-direct":
        key |= {"direct_lr": config.train.direct_lr, "direct_epochs": config.train.direct_epochs,
                "initialisation": "random, DN-scaled", "patience": config.train.direct_patience}
    return key


def checkpoint_dir(config: ModelConfig, prepared: Prepared) -> Path:
    digest = hashlib.sha256(json.dumps(identity(config, prepared), sort_keys=True).encode()).hexdigest()[:12]
    variant = "-rand" if config.random_embeddings else ""
    return home() / "checkpoints" / config.dataset / f"{config.kind}{variant}-s{config.seed}-{digest}"


def read_checkpoint(folder: Path, expected: dict) -> tuple[dict, dict]:
    """(metadata, state dict) of a finished checkpoint; refuses one whose identity differs from ``expected``."""
    meta = json.loads((folder / "checkpoint.json").read_text())
    differing = sorted(k for k in set(expected) | set(meta["identity"])
                       if expected.get(k) != meta["identity"].get(k))
    if differing:
        raise UserError(f"checkpoint {folder} does not match the requested configuration ({', '.join(differing)} "
                        "differ); delete it or request its configuration")
    weights = folder / "weights.pt"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    if digest != meta["weights_sha256"]:
        raise UserError(f"checkpoint {folder} is corrupt (weights sha256 {digest[:12]}… != recorded "
                        f"{meta['weights_sha256'][:12]}…); delete the folder to retrain")
    return meta, torch.load(weights, weights_only=True)


def _trainable_state(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _finish(folder: Path, partial: Path, ident: dict, state: dict, history: list[dict], extra: dict) -> dict:
    torch.save(state, partial / "weights.pt")
    meta = {"identity": ident, "weights_sha256": hashlib.sha256((partial / "weights.pt").read_bytes()).hexdigest(),
            "history": history, **extra}
    (partial / "checkpoint.json").write_text(json.dumps(meta, indent=1))
    (partial / "progress.pt").unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)
    return meta


# --- training loops ------------------------------------------------------------------------------------------

def _fit(model: nn.Module, loss_of, prepared: Prepared, config: ModelConfig, lr: float, epochs: int,
         folder: Path, desc: str, project=None, patience: int | None = None) -> dict:
    """Shared loop: AdamW, shuffled batches, dev selection with early stopping after ``patience`` epochs
    without improvement (default: the config's), per-epoch progress files."""
    patience = config.train.patience if patience is None else patience
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    ident = identity(config, prepared)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=config.train.weight_decay)
    shuffle = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    start, best, best_state, stale, history = 0, -1.0, None, 0, []
    progress_file = partial / "progress.pt"
    if progress_file.exists():  # resume an interrupted run
        saved = torch.load(progress_file, weights_only=False)
        if saved["identity"] != ident:
            raise UserError(f"{partial} holds progress for another configuration; delete it to start over")
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        shuffle.set_state(saved["shuffle"])
        torch.set_rng_state(saved["torch_rng"])
        start, best, best_state, stale, history = (saved[k] for k in ("epoch", "best", "best_state", "stale",
                                                                       "history"))
    train_ids, train_labels = prepared.ids["train"], prepared.labels["train"]
    steps = (len(train_ids) + config.train.batch_size - 1) // config.train.batch_size
    for epoch in range(start, epochs):
        if stale >= patience:
            break
        model.train()
        began, total = time.time(), 0.0
        bar = tqdm(batches(train_ids, train_labels, config.train.batch_size, shuffle), total=steps,
                   desc=f"{desc} epoch {epoch + 1}/{epochs}", leave=False, disable=None)
        for ids, labels in bar:
            loss = loss_of(model, ids, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if project is not None:
                project()
            value = float(loss.detach())
            total += value
            bar.set_postfix(loss=f"{value:.3f}")
        dev = accuracy(model, prepared.ids["dev"], prepared.labels["dev"])
        history.append({"epoch": epoch + 1, "loss": total / steps, "dev_accuracy": dev,
                        "seconds": round(time.time() - began, 1)})
        print(f"{desc} epoch {epoch + 1}: loss {total / steps:.4f} dev {dev:.4f} ({time.time() - began:.0f}s)",
              flush=True)
        if dev > best:
            best, best_state, stale = dev, _trainable_state(model), 0
        else:
            stale += 1
        torch.save({"identity": ident, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "shuffle": shuffle.get_state(), "torch_rng": torch.get_rng_state(), "epoch": epoch + 1,
                    "best": best, "best_state": best_state, "stale": stale, "history": history},
                   progress_file.with_suffix(".tmp"))
        os.replace(progress_file.with_suffix(".tmp"), progress_file)
    return _finish(folder, partial, ident, best_state, history, {"best_dev_accuracy": best})


def _ce_loss(model, ids, labels):
    return F.cross_entropy(model(ids), labels)


def _rate_loss(num_classes: int):
    """Cross-entropy of each step's per-class spike counts, averaged over steps (snntorch's ce_rate_loss).
    The groups are summed here: snntorch 1.0's ``population_code=True`` path fails without class weights and
    never sums the groups."""
    criterion = snn_functional.ce_rate_loss()

    def loss(model: SpikingTextCNN, ids, labels):
        spikes = model.simulate(model.input_spikes(ids)).output_spikes
        steps, n, _ = spikes.shape
        return criterion(spikes.view(steps, n, num_classes, -1).sum(-1), labels)

    return loss


def _snn_kwargs(config: ModelConfig, seed_offset: int) -> dict:
    generator = torch.Generator().manual_seed(config.seed * 1000 + seed_offset)
    snn = config.snn
    return {"steps": snn.steps, "beta": snn.beta, "threshold": snn.threshold, "slope": snn.slope,
            "encoder": FreshBernoulli(generator)}


# --- models by kind ------------------------------------------------------------------------------------------

@dataclass
class Built:
    """A ready model, the checkpoint it came from and what its record should say about it."""

    model: nn.Module
    config: ModelConfig
    prepared: Prepared
    provenance: dict


def build_model(config: ModelConfig, train: bool = True) -> Built:
    """The model ``config`` describes, from cache or trained now (with its prerequisites) when ``train``."""
    check_kind(config.kind)
    prepared = prepare(config.dataset, config.split_seed, config.random_embeddings, config.vectors)
    num_classes = prepared.dataset.spec.num_classes
    if config.kind in _CONVERSION or config.kind == "snn-ft":
        method = _CONVERSION.get(config.kind, config.snn.ft_from)
        tailored = build_model(config.with_kind("tailored"), train)
        train_ids = (x for x, _ in batches(prepared.ids["train"], prepared.labels["train"], 256))
        snn, factors = convert(tailored.model, method, train_ids, **_snn_kwargs(config, 1))
        provenance = {"from": tailored.provenance, "normalization": method, "divisors": factors}
        if config.kind != "snn-ft":
            return Built(snn, config, prepared, provenance)
        return _trained(config, prepared, snn, _rate_loss(num_classes), config.train.ft_lr, config.train.ft_epochs,
                        train, provenance)
    if config.kind == "textcnn":
        model = TextCNN(make_embedding(config, prepared, shifted=False), num_classes)
        return _trained(config, prepared, model, _ce_loss, config.ann_lr(), config.train.ann_epochs, train, {},
                        project=model.embedding.project_)
    if config.kind == "tailored":
        model = TailoredTextCNN(make_embedding(config, prepared), num_classes)
        return _trained(config, prepared, model, _ce_loss, config.ann_lr(), config.train.ann_epochs, train, {},
                        project=model.embedding.project_)
    # snn-direct: random initial weights, scaled by data-based normalization. Plain random initialisation
    # leaves the output neurons below threshold for all 50 steps (no spikes, loss stuck at ln C, surrogate
    # gradients ~1e-3): measured on SST-2, 3 seeds at chance after 6 epochs.
    torch.manual_seed(config.seed)
    untrained = TailoredTextCNN(make_embedding(config, prepared), num_classes).eval()
    train_ids = (x for x, _ in batches(prepared.ids["train"], prepared.labels["train"], 256))
    model, factors = convert(untrained, "dn", train_ids, **_snn_kwargs(config, 2))
    return _trained(config, prepared, model, _rate_loss(num_classes), config.train.direct_lr,
                    config.train.direct_epochs, train, {"initialisation": "random, DN-scaled", "divisors": factors},
                    patience=config.train.direct_patience)


def _trained(config, prepared, model, loss, lr, epochs, train, provenance, project=None,
             patience: int | None = None) -> Built:
    folder = checkpoint_dir(config, prepared)
    if not (folder / "checkpoint.json").exists():
        if not train:
            raise UserError(f"no trained {config.kind} for {config.dataset} seed {config.seed}; run "
                            f"`snn-robust train --dataset {config.dataset} --model {config.kind} --seed {config.seed}`")
        _fit(model, loss, prepared, config, lr, epochs, folder, f"{config.dataset}/{config.kind}/s{config.seed}",
             project, patience)
    meta, state = read_checkpoint(folder, identity(config, prepared))
    model.load_state_dict(state)
    model.eval()
    return Built(model, config, prepared, provenance | {
        "checkpoint": str(folder), "weights_sha256": meta["weights_sha256"],
        "best_dev_accuracy": meta["best_dev_accuracy"], "epochs_run": len(meta["history"]),
        "seconds_per_epoch": round(float(np.mean([h["seconds"] for h in meta["history"]])), 1)})
