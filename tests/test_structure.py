"""The structure's promises: no import circles in the package, tables and figures rendered without torch, and every
registered model kind (the paper's seven and a user's, stochastic or not) on a registered dataset through
evaluation, energy, attacks, every table and a figure."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from fakes import DictionaryParts
from torch import nn

from robustbench_snn.config import AttackConfig, ModelConfig, SNNConfig, TrainConfig
from robustbench_snn.models import registry
from robustbench_snn.models.registry import PAPER_KINDS, ModelKind, register_model

PACKAGE = Path(__file__).resolve().parents[1] / "robustbench_snn"
RESULTS = PACKAGE.parent / "results"


def _imports(path: Path) -> set[str]:
    """The package modules a file imports anywhere (module level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("robustbench_snn"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("robustbench_snn"))
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_package_has_no_import_circle() -> None:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    # a package's __init__ re-exports (the public face) and a module's own package are not dependencies
    graph = {name: {m for m in _imports(path) if m in modules and m != name and not name.startswith(m + ".")
                    and not (name == "robustbench_snn")} for name, path in modules.items()}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                circle = trail[trail.index(other):] + [other] if other in trail else [name, other]
                pytest.fail("import circle: " + " -> ".join(circle))
            if other not in state:
                visit(other, trail + [other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_tables_and_figures_render_without_torch(tmp_path: Path) -> None:
    copy = tmp_path / "results"
    shutil.copytree(RESULTS, copy, ignore=shutil.ignore_patterns("figures", "tables", "legacy"))
    script = ("import sys\nfrom pathlib import Path\nfrom robustbench_snn.tables import TABLES, render_results\n"
              "from robustbench_snn.plots import plot\n"
              f"for t in ('table1', 'table2', 'table5', 'paired'): render_results(Path({str(copy)!r}), t)\n"
              f"plot('rescoring', Path({str(copy)!r}))\n"
              "print('torch' in sys.modules, 'textattack' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env=os.environ | {"PYTHONPATH": str(PACKAGE.parent)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "False"]


# --- every registered kind through the whole pipeline ---------------------------------------------------------

QUICK = TrainConfig(ann_epochs=2, ft_epochs=1, direct_epochs=1, patience=1, direct_patience=1)
POSITIVE = {"good", "great", "fun", "funny", "charming", "moving", "clever"}


class _Lexicon(nn.Module):
    """A user's kind: positive words raise class 1; ``noise`` adds a random draw (a stochastic kind)."""

    def __init__(self, weight: torch.Tensor, noise: float):
        super().__init__()
        self.weight, self.noise = nn.Parameter(weight, requires_grad=False), noise

    def forward(self, ids: torch.Tensor, encoder=None) -> torch.Tensor:
        scores = self.weight[ids].sum(1) + torch.tensor([0.5, 0.0])
        return scores + self.noise * torch.rand(scores.shape) if self.noise else scores


def _user_kind(name: str, stochastic: bool) -> ModelKind:
    from robustbench_snn.prepared import prepare_for
    from robustbench_snn.zoo import Built

    def identity(config, prepared):
        return {"kind": config.kind, "vocabulary": prepared.vocab.digest}

    def build(config, train):
        prepared = prepare_for(config)
        weight = torch.zeros(len(prepared.vocab.words) + 2, 2)
        for word in POSITIVE:
            weight[prepared.vocab.encode([word], 1)[0], 1] = 1.0
        model = _Lexicon(weight, noise=0.3 if stochastic else 0.0)
        model.steps = 1  # the energy table prices an SNN's time steps; a user's stochastic kind takes one
        return Built(model, config, prepared, {"weights_sha256": None}, identity(config, prepared))

    ignores = ("population", "snn", "evaluate_at", "textcnn_input")
    return ModelKind(name, f"User {name}", stochastic, ignores, identity, build)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory):
    """Records of every kind on the registered ``tiny`` dataset: accuracy (with pre-trained and random
    vectors), energy for the paper's SNNs, and a PWWS run."""
    from robustbench_snn.evaluate import evaluate, evaluate_energy
    from robustbench_snn.harness import run

    saved = dict(registry.MODEL_KINDS)
    users = [register_model(_user_kind("lexicon", False)), register_model(_user_kind("noisy-lexicon", True))]
    results = tmp_path_factory.mktemp("pipeline")
    try:
        for kind in [*PAPER_KINDS, *users]:
            config = ModelConfig("tiny", kind.name, population=1, train=QUICK, snn=SNNConfig(steps=8)).normalized()
            evaluate(config, results=results)
            if kind in PAPER_KINDS and kind.stochastic:
                evaluate_energy(config, results=results)
            run(config, AttackConfig("pwws", "original", sampling="fresh", num_examples=3, rescore_draws=2),
                results, parts=DictionaryParts(), progress=False)
        evaluate(replace(ModelConfig("tiny", "tailored", population=1, train=QUICK), random_embeddings=True),
                 results=results)
        yield results, [*PAPER_KINDS, *users]
    finally:
        registry.MODEL_KINDS.clear()
        registry.MODEL_KINDS.update(saved)


@pytest.mark.parametrize("table", ["table1", "table2", "table3", "table5", "paired"])
def test_every_kind_and_a_registered_dataset_appear_in_every_table(pipeline, table: str) -> None:
    from robustbench_snn.tables import render_results

    results, kinds = pipeline
    rendered = render_results(results, table, write=False)
    assert "tiny" in rendered  # a registered dataset gets its column (tables 1, 3) or rows (2, 5, paired)
    expected = {"table1": kinds, "table2": kinds, "table3": [k for k in kinds if k.name == "tailored"],
                "table5": [k for k in kinds if k.stochastic and k in PAPER_KINDS],
                "paired": [k for k in kinds if k.stochastic]}[table]
    for kind in expected:
        assert kind.title in rendered, f"{kind.name} missing from {table}"


def test_table3_rows_leave_out_the_random_vectors_its_title_says() -> None:
    from fakes import schema_record

    from robustbench_snn.tables import render

    records = [schema_record("table3", model="snn-ft", options=options, test_accuracy=0.7)
               for options in ("random_embeddings on", "random_embeddings on, dropout 0.0")]
    rows = [line.split("|")[1].strip() for line in render(records, "table3").splitlines()[2:]]
    assert rows == ["Conv SNN FT", "Conv SNN FT (dropout 0.0)"]
    assert "random_embeddings" in render([records[0] | {"table": "table1"}], "table1")  # a Table 1 row keeps it


def test_every_stochastic_kind_is_drawn_in_a_figure(pipeline) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from robustbench_snn.plots import PLOTS, plot
    from robustbench_snn.records import read_records

    results, kinds = pipeline
    records = [r for r in read_records(results) if r["table"] == "table2"]
    figure = plt.figure()
    drawn = PLOTS["rescoring"].draw([r for r in records if r["metrics"]["suc"] is not None], figure)
    plt.close(figure)
    stochastic = {k.name for k in kinds if k.stochastic}
    assert drawn == sum(r["model"] in stochastic and r["metrics"]["suc"] is not None for r in records) > 0
    assert all(path.stat().st_size > 1000 for path in plot("rescoring", results))


# --- records of older schemas -----------------------------------------------------------------------------------

DATA = Path(__file__).resolve().parent / "data"


def test_older_records_migrate_to_the_one_schema(tmp_path: Path, capsys) -> None:
    """Copies of committed records as schema 3 (Table 1) and 4 (Table 2) wrote them: `snn-robust migrate` gives
    them the current shape with identity, measurements and outcomes unchanged; a second pass changes nothing."""
    import json

    from robustbench_snn.cli import main
    from robustbench_snn.records import SCHEMA_VERSION, migrate_record, read_records, record_problem

    old2, old1 = (json.loads((DATA / name).read_text()) for name in ("schema4-table2.json", "schema3-table1.json"))
    new2, new1 = migrate_record(old2), migrate_record(old1)
    assert record_problem(new2) is None and record_problem(new1) is None
    assert new2["schema_version"] == new1["schema_version"] == SCHEMA_VERSION
    assert new2["identity"] == old2["identity"] and new2["outcomes"] == old2["outcomes"]
    assert new2["metrics"]["boa"] == pytest.approx(old2["metrics"]["boa"] / 100)  # fractions now
    assert new2["sampling"] == {"protocol": "deterministic"} and new2["config"] == old2["config"]["model"]
    assert new2["code"]["attack"] == old2["attack_code_version"] and new2["attack_file"] == old2["recipe"]
    assert new1["test_accuracy"] == old1["test_accuracy"] and new1["stochastic"] and new1["code"]["evaluation"] == 2
    assert new1["resources"]["vocabulary"] == old1["vocabulary"]
    for name, record in (("table2/a.json", old2), ("table1/b.json", old1)):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(json.dumps(record))
    assert read_records(tmp_path) == []  # refused until migrated, with a warning saying how
    assert "run `snn-robust migrate" in capsys.readouterr().err
    assert main(["migrate", "--results", str(tmp_path)]) == 0
    assert "2 record(s) migrated to schema 5, 0 already current" in capsys.readouterr().out
    assert main(["migrate", "--results", str(tmp_path)]) == 0
    assert "0 record(s) migrated to schema 5, 2 already current" in capsys.readouterr().out
    assert len(read_records(tmp_path)) == 2


def test_a_finished_accuracy_or_energy_record_is_returned_not_measured_again(pipeline) -> None:
    from robustbench_snn.evaluate import energy_path, evaluate, evaluate_energy, record_path
    from robustbench_snn.energy import CONVENTIONS

    results, _ = pipeline
    config = ModelConfig("tiny", "snn-ft", population=1, train=QUICK, snn=SNNConfig(steps=8)).normalized()
    files = [record_path(config, results), energy_path(config, list(CONVENTIONS.values()), results)]
    before = [p.read_bytes() for p in files]
    assert evaluate(config, results=results) == json.loads(before[0])
    assert evaluate_energy(config, results=results) == json.loads(before[1])
    assert [p.read_bytes() for p in files] == before  # nothing rebuilt, nothing rewritten
