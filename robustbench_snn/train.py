"""Training (ANN, SNN fine-tuning, direct SNN training), the identities that key checkpoints, and the paper's
model kinds (registered at the end of this module).

``build_model(config)`` returns a ready model of any kind, training and caching what it needs first: a
converted SNN needs the tailored ANN, fine-tuning needs the converted SNN. Checkpoints are folders
``<home>/checkpoints/<dataset>/<kind>-<key>`` where ``key`` hashes the configuration that determines the
weights (:func:`identity`); their files are read and written by :mod:`robustbench_snn.checkpoints`, the data
they train on is prepared by :mod:`robustbench_snn.prepared`. Training saves its progress after every epoch and
resumes from it; the finished folder appears atomically, so an interrupted run never leaves a checkpoint that
looks complete.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from snntorch import functional as snn_functional
from torch import nn
from tqdm.auto import tqdm

from robustbench_snn.checkpoints import read_checkpoint, read_progress, write_checkpoint
from robustbench_snn.config import EvaluateAt, ModelConfig
from robustbench_snn.convert import convert
from robustbench_snn.data import Dataset
from robustbench_snn.errors import UserError
from robustbench_snn.identity import short_digest
from robustbench_snn.locks import exclusive
from robustbench_snn.models.registry import ModelKind, model_kind, register_model
from robustbench_snn.models.spiking import FreshBernoulli, SpikingTextCNN
from robustbench_snn.models.textcnn import TailoredTextCNN, TextCNN
from robustbench_snn.prepared import Prepared, batches, make_embedding, prepare_for
from robustbench_snn.resources import home

_CONVERSION = {"snn-conv": "none", "snn-conv-mn": "mn", "snn-conv-dn": "dn"}


def check_kind(kind: str) -> str:
    """``kind`` if it is a registered model kind (else a one-line error listing them)."""
    return model_kind(kind).name


@torch.no_grad()
def accuracy(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor, batch_size: int = 256,
             encoder=None) -> float:
    """Share of correct argmax predictions (ties go to the lower class index); an SNN draws its spikes with
    ``encoder`` (default: its own)."""
    was_training = model.training
    model.eval()
    call = model if encoder is None else (lambda x: model(x, encoder))
    correct = sum(int((call(x).argmax(-1) == y).sum()) for x, y in batches(ids, labels, batch_size))
    model.train(was_training)
    return correct / len(ids)


# --- checkpoints ---------------------------------------------------------------------------------------------

# Bump whenever a change alters the weights training produces (initialisation, data order, loss, optimiser,
# selection, ...): every cached checkpoint is then retrained instead of being reused under the new code.
# tests/test_train.py pins the weights digest of a tiny training run, so such a change fails the suite until
# this number (and the pinned digest) is updated.
TRAINING_CODE_VERSION = 2
# Training runs with a fixed intra-op thread count: MKL and oneDNN reduce in a thread-dependent order, and on
# SST-2 one thread and two trained the same configuration to different weights (39 vs 25 epochs). One thread
# is available everywhere; grids parallelise over workers instead.
TRAIN_THREADS = 1
_FT_START = {"none": "snn-conv", "mn": "snn-conv-mn", "dn": "snn-conv-dn"}  # SNNConfig.ft_from -> kind


def identity(config: ModelConfig, prepared: Prepared) -> dict:
    """Everything that determines a model's weights (a converted model's: its source's and the conversion's).
    Checkpoints are keyed and checked on this; run identities embed :func:`model_identity`."""
    return model_kind(config.kind).identity(config, prepared)


def _base_identity(config: ModelConfig, prepared: Prepared) -> dict:
    key = {"dataset": config.dataset, "kind": config.kind, "seed": config.seed, "split_seed": config.split_seed,
           "random_embeddings": config.random_embeddings,
           "vectors": prepared.vectors.identity if prepared.vectors else "random U[0,1]",
           "vocabulary": prepared.vocab.digest, "split_hashes": prepared.dataset.split["hashes"],
           "training_code": TRAINING_CODE_VERSION, "threads": TRAIN_THREADS}
    if config.tokenizer is not None:  # only when not the dataset's: the identities of earlier models stand
        key["tokenizer"] = config.tokenizer
    if config.kind != "textcnn":
        key["population"] = config.population
    return key


def _optimiser(config: ModelConfig) -> dict:
    train = config.train
    return {"batch_size": train.batch_size, "weight_decay": train.weight_decay, "early_stopping": train.early_stopping}


def _snn_settings(config: ModelConfig) -> dict:
    snn = asdict(config.snn)
    snn.pop("ft_from")
    return snn


def _ann_identity(config: ModelConfig, prepared: Prepared) -> dict:
    train = config.train
    ann = {"ann_lr": config.ann_lr(), "ann_epochs": train.ann_epochs, "patience": train.patience,
           "dropout": config.dropout}
    return _base_identity(config, prepared) | _optimiser(config) | ann | \
        ({"input": config.textcnn_input} if config.kind == "textcnn" else {})


def _converted_identity(config: ModelConfig, prepared: Prepared) -> dict:
    return _base_identity(config, prepared) | {"from": identity(config.with_kind("tailored"), prepared),
                                               "normalization": _CONVERSION[config.kind], "snn": _snn_settings(config)}


def _finetuned_identity(config: ModelConfig, prepared: Prepared) -> dict:
    start = config.with_kind(_FT_START[config.snn.ft_from])
    return _base_identity(config, prepared) | _optimiser(config) | {
        "from": identity(start, prepared), "ft_lr": config.train.ft_lr, "ft_epochs": config.train.ft_epochs,
        "patience": config.train.patience, "snn": _snn_settings(config)}


def _direct_identity(config: ModelConfig, prepared: Prepared) -> dict:
    train = config.train
    return _base_identity(config, prepared) | _optimiser(config) | {
        "snn": _snn_settings(config), "direct_lr": train.direct_lr, "direct_epochs": train.direct_epochs,
        "initialisation": "random, DN-scaled", "patience": train.direct_patience}


def model_identity(config: ModelConfig, prepared: Prepared) -> dict:
    """What determines a model's outputs: its weights' :func:`identity`, and for an SNN evaluated at other
    settings than it was trained with (``config.evaluate_at``) those settings."""
    found = identity(config, prepared)
    overrides = config.evaluation_overrides()
    return found | {"evaluated_at": overrides} if overrides else found


def checkpoint_dir(config: ModelConfig, prepared: Prepared) -> Path:
    variant = "-rand" if config.random_embeddings else ""
    return (home() / "checkpoints" / config.dataset /
            f"{config.kind}{variant}-s{config.seed}-{short_digest(identity(config, prepared))}")






def _trainable_state(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}




@contextmanager
def seeded(seed: int):
    """Run a block with torch's global generator seeded by ``seed``, restoring the caller's state after:
    weight initialisation and dropout then never depend on what the process did before."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextmanager
def reproducible_training():
    """Fixed thread count and deterministic algorithms for the duration of a training run."""
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




def _fit(model: nn.Module, loss_of, prepared: Prepared, config: ModelConfig, lr: float, epochs: int,
         folder: Path, desc: str, project=None, patience: int | None = None) -> dict:
    """Shared loop: AdamW, shuffled batches, dev selection with early stopping after ``patience`` epochs
    without improvement (default: the config's), per-epoch progress files. Bit-reproducible: fixed threads,
    deterministic algorithms, every generator seeded from the config and saved in the progress file."""
    with reproducible_training(), seeded(config.seed):
        return _fit_loop(model, loss_of, prepared, config, lr, epochs, folder, desc, project,
                         config.train.patience if patience is None else patience)


def _fit_loop(model, loss_of, prepared, config, lr, epochs, folder, desc, project, patience) -> dict:
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    ident = identity(config, prepared)
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
        seconds = round(time.time() - began, 1)
        dev = accuracy(model, prepared.ids["dev"], prepared.labels["dev"])
        test = _monitor_accuracy(model, prepared, config.seed, epoch)
        history.append({"epoch": epoch + 1, "loss": total / steps, "dev_accuracy": dev, "test_accuracy": test,
                        "seconds": seconds})
        print(f"{desc} epoch {epoch + 1}: loss {total / steps:.4f} dev {dev:.4f} test {test:.4f} ({seconds:.0f}s)",
              flush=True)
        if dev > best:
            best, best_state, stale = dev, _trainable_state(model), 0
        else:
            stale += 1
        state = {"identity": ident, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "shuffle": shuffle.get_state(), "torch_rng": torch.get_rng_state(), "epoch": epoch + 1,
                 "best": best, "best_state": best_state, "stale": stale, "history": history}
        if spikes is not None:
            state["spikes_rng"] = spikes.get_state()
        torch.save(state, progress_file.with_suffix(".tmp"))
        os.replace(progress_file.with_suffix(".tmp"), progress_file)
    return write_checkpoint(folder, partial, ident, best_state, history, {"best_dev_accuracy": best,
                                                                 "threads": TRAIN_THREADS})


def _monitor_accuracy(model: nn.Module, prepared: Prepared, seed: int, epoch: int) -> float:
    """Test accuracy after an epoch, for the training-curve figure only (selection uses dev). An SNN draws its
    spikes here from a generator of its own, so monitoring never changes the training's spike stream."""
    encoder = FreshBernoulli(torch.Generator().manual_seed(seed * 1000 + 500 + epoch)) \
        if getattr(model, "stochastic", False) else None
    return accuracy(model, prepared.ids["test"], prepared.labels["test"], encoder=encoder)


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
            "pool_neurons": snn.pool_neurons, "encoder": FreshBernoulli(generator)}


# --- models by kind ------------------------------------------------------------------------------------------

@dataclass
class Built:
    """A ready model, the checkpoint it came from and what its record should say about it; ``identity``:
    what determines its weights (:func:`identity`)."""

    model: nn.Module
    config: ModelConfig
    prepared: Prepared
    provenance: dict
    identity: dict | None = None

    @property
    def dataset(self) -> Dataset:
        return self.prepared.dataset

    @property
    def stochastic(self) -> bool:
        """Whether its scores are random draws (the SNNs; see the model contract in ``wrappers``)."""
        return bool(getattr(self.model, "stochastic", False))

    def classifier(self, incremental: bool = True):
        """The model as a :class:`~robustbench_snn.wrappers.Classifier` over texts (``incremental``: seeded SNN
        queries reuse unchanged convolution windows)."""
        from robustbench_snn.wrappers import ModuleClassifier, SpikingClassifier

        if self.stochastic:
            return SpikingClassifier(self.model, self.prepared.encode, incremental)
        return ModuleClassifier(self.model, self.prepared.encode, stochastic=False)


def build_model(config: ModelConfig, train: bool = True) -> Built:
    """The model ``config`` describes, from cache or trained now (with its prerequisites) when ``train``; an SNN
    with ``config.evaluate_at`` set is the trained SNN run at those settings (no retraining)."""
    built = _build(config, train)
    overrides = config.evaluation_overrides()
    if overrides:
        snn = built.model
        snn.steps = overrides.get("steps", snn.steps)
        snn.set_neurons(overrides.get("threshold", snn.threshold), overrides.get("beta", snn.beta))
        built.provenance = built.provenance | {"evaluated_at": overrides}
    built.identity = model_identity(config, built.prepared)
    return built


def _build(config: ModelConfig, train: bool) -> Built:
    return model_kind(config.kind).build(config, train)


def _build_ann(config: ModelConfig, train: bool) -> Built:
    prepared = prepare_for(config)
    num_classes = prepared.dataset.spec.num_classes
    with seeded(config.seed):  # initial weights from the seed, not from the process's history
        model = (TextCNN(make_embedding(config, prepared, shifted=config.textcnn_input == "shifted"), num_classes,
                         config.dropout) if config.kind == "textcnn"
                 else TailoredTextCNN(make_embedding(config, prepared), num_classes, config.dropout,
                                      config.population))
    return _trained(config, prepared, model, _ce_loss, config.ann_lr(), config.train.ann_epochs, train, {},
                    project=model.embedding.project_)


def _convert_tailored(config: ModelConfig, method: str, train: bool) -> tuple:
    prepared = prepare_for(config)
    tailored = _build(config.with_kind("tailored"), train)
    train_ids = (x for x, _ in batches(prepared.ids["train"], prepared.labels["train"], 256))
    snn, factors = convert(tailored.model, method, train_ids, **_snn_kwargs(config, 1))
    return prepared, snn, {"from": tailored.provenance, "normalization": method, "divisors": factors}


def _build_converted(config: ModelConfig, train: bool) -> Built:
    prepared, snn, provenance = _convert_tailored(config, _CONVERSION[config.kind], train)
    return Built(snn, config, prepared, provenance, identity(config, prepared))


def _build_finetuned(config: ModelConfig, train: bool) -> Built:
    prepared, snn, provenance = _convert_tailored(config, config.snn.ft_from, train)
    return _trained(config, prepared, snn, _rate_loss(prepared.dataset.spec.num_classes), config.train.ft_lr,
                    config.train.ft_epochs, train, provenance)


def _build_direct(config: ModelConfig, train: bool) -> Built:
    """Random initial weights, scaled by data-based normalization. Plain random initialisation leaves the output
    neurons below threshold for all 50 steps (no spikes, loss stuck at ln C, surrogate gradients ~1e-3): measured
    on SST-2, 3 seeds at chance after 6 epochs."""
    prepared = prepare_for(config)
    num_classes = prepared.dataset.spec.num_classes
    with seeded(config.seed):
        untrained = TailoredTextCNN(make_embedding(config, prepared), num_classes,
                                    population_size=config.population).eval()
    train_ids = (x for x, _ in batches(prepared.ids["train"], prepared.labels["train"], 256))
    model, factors = convert(untrained, "dn", train_ids, **_snn_kwargs(config, 2))
    return _trained(config, prepared, model, _rate_loss(num_classes), config.train.direct_lr,
                    config.train.direct_epochs, train, {"initialisation": "random, DN-scaled", "divisors": factors},
                    patience=config.train.direct_patience)


def train_command(config: ModelConfig) -> str | None:
    """The ``snn-robust train`` command that trains ``config``; None when it sets options that command lacks
    (learning rates, vector files, ...: only its recipe or API call can train it)."""
    from robustbench_snn.config import cli_flags

    flags = cli_flags(replace(config, evaluate_at=EvaluateAt()))  # evaluation settings do not train anything
    if flags is None:
        return None
    options = [f"--dataset {config.dataset}", f"--model {config.kind}", f"--seed {config.seed}"]
    options += [f"--split-seed {config.split_seed}"] * (config.split_seed != 0)
    options += ["--random-embeddings"] * config.random_embeddings
    return "snn-robust train " + " ".join(options + flags)


def _trained(config, prepared, model, loss, lr, epochs, train, provenance, project=None,
             patience: int | None = None) -> Built:
    folder = checkpoint_dir(config, prepared)
    ident = identity(config, prepared)
    if not (folder / "checkpoint.json").exists():
        if not train:
            command = train_command(config)
            how = (f"run `{command}`" if command else "rerun this command or recipe without --no-train (its training "
                   "settings have no `snn-robust train` options)")
            raise UserError(f"no trained {config.kind} for {config.dataset} seed {config.seed} with these settings "
                            f"({folder.name}); {how}")
        # one trainer per checkpoint: a second identical invocation waits, then uses the finished checkpoint
        with exclusive(folder, "training", wait=True):
            if not (folder / "checkpoint.json").exists():
                _fit(model, loss, prepared, config, lr, epochs, folder,
                     f"{config.dataset}/{config.kind}/s{config.seed}", project, patience)
    meta, state = read_checkpoint(folder, ident)
    model.load_state_dict(state)
    model.eval()
    return Built(model, config, prepared, provenance | {
        "checkpoint": folder.relative_to(home()).as_posix(), "weights_sha256": meta["weights_sha256"],
        "best_dev_accuracy": meta["best_dev_accuracy"], "epochs_run": len(meta["history"]),
        "best_epoch": 1 + max(range(len(meta["history"])), key=lambda i: (meta["history"][i]["dev_accuracy"], -i)),
        "history": meta["history"], "threads": meta.get("threads"),
        "seconds_per_epoch": round(float(np.mean([h["seconds"] for h in meta["history"]])), 1)}, ident)


# The paper's kinds, in table order. Options a kind ignores: the original TextCNN has no population or SNN
# settings, the tailored ANN no SNN settings, every kind but the original TextCNN ignores its input choice.
_SNN_IGNORES = ("textcnn_input",)
for _kind in (
        ModelKind("textcnn", "Original TextCNN (Kim 2014)", False, ("population", "snn", "evaluate_at"), _ann_identity,
                  _build_ann),
        ModelKind("tailored", "Tailored TextCNN", False, ("textcnn_input", "snn", "evaluate_at"), _ann_identity,
                  _build_ann),
        ModelKind("snn-direct", "Directly-trained SNN", True, _SNN_IGNORES, _direct_identity, _build_direct),
        ModelKind("snn-conv", "Conv SNN", True, _SNN_IGNORES, _converted_identity, _build_converted),
        ModelKind("snn-conv-mn", "Conv SNN + MN", True, _SNN_IGNORES, _converted_identity, _build_converted),
        ModelKind("snn-conv-dn", "Conv SNN + DN", True, _SNN_IGNORES, _converted_identity, _build_converted),
        ModelKind("snn-ft", "Conv SNN FT", True, _SNN_IGNORES, _finetuned_identity, _build_finetuned)):
    register_model(_kind)
