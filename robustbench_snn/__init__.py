"""snn-robust: an adversarial-robustness benchmark for spiking and conventional text classifiers.

The public API (see the README's "Benchmark your own model" and "Use with TextAttack"):

- :func:`load_model` — a model of Lv et al. (2023), trained reproducibly or loaded from the cache;
- :func:`benchmark` — attack any model (ours, a torch module, a Hugging Face classifier, a callable), re-score it and
  return the run records;
- :func:`textattack_wrapper` — any of them as a TextAttack ``ModelWrapper``, safe under stochastic protocols, and
  :func:`textattack_attack` — this project's attack recipes as TextAttack ``Attack`` objects;
- :func:`list_datasets`, :func:`list_models`, :func:`list_attacks`;
- :func:`register_dataset` / :func:`local_dataset` and :func:`register_model` to extend the registries.

Importing the package is cheap: torch, TextAttack and the data load when a function needs them.
"""

from robustbench_snn.runtime import pin_cpu_kernels

pin_cpu_kernels()  # before torch's first convolution: the same training gives the same weights on any x86 CPU

from robustbench_snn.api import (benchmark, list_attacks, list_datasets, list_models, load_model, textattack_attack,
                                 textattack_wrapper)
from robustbench_snn.data.registry import local_dataset, register_dataset
from robustbench_snn.models.registry import ModelKind, register_model

__all__ = ["ModelKind", "benchmark", "list_attacks", "list_datasets", "list_models", "load_model", "local_dataset",
           "register_dataset", "register_model", "textattack_attack", "textattack_wrapper"]
