"""Frozen configuration dataclasses. Precedence: CLI > recipe > these defaults."""

from __future__ import annotations

import itertools
import re
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path

from robustbench_snn.checks import check_at_least, check_seed
from robustbench_snn.errors import UserError
from robustbench_snn.models.registry import is_stochastic, model_kind, model_kind_names
from robustbench_snn.paper import POPULATION

def _check_positive_fields(obj, names: tuple[str, ...], low: float = 1) -> None:
    for name in names:
        check_at_least(f"{type(obj).__name__}.{name}", getattr(obj, name), low)

TEXTCNN_INPUTS = ("raw", "shifted")
DIRECT_INITS = ("dn", "shifted")  # TrainConfig.direct_init



@dataclass(frozen=True)
class SNNConfig:
    """The spiking model (defaults: the paper's)."""

    steps: int = 50
    beta: float = 1.0
    threshold: float = 1.0
    slope: float = 25.0  # fast-sigmoid surrogate
    ft_from: str = "dn"  # the converted model fine-tuning starts from: none | mn | dn
    # A LIF layer after the average pooling (the authors' architecture, one layer per width): the linear layer
    # then receives spikes. False feeds it the pooled spike rates, which are not spikes (see README, Models).
    pool_neurons: bool = True
    # Data-based normalization's lambdas: this percentile over training sentences of each one's largest
    # activation. 100 is the maximum (Diehl et al. 2015, the paper's method); on the Chinese datasets one outlier
    # sentence sets it and DN costs 3-10 points that 99 recovers (README, "Data-based normalization").
    dn_percentile: float = 100.0

    def __post_init__(self):
        _check_positive_fields(self, ("steps",))
        if isinstance(self.dn_percentile, bool) or not isinstance(self.dn_percentile, int | float) or \
                not 0 < self.dn_percentile <= 100:
            raise UserError(f"SNNConfig.dn_percentile must be in (0, 100] (100: the maximum; got "
                            f"{self.dn_percentile!r})")
        _check_positive_fields(self, ("threshold", "slope"), low=1e-12)
        if isinstance(self.beta, bool) or not isinstance(self.beta, int | float) or not 0 < self.beta <= 1:
            raise UserError(f"SNNConfig.beta is the membrane decay and must be in (0, 1] (got {self.beta!r})")
        if self.ft_from not in ("none", "mn", "dn"):
            raise UserError(f"SNNConfig.ft_from must be none, mn or dn (got {self.ft_from!r})")


@dataclass(frozen=True)
class EvaluateAt:
    """SNN settings applied to a trained SNN when it is evaluated or attacked, without retraining (None: as
    trained). Figs. 3c/d, 4b/c (threshold) and 5 (time steps) evaluate one fine-tuned SNN at other values."""

    steps: int | None = None
    threshold: float | None = None
    beta: float | None = None

    def __post_init__(self):
        SNNConfig(**{k: v for k, v in self.overrides().items()})  # the same ranges as training values

    def overrides(self) -> dict:
        return {k: v for k, v in (("steps", self.steps), ("threshold", self.threshold), ("beta", self.beta))
                if v is not None}


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation. Selection is on the dev split (the paper's authors kept the best *test* epoch)."""

    batch_size: int = 32
    ann_lr: float | None = None  # None: the paper's per-dataset value (the dataset's registry entry)
    ann_epochs: int = 100  # an ANN epoch takes seconds; early stopping ends it
    ft_lr: float = 1e-4
    ft_epochs: int = 30
    direct_lr: float = 5e-4  # not given in the paper; surrogate training from scratch needs more than ft_lr
    direct_epochs: int = 30
    # Surrogate training from random weights sits at chance for several epochs before it learns (the tailored
    # ANN does too, for 3 epochs, with trainable inputs): patience 5 stopped all 3 SST-2 seeds at chance.
    direct_patience: int = 30
    patience: int = 5  # epochs without a better dev accuracy before stopping
    # False: run every epoch (Fig. 4a plots accuracy over all 30 fine-tuning epochs); the best dev epoch is kept
    early_stopping: bool = True
    weight_decay: float = 0.01  # AdamW's default
    # An SNN's training inputs: "fresh" draws new spikes every epoch (this project's default, a form of noise
    # augmentation); "once" gives each training sentence one spike train for every epoch, as the authors' code did
    # (build_rated_dataset): here a draw keyed by (seed, token, position), so a sentence sees the same spikes each
    # epoch. Inference always draws per the sampling protocol.
    input_spikes: str = "fresh"
    # The directly-trained SNN's start: "dn" (this project's) random weights scaled by data-based normalization;
    # "shifted" (the authors' code, positive_init_rate 0.55) torch's default weights with a positive mean added,
    # +0.01 to every convolution weight and +0.08 to every output weight, not normalized.
    direct_init: str = "dn"

    def __post_init__(self):
        if self.input_spikes not in ("fresh", "once"):
            raise UserError(f"input_spikes {self.input_spikes!r} is not one of fresh, once (the authors' code)")
        if self.direct_init not in DIRECT_INITS:
            raise UserError(f"direct_init {self.direct_init!r} is not one of {', '.join(DIRECT_INITS)} (shifted: the "
                            "authors' code)")
        # epochs and patience 0 would finish training with no selected epoch: refused before any work
        _check_positive_fields(self, ("batch_size", "ann_epochs", "ft_epochs", "direct_epochs", "direct_patience",
                                      "patience"))
        _check_positive_fields(self, ("ft_lr", "direct_lr") + (("ann_lr",) if self.ann_lr is not None else ()),
                               low=1e-12)
        check_at_least("TrainConfig.weight_decay", self.weight_decay, low=0)


@dataclass(frozen=True)
class ModelConfig:
    """Everything that determines one trained model."""

    dataset: str
    kind: str
    seed: int = 0
    split_seed: int = 0
    random_embeddings: bool = False
    vectors: str | None = None  # None: the dataset's default vectors
    tokenizer: str | None = None  # None: the dataset's (en-word, zh-char; zh-jieba for Chinese words)
    population: int = POPULATION  # output neurons per class of the tailored ANN and the SNNs
    dropout: float = 0.5  # before the linear layer of the ANNs (Kim 2014); Table 4 uses 0
    textcnn_input: str = "raw"  # the original TextCNN's vectors: raw (the paper's text) or shifted into [0, 1]
    snn: SNNConfig = field(default_factory=SNNConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate_at: EvaluateAt = field(default_factory=EvaluateAt)

    def __post_init__(self):
        check_seed("seed", self.seed)
        check_seed("split_seed", self.split_seed)
        check_at_least("population", self.population)
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, int | float) or not 0 <= self.dropout < 1:
            raise UserError(f"dropout must be in [0, 1) (got {self.dropout!r})")
        if self.tokenizer is not None:
            from robustbench_snn.data.tokenizers import get_tokenizer

            get_tokenizer(self.tokenizer)  # an unknown name lists the valid ones
        if self.textcnn_input not in TEXTCNN_INPUTS:
            raise UserError(f"textcnn_input must be {' or '.join(TEXTCNN_INPUTS)} (got {self.textcnn_input!r})")

    def normalized(self) -> ModelConfig:
        """The same model with the options its kind ignores at their defaults, so that configurations that
        build the same model compare (and deduplicate) equal: population and SNN settings mean nothing to the
        original TextCNN, the TextCNN's input nothing to the others, evaluation settings nothing to ANNs."""
        defaults = ModelConfig(self.dataset, self.kind)
        ignored = list(model_kind(self.kind).ignores)
        # an evaluation setting equal to the trained one changes nothing: the sweep point is the trained model
        same = {name: None for name, value in self.evaluate_at.overrides().items() if getattr(self.snn, name) == value}
        changes = {"evaluate_at": replace(self.evaluate_at, **same)}
        if self.tokenizer is not None:
            from robustbench_snn.data.registry import get_spec

            if self.tokenizer == get_spec(self.dataset).tokenizer:
                changes["tokenizer"] = None  # the dataset's own
        if "snn" not in ignored and not self.normalizes_by_data():
            changes["snn"] = replace(self.snn, dn_percentile=defaults.snn.dn_percentile)
        return replace(self, **changes | {name: getattr(defaults, name) for name in ignored})

    def normalizes_by_data(self) -> bool:
        """Whether building this model measures data-based normalization's lambdas (``snn.dn_percentile`` means
        something to it): the DN conversion, fine-tuning from it, direct training from a DN-scaled start, and a
        user's kind (which may read any option)."""
        return {"snn-conv": False, "snn-conv-mn": False, "snn-ft": self.snn.ft_from == "dn",
                "snn-direct": self.train.direct_init == "dn"}.get(self.kind, True)

    def evaluation_overrides(self) -> dict:
        """The SNN settings this model is run at that differ from those it was trained with (none for ANNs)."""
        return self.normalized().evaluate_at.overrides() if self.stochastic else {}

    def ann_lr(self) -> float:
        from robustbench_snn.data.registry import get_spec

        return self.train.ann_lr or get_spec(self.dataset).ann_lr

    def with_kind(self, kind: str) -> ModelConfig:
        return replace(self, kind=kind)

    @property
    def stochastic(self) -> bool:
        """Whether the model kind gives random scores (the SNNs: sampling protocols apply to them)."""
        return is_stochastic(self.kind)


@dataclass(frozen=True)
class Sampling:
    """A sampling protocol: ``seeded``, ``fresh``, ``frozen`` or ``eot`` with ``draws`` K.

    ``frozen`` is what the authors' code did: fresh draws with TextAttack's per-text output cache left on, so the
    first draw of every distinct text is reused for the rest of that example's attack (the cache is cleared
    between examples). It is neither ``fresh`` (every query a new draw) nor ``seeded`` (one fixed draw per text
    across examples and runs)."""

    protocol: str
    draws: int = 1

    @classmethod
    def parse(cls, text: str) -> Sampling:
        if text in ("seeded", "fresh", "frozen"):
            return cls(text)
        if re.fullmatch(r"eot:[0-9]+", text) and int(text[4:]) >= 1:  # ASCII digits only: "eot:²" is no K
            return cls("eot", int(text[4:]))
        raise UserError(f"unknown sampling protocol {text!r}; valid protocols: seeded, fresh, frozen, eot:K "
                        "(K >= 1, e.g. eot:10)")

    def __str__(self) -> str:
        return f"eot:{self.draws}" if self.protocol == "eot" else self.protocol


@dataclass(frozen=True)
class AttackConfig:
    """What is attacked how; with a :class:`ModelConfig` it determines a run."""

    attack: str
    settings: str = "paper"  # paper | authors-code | original (see robustbench_snn.attack_parts)
    sampling: str = "seeded"  # seeded | fresh | frozen | eot:K (SNNs; ANNs are deterministic)
    num_examples: int = 1000  # the paper's count; taken from a seeded permutation of the test split
    rescore_draws: int = 10
    masked_lm: str | None = None  # BERT-Attack's LM (name or path); None: bert-base-uncased or its stand-in
    attack_files: tuple[str, ...] = field(default=())
    query_budget: int | None = None  # model queries per example (TextAttack's); None: unlimited, as the paper

    def __post_init__(self):
        Sampling.parse(self.sampling)
        check_at_least("num_examples", self.num_examples)
        check_at_least("rescore_draws", self.rescore_draws)
        if self.query_budget is not None:
            check_at_least("query_budget", self.query_budget)

    def for_model(self, stochastic: bool) -> AttackConfig:
        """The configuration that is run: a deterministic model (an ANN) gives the same scores under every
        protocol, so one run (recorded as ``seeded``) serves them all."""
        return self if stochastic else replace(self, sampling="seeded")


# A study's options that belong to its models and to its attack runs: every field of ModelConfig but the ones a
# study's grid sets (dataset, kind, seed), and the fields of AttackConfig a recipe may set. Defaults are theirs.
MODEL_OPTIONS = tuple(f.name for f in fields(ModelConfig) if f.name not in ("dataset", "kind", "seed"))
ATTACK_OPTIONS = ("settings", "num_examples", "rescore_draws", "masked_lm", "query_budget")


@dataclass(frozen=True)
class Study:
    """A recipe (``recipes/*.yaml``): every (dataset, model, seed) of a table, with shared settings; for
    ``table2`` (attack studies) also every attack and sampling protocol. Model and attack settings are not
    re-listed here: ``model_options`` holds the :class:`ModelConfig` fields a recipe sets, ``attack_options`` the
    :class:`AttackConfig` fields (their defaults are those classes' own); :meth:`option` reads either."""

    name: str
    table: str  # the table its records feed: table1 | table2 | table3 | table5
    datasets: tuple[str, ...]
    models: tuple[str, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    model_options: dict = field(default_factory=dict)  # ModelConfig field -> value (see MODEL_OPTIONS)
    attack_options: dict = field(default_factory=dict)  # AttackConfig field -> value (see ATTACK_OPTIONS)
    # table5 only: the energy conventions its records price the counts under (robustbench_snn.energy)
    conventions: tuple[str, ...] = ("45nm", "neuromorphic")
    # grid axes from lists in the recipe: (option path such as "snn.threshold", its values), see load_study
    sweep: tuple[tuple[str, tuple], ...] = ()
    # table2 only: the attack runs
    attacks: tuple[str, ...] = ()
    samplings: tuple[str, ...] = ("seeded",)  # SNNs only; ANNs are deterministic and run once
    shard_size: int = 50  # examples per grid task

    def __post_init__(self):
        for seed in self.seeds:
            check_seed(f"{self.name}: seeds", seed)
        for what, given, valid in (("model", self.model_options, MODEL_OPTIONS),
                                   ("attack", self.attack_options, ATTACK_OPTIONS)):
            unknown = sorted(set(given) - set(valid))
            if unknown:
                raise UserError(f"{self.name}: unknown {what} option(s) {', '.join(unknown)}")
        for name, value in (("datasets", self.datasets), ("models", self.models), ("seeds", self.seeds)):
            if not value:
                raise UserError(f"{self.name}: {name} is empty, so the recipe would run nothing; list at least one")
        check_at_least(f"{self.name}: shard_size", self.shard_size)
        try:  # the same checks a model or an attack run makes, before any work
            ModelConfig("study", "study", **self.model_options)
            self.attack_config("study", "seeded")
        except UserError as err:
            raise UserError(f"{self.name}: {err}") from None

    def option(self, name: str):
        """A model or attack option as the study sets it, else its class's default (``study.option("train")``)."""
        if name in MODEL_OPTIONS:
            return self.model_options.get(name, getattr(ModelConfig("study", "study"), name))
        if name in ATTACK_OPTIONS:
            return self.attack_options.get(name, getattr(AttackConfig("study"), name))
        raise UserError(f"{self.name}: no option {name!r}")

    def with_options(self, **options) -> Study:
        """The study with some model or attack options (or its own fields) changed."""
        model = {k: v for k, v in options.items() if k in MODEL_OPTIONS}
        attack = {k: v for k, v in options.items() if k in ATTACK_OPTIONS}
        own = {k: v for k, v in options.items() if k not in model and k not in attack}
        return replace(self, model_options=self.model_options | model, attack_options=self.attack_options | attack,
                       **own)

    def attack_config(self, attack: str, sampling: str) -> AttackConfig:
        return AttackConfig(attack, sampling=sampling, **self.attack_options)

    def model_configs(self) -> list[ModelConfig]:
        """One model configuration per (dataset, model, seed, sweep point), in recipe order; points that build
        the same model (a population sweep means nothing to the original TextCNN) appear once."""
        configs = []
        for dataset, kind, seed in itertools.product(self.datasets, self.models, self.seeds):
            base = ModelConfig(dataset, kind, seed=seed, **self.model_options)
            for point in itertools.product(*(values for _, values in self.sweep)):
                config = base
                for (path, _), value in zip(self.sweep, point):
                    config = with_option(config, path, value)
                configs.append(config.normalized())
        return list(dict.fromkeys(configs))


# Options a recipe may sweep (give a list instead of one value): model options, and every field of these sections
SWEEPABLE_MODEL_OPTIONS = ("population", "dropout", "textcnn_input")
SWEEPABLE_SECTIONS = {"snn": SNNConfig, "train": TrainConfig, "evaluate_at": EvaluateAt}


def with_option(config: ModelConfig, path: str, value) -> ModelConfig:
    """``config`` with one option changed: ``population`` or a section's field such as ``snn.threshold``."""
    section, _, name = path.rpartition(".")
    if not section:
        return replace(config, **{name: value})
    return replace(config, **{section: replace(getattr(config, section), **{name: value})})


def _split_sweeps(data: dict, where: str) -> tuple[dict, tuple]:
    """A recipe mapping without its lists of option values, and those lists as grid axes (path, values)."""
    data, sweep = dict(data), []
    for name in SWEEPABLE_MODEL_OPTIONS:
        if isinstance(data.get(name), list):
            hint = typing.get_type_hints(ModelConfig)[name]
            sweep.append((name, tuple(_coerce(v, hint, f"{where}.{name}[{i}]") for i, v in enumerate(data.pop(name)))))
    for section, cls in SWEEPABLE_SECTIONS.items():
        values = data.get(section)
        if not isinstance(values, dict):
            continue
        values = dict(values)
        hints = typing.get_type_hints(cls)
        for name in [n for n, v in values.items() if isinstance(v, list)]:
            if name not in hints:
                continue  # from_dict names the unknown key
            sweep.append((f"{section}.{name}", tuple(_coerce(v, hints[name], f"{where}.{section}.{name}[{i}]")
                                                     for i, v in enumerate(values.pop(name)))))
        data[section] = values
    for path, values in sweep:
        if not values:
            raise UserError(f"{where}.{path}: an empty list sweeps nothing; give at least one value")
    return data, tuple(sweep)


def _coerce(value, kind, where: str):
    """A recipe value as the field's type: nested dataclasses, tuples from lists, numbers from YAML strings
    such as ``1e-4`` (YAML 1.1 reads it as text)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if is_dataclass(kind):
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a mapping of {', '.join(f.name for f in fields(kind))}")
        return from_dict(kind, value, where)
    if origin is tuple:
        items = value if isinstance(value, list | tuple) else [value]
        return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(items))
    if args and type(None) in args:  # Optional[X]
        return None if value is None else _coerce(value, next(a for a in args if a is not type(None)), where)
    if kind in (int, float):
        if isinstance(value, bool):  # YAML's true is not the number 1
            raise UserError(f"{where}: expected a number, got {value!r}")
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise UserError(f"{where}: expected a number, got {value!r}") from None
        if kind is int and number != float(value):
            raise UserError(f"{where}: expected an integer, got {value!r}")
        return number
    if kind is bool and not isinstance(value, bool):
        raise UserError(f"{where}: expected true or false, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise UserError(f"{where}: expected text, got {value!r}")
    return value


def from_dict(cls, data: dict, where: str = "config"):
    """Build dataclass ``cls`` from a mapping; unknown keys are errors that list the valid ones."""
    valid = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(valid)}")
    hints = typing.get_type_hints(cls)
    return cls(**{name: value if name == "sweep" else _coerce(value, hints[name], f"{where}.{name}")
                  for name, value in data.items()})


def _unique_key_loader():
    """PyYAML's safe loader, except that a key given twice is an error (PyYAML keeps the last silently)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                            key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def load_study(path: str | Path, **overrides) -> Study:
    """A recipe file as a :class:`Study`; ``overrides`` (from the command line, None = unset) win over it."""
    import yaml

    from robustbench_snn.packaged import find_recipe

    path = find_recipe(path)
    try:
        data = yaml.load(path.read_text(), Loader=_unique_key_loader())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"recipe {where}: not valid YAML: {problem}") from None
    except UnicodeDecodeError as err:
        raise UserError(f"recipe {path} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    if not isinstance(data, dict):
        raise UserError(f"recipe {path}: expected a mapping of {', '.join(f.name for f in fields(Study))}")
    data = {"name": path.stem} | data | {k: v for k, v in overrides.items() if v is not None}
    data, sweep = _split_sweeps(data, path.name)
    own = {f.name for f in fields(Study)} - {"model_options", "attack_options", "sweep"}
    unknown = sorted(set(data) - own - set(MODEL_OPTIONS) - set(ATTACK_OPTIONS))
    if unknown:
        raise UserError(f"{path.name}: unknown key(s) {', '.join(unknown)}; valid keys: "
                        f"{', '.join([*sorted(own - {'name'}), *MODEL_OPTIONS, *ATTACK_OPTIONS])}")
    missing = [f.name for f in fields(Study)
               if f.name not in data and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise UserError(f"recipe {path}: missing key(s) {', '.join(missing)}")
    model_hints, attack_hints = typing.get_type_hints(ModelConfig), typing.get_type_hints(AttackConfig)
    study = from_dict(Study, {k: v for k, v in data.items() if k in own}, path.name)
    return replace(study, sweep=sweep,
                   model_options={k: _coerce(v, model_hints[k], f"{path.name}.{k}") for k, v in data.items()
                                  if k in MODEL_OPTIONS},
                   attack_options={k: _coerce(v, attack_hints[k], f"{path.name}.{k}") for k, v in data.items()
                                   if k in ATTACK_OPTIONS})


_LABELS = {"population": "population {}", "dropout": "dropout {}", "textcnn_input": "{} input",
           "snn.pool_neurons": "pool neurons {}", "snn.steps": "T={}", "evaluate_at.steps": "evaluated at T={}",
           "evaluate_at.threshold": "evaluated at threshold {}", "evaluate_at.beta": "evaluated at β={}",
           "train.early_stopping": "early stopping {}", "tokenizer": "{} tokenizer",
           "train.direct_init": "{} start", "snn.dn_percentile": "DN at the {:g}th percentile"}


def options_label(config: dict) -> str:
    """A recorded model configuration's options that differ from the defaults (those its kind uses), e.g.
    "population 1, evaluated at threshold 0.5"; "" for the defaults and for a user's model (no registered kind,
    no options). Tables label their rows with it."""
    if config.get("kind") not in model_kind_names():
        return ""
    model = from_dict(ModelConfig, {k: v for k, v in config.items() if k in {f.name for f in fields(ModelConfig)}},
                      "record config").normalized()
    changed = changed_options(model, ModelConfig(model.dataset, model.kind).normalized())
    return ", ".join(option_label(path, value) for path, value in changed.items())


def option_label(path: str, value) -> str:
    """How a row name spells one option's value: "population 1", "dropout 0.0", "random_embeddings on"."""
    shown = {True: "on", False: "off"}[value] if isinstance(value, bool) else value
    return _LABELS.get(path, f"{path} {{}}").format(shown)


def changed_options(config: ModelConfig, against: ModelConfig) -> dict:
    """The options of ``config`` whose values differ from ``against``'s, by path (``population``,
    ``snn.threshold``), with ``config``'s values; dataset, kind and seed say which model it is, not how."""
    changed = {}
    for f in fields(ModelConfig):
        if f.name in ("dataset", "kind", "seed"):
            continue
        value, other = getattr(config, f.name), getattr(against, f.name)
        if is_dataclass(value):
            changed |= {f"{f.name}.{g.name}": getattr(value, g.name) for g in fields(value)
                        if getattr(value, g.name) != getattr(other, g.name)}
        elif value != other:
            changed[f.name] = value
    return changed


# Model options the command line takes (flag -> option path, value type, help); `train`, `evaluate`, `energy`
# and `run` accept them, and hints for training a missing model are written with them.
CLI_MODEL_OPTIONS = {
    "--vectors": ("vectors", str, "word vectors: glove-6b-50d, zh-char-tencent-200d or the path of any GloVe or "
                  "word2vec text file (default: the dataset's)"),
    "--tokenizer": ("tokenizer", str, "tokenizer: en-word, zh-char or zh-jieba (default: the dataset's)"),
    "--population": ("population", int, "output neurons per class (default 10 as in Table 1; for `run` 1, "
                     "the paper's Table 2 SNN)"),
    "--dropout": ("dropout", float, "dropout before the ANNs' linear layer (default 0.5; Table 4: 0)"),
    "--textcnn-input": ("textcnn_input", str, "the original TextCNN's vectors: raw (default) or shifted"),
    "--pool-neurons": ("snn.pool_neurons", bool, "LIF neurons after the pooling (default: on)"),
    "--steps": ("snn.steps", int, "SNN time steps T for training (default 50)"),
    "--threshold": ("snn.threshold", float, "SNN firing threshold for training (default 1.0)"),
    "--beta": ("snn.beta", float, "SNN membrane decay for training (default 1.0)"),
    "--ann-epochs": ("train.ann_epochs", int, "override the training default"),
    "--ft-epochs": ("train.ft_epochs", int, "override the training default"),
    "--direct-epochs": ("train.direct_epochs", int, "override the training default"),
    "--patience": ("train.patience", int, "override the training default"),
    "--early-stopping": ("train.early_stopping", bool, "stop after --patience epochs without a better dev "
                         "accuracy (default: on; off runs every epoch)"),
    "--eval-steps": ("evaluate_at.steps", int, "evaluate the trained SNN at this T (no retraining)"),
    "--eval-threshold": ("evaluate_at.threshold", float, "evaluate the trained SNN at this threshold"),
    "--eval-beta": ("evaluate_at.beta", float, "evaluate the trained SNN at this membrane decay"),
}


def cli_flags(config: ModelConfig) -> list[str] | None:
    """The command-line options that give ``config``'s non-default options; None when one of them has no option
    (a learning rate, a vector file: only a recipe or an API call sets it)."""
    changed = changed_options(config, ModelConfig(config.dataset, config.kind))
    for name in ("split_seed", "random_embeddings"):  # flags of their own (see train.train_command)
        changed.pop(name, None)
    if set(changed) - {path for path, _, _ in CLI_MODEL_OPTIONS.values()}:
        return None
    flags = []
    for flag, (path, kind, _) in CLI_MODEL_OPTIONS.items():
        if path in changed:
            value = changed[path]
            flags.append(f"--{'' if value else 'no-'}{flag[2:]}" if kind is bool else f"{flag} {value}")
    return flags
