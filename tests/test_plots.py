"""Figures from records: each plot renders PNG and PDF from fixture records; worked values for the hold-up curve."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from fakes import schema_record

from robustbench_snn.cli import main
from robustbench_snn.config import EvaluateAt, ModelConfig, options_label
from robustbench_snn.plots import PLOTS, held_share


def test_held_share_worked_values() -> None:
    # 3 recorded draws. Success 0: clean 3/3 correct, final 0/3 -> always confirmed. Success 1: clean 2/3, final
    # 1/3 -> one draw confirms with (2/3)(1 - 1/3) = 4/9, a majority of all three always.
    assert held_share([3, 2, 3], [0, 1, 3], "ssf", total=3, draws=1) == pytest.approx((1 + 4 / 9) / 2)
    assert held_share([3, 2, 3], [0, 1, 3], "ssf", total=3, draws=3) == pytest.approx(1.0)
    assert held_share([3], [3], "f", 3, 1) is None  # no successes to hold up


def _table1(folder: Path, config: ModelConfig, accuracy: float, history=None) -> None:
    activity = {"conv3": {"rate": 0.1, "active": accuracy / 2, "neurons": 10, "examples": 5},
                "output": {"rate": 0.2, "active": 0.5, "neurons": 2, "examples": 5}}
    record = schema_record("table1", model=config.kind, options=options_label(asdict(config)), config=asdict(config),
                           test_accuracy=accuracy, dev_accuracy=accuracy, activity=activity,
                           model_provenance={"history": history or []}, identity_digest=str(accuracy))
    (folder / f"{accuracy}.json").write_text(json.dumps(record))


def _table2(folder: Path, sampling: str, boa: float, attack: str = "pwws", budget: int | None = None) -> None:
    config = ModelConfig("sst2", "snn-ft", population=1)
    record = schema_record("table2", attack=attack, settings="paper", sampling={"protocol": sampling},
                           identity={"attack": {"query_budget": budget}} if budget else {},
                           options="population 1", config=asdict(config), attack_config={}, outcomes="ssf",
                           metrics={"n": 3, "cln": 1.0, "suc": 0.667, "boa": boa}, mean_queries=10.0,
                           rescored={"draws": 3, "metrics": {"n": 3, "cln": 1.0, "suc": 0.5, "boa": boa + 0.1}, "outcomes": "sff",
                                     "clean_correct_draws": [3, 2, 3], "adversarial_correct_draws": [0, 1, 3]})
    (folder / f"{attack}-{sampling.replace(':', '')}-{budget}.json").write_text(json.dumps(record))


def test_every_plot_renders_from_records(tmp_path: Path, capsys) -> None:
    table1, table2 = tmp_path / "table1", tmp_path / "table2"
    table1.mkdir()
    table2.mkdir()
    history = [{"epoch": e, "dev_accuracy": 0.7 + e / 100, "test_accuracy": 0.69 + e / 100} for e in (1, 2, 3)]
    for i, threshold in enumerate((0.5, 1.0, 1.5)):
        _table1(table1, ModelConfig("sst2", "snn-ft", evaluate_at=EvaluateAt(threshold=threshold)), 0.7 + i / 100)
        _table1(table1, ModelConfig("sst2", "snn-ft", evaluate_at=EvaluateAt(steps=10 * (i + 1))), 0.6 + i / 100)
        _table1(table1, ModelConfig("sst2", "snn-ft", population=2 ** i), 0.5 + i / 100, history)
        _table1(table1, ModelConfig("sst2", "snn-ft", evaluate_at=EvaluateAt(beta=0.8 + i / 10)), 0.4 + i / 100)
    for sampling, boa in (("fresh", 0.3), ("eot:4", 0.4), ("seeded", 0.35)):
        _table2(table2, sampling, boa)
    for sampling, budget, boa in (("eot:1", None, 0.3), ("eot:8", None, 0.2), ("eot:8", 20, 0.4), ("eot:8", 80, 0.25)):
        _table2(table2, sampling, boa, "gradient-eot", budget)
    for name in PLOTS:
        assert main(["plot", name, "--results", str(tmp_path)]) == 0, capsys.readouterr().err
        for suffix in (".png", ".pdf"):
            assert (tmp_path / "figures" / f"{name}{suffix}").stat().st_size > 1000
    first = (tmp_path / "figures" / "threshold.png").read_bytes()
    main(["plot", "threshold", "--results", str(tmp_path)])
    assert (tmp_path / "figures" / "threshold.png").read_bytes() == first  # same records, same file


def test_the_threshold_figure_plots_the_firing_rate_energy_counts() -> None:
    from matplotlib.figure import Figure

    from robustbench_snn.plots import _draw_threshold, _firing_rate

    activity = {"conv3": {"rate": 0.1, "active": 0.5, "neurons": 10}, "conv4": {"rate": 0.4, "active": 1.0,
                                                                              "neurons": 30}}
    assert _firing_rate(activity, "conv") == pytest.approx((0.1 * 10 + 0.4 * 30) / 40)  # per neuron, widths pooled
    assert _firing_rate(activity, "pool") is None
    records = [{"dataset": "sst2", "model": "snn-ft", "seed": 0, "stochastic": True, "test_accuracy": 0.8,
                "options": f"evaluated at threshold {t}", "config": {"evaluate_at": {"threshold": t}, "snn": {}},
                "activity": {"conv3": {"rate": r, "active": 0.9, "neurons": 10}}} for t, r in ((0.5, 0.3), (1.0, 0.2))]
    figure = Figure()
    assert _draw_threshold(records, figure) == 1
    rate_axis = figure.axes[2]
    assert "firing rate" in rate_axis.get_ylabel()
    assert list(rate_axis.lines[0].get_ydata()) == [0.3, 0.2]


def _swept(dataset: str, seed: int, threshold: float | None, accuracy: float, options: str = "") -> dict:
    parts = [options] if options else []
    parts += [f"evaluated at threshold {threshold}"] if threshold is not None else []
    return {"dataset": dataset, "model": "snn-ft", "seed": seed, "stochastic": True, "test_accuracy": accuracy,
            "options": ", ".join(parts), "config": {"evaluate_at": {"threshold": threshold}, "snn": {"threshold": 1.0}},
            "activity": {"conv3": {"rate": accuracy / 2, "active": 0.9, "neurons": 10}}}


def test_a_sweep_line_joins_its_swept_seeds_only_and_shows_their_spread() -> None:
    """Table 1's other seeds, at the default threshold only, stay off the seed-0 sweep's line (before, they were
    extra points at 1.0); two swept seeds give their mean with bars from the lower to the higher."""
    from matplotlib.figure import Figure

    from robustbench_snn.plots import _draw_threshold

    records = [_swept("sst2", 0, 0.5, 0.70), _swept("sst2", 0, None, 0.80), _swept("sst2", 1, None, 0.90),
               _swept("sst2", 2, None, 0.95)]
    figure = Figure()
    assert _draw_threshold(records, figure) == 1
    [line] = figure.axes[0].lines
    assert line.get_label() == "Conv SNN FT, seed 0"
    assert list(line.get_ydata()) == pytest.approx([70.0, 80.0])

    records += [_swept("sst2", 1, 0.5, 0.60)]  # seed 1 is swept now too
    figure = Figure()
    assert _draw_threshold(records, figure) == 1
    bars = figure.axes[0].containers[0]
    assert bars.get_label() == "Conv SNN FT, mean of seeds 0, 1"
    assert list(bars.lines[0].get_ydata()) == pytest.approx([65.0, 85.0])
    [bottoms, tops] = bars.lines[1]
    assert list(bottoms.get_ydata()) == pytest.approx([60.0, 80.0])
    assert list(tops.get_ydata()) == pytest.approx([70.0, 90.0])


def test_each_dataset_has_its_own_panel() -> None:
    from matplotlib.figure import Figure

    from robustbench_snn.plots import _draw_threshold

    records = [_swept(d, 0, t, a) for d in ("mr", "sst2") for t, a in ((0.5, 0.6), (None, 0.7))]
    records += [_swept("sst2", 0, t, a, "population 1") for t, a in ((0.5, 0.5), (None, 0.65))]
    figure = Figure()
    assert _draw_threshold(records, figure) == 3
    accuracy_axes = figure.axes[0::3]
    assert [axis.get_title() for axis in accuracy_axes] == ["mr", "sst2"]
    assert [line.get_label() for line in accuracy_axes[1].lines] == ["Conv SNN FT, seed 0",
                                                                     "Conv SNN FT (population 1), seed 0"]


def test_the_fine_tuning_figure_draws_each_history_once_with_its_kept_epoch() -> None:
    """A model evaluated at other settings shares its checkpoint's history: one curve per model and dataset, the
    lowest seed's, and a star on the epoch training kept."""
    from matplotlib.figure import Figure

    from robustbench_snn.plots import _draw_fine_tuning

    def run(dataset: str, seed: int, options: str, accuracies: tuple) -> dict:
        history = [{"epoch": e + 1, "dev_accuracy": a, "test_accuracy": a - 0.01} for e, a in enumerate(accuracies)]
        return {"dataset": dataset, "model": "snn-ft", "seed": seed, "options": options, "config": {},
                "model_provenance": {"history": history, "best_epoch": 2}}

    records = [run("sst2", 1, "", (0.5, 0.6)), run("sst2", 0, "", (0.7, 0.8, 0.75)),
               run("sst2", 0, "evaluated at threshold 0.5", (0.7, 0.8, 0.75)), run("mr", 0, "", (0.6, 0.65))]
    figure = Figure()
    assert _draw_fine_tuning(records, figure) == 2
    mr, sst2 = figure.axes[:2]
    assert (mr.get_title(), sst2.get_title()) == ("mr", "sst2")
    test, dev, star = sst2.lines
    assert test.get_label() == "Conv SNN FT, seed 0"
    assert list(test.get_ydata()) == pytest.approx([69.0, 79.0, 74.0])
    assert list(dev.get_ydata()) == pytest.approx([70.0, 80.0, 75.0])
    assert (list(star.get_xdata()), list(star.get_ydata())) == ([2], pytest.approx([79.0]))


def test_a_plot_without_records_says_which_recipe_makes_them(tmp_path: Path, capsys) -> None:
    assert main(["plot", "threshold", "--results", str(tmp_path)]) == 2
    assert "run `snn-robust grid recipes/fig-threshold.yaml` first" in capsys.readouterr().err
    assert main(["plot", "nope", "--results", str(tmp_path)]) == 2
    assert "unknown plot 'nope'; valid plots:" in capsys.readouterr().err


def test_the_strength_figure_compares_the_same_examples_only() -> None:
    from matplotlib.figure import Figure

    from robustbench_snn.plots import _draw_strength

    def record(model: str, protocol: str, n: int, boa: float) -> dict:
        return schema_record("table2", model=model, attack="gradient-eot", settings="paper", options="",
                             sampling={"protocol": protocol}, metrics={"n": n},
                             rescored={"metrics": {"boa": boa}})

    records = [record("snn-ft", "fresh", 100, 0.34), record("snn-ft", "eot:8", 100, 0.15),
               record("textcnn", "deterministic", 100, 0.14),
               record("snn-ft", "eot:8", 1000, 0.16), record("textcnn", "deterministic", 1000, 0.08)]
    figure = Figure()
    assert _draw_strength(records, figure) == 2  # the N = 1000 runs were never swept: not drawn
    draws_axis = figure.axes[0]
    assert all("N = 100)" in line.get_label() for line in draws_axis.lines)
    assert [pytest.approx(list(line.get_ydata())) for line in draws_axis.lines] == [[34.0, 15.0], [14.0, 14.0]]


def test_the_eot_figure_compares_the_examples_its_runs_share_at_full_strength() -> None:
    """A 1000-example fresh run and a 200-example eot:4 run meet on the first 200 (the same permutation's prefix);
    runs a query budget capped are left out, and a line joins runs of the same settings only."""
    from matplotlib.figure import Figure

    from robustbench_snn.plots import _draw_eot

    def record(protocol: str, outcomes: str, rescored: str, **extra) -> dict:
        return schema_record("table2", attack="pwws", settings=extra.pop("settings", "paper"),
                             sampling={"protocol": protocol}, outcomes=outcomes, metrics={"n": len(outcomes)},
                             rescored={"outcomes": rescored}, **extra)

    fresh = record("fresh", "ffss" + "s" * 6, "fffs" + "s" * 6)  # 10 examples: the first 4 are shared
    eot = record("eot:4", "fsss", "fsss")
    capped = record("eot:8", "ssss", "ssss", identity={"attack": {"query_budget": 10}})
    other = record("eot:2", "ffff", "ffff", settings="unconstrained")
    figure = Figure()
    assert _draw_eot([fresh, eot, capped, other], figure) == 1
    raw, again = figure.axes[0].lines
    assert "first 4" in raw.get_label() and again.get_linestyle() == "--"
    assert list(raw.get_xdata()) == [1, 4]
    assert list(raw.get_ydata()) == pytest.approx([50.0, 25.0]) and list(again.get_ydata()) == pytest.approx([75.0, 25.0])
