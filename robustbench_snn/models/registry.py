"""Model kinds: one registry entry each says what a kind is called, whether it spikes, which options it ignores,
what determines its weights and how it is built.

The paper's kinds are registered by ``robustbench_snn.train`` (where their training lives). Adding a kind is one
:func:`register_model` call with its ``identity`` and ``build`` functions, plus its test.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from robustbench_snn.errors import UserError, unknown_name


@dataclass(frozen=True)
class ModelKind:
    """A registered model kind.

    Attributes:
        name: what commands, recipes and records call it (``snn-ft``).
        title: its row name in tables (``Conv SNN FT``).
        stochastic: its scores are random draws (SNNs: sampling protocols apply).
        ignores: model options that mean nothing to it (reset by ``ModelConfig.normalized``).
        identity: ``(config, prepared) -> dict``, everything that determines its weights.
        build: ``(config, train) -> train.Built``, from the cache or trained when ``train``.
    """

    name: str
    title: str
    stochastic: bool
    ignores: tuple[str, ...]
    identity: Callable
    build: Callable


MODEL_KINDS: dict[str, ModelKind] = {}


def _register_paper_kinds() -> None:
    importlib.import_module("robustbench_snn.train")  # registers them at import


def register_model(kind: ModelKind) -> ModelKind:
    """Add ``kind`` to the registry; a name already taken by another kind is refused."""
    if kind.name in MODEL_KINDS and MODEL_KINDS[kind.name] != kind:
        raise UserError(f"model kind {kind.name!r} is already registered; choose another name")
    MODEL_KINDS[kind.name] = kind
    return kind


def title_of(name: str) -> str:
    """A kind's table title; a user's model (no registered kind) is shown by its own name."""
    model_kind_names()
    return MODEL_KINDS[name].title if name in MODEL_KINDS else name


def model_kind_names() -> list[str]:
    """The registered kinds, in table order."""
    _register_paper_kinds()

    return list(MODEL_KINDS)


def model_kind(name: str) -> ModelKind:
    """The registered kind ``name`` (the paper's are registered on first use); unknown names list the valid ones."""
    _register_paper_kinds()

    if name not in MODEL_KINDS:
        raise unknown_name("model", name, MODEL_KINDS)
    return MODEL_KINDS[name]
