"""Recipes: the shipped YAML files load onto the config dataclasses; bad recipes fail with one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from robustbench_snn.cli import main
from robustbench_snn.config import SNNConfig, Study, TrainConfig, load_study
from robustbench_snn.errors import UserError

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_shipped_recipes_load(path: Path) -> None:
    study = load_study(path)
    assert study.name == path.stem and study.datasets and study.models


def test_table1_recipe_is_the_paper_setup() -> None:
    study = load_study(RECIPES[0].with_name("table1.yaml"))
    assert study.option("train") == TrainConfig() and study.option("snn") == SNNConfig()  # YAML "1.0e-4" read as a float
    assert len(study.model_configs()) == 6 * (7 + 1) * 3  # the TextCNN with raw and with shifted inputs
    assert load_study(RECIPES[0].with_name("table3.yaml")).model_configs()[0].random_embeddings


def test_command_line_overrides_the_recipe(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("table: table1\ndatasets: [mr, sst2]\nmodels: [textcnn]\ntrain: {ft_lr: 1e-3}\n")
    study = load_study(recipe, datasets=["sst2"], models=None, seeds=[4])
    assert study == Study("r", "table1", ("sst2",), ("textcnn",), (4,), model_options={"train": TrainConfig(ft_lr=1e-3)})
    assert [c.seed for c in study.model_configs()] == [4]


@pytest.mark.parametrize("text, message", [
    ("table: table1\ndatasets: [sst2]\nmodels: [cnn]\nmodelz: [textcnn]\n", "unknown key(s) modelz; valid keys: attacks, conventions, datasets"),
    ("table: table1\ndatasets: [sst2]\n", "missing key(s) models"),
    ("table: table1\ndatasets: [sst2]\nmodels: [textcnn]\ntrain: {ft_lr: fast}\n", "train.ft_lr: expected a number"),
    ("table: table1\ndatasets: [sst2]\nmodels: [textcnn]\nseeds: [0.5]\n", "seeds[0]: expected an integer"),
    ("table: table1\ndatasets: [sst2]\nmodels: [textcnn]\nsnn: {stepz: 5}\n", "snn: unknown key(s) stepz"),
    ("- just\n- a list\n", "expected a mapping"),
    ("table: [unclosed\n", "bad.yaml:2:1: not valid YAML: expected ',' or ']'"),
    ("table: table1\ndatasets: [sst2]\nmodels: [textcnn]\nmodels: [tailored]\n", "bad.yaml:4:1: not valid YAML: "
     "duplicate key 'models'"),
    ("table: table1\ndatasets: [sst2]\nmodels: [textcnn]\nseeds: [true]\n", "seeds[0]: expected a number, got True"),
    ("table: table1\ndatasets: [sst2]\nmodels: [textcnn]\nseeds: [-1]\n", "seeds must be an integer from 0 to "
     "4294967295 (got -1)"),
    ("table: table1\ndatasets: [sst2]\nmodels: [textcnn]\nsplit_seed: 4294967296\n", "split_seed must be an integer"),
    ("table: table1\ndatasets: [sst2]\nmodels: [textcnn]\ntrain: {patience: 0}\n", "TrainConfig.patience must be "
     "at least 1 (got 0)"),
    ("table: table1\ndatasets: [sst2]\nmodels: [textcnn]\ntrain: {ann_epochs: 0}\n", "TrainConfig.ann_epochs must "
     "be at least 1"),
    ("table: table1\ndatasets: [sst2]\nmodels: [textcnn]\nsnn: {beta: 1.5}\n", "SNNConfig.beta is the membrane "
     "decay and must be in (0, 1]"),
    ("table: table1\ndatasets: [sst2]\nmodels: [snn-conv-dn]\nsnn: {dn_percentile: 0}\n", "SNNConfig.dn_percentile "
     "must be in (0, 100]"),
    ("table: table2\ndatasets: [sst2]\nmodels: [textcnn]\nattacks: [pwws]\nnum_examples: 0\n", "num_examples must "
     "be at least 1 (got 0)"),
    ("table: table1\ndatasets: [sst2]\nmodels: [textcnn]\n\xff: 1\n", "is not UTF-8 text"),
])
def test_bad_recipes_are_refused(tmp_path: Path, text: str, message: str) -> None:
    recipe = tmp_path / "bad.yaml"
    recipe.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    with pytest.raises(UserError) as caught:
        load_study(recipe)
    assert message in str(caught.value)


def test_grid_command_errors_are_one_line(tmp_path: Path, capsys) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("table: table3\ndatasets: [sst2]\nmodels: [textcnn]\n")
    for argv, message in [([str(recipe)], "set random_embeddings: true"),
                          ([str(tmp_path / "none.yaml")], "not found"),
                          ([str(RECIPES[0].with_name("table1.yaml")), "--models", "lstm"], "unknown model 'lstm'"),
                          ([str(RECIPES[0].with_name("table1.yaml")), "--seeds", "a"], "comma-separated integers"),
                          ([str(RECIPES[0].with_name("table1.yaml")), "--attacks", "pwws"], "belongs to table2"),
                          ([str(RECIPES[0].with_name("smoke-grid.yaml")), "--attacks", "hotflip"],
                           "unknown attack 'hotflip'"),
                          ([str(RECIPES[0].with_name("smoke-grid.yaml")), "--executor", "slurm"], "valid executors"),
                          ([str(RECIPES[0].with_name("smoke-grid.yaml")), "--executor", "process", "--workers", "0"],
                           "--workers must be at least 1")]:
        assert main(["grid", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1


def test_lists_of_option_values_become_grid_axes(tmp_path: Path) -> None:
    recipe = tmp_path / "sweep.yaml"
    recipe.write_text("table: table1\ndatasets: [sst2]\nmodels: [textcnn, snn-ft]\nseeds: [0]\npopulation: [1, 10]\n"
                      "evaluate_at: {threshold: [0.5, '1.5']}\nsnn: {steps: 30}\n")
    study = load_study(recipe)
    assert study.sweep == (("population", (1, 10)), ("evaluate_at.threshold", (0.5, 1.5)))
    configs = study.model_configs()
    # the TextCNN ignores population and evaluation settings: it appears once; the SNN at every point
    assert [(c.kind, c.population, c.evaluate_at.threshold) for c in configs] == [
        ("textcnn", 10, None), ("snn-ft", 1, 0.5), ("snn-ft", 1, 1.5), ("snn-ft", 10, 0.5), ("snn-ft", 10, 1.5)]
    assert all(c.snn.steps == 30 for c in configs if c.kind == "snn-ft")


@pytest.mark.parametrize("text, message", [
    ("population: []\n", "sweep.yaml.population: an empty list sweeps nothing"),
    ("evaluate_at: {threshold: [0.5, fast]}\n", "evaluate_at.threshold[1]: expected a number") ,
    ("snn: {beta: [0.9, 2.0]}\n", "SNNConfig.beta is the membrane decay"),
    ("dropout: [0.0, 1.0]\n", "dropout must be in [0, 1)"),
    ("textcnn_input: [raw, scaled]\n", "textcnn_input must be raw or shifted"),
])
def test_bad_sweeps_are_refused_before_any_work(tmp_path: Path, text: str, message: str) -> None:
    recipe = tmp_path / "sweep.yaml"
    recipe.write_text("table: table1\ndatasets: [sst2]\nmodels: [textcnn, snn-ft]\n" + text)
    with pytest.raises(UserError) as caught:
        load_study(recipe).model_configs()
    assert message in str(caught.value)


def test_paper_table2_attacks_the_population_1_snn_its_ann_twin_and_the_original_textcnn() -> None:
    study = load_study(RECIPES[0].with_name("paper-table2.yaml"))
    models = {(c.kind, c.population if c.kind != "textcnn" else None, c.textcnn_input) for c in study.model_configs()}
    assert models == {("snn-ft", 1, "raw"), ("tailored", 1, "raw"), ("textcnn", None, "raw")}
    assert [str(s) for s in study.samplings] == ["fresh", "frozen", "seeded"]
    eot = load_study(RECIPES[0].with_name("paper-table2-eot.yaml"))
    assert [str(s) for s in eot.samplings] == ["eot:4"] and eot.option("num_examples") == 200
    assert study.option("settings") == "paper"


def test_table1_population1_rows_are_table2s_models() -> None:
    """The recipe evaluates Table 2's checkpoints: every model it names is one Table 2 trains (else the campaign
    would train new population-1 models for Table 1 that no attack ever saw)."""
    table2 = {c.normalized() for c in load_study(RECIPES[0].with_name("paper-table2.yaml")).model_configs()}
    rows = load_study(RECIPES[0].with_name("table1-population1.yaml")).model_configs()
    trained = [c.normalized() for c in rows if c.kind in ("tailored", "snn-ft")]
    assert len(trained) == 8 and all(c in table2 for c in trained)


def test_the_campaigns_plan_ends_with_its_total_counting_each_job_once(tmp_path: Path) -> None:
    """`campaign.sh --plan` runs every step's `grid --plan`; steps share models (Table 5 needs Table 1's), so the
    last line sums the rows of distinct jobs. The plans here come from a stand-in for the command."""
    import subprocess

    fake = tmp_path / "snn-robust"
    fake.write_text("#!/usr/bin/env bash\n"
                    "echo 'job                                state      CPU-hours  estimate from'\n"
                    "echo 'train mr snn-ft seed 1 (snn-ft-s1)  to do           0.25  7 epochs x 111 s (mr; 3 trained)'\n"
                    "echo 'energy mr snn-ft seed 1             to do           0     seconds once trained (not counted)'\n"
                    "echo 'attack mr textcnn pwws seed 0       done            0     record exists'\n"
                    "echo\necho '3 jobs: 1 done, 2 to do; estimated 0.2 CPU-hours for the ones with a measured rate'\n")
    fake.chmod(0o755)
    done = subprocess.run(["bash", str(RECIPES[0].parent / "campaign.sh"), "--plan"], capture_output=True, text=True,
                          env={**os.environ, "SNN_ROBUST": str(fake), "RESULTS": str(tmp_path)}, check=True)
    assert done.stdout.splitlines()[-1] == ("campaign: 1 jobs done, 2 to do; estimated 0.2 CPU-hours for the ones "
                                            "with a measured rate")


def test_the_campaign_names_what_the_budget_cut_and_runs_it_only_when_asked(tmp_path: Path) -> None:
    """The campaign issue's budget rule: the cut steps (Tables 3-4 on the Chinese datasets and at seeds 1-2, the
    directly-trained SNN's seeds 1-2, Fig. 4a's own trainings) are listed, never passed to `grid`, unless
    `--with-cut` asks (and that flag is the script's, not grid's)."""
    import subprocess

    calls = tmp_path / "calls"
    fake = tmp_path / "snn-robust"
    fake.write_text(f"#!/usr/bin/env bash\necho \"$*\" >> {calls}\n")
    fake.chmod(0o755)

    def campaign(*flags: str) -> tuple[str, list[str]]:
        calls.write_text("")
        done = subprocess.run(["bash", str(RECIPES[0].parent / "campaign.sh"), "--plan", *flags], capture_output=True,
                              text=True, env={**os.environ, "SNN_ROBUST": str(fake), "RESULTS": str(tmp_path)},
                              check=True)
        return done.stdout, calls.read_text().splitlines()

    out, run = campaign()
    cut = [line.split(": grid ")[1] for line in out.splitlines() if line.startswith("cut for the budget")]
    assert "recipes/table3.yaml --seeds 0 --datasets chnsenti,waimai" in cut
    assert "recipes/table1.yaml --seeds 1,2 --models snn-direct" in cut and "recipes/fig4-fine-tuning.yaml" in cut
    assert not any(step in call for step in cut for call in run)
    assert "grid recipes/table3.yaml --seeds 0 --datasets mr,sst2,sst5,subj --results" in "\n".join(run)
    out, with_cut = campaign("--with-cut")
    assert "cut for the budget" not in out and len(with_cut) == len(run) + len(cut)
    assert not any("--with-cut" in call for call in with_cut)
