"""Frozen configuration dataclasses. Precedence: CLI > recipe > these defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from robustbench_snn.errors import UserError

# Paper: AdamW lr 1e-4 for SST-2, MR, SST-5 and 5e-4 for Subj and the Chinese datasets.
ANN_LEARNING_RATES = {"sst2": 1e-4, "mr": 1e-4, "sst5": 1e-4, "subj": 5e-4, "chnsenti": 5e-4, "waimai": 5e-4}


@dataclass(frozen=True)
class SNNConfig:
    """The spiking model (defaults: the paper's)."""

    steps: int = 50
    beta: float = 1.0
    threshold: float = 1.0
    slope: float = 25.0  # fast-sigmoid surrogate
    ft_from: str = "dn"  # the converted model fine-tuning starts from: none | mn | dn


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation. Selection is on the dev split (the paper's authors kept the best *test* epoch)."""

    batch_size: int = 32
    ann_lr: float | None = None  # None: the paper's per-dataset value (ANN_LEARNING_RATES)
    ann_epochs: int = 100  # an ANN epoch takes seconds; early stopping ends it
    ft_lr: float = 1e-4
    ft_epochs: int = 30
    direct_lr: float = 5e-4  # not given in the paper; surrogate training from scratch needs more than ft_lr
    direct_epochs: int = 30
    patience: int = 5  # epochs without a better dev accuracy before stopping
    weight_decay: float = 0.01  # AdamW's default


@dataclass(frozen=True)
class ModelConfig:
    """Everything that determines one trained model."""

    dataset: str
    kind: str
    seed: int = 0
    split_seed: int = 0
    random_embeddings: bool = False
    vectors: str | None = None  # None: the dataset's default vectors
    snn: SNNConfig = field(default_factory=SNNConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def ann_lr(self) -> float:
        return self.train.ann_lr or ANN_LEARNING_RATES[self.dataset]

    def with_kind(self, kind: str) -> ModelConfig:
        return replace(self, kind=kind)


def to_dict(config) -> dict:
    """A dataclass as plain data (for JSON records)."""
    return asdict(config)


def from_dict(cls, data: dict, where: str = "config"):
    """Build dataclass ``cls`` from a mapping; unknown keys are errors that list the valid ones."""
    valid = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(valid)}")
    values = {}
    for name, value in data.items():
        nested = {"snn": SNNConfig, "train": TrainConfig}.get(name) if cls is ModelConfig else None
        values[name] = from_dict(nested, value, f"{where}.{name}") if nested and isinstance(value, dict) else value
    return cls(**values)
