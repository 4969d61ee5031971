"""The paper's model kinds: what determines each kind's weights (its identity), how it is built from its
prerequisites, and the ready model (:class:`Built`) that evaluation, energy and attacks receive.

``build_model(config)`` returns a ready model of any registered kind, training and caching what it needs first: a
converted SNN needs the tailored ANN, fine-tuning needs the converted SNN. Checkpoints are folders
``<home>/checkpoints/<dataset>/<kind>-<key>`` where ``key`` hashes the configuration that determines the
weights (:func:`weights_identity`); :mod:`robustbench_snn.train` runs the training loops, :mod:`robustbench_snn.checkpoints`
reads and writes the files, :mod:`robustbench_snn.prepared` prepares the data. The kinds themselves (names, titles,
stochastic or not, ignored options) are declared in :mod:`robustbench_snn.models.registry`, which refers to the
builders and identities here by name.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from robustbench_snn.checkpoints import read_checkpoint
from robustbench_snn.config import EvaluateAt, ModelConfig, SNNConfig
from robustbench_snn.convert import convert
from robustbench_snn.data import Dataset
from robustbench_snn.errors import UserError
from robustbench_snn.identity import short_digest
from robustbench_snn.locks import exclusive
from robustbench_snn.models.registry import is_stochastic, model_kind
from robustbench_snn.models.spiking import ExpectedInput, FreshBernoulli, SeededBernoulli
from robustbench_snn.models.textcnn import TailoredTextCNN, TextCNN
from robustbench_snn.runtime import compute_device, device_kind, module_device
from robustbench_snn.prepared import Prepared, batches, make_embedding, prepare_for
from robustbench_snn.resources import home
from robustbench_snn.train import TRAIN_THREADS, TRAINING_CODE_VERSION, ce_loss, fit, rate_loss, seeded

_CONVERSION = {"snn-conv": "none", "snn-conv-mn": "mn", "snn-conv-dn": "dn"}
_FT_START = {"none": "snn-conv", "mn": "snn-conv-mn", "dn": "snn-conv-dn"}  # SNNConfig.ft_from -> kind


def check_kind(kind: str) -> str:
    """``kind`` if it is a registered model kind (else a one-line error listing them)."""
    return model_kind(kind).name


# --- identities ------------------------------------------------------------------------------------------------

def weights_identity(config: ModelConfig, prepared: Prepared) -> dict:
    """Everything that determines a model's weights (a converted model's: its source's and the conversion's).
    Checkpoints are keyed and checked on this; run identities embed :func:`model_identity`."""
    return model_kind(config.kind).weights_identity(config, prepared)


def _base_identity(config: ModelConfig, prepared: Prepared) -> dict:
    key = {"dataset": config.dataset, "kind": config.kind, "seed": config.seed, "split_seed": config.split_seed,
           "random_embeddings": config.random_embeddings,
           "vectors": prepared.vectors.identity if prepared.vectors else "random U[0,1]",
           "vocabulary": prepared.vocab.digest, "split_hashes": prepared.dataset.split["hashes"],
           "max_len": prepared.dataset.spec.max_len,  # the padded length: pooling averages over its windows
           "training_code": TRAINING_CODE_VERSION, "threads": TRAIN_THREADS,
           "device": device_kind(compute_device())}  # floats differ across devices: each trains its own
    if config.tokenizer is not None:  # only when not the dataset's: the identities of earlier models stand
        key["tokenizer"] = config.tokenizer
    if config.kind != "textcnn":
        key["population"] = config.population
    return key


def _optimiser(config: ModelConfig) -> dict:
    train = config.train
    return {"batch_size": train.batch_size, "weight_decay": train.weight_decay, "early_stopping": train.early_stopping}


def _training_spikes(config: ModelConfig) -> dict:
    """An SNN's training inputs, only when not the default (the identities of models trained before stand)."""
    return {"input_spikes": config.train.input_spikes} if config.train.input_spikes != "fresh" else {}


def _snn_settings(config: ModelConfig) -> dict:
    snn = asdict(config.snn)
    snn.pop("ft_from")
    if snn["dn_percentile"] == SNNConfig.dn_percentile or not config.normalizes_by_data():
        snn.pop("dn_percentile")  # the maximum: the identities of models built before the option stand
    return snn


def ann_identity(config: ModelConfig, prepared: Prepared) -> dict:
    train = config.train
    ann = {"ann_lr": config.ann_lr(), "ann_epochs": train.ann_epochs, "patience": train.patience,
           "dropout": config.dropout}
    return _base_identity(config, prepared) | _optimiser(config) | ann | \
        ({"input": config.textcnn_input} if config.kind == "textcnn" else {})


def converted_identity(config: ModelConfig, prepared: Prepared) -> dict:
    return _base_identity(config, prepared) | {"from": weights_identity(config.with_kind("tailored"), prepared),
                                               "normalization": _CONVERSION[config.kind], "snn": _snn_settings(config)}


def finetuned_identity(config: ModelConfig, prepared: Prepared) -> dict:
    start = config.with_kind(_FT_START[config.snn.ft_from])
    return _base_identity(config, prepared) | _optimiser(config) | _training_spikes(config) | {
        "from": weights_identity(start, prepared), "ft_lr": config.train.ft_lr, "ft_epochs": config.train.ft_epochs,
        "patience": config.train.patience, "snn": _snn_settings(config)}


_DIRECT_STARTS = {"dn": "random, DN-scaled",  # TrainConfig.direct_init -> the identity's "initialisation"
                  "shifted": "torch default + positive shift (conv +0.01, linear +0.08; the authors' code)"}
_SHIFTS = {"conv": 0.01, "linear": 0.08}  # the authors' INITIAL_MEAN_DICT at positive_init_rate 0.55


def direct_identity(config: ModelConfig, prepared: Prepared) -> dict:
    train = config.train
    return _base_identity(config, prepared) | _optimiser(config) | _training_spikes(config) | {
        "snn": _snn_settings(config), "direct_lr": train.direct_lr, "direct_epochs": train.direct_epochs,
        "initialisation": _DIRECT_STARTS[train.direct_init], "patience": train.direct_patience}


def model_identity(config: ModelConfig, prepared: Prepared) -> dict:
    """What determines a model's outputs: its weights' :func:`weights_identity`, and for an SNN evaluated at other
    settings than it was trained with (``config.evaluate_at``) those settings."""
    found = weights_identity(config, prepared)
    overrides = config.evaluation_overrides()
    return found | {"evaluated_at": overrides} if overrides else found


def checkpoint_dir(config: ModelConfig, prepared: Prepared) -> Path:
    """``<home>/checkpoints/<dataset>/<kind>[-rand]-s<seed>-<digest>`` (read back by :func:`checkpoint_model`)."""
    variant = "-rand" if config.random_embeddings else ""
    return (home() / "checkpoints" / config.dataset /
            f"{config.kind}{variant}-s{config.seed}-{short_digest(weights_identity(config, prepared))}")


_CHECKPOINT_NAME = re.compile(r"checkpoints/(?P<dataset>[^/]+)/(?P<kind>.+?)(-rand)?-s\d+-[0-9a-f]+$")


def checkpoint_model(path: str) -> tuple[str, str] | None:
    """(dataset, kind) of a checkpoint folder named by :func:`checkpoint_dir` (as records cite it), else None."""
    match = _CHECKPOINT_NAME.search(path)
    return (match["dataset"], match["kind"]) if match else None


def trained_models(config: ModelConfig) -> list[ModelConfig]:
    """The models whose checkpoints building ``config`` trains, prerequisites first: a converted SNN trains only
    its tailored ANN, fine-tuning the tailored ANN and then itself (its conversion trains nothing)."""
    if config.kind in _CONVERSION:
        return [config.with_kind("tailored")]
    if config.kind == "snn-ft":
        return [config.with_kind("tailored"), config]
    return [config]






# --- models by kind ------------------------------------------------------------------------------------------

def _snn_kwargs(config: ModelConfig, seed_offset: int) -> dict:
    generator = torch.Generator().manual_seed(config.seed * 1000 + seed_offset)
    snn = config.snn
    return {"steps": snn.steps, "beta": snn.beta, "threshold": snn.threshold, "slope": snn.slope,
            "pool_neurons": snn.pool_neurons, "encoder": FreshBernoulli(generator)}



@dataclass
class Built:
    """A ready model, the checkpoint it came from and what its record should say about it; ``identity``:
    what determines its weights (:func:`weights_identity`)."""

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
        """Whether its scores are random draws (its kind's registry entry says so)."""
        return is_stochastic(self.config.kind)

    def classifier(self, incremental: bool = True):
        """The model as a :class:`~robustbench_snn.wrappers.Classifier` over texts (``incremental``: seeded SNN
        queries reuse unchanged convolution windows)."""
        from robustbench_snn.classifiers import ModuleClassifier, SpikingClassifier
        from robustbench_snn.gradients import white_box

        classifier = SpikingClassifier(self.model, self.prepared.encode, incremental) if self.stochastic else \
            ModuleClassifier(self.model, self.prepared.encode, stochastic=False)
        classifier.white_box = white_box(self.model, self.prepared)  # gradients for white-box attacks
        classifier.transfer_source = self.transfer_source
        return classifier

    def transfer_source(self, name: str):
        """A deterministic model to craft transfer attacks on, as a classifier with white-box access: ``twin``, the
        tailored ANN the SNN was converted from (trained on demand, usually cached as its prerequisite), or
        ``rate``, the SNN itself fed its spike probabilities instead of spikes. Spiking models only."""
        from robustbench_snn.classifiers import CallableClassifier
        from robustbench_snn.gradients import white_box

        if not self.stochastic or not hasattr(self.model, "simulate"):
            raise UserError(f"transfer attacks craft texts for a spiking network; {self.config.kind} is not one: "
                            "attack an SNN kind (e.g. snn-ft) with them")
        if name == "twin":
            return build_model(replace(self.config, kind="tailored", evaluate_at=EvaluateAt())).classifier()
        if name != "rate":
            raise UserError(f"unknown transfer source {name!r}; valid sources: rate, twin")
        snn, encode = self.model, self.prepared.encode

        @torch.no_grad()
        def rate_scores(texts: list[str]) -> torch.Tensor:
            return snn(encode(texts).to(module_device(snn)), ExpectedInput()) / snn.steps

        classifier = CallableClassifier(rate_scores, stochastic=False)
        classifier.white_box = white_box(snn, self.prepared, expected_input=True)
        return classifier


def build_model(config: ModelConfig, train: bool = True) -> Built:
    """The model ``config`` describes, from cache or trained now (with its prerequisites) when ``train``; an SNN
    with ``config.evaluate_at`` set is the trained SNN run at those settings (no retraining)."""
    built = _build(config, train)
    built.model.to(compute_device())  # a checkpoint read from the cache is on the CPU
    overrides = config.evaluation_overrides()
    if overrides:
        snn = built.model
        snn.steps = overrides.get("steps", snn.steps)
        snn.set_neurons(overrides.get("threshold", snn.threshold), overrides.get("beta", snn.beta))
        snn.to(compute_device())  # the rebuilt neuron layers
        built.provenance = built.provenance | {"evaluated_at": overrides}
    built.identity = model_identity(config, built.prepared)
    return built


def _build(config: ModelConfig, train: bool) -> Built:
    return model_kind(config.kind).build_model(config, train)


def build_ann(config: ModelConfig, train: bool) -> Built:
    prepared = prepare_for(config)
    num_classes = prepared.dataset.spec.num_classes
    with seeded(config.seed):  # initial weights from the seed, not from the process's history
        model = (TextCNN(make_embedding(config, prepared, shifted=config.textcnn_input == "shifted"), num_classes,
                         config.dropout) if config.kind == "textcnn"
                 else TailoredTextCNN(make_embedding(config, prepared), num_classes, config.dropout,
                                      config.population))
    return _trained(config, prepared, model, ce_loss, config.ann_lr(), config.train.ann_epochs, train, {},
                    project=model.embedding.project_)


def _convert_tailored(config: ModelConfig, method: str, train: bool) -> tuple:
    prepared = prepare_for(config)
    tailored = _build(config.with_kind("tailored"), train)
    tailored.model.cpu()  # conversion's scales are measured on the CPU whatever the device: the same divisors
    train_ids = (x for x, _ in batches(prepared.ids["train"], prepared.labels["train"], 256))
    snn, factors = convert(tailored.model, method, train_ids, config.snn.dn_percentile, **_snn_kwargs(config, 1))
    return prepared, snn, {"from": tailored.provenance, "normalization": method, "divisors": factors} | \
        _dn_percentile(config, method)


def _dn_percentile(config: ModelConfig, method: str) -> dict:
    """The provenance's note of a DN percentile other than the maximum."""
    percentile = config.snn.dn_percentile
    return {"dn_percentile": percentile} if method == "dn" and percentile != SNNConfig.dn_percentile else {}


def build_converted(config: ModelConfig, train: bool) -> Built:
    prepared, snn, provenance = _convert_tailored(config, _CONVERSION[config.kind], train)
    return Built(snn, config, prepared, provenance, weights_identity(config, prepared))


def build_finetuned(config: ModelConfig, train: bool) -> Built:
    prepared, snn, provenance = _convert_tailored(config, config.snn.ft_from, train)
    return _trained(config, prepared, snn, rate_loss(prepared.dataset.spec.num_classes), config.train.ft_lr,
                    config.train.ft_epochs, train, provenance)


def build_direct(config: ModelConfig, train: bool) -> Built:
    """A spiking TextCNN trained from random weights (see :func:`direct_start`)."""
    prepared = prepare_for(config)
    model, factors = direct_start(config, prepared)
    return _trained(config, prepared, model, rate_loss(prepared.dataset.spec.num_classes), config.train.direct_lr,
                    config.train.direct_epochs, train,
                    {"initialisation": _DIRECT_STARTS[config.train.direct_init], "divisors": factors} |
                    _dn_percentile(config, config.train.direct_init),
                    patience=config.train.direct_patience)


def direct_start(config: ModelConfig, prepared: Prepared) -> tuple[nn.Module, dict[str, float]]:
    """The directly-trained SNN before training, and its normalization divisors. ``dn``: random weights scaled by
    data-based normalization; plain random weights leave the output neurons below threshold for all 50 steps (no
    spikes, loss stuck at ln C, surrogate gradients ~1e-3: measured on SST-2, 3 seeds at chance after 6 epochs).
    ``shifted``: the authors' start (``TrainConfig.direct_init``)."""
    shifted = config.train.direct_init == "shifted"
    with seeded(config.seed):
        untrained = TailoredTextCNN(make_embedding(config, prepared), prepared.dataset.spec.num_classes,
                                    population_size=config.population).eval()
        if shifted:  # torch's signed default output weights (the tailored class starts them non-negative) ...
            untrained.fc.reset_parameters()
    if shifted:  # ... with the authors' positive mean added
        with torch.no_grad():
            for conv in untrained.convs:
                conv.weight.add_(_SHIFTS["conv"])
            untrained.fc.weight.add_(_SHIFTS["linear"])
    train_ids = (x for x, _ in batches(prepared.ids["train"], prepared.labels["train"], 256))
    return convert(untrained, "none" if shifted else "dn", train_ids, config.snn.dn_percentile,
                   **_snn_kwargs(config, 2))


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
    ident = weights_identity(config, prepared)
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
                stochastic = is_stochastic(config.kind)
                fresh = getattr(model, "encoder", None)
                if stochastic and config.train.input_spikes == "once":  # one spike train per sentence, every epoch
                    model.encoder = SeededBernoulli(config.seed * 1000 + 3)
                try:
                    fit(model, loss, prepared, config, lr, epochs, folder, ident,
                        f"{config.dataset}/{config.kind}/s{config.seed}", project, patience, stochastic=stochastic)
                finally:
                    if fresh is not None:
                        model.encoder = fresh
    meta, state = read_checkpoint(folder, ident)
    model.load_state_dict(state)
    model.eval()
    return Built(model, config, prepared, provenance | {
        "checkpoint": folder.relative_to(home()).as_posix(), "weights_sha256": meta["weights_sha256"],
        "best_dev_accuracy": meta["best_dev_accuracy"], "epochs_run": len(meta["history"]),
        "best_epoch": 1 + max(range(len(meta["history"])), key=lambda i: (meta["history"][i]["dev_accuracy"], -i)),
        "history": meta["history"], "threads": meta.get("threads"),
        "seconds_per_epoch": round(float(np.mean([h["seconds"] for h in meta["history"]])), 1)} |
        {key: meta[key] for key in ("cpu_kernels",) if key in meta}, ident)  # absent from older checkpoints

