"""Model kinds: one registry entry each says what a kind is called, whether it is stochastic, which options it
ignores, what determines its weights and how it is built.

The registry imports nothing of the training stack: a kind names its ``identity`` and ``build`` functions either
as callables or as ``"module:function"`` references, resolved when a model is first built (as entry points are).
The paper's seven kinds are declared below and built by :mod:`robustbench_snn.zoo`; so tables and figures can
ask for a kind's title or whether it is stochastic without importing torch.

Adding a kind is one :func:`register_model` call (``tests/test_api.py`` registers one and runs it through
evaluation, attacks, tables and figures).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from robustbench_snn.errors import UserError, unknown_name
from robustbench_snn.names import check_name
from robustbench_snn.references import resolve


@dataclass(frozen=True)
class ModelKind:
    """A registered model kind.

    Attributes:
        name: what commands, recipes and records call it (``snn-ft``).
        title: its row name in tables (``Conv SNN FT``).
        stochastic: its scores are random draws (SNNs: sampling protocols apply). Read through
            :func:`is_stochastic`, the one place that decides it.
        ignores: model options that mean nothing to it (reset by ``ModelConfig.normalized``).
        identity: ``(config, prepared) -> dict``, everything that determines its weights (or its
            ``"module:function"`` name).
        build: ``(config, train) -> zoo.Built``, from the cache or trained when ``train`` (or its name).
    """

    name: str
    title: str
    stochastic: bool
    ignores: tuple[str, ...]
    identity: Callable | str
    build: Callable | str

    def weights_identity(self, config, prepared) -> dict:
        return resolve(self.identity)(config, prepared)

    def build_model(self, config, train: bool):
        return resolve(self.build)(config, train)


_ZOO = "robustbench_snn.zoo"
# The paper's kinds, in table order. Options a kind ignores: the original TextCNN has no population or SNN
# settings, the tailored ANN no SNN settings, every kind but the original TextCNN ignores its input choice.
_SNN_IGNORES = ("textcnn_input",)
PAPER_KINDS = (
    ModelKind("textcnn", "Original TextCNN (Kim 2014)", False, ("population", "snn", "evaluate_at"),
              f"{_ZOO}:ann_identity", f"{_ZOO}:build_ann"),
    ModelKind("tailored", "Tailored TextCNN", False, ("textcnn_input", "snn", "evaluate_at"),
              f"{_ZOO}:ann_identity", f"{_ZOO}:build_ann"),
    ModelKind("snn-direct", "Directly-trained SNN", True, _SNN_IGNORES, f"{_ZOO}:direct_identity",
              f"{_ZOO}:build_direct"),
    ModelKind("snn-conv", "Conv SNN", True, _SNN_IGNORES, f"{_ZOO}:converted_identity", f"{_ZOO}:build_converted"),
    ModelKind("snn-conv-mn", "Conv SNN + MN", True, _SNN_IGNORES, f"{_ZOO}:converted_identity",
              f"{_ZOO}:build_converted"),
    ModelKind("snn-conv-dn", "Conv SNN + DN", True, _SNN_IGNORES, f"{_ZOO}:converted_identity",
              f"{_ZOO}:build_converted"),
    ModelKind("snn-ft", "Conv SNN FT", True, _SNN_IGNORES, f"{_ZOO}:finetuned_identity", f"{_ZOO}:build_finetuned"),
)
MODEL_KINDS: dict[str, ModelKind] = {kind.name: kind for kind in PAPER_KINDS}


def register_model(kind: ModelKind) -> ModelKind:
    """Add ``kind`` to the registry; a name already taken by another kind is refused."""
    check_name("model kind name", kind.name)
    if kind.name in MODEL_KINDS and MODEL_KINDS[kind.name] != kind:
        raise UserError(f"model kind {kind.name!r} is already registered; choose another name")
    MODEL_KINDS[kind.name] = kind
    return kind


def title_of(name: str) -> str:
    """A kind's table title; a user's model (no registered kind) is shown by its own name."""
    return MODEL_KINDS[name].title if name in MODEL_KINDS else name


def model_kind_names() -> list[str]:
    """The registered kinds, in table order."""
    return list(MODEL_KINDS)


def model_kind(name: str) -> ModelKind:
    """The registered kind ``name``; unknown names list the valid ones."""
    if name not in MODEL_KINDS:
        raise unknown_name("model", name, MODEL_KINDS)
    return MODEL_KINDS[name]


def is_stochastic(name: str) -> bool:
    """Whether models of the registered kind ``name`` give random scores (sampling protocols apply to them)."""
    return model_kind(name).stochastic
