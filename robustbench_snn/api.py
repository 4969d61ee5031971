"""The public API (re-exported by ``robustbench_snn``): the paper's models, and RobustBench's one call for any model.

>>> import robustbench_snn as rs
>>> snn = rs.load_model("sst2", "snn-ft", population=1)          # trained now, or from the cache
>>> records = rs.benchmark(snn, "sst2", attacks="pwws", num_examples=100, sampling="fresh")
>>> records[0]["metrics"]["boa"]

``benchmark`` takes a model from :func:`load_model`, a torch module with the tokenizer it expects (Hugging Face
sequence classifiers included), or any callable from a list of texts to class scores; :func:`textattack_wrapper`
gives any of them to TextAttack's own ``Attacker`` or CLI.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from robustbench_snn.errors import UserError

PROBE_TEXTS = ["a good film", "a bad film", "it was fine", "nothing works here"]


def list_datasets() -> list[str]:
    """The registered datasets (the paper's six, plus any registered with ``register_dataset``)."""
    from robustbench_snn.data import dataset_names

    return sorted(dataset_names())


def list_models() -> list[str]:
    """The paper's model kinds, for :func:`load_model`."""
    from robustbench_snn.models.registry import model_kind_names

    return model_kind_names()


def list_attacks(attack_files: tuple[str, ...] = ()) -> list[str]:
    """The attacks: the built-in four, ``./attacks/*.py`` and ``attack_files``."""
    from robustbench_snn.attack_files import registry

    return sorted(registry(tuple(attack_files)))


def load_model(dataset: str, kind: str, seed: int = 0, allow_training: bool = True, **options):
    """A model of the paper, trained reproducibly (bit for bit) or loaded from the cache.

    Args:
        dataset: a registered dataset (:func:`list_datasets`).
        kind: ``textcnn``, ``tailored``, ``snn-conv``, ``snn-conv-mn``, ``snn-conv-dn``, ``snn-ft`` or
            ``snn-direct`` (:func:`list_models`).
        seed: the model seed; also the run seed when it is benchmarked.
        allow_training: False fails (in one line, naming the command) instead of training a missing model.
        **options: any field of :class:`~robustbench_snn.config.ModelConfig`: ``population``, ``dropout``,
            ``vectors``, ``tokenizer``, ``textcnn_input``, ``split_seed``, ``random_embeddings``, and the
            sections ``snn``, ``train`` and ``evaluate_at`` as mappings (``snn={"steps": 20}``).

    Returns:
        A :class:`~robustbench_snn.zoo.Built`: ``.model`` (the torch module), ``.prepared.encode`` (its
        tokenizer), ``.provenance`` (checkpoint, weights sha256, training history); ``benchmark`` takes it.
    """
    from robustbench_snn.config import ModelConfig, from_dict
    from robustbench_snn.zoo import build_model, check_kind

    check_kind(kind)
    config = from_dict(ModelConfig, {"dataset": dataset, "kind": kind, "seed": seed, **options}, "load_model")
    return build_model(config.normalized(), train=allow_training)


@dataclass
class UserModel:
    """A user's model as the harness sees it: the model-side interface of ``zoo.Built``."""

    config: object  # a ModelConfig naming the dataset, the model (``kind``) and the seed
    dataset: object
    provenance: dict
    identity: dict
    scorer: object  # the wrappers.Classifier

    @property
    def stochastic(self) -> bool:
        return self.scorer.stochastic

    def classifier(self, incremental: bool = True):
        return self.scorer


def _weights_digest(module) -> str:
    """sha256 over a module's state dict (names, dtypes, shapes and bytes, in order)."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _user_model(model, dataset: str, seed: int, name: str, tokenizer, stochastic: bool | None) -> UserModel:
    from torch import nn

    from robustbench_snn.config import ModelConfig
    from robustbench_snn.data import cached_dataset
    from robustbench_snn.models.registry import model_kind_names
    from robustbench_snn.classifiers import as_classifier, behaviour_digest
    from robustbench_snn.names import check_name

    check_name("model name", name)
    if name in model_kind_names():  # its records would be shown as the paper's model of that kind
        raise UserError(f"model name {name!r} is a registered model kind; give your model another name")
    data = cached_dataset(dataset)
    probe = [t for t, _ in data.test[:8]]
    scorer = as_classifier(model, tokenizer, stochastic, probe_texts=probe, num_classes=data.spec.num_classes)
    described = {"user model": name, "class": f"{type(model).__module__}.{type(model).__qualname__}",
                 "stochastic": scorer.stochastic, "seedable": scorer.seedable, "dataset": dataset,
                 "split_hashes": data.split["hashes"], "scores_sha256": behaviour_digest(scorer, probe)}
    if isinstance(model, nn.Module):
        described["weights_sha256"] = _weights_digest(model)
    provenance = {"user_model": name, "weights_sha256": described.get("weights_sha256"),
                  "note": "a user's model: its record is reused only for the same name, class, weights and scores "
                          "on the first 8 test texts"}
    return UserModel(ModelConfig(dataset, name, seed=seed), data, provenance, described, scorer)


def benchmark(model, dataset: str, attacks: str | list[str] | tuple[str, ...] = ("pwws",), sampling: str = "seeded",
              num_examples: int = 1000, seed: int | None = None, results: str | Path | None = None,
              stochastic: bool | None = None, tokenizer=None, name: str = "user-model", parts=None,
              progress: bool | None = None, **attack_options) -> list[dict]:
    """Attack ``model`` on ``num_examples`` test examples of ``dataset`` with each attack, re-score, and return
    the run records (``record["metrics"]`` holds ``cln``, ``boa``, ``suc`` with ``ci95``; ``record["rescored"]``
    the same judged by fresh draws).

    Args:
        model: a model from :func:`load_model`; a torch module mapping ``tokenizer``'s output to class scores (a
            Hugging Face sequence classifier with its tokenizer works as it is); or a callable mapping a list of
            texts to an array [N, C] of class scores (TextAttack's ``ModelWrapper`` convention).
        sampling: ``seeded``, ``fresh``, ``frozen`` (the authors' code: first draw per text cached) or ``eot:K`` for stochastic models (deterministic ones run once).
            ``seeded`` needs a model that accepts ``seed=`` (the paper's SNNs do).
        seed: the run seed (example selection, draws); a :func:`load_model` model's own seed by default, else 0.
        results: a folder to write the records and per-example files into (runs then resume and are reused by
            identity); None keeps nothing on disk.
        stochastic: whether a user's model gives random scores; None: its ``stochastic`` attribute, else found
            by calling it twice on the same texts.
        name: a user's model's name in records and file names.
        parts: attack parts (default: the real, resource-backed ones); tests pass light ones.
        **attack_options: ``settings`` (paper | authors-code | original), ``rescore_draws``, ``masked_lm``, ``query_budget``,
            ``attack_files`` (see :class:`~robustbench_snn.config.AttackConfig`).
    """
    from dataclasses import replace

    from robustbench_snn.config import AttackConfig
    from robustbench_snn.harness import run
    from robustbench_snn.zoo import Built

    attacks = [attacks] if isinstance(attacks, str) else list(attacks)
    if isinstance(model, Built):
        if model.config.dataset != dataset:
            raise UserError(f"this model was trained on {model.config.dataset}, not {dataset}; load one for {dataset}")
        if seed is not None and seed != model.config.seed:
            raise UserError(f"this model's seed is {model.config.seed}; its runs use it (load the model with "
                            f"seed={seed} for another)")
        subject, config = model, model.config
    else:
        subject = _user_model(model, dataset, 0 if seed is None else seed, name, tokenizer, stochastic)
        config = subject.config
    unknown = set(attack_options) - {"settings", "rescore_draws", "masked_lm", "attack_files", "query_budget"}
    if unknown:
        raise UserError(f"unknown option(s) {', '.join(sorted(unknown))}; benchmark takes settings, rescore_draws, "
                        "masked_lm, attack_files and query_budget besides its own arguments")
    options = {k: tuple(v) if k == "attack_files" else v for k, v in attack_options.items()}
    with tempfile.TemporaryDirectory(prefix="snn-robust-") as scratch:
        folder = Path(results) if results is not None else Path(scratch)
        return [run(config, replace(AttackConfig(attack, sampling=sampling, num_examples=num_examples), **options),
                    folder, parts=parts, built=subject, progress=progress) for attack in attacks]


def textattack_wrapper(model, sampling: str = "seeded", seed: int = 0, tokenizer=None,
                       stochastic: bool | None = None):
    """``model`` as a real ``textattack.models.wrappers.ModelWrapper`` for TextAttack's ``Attacker`` or CLI
    (``textattack attack --model-from-file``), with TextAttack's offline setup done. Under ``fresh`` and
    ``eot:K`` it turns off the output cache of any goal function that calls it, so no draw is frozen."""
    from robustbench_snn.resources import prepare_textattack
    from robustbench_snn.zoo import Built
    from robustbench_snn.classifiers import as_classifier
    from robustbench_snn.config import Sampling
    from robustbench_snn.wrappers import ClassifierWrapper, register_with_textattack

    prepare_textattack()
    register_with_textattack()
    scorer = model.classifier() if isinstance(model, Built) else \
        as_classifier(model, tokenizer, stochastic, probe_texts=PROBE_TEXTS)
    return ClassifierWrapper(scorer, Sampling.parse(sampling), seed)


def textattack_attack(name: str, model_wrapper, settings: str = "paper", attack_files: tuple[str, ...] = (),
                      parts=None):
    """The ``textattack.Attack`` of this project's attack file ``name`` (:func:`list_attacks`) under ``settings``
    for ``model_wrapper``, with the real, offline attack parts (``parts`` replaces them), for TextAttack's
    ``Attacker``."""
    from robustbench_snn.attack_files import load_attack
    from robustbench_snn.attack_parts import AttackParts

    return load_attack(name, tuple(attack_files)).build(model_wrapper, settings, parts or AttackParts())
