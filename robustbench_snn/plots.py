"""Figures rendered only from stored records: ``snn-robust plot NAME`` writes ``results/figures/NAME.{png,pdf}``.

The paper's figures read Table 1 records of sweeps (see the ``recipes/fig*.yaml`` files); the robustness figures
read Table 2 records. A figure shows what the records hold, one line per (dataset, model and options); it never
computes a model output itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from robustbench_snn.errors import UserError, unknown_name, writing
from robustbench_snn.records import query_budget, read_records, record_options
from robustbench_snn.stats import summarize
from robustbench_snn.tables import model_label


RENDERED_WITH = "rendered-with.txt"  # beside the figures: the matplotlib that drew them (bytes depend on it)


@dataclass(frozen=True)
class Plot:
    table: str  # the records it reads: those that name table1 or table2
    title: str
    recipe: str  # what produces its records
    draw: Callable  # (records, figure) -> number of lines drawn
    size: tuple[float, float] = (7, 4.5)  # inches


def _line_label(r: dict, ignore: str) -> str:
    """A record's model label without the options starting with ``ignore`` (the swept one)."""
    options = ", ".join(p for p in record_options(r) if not p.startswith(ignore))
    return model_label(r | {"options": options})


def _sweeps(records: list[dict], x_of: Callable[[dict], float | None], ignore: str
            ) -> dict[str, dict[str, list[tuple[float, list[dict]]]]]:
    """Per dataset, per line (a model label without the swept option's part): its points, each an x with one record
    per swept seed. Only seeds with two values or more of the option are swept: Table 1's other seeds, at the
    default alone, never join a sweep's line, so a line does not mix seeds from one point to the next."""
    grouped: dict[tuple[str, str], dict[int, dict[float, dict]]] = {}
    for r in records:
        x = x_of(r)
        if x is not None:  # the first record of a seed at an x stands for it (a default and an explicit 1.0 agree)
            grouped.setdefault((r["dataset"], _line_label(r, ignore)), {}).setdefault(r["seed"], {}).setdefault(x, r)
    sweeps: dict[str, dict[str, list[tuple[float, list[dict]]]]] = {}
    for (dataset, label), by_seed in sorted(grouped.items()):
        swept = sorted(seed for seed, at in by_seed.items() if len(at) > 1)
        if not swept:  # a model with one value of the option (the rest of Table 1) is not a line
            continue
        xs = sorted({x for seed in swept for x in by_seed[seed]})
        seeds = f"seed {swept[0]}" if len(swept) == 1 else f"mean of seeds {', '.join(map(str, swept))}"
        sweeps.setdefault(dataset, {})[f"{label}, {seeds}"] = [
            (x, [by_seed[seed][x] for seed in swept if x in by_seed[seed]]) for x in xs]
    return sweeps


def _panels(figure, datasets: list[str], columns: int = 1) -> list:
    """An axis per dataset, three to a row (``columns`` is 1), or a row of ``columns`` axes per dataset; titled
    with the dataset, the figure sized to fit."""
    if not datasets:
        return []
    rows, cols = (math.ceil(len(datasets) / 3), min(len(datasets), 3)) if columns == 1 else (len(datasets), columns)
    figure.set_size_inches(max(4.6 * cols, 7), 3.6 * rows + 0.8)
    axes = figure.subplots(rows, cols, squeeze=False)
    for axis in axes.flat[len(datasets) * columns:]:
        axis.set_visible(False)
    panels = list(axes.flat) if columns == 1 else [list(row) for row in axes]
    for dataset, panel in zip(datasets, panels):
        for axis in panel if columns > 1 else [panel]:
            axis.set_title(dataset, fontsize="small")
    return panels[:len(datasets)]


def _label_rows(panels: list, ylabel: str) -> None:
    """The y label on the first axis of each row of three."""
    for axis in panels[::3]:
        axis.set(ylabel=ylabel)


def _plot_mean(axis, points: list[tuple[float, list[dict]]], value: Callable[[dict], float | None], style: str = "-",
               **line) -> bool:
    """The mean over a point's seeds, with bars from the lowest to the highest seed where there are several."""
    kept = [(x, [v for v in map(value, rs) if v is not None]) for x, rs in points]
    kept = [(x, vs) for x, vs in kept if vs]
    if len(kept) < 2:
        return False
    xs, means = [x for x, _ in kept], [sum(vs) / len(vs) for _, vs in kept]
    spread = [[m - min(vs) for m, (_, vs) in zip(means, kept)], [max(vs) - m for m, (_, vs) in zip(means, kept)]]
    if any(len(vs) > 1 for _, vs in kept):
        axis.errorbar(xs, means, yerr=spread, fmt=style, marker="o", capsize=2, **line)
    else:
        axis.plot(xs, means, style, marker="o", **line)
    return True


def _accuracy_against(x_of: Callable, ignore: str, xlabel: str, log: bool = False):
    def draw(records: list[dict], figure) -> int:
        sweeps = _sweeps([r for r in records if r["stochastic"]], x_of, ignore)
        drawn = 0
        for axis, lines in zip(_panels(figure, list(sweeps)), sweeps.values()):
            for name, points in lines.items():
                drawn += _plot_mean(axis, points, lambda r: 100 * r["test_accuracy"], label=name)
            axis.set(xlabel=xlabel)
            if log:  # log spacing, the swept values as ticks
                axis.set_xscale("log", base=2)
                ticks = sorted({x for points in lines.values() for x, _ in points})
                axis.set_xticks(ticks, [f"{x:g}" for x in ticks])
                axis.minorticks_off()
        _label_rows(figure.axes, "test accuracy (%)")
        return drawn

    return draw


def _population(r: dict) -> float:
    return r["config"].get("population", 10)


def _evaluated(name: str, trained: str) -> Callable[[dict], float]:
    """The value an SNN ran at: its evaluation-time override, else the value it was trained with."""
    def value(r: dict) -> float:
        config = r["config"]
        found = (config.get("evaluate_at") or {}).get(name)
        return found if found is not None else config.get("snn", {}).get(trained)

    return value


def _draw_threshold(records: list[dict], figure) -> int:
    """Per dataset: accuracy, the share of neurons that spiked at all (the paper's y-axis), and the firing rate,
    mean spikes per neuron per step, which is what the energy estimate counts (a neuron can stay active while its
    rate halves)."""
    sweeps = _sweeps([r for r in records if r.get("activity")], _evaluated("threshold", "threshold"),
                     "evaluated at threshold")
    drawn = 0
    for (accuracy_axis, active_axis, rate_axis), lines in zip(_panels(figure, list(sweeps), 3), sweeps.values()):
        for name, points in lines.items():
            drawn += _plot_mean(accuracy_axis, points, lambda r: 100 * r["test_accuracy"], label=name)
            for layer, style in (("conv", "-"), ("pool", "--"), ("output", ":")):
                label = layer if len(lines) == 1 else f"{name}: {layer}"
                _plot_mean(active_axis, points, lambda r, layer=layer: _percent(_active_share(r["activity"], layer)),
                           style, label=label)
                _plot_mean(rate_axis, points, lambda r, layer=layer: _firing_rate(r["activity"], layer), style,
                           label=label)
        accuracy_axis.set(xlabel="firing threshold", ylabel="test accuracy (%)")
        active_axis.set(xlabel="firing threshold", ylabel="neurons that spiked in T steps (%)", ylim=(0, 100))
        rate_axis.set(xlabel="firing threshold", ylabel="firing rate (spikes per neuron per step)", ylim=(0, None))
    return drawn


def _percent(share: float | None) -> float | None:
    return None if share is None else 100 * share


def _active_share(activity: dict, prefix: str) -> float | None:
    """Share of a layer group's neurons that spiked at least once (the three widths together)."""
    return _neuron_mean(activity, prefix, "active")


def _firing_rate(activity: dict, prefix: str) -> float | None:
    """Mean spikes per neuron per step of a layer group (the three widths together)."""
    return _neuron_mean(activity, prefix, "rate")


def _neuron_mean(activity: dict, prefix: str, field: str) -> float | None:
    parts = [layer for name, layer in activity.items() if name.startswith(prefix)]
    if not parts:
        return None
    neurons = sum(p["neurons"] for p in parts)
    return sum(p[field] * p["neurons"] for p in parts) / neurons


def _draw_fine_tuning(records: list[dict], figure) -> int:
    """Per dataset, test (solid) and dev (dashed) accuracy at every epoch a fine-tuning ran, the epoch it kept (best
    dev) starred: one run per model, its lowest seed (the paper draws one run). Runs evaluated at other settings
    share their model's checkpoint and history, so each history is drawn once."""
    from matplotlib.ticker import MaxNLocator

    runs: dict[str, dict[str, dict]] = {}
    for r in records:
        history = r["model_provenance"].get("history") if r["model"] == "snn-ft" else None
        if history and "test_accuracy" in history[0]:
            label, kept = _line_label(r, "evaluated at"), runs.setdefault(r["dataset"], {})
            if label not in kept or r["seed"] < kept[label]["seed"]:
                kept[label] = r
    for axis, (_, lines) in zip(_panels(figure, sorted(runs)), sorted(runs.items())):
        for label, r in sorted(lines.items()):
            history = r["model_provenance"]["history"]
            epochs = [h["epoch"] for h in history]
            test = [100 * h["test_accuracy"] for h in history]
            [line] = axis.plot(epochs, test, marker=".", label=f"{label}, seed {r['seed']}")
            axis.plot(epochs, [100 * h["dev_accuracy"] for h in history], "--", color=line.get_color())
            best = r["model_provenance"].get("best_epoch")
            if best in epochs:
                axis.plot([best], [test[epochs.index(best)]], "*", color=line.get_color(), markersize=11)
        axis.set(xlabel="fine-tuning epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.legend(fontsize="xx-small", loc="upper center", bbox_to_anchor=(0.5, -0.2))  # below: curves stay visible
    _label_rows([axis for axis in figure.axes if axis.get_visible()], "accuracy (%)")
    return sum(len(lines) for lines in runs.values())


def _full_strength(records: list[dict]) -> dict[tuple, dict]:
    """The stochastic models' Table 2 runs at full strength (no query budget), one per (dataset, attack, protocol,
    model and settings): the one with the most examples (the paper's 1000 where it exists)."""
    runs: dict[tuple, dict] = {}
    for r in records:
        if r["stochastic"] and query_budget(r) is None:
            key = (r["dataset"], r["attack"], r["sampling"]["protocol"], model_label(r) + _other(r))
            if key not in runs or r["metrics"]["n"] > runs[key]["metrics"]["n"]:
                runs[key] = r
    return runs


def _other(r: dict) -> str:
    """A label's qualifiers: the model, when not the paper's Table 2 SNN (the population-1 fine-tuned one), and
    the attack settings, when not the paper's."""
    model = "" if r["model"] == "snn-ft" and r["config"].get("population") == 1 else f", {model_label(r)}"
    return model + ("" if r["settings"] == "paper" else f", {r['settings']} settings")


def _dataset_panels(figure, runs: dict[tuple, dict]) -> dict[str, object]:
    """One axis per dataset of ``runs``, side by side."""
    datasets = sorted({dataset for dataset, *_ in runs})
    axes = figure.subplots(1, len(datasets), sharey=True, squeeze=False)[0] if datasets else []
    for axis, dataset in zip(axes, datasets):
        axis.set_title(dataset, fontsize="small")
    return dict(zip(datasets, axes))


_PROTOCOL_LINES = {"fresh": "-", "frozen": "--", "seeded": ":"}  # eot:K and the rest: dash-dot
_MARKERS = ".os^vD<>"


def _attack_colours(runs) -> dict[str, tuple]:
    """A colour per attack of ``runs``, the same in every panel."""
    from matplotlib import colormaps

    colours = colormaps["tab10"].colors
    return {attack: colours[i % len(colours)] for i, attack in enumerate(sorted({r["attack"] for r in runs}))}


def _run_styles(runs) -> Callable[[object, dict], dict]:
    """A run's look in a panel: its attack's colour and a line style per SNN protocol, so a panel of thirty runs
    reads by attack and protocol; runs alike in both (other K, other settings) get other markers."""
    colours, taken = _attack_colours(runs), {}

    def style(axis, r: dict) -> dict:
        look = (colours[r["attack"]], _PROTOCOL_LINES.get(r["sampling"]["protocol"], "-."))
        alike = taken.setdefault((id(axis), look), [])
        alike.append(r)
        return {"color": look[0], "linestyle": look[1], "marker": _MARKERS[(len(alike) - 1) % len(_MARKERS)]}

    return style


def _draw_rescoring(records: list[dict], figure) -> int:
    """Per dataset, each attack and protocol against the SNN: the success rate its own queries saw, and re-scored."""
    runs = {key: r for key, r in _full_strength(records).items() if r["metrics"]["suc"] is not None}
    panels = _dataset_panels(figure, runs)
    for dataset, axis in panels.items():
        rows = [r for (d, *_), r in sorted(runs.items()) if d == dataset]
        xs = range(len(rows))
        axis.bar([x - 0.2 for x in xs], [100 * r["metrics"]["suc"] for r in rows], 0.4, label="attack's own queries")
        axis.bar([x + 0.2 for x in xs], [100 * (r["rescored"]["metrics"]["suc"] or 0) for r in rows], 0.4,
                 label="re-scored (majority of fresh draws)")
        axis.set_xticks(list(xs), [f"{r['attack']} {r['sampling']['protocol']} N={r['metrics']['n']}{_other(r)}"
                                   for r in rows], fontsize="xx-small", rotation=90)  # one line a run: no overlaps
    if panels:
        next(iter(panels.values())).set(ylabel="attack success rate against the SNN (%)")
    return len(runs)


def held_share(clean: list[int], adversarial: list[int], raw: str, total: int, draws: int) -> float | None:
    """Expected share of the attack's successes that a strict majority of ``draws`` of the ``total`` recorded
    fresh draws confirms (clean text correct, final text not), over every way of choosing those draws: the
    hypergeometric law of the correct draws among them."""
    def majority(correct: int) -> float:
        return sum(math.comb(correct, i) * math.comb(total - correct, draws - i)
                   for i in range(draws // 2 + 1, draws + 1)) / math.comb(total, draws)

    successes = [i for i, code in enumerate(raw) if code == "s"]
    if not successes:
        return None
    return sum(majority(clean[i]) * (1 - majority(adversarial[i])) for i in successes) / len(successes)


def _draw_holdup(records: list[dict], figure) -> int:
    """Per dataset, each attack and protocol against the SNN: the share of its successes a majority of r fresh
    draws confirms, as r grows."""
    runs = {key: r for key, r in _full_strength(records).items() if "s" in r["outcomes"]}
    panels, style = _dataset_panels(figure, runs), _run_styles(runs.values())
    for (dataset, attack, protocol, _), r in sorted(runs.items()):
        again, total = r["rescored"], r["rescored"]["draws"]
        draws = sorted(set(range(1, total + 1, 2)) | {total})  # at r = R: the recorded "successes held"
        shares = [held_share(again["clean_correct_draws"], again["adversarial_correct_draws"], r["outcomes"], total, d)
                  for d in draws]
        panels[dataset].plot(draws, [100 * s for s in shares], markersize=4, **style(panels[dataset], r),
                             label=f"{attack} {protocol} (N={r['metrics']['n']}){_other(r)}")
    for axis in panels.values():
        axis.set(xlabel="fresh draws per text (majority vote)", ylim=(0, 100))
        axis.legend(fontsize="xx-small", loc="upper center", bbox_to_anchor=(0.5, -0.15))  # below: lines stay visible
    if panels:
        next(iter(panels.values())).set(ylabel="successes that hold up (%)")
    return len(runs)


def _draw_eot(records: list[dict], figure) -> int:
    """Per dataset and attack, the SNN's accuracy under attack as the draws averaged per query grow (fresh = 1),
    on the examples every point shares: the runs' first N, N the smallest run's (the selection is the same
    permutation's prefix); the attack's own queries solid, re-scored dashed, a colour per attack."""
    lines: dict[tuple, list[tuple[int, dict]]] = {}
    for (dataset, attack, _, model), r in _full_strength(records).items():
        k = _eot_draws(r)
        if k is not None:
            lines.setdefault((dataset, attack, model), []).append((k, r))
    lines = {key: sorted(points, key=lambda p: p[0]) for key, points in sorted(lines.items()) if len(points) > 1}
    datasets = sorted({dataset for dataset, *_ in lines})
    panels = dict(zip(datasets, _panels(figure, datasets)))
    colours = _attack_colours([r for points in lines.values() for _, r in points])
    for (dataset, attack, _), points in lines.items():
        axis, first = panels[dataset], points[0][1]
        n = min(r["metrics"]["n"] for _, r in points)
        ks, look = [k for k, _ in points], {"color": colours[attack], "marker": "o"}
        axis.plot(ks, [100 * summarize(r["outcomes"][:n])["boa"] for _, r in points], **look,
                  label=f"{attack} (first {n}){_other(first)}")
        axis.plot(ks, [100 * summarize(r["rescored"]["outcomes"][:n])["boa"] for _, r in points], "--", **look)
    for axis in panels.values():
        ks = sorted({x for line in axis.lines for x in line.get_xdata()})
        axis.set(xlabel="draws averaged per query (K; fresh = 1)", xticks=ks)
    _label_rows(list(panels.values()), "SNN accuracy under attack, Boa (%)")
    return len(lines)


def _draw_strength(records: list[dict], figure) -> int:
    """The attack-strength check (Athalye et al. 2018): accuracy under the adaptive attack against EOT draws per
    query (left) and against the query budget (right), each model's line side by side (a deterministic model runs
    once: a flat line). A stronger attack may only lower a line; a line that rises says the attack is broken.
    Points compare the same examples only: a panel draws the example counts N at which some model was swept."""
    draws_axis, budget_axis = figure.subplots(1, 2, sharey=True)
    adaptive = [r for r in records if r["attack"] == "gradient-eot" and r["settings"] == "paper"]
    drawn = 0
    for axis, x_of, pick in ((draws_axis, _eot_draws, lambda r: query_budget(r) is None),
                             (budget_axis, query_budget, lambda r: query_budget(r) is not None)):
        lines: dict[str, list[tuple]] = {}
        for r in adaptive:
            if pick(r) and x_of(r) is not None:
                lines.setdefault(f"{r['dataset']} {model_label(r)} (N = {r['metrics']['n']})", []).append((x_of(r), r))
        swept = {points[0][1]["metrics"]["n"] for points in lines.values() if len({x for x, _ in points}) > 1}
        lines = {name: points for name, points in lines.items() if points[0][1]["metrics"]["n"] in swept}
        xs = sorted({x for points in lines.values() for x, _ in points})
        for name, points in lines.items():
            points.sort(key=lambda p: p[0])
            if len(points) == 1 and len(xs) > 1:  # deterministic: the same at every K
                points = [(x, points[0][1]) for x in (xs[0], xs[-1])]
            axis.plot([x for x, _ in points], [100 * r["rescored"]["metrics"]["boa"] for _, r in points],
                      marker="o", label=name)
            drawn += 1
    draws_axis.set(xlabel="draws averaged per query (K; fresh = 1)", ylabel="accuracy under attack, re-scored (%)")
    budget_axis.set(xlabel="queries per example (budget)")
    return drawn


def _eot_draws(r: dict) -> int | None:
    protocol = r["sampling"]["protocol"]
    if protocol.startswith("eot:"):
        return int(protocol.split(":")[1])
    return 1 if protocol in ("fresh", "deterministic") else None


PLOTS = {
    "population": Plot("table1", "Fig. 3a: accuracy against output neurons per class", "recipes/fig3-population.yaml",
                       _accuracy_against(_population, "population", "output neurons per class", log=True)),
    "beta": Plot("table1", "Fig. 3b: accuracy against the membrane decay β", "recipes/fig3-beta.yaml",
                 _accuracy_against(_evaluated("beta", "beta"), "evaluated at β", "membrane decay β")),
    "threshold": Plot("table1", "Figs. 3c/d, 4b/c: accuracy, active neurons and firing rate against the threshold",
                      "recipes/fig-threshold.yaml", _draw_threshold, size=(14, 4.5)),
    "fine-tuning": Plot("table1", "Fig. 4a: accuracy through fine-tuning (test solid, dev dashed, the kept epoch "
                        "starred)", "recipes/table1.yaml", _draw_fine_tuning),
    "steps": Plot("table1", "Fig. 5: accuracy against time steps T", "recipes/fig5-steps.yaml",
                  _accuracy_against(_evaluated("steps", "steps"), "evaluated at T", "time steps T")),
    "rescoring": Plot("table2", "Success rate against the SNN: the attack's own queries vs re-scored with fresh draws",
                      "recipes/paper-table2.yaml", _draw_rescoring, size=(14, 5.5)),
    "holdup": Plot("table2", "Successes against the SNN that hold up as the number of re-scoring draws grows",
                   "recipes/paper-table2.yaml", _draw_holdup, size=(14, 7.5)),
    "eot": Plot("table2", "The SNN's accuracy under attack as EOT's K grows (the attack's own queries solid, "
                "re-scored dashed)", "recipes/paper-table2-eot.yaml",
                _draw_eot, size=(9, 5)),
    "strength": Plot("table2", "Attack strength: the adaptive attack against EOT draws and query budget",
                     "recipes/strength.yaml", _draw_strength, size=(10, 4.5)),
}


def plot(name: str, results: Path, datasets: list[str] | None = None, records: list[dict] | None = None
         ) -> list[Path]:
    """Render figure ``name`` from the records under ``results`` (or ``records``, read from there already) into
    ``results/figures/NAME.png`` and ``.pdf``."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    if name not in PLOTS:
        raise unknown_name("plot", name, PLOTS)
    spec = PLOTS[name]
    records = [r for r in (read_records(results, skip=("legacy",)) if records is None else records)
               if r["table"] == spec.table and (not datasets or r["dataset"] in datasets)]
    figure = plt.figure(figsize=spec.size)
    try:
        if not spec.draw(records, figure):
            raise UserError(f"nothing to draw for plot {name}: no {spec.table} records under {results} hold what it "
                            f"plots; run `snn-robust grid {spec.recipe}` first")
        figure.suptitle(spec.title, fontsize="medium")
        for axis in figure.axes:
            if axis.get_legend() is None and axis.get_legend_handles_labels()[0]:
                axis.legend(fontsize="x-small")
            axis.grid(alpha=0.3)
        figure.tight_layout()
        out = results / "figures"
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / f"{name}.png", out / f"{name}.pdf"]
        for path in paths:
            # no timestamps in the files: the same records give the same bytes (with the same matplotlib)
            with writing(path):
                figure.savefig(path, dpi=120,
                               metadata={"CreationDate": None} if path.suffix == ".pdf" else {"Software": None})
        (out / RENDERED_WITH).write_text(f"matplotlib {matplotlib.__version__}\n")
        return paths
    finally:
        plt.close(figure)
