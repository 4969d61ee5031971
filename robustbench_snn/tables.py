"""Tables rendered only from stored records (Markdown, CSV and LaTeX).

A row is a model kind *and its options* (population, pool neurons, evaluation-time settings, ...: see
:func:`~robustbench_snn.config.options_label`); records that would still fill the same cell under different
identities are shown apart with their digest, never pooled.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tabulate import tabulate

from robustbench_snn.claims import claims_table, worst_case_comparison, worst_case_pairs
from robustbench_snn.config import option_label
from robustbench_snn.data.registry import dataset_names
from robustbench_snn.errors import writing
from robustbench_snn.models.registry import model_kind_names, title_of
from robustbench_snn.outcomes import counts, metric_ratios
from robustbench_snn.paper import TABLE1 as PAPER_TABLE1
from robustbench_snn.records import held_up_text, query_budget, read_records, record_options
from robustbench_snn.stats import paired_comparison, wilson, worst_case


def _dataset_order(name: str) -> int:
    """Columns and row groups follow the registry: the paper's six in its order, then registered datasets."""
    names = dataset_names()
    return names.index(name) if name in names else len(names)


def variants(records: list[dict], key) -> list[str]:
    """Per record, "" or the identity digest that tells it apart: records that share ``key(record)`` (the cell
    and seed they would fill) but not their identity come from different configurations, and a table must show
    them apart instead of pooling them."""
    digests: dict = {}
    for r in records:
        digests.setdefault(key(r), set()).add(r.get("identity_digest"))
    return [r.get("identity_digest") or "unversioned" if len(digests[key(r)]) > 1 else "" for r in records]


def attack_label(record: dict) -> str:
    """The attack column: the attack's name, with its query budget when one capped it."""
    budget = query_budget(record)
    return record["attack"] if budget is None else f"{record['attack']} (≤ {budget} queries)"


# an option every record of a table has, which the table's title already says (Table 3: random vectors)
_TABLE_OPTIONS = {"table3": option_label("random_embeddings", True)}


def model_label(record: dict, variant: str = "") -> str:
    """The row name: the kind's name, its non-default options (less the one its table stands for), and a digest
    only when still ambiguous."""
    name = title_of(record["model"])
    implied = _TABLE_OPTIONS.get(record.get("table"))
    options = ", ".join(o for o in record_options(record) if o != implied)
    name = f"{name} ({options})" if options else name
    return f"{name} [{variant}]" if variant else name


def _mean_std(values: pd.Series, digits: int = 2) -> str:
    """``mean ± std`` over seeds; one value has no spread to show (not "± 0.00")."""
    if len(values) < 2:
        return f"{values.mean():.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def _model_order(record: dict) -> int:
    kinds = model_kind_names()
    return kinds.index(record["model"]) if record["model"] in kinds else len(kinds)


def accuracy_table(records: list[dict]) -> pd.DataFrame:
    """Model x dataset cells of ``mean ± std (n)`` test accuracy in %, with the paper's values beside."""
    labels = variants(records, lambda r: (r["dataset"], r["model"], r.get("options", ""), r["seed"]))
    frame = pd.DataFrame([{"dataset": r["dataset"], "model": r["model"], "row": model_label(r, v),
                           "order": _model_order(r), "acc": 100 * r["test_accuracy"]}
                          for r, v in zip(records, labels)])
    rows = []
    for (order, row_name, model), part in frame.groupby(["order", "row", "model"], sort=True):
        row = {"model": row_name}
        for dataset in sorted(set(frame["dataset"]), key=lambda d: (_dataset_order(d), d)):
            values = part[part["dataset"] == dataset]["acc"]
            if len(values):
                row[dataset] = f"{_mean_std(values)} ({len(values)})"
            paper = PAPER_TABLE1.get((dataset, model)) if records[0]["table"] == "table1" and \
                row_name == title_of(model) else None
            if paper is not None:
                row[f"{dataset} (paper)"] = f"{paper:.2f}"
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def energy_table(records: list[dict]) -> pd.DataFrame:
    """Table 5: per dataset and SNN, operations per example and, per convention, the ANN/SNN energy ratio, the
    break-even T and the ratio with the first layer priced as MACs (mean ± std over seeds)."""
    labels = variants(records, lambda r: (r["dataset"], r["model"], r.get("options", ""), r["seed"]))
    rows = []
    keyed = sorted(zip(records, labels), key=lambda x: (_dataset_order(x[0]["dataset"]), x[0]["dataset"],
                                                         _model_order(x[0]), model_label(*x)))
    groups: dict[tuple, list[dict]] = {}
    for record, variant in keyed:
        groups.setdefault((record["dataset"], model_label(record, variant)), []).append(record)
    for (dataset, label), part in groups.items():
        row = {"dataset": dataset, "SNN": label, "seeds": len(part), "T": part[0]["steps"],
               "ANN MMACs": f"{part[0]['flops'] / 1e6:.3f}",
               "SNN MACs→ACs (M)": _mean_std(pd.Series([r["snn_acs"] / 1e6 for r in part]), 3),
               "SNN MACs on rates (M)": _mean_std(pd.Series([r["snn_macs"] / 1e6 for r in part]), 3),
               "neuron updates (M)": _mean_std(pd.Series([r["neuron_updates"] / 1e6 for r in part]), 3)}
        for name in part[0]["energy"]:
            energies = [r["energy"][name] for r in part]
            row[f"ANN/SNN {name}"] = _mean_std(pd.Series([e["reduction"] for e in energies]), 3) + "x"
            row[f"break-even T {name}"] = _mean_std(pd.Series([e["break_even_steps"] or float("nan")
                                                              for e in energies]), 1)
            row[f"first layer MAC {name}"] = _mean_std(pd.Series([e["first_layer_mac"]["reduction"]
                                                                 for e in energies]), 3) + "x"
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(value: float | None) -> str:
    return "" if value is None or pd.isna(value) else f"{value:.1f}"


def _with_interval(value: float | None, interval) -> str:
    if value is None:
        return ""
    return f"{value:.1f} [{interval[0]:.1f}, {interval[1]:.1f}]" if interval else f"{value:.1f}"


def _cells(outcomes: list[str], prefix: str = "") -> dict:
    """Cln / Boa / Suc (%) with 95% intervals from the pooled per-example outcomes of the seeds of one row."""
    s, f, n = (sum(x) for x in zip(*(counts(o) for o in outcomes)))
    cells = {}
    for name, (hits, total) in metric_ratios(s, f, n).items():
        interval = wilson(hits, total)
        cells[f"{name.capitalize()}{prefix}"] = _with_interval(
            100 * hits / total if total else None, interval and (100 * interval[0], 100 * interval[1]))
    return cells


_ROW_KEYS = ("dataset", "attack", "settings", "model", "sampling", "N")


def attack_table(records: list[dict]) -> pd.DataFrame:
    """Table 2: Cln / Boa / Suc (%) with 95% Wilson intervals per dataset x attack x settings x model x sampling x
    N, raw and re-scored with R fresh draws (seeds pooled per example), queries and perturbed-word share; and per
    (dataset, settings, model, sampling, N) attacked by several attacks a worst-case row: an example counts as
    robust only if no attack succeeded (AutoAttack's rule)."""
    labels = variants(records, lambda r: (r["dataset"], attack_label(r), r["settings"], r["model"], r.get("options", ""),
                                          r["sampling"]["protocol"], r["metrics"]["n"], r["seed"]))
    groups: dict[tuple, list[dict]] = {}
    for r, variant in zip(records, labels):
        key = (r["dataset"], attack_label(r), r["settings"], model_label(r, variant), r["sampling"]["protocol"],
               r["metrics"]["n"])
        groups.setdefault(key, []).append(r)
    rows = []
    for key, part in groups.items():
        rows.append(dict(zip(_ROW_KEYS, key)) | {"seeds": len(part), **_cells([r["outcomes"] for r in part]),
                    **_cells([r["rescored"]["outcomes"] for r in part], " (R)"), "R": part[0]["rescored"]["draws"],
                    "successes held": "; ".join(held_up_text(r["rescored"]["held_up"]["succeeded"]) for r in part),
                    "queries": _fmt(sum(r["mean_queries"] for r in part) / len(part)),
                    "perturbed %": _fmt(100 * sum(r["mean_perturbed_share"] or 0 for r in part) / len(part)),
                    "similarity": _mean_similarity(part)})
    rows += _worst_case_rows(groups)
    frame = pd.DataFrame(rows)
    frame["_worst"] = frame["attack"].str.startswith("worst case")
    frame = frame.sort_values(["dataset", "settings", "_worst", "attack", "model", "sampling", "N"],
                              key=lambda c: c.map(_dataset_order) if c.name == "dataset" else c, kind="stable")
    return frame.drop(columns="_worst").astype(object).fillna("").reset_index(drop=True)


def _mean_similarity(part: list[dict]) -> str:
    """Mean sentence similarity of the successful adversarial texts over a cell's runs ("" where a run lacks it:
    a record from before it was recorded, until `snn-robust migrate` adds it)."""
    values = [r.get("mean_similarity") for r in part]
    if not values or any(v is None for v in values):
        return ""
    return f"{sum(values) / len(values):.3f}"


def _worst_case_rows(groups: dict[tuple, list[dict]]) -> list[dict]:
    by_model: dict[tuple, dict[str, list[dict]]] = {}
    for (dataset, attack, settings, model, sampling, n), part in groups.items():
        if query_budget(part[0]) is not None:  # a capped run is a strength-study point, not another attack
            continue
        by_model.setdefault((dataset, settings, model, sampling, n), {})[attack] = part
    rows = []
    for (dataset, settings, model, sampling, n), attacks in by_model.items():
        seeds = set.intersection(*({r["seed"] for r in part} for part in attacks.values()))
        if len(attacks) < 2 or not seeds:
            continue
        pick = {a: {r["seed"]: r for r in part} for a, part in attacks.items()}
        raw = [worst_case([pick[a][s]["outcomes"] for a in attacks]) for s in sorted(seeds)]
        again = [worst_case([pick[a][s]["rescored"]["outcomes"] for a in attacks]) for s in sorted(seeds)]
        rows.append({"dataset": dataset, "attack": f"worst case ({', '.join(sorted(attacks))})",
                     "settings": settings, "model": model, "sampling": sampling, "N": n, "seeds": len(seeds),
                     **_cells(raw), **_cells(again, " (R)")})
    return rows


def paired_table(records: list[dict]) -> pd.DataFrame:
    """Each stochastic model's run (the SNNs) against an ANN's run on the same examples (same dataset, attack,
    settings, seed and N): the original TextCNN, and the tailored TextCNN of the SNN's population (its ANN twin:
    robustness it shares comes from the tailoring, not from spikes). Boa of both, the SNN's gain in Boa with a
    paired-bootstrap 95% interval, and McNemar's exact test on the examples exactly one model withstood; raw and
    re-scored (R: the strict majority of fresh draws, a transfer of the crafted texts, not robust accuracy)."""
    def key(r: dict) -> tuple:
        return r["dataset"], attack_label(r), r["settings"], r["seed"], r["metrics"]["n"]

    references = {("TextCNN", key(r)): r for r in records if r["model"] == "textcnn"}
    references |= {("tailored twin", key(r) + (r["config"].get("population"),)): r
                   for r in records if r["model"] == "tailored"}
    rows = []
    for r in records:
        if not r["stochastic"]:
            continue
        for name, reference_key in (("TextCNN", key(r)), ("tailored twin", key(r) + (r["config"].get("population"),))):
            ann = references.get((name, reference_key))
            if ann is None:
                continue
            row = {"dataset": r["dataset"], "attack": attack_label(r), "settings": r["settings"], "SNN": model_label(r),
                   "sampling": r["sampling"]["protocol"], "against": name, "seed": r["seed"], "N": r["metrics"]["n"]}
            for suffix, outcomes in (("", lambda x: x["outcomes"]), (" (R)", lambda x: x["rescored"]["outcomes"])):
                row |= _comparison_cells(paired_comparison(outcomes(ann), outcomes(r), seed=r["seed"]), suffix)
            rows.append(row)
    return pd.DataFrame(rows)


def _comparison_cells(test: dict, suffix: str) -> dict:
    """The columns of a :func:`~robustbench_snn.stats.paired_comparison` (ANN first, SNN second), ``suffix`` on
    every name (" (R)": of re-scored outcomes)."""
    low, high = test["boa_difference"]["ci95"]
    return {f"Boa ANN{suffix}": f"{100 * test['boa_first']:.1f}",
            f"Boa SNN{suffix}": f"{100 * test['boa_second']:.1f}",
            f"ΔBoa{suffix}": f"{100 * test['boa_difference']['difference']:+.1f} [{100 * low:+.1f}, "
                             f"{100 * high:+.1f}]",
            f"SNN-only / ANN-only robust{suffix}": f"{test['robust_only_second']} / {test['robust_only_first']}",
            f"McNemar p{suffix}": f"{test['mcnemar_p']:.3g}"}


def worst_case_table(records: list[dict]) -> pd.DataFrame:
    """Per dataset, and pooled: Boa when an example counts as robust only if no attack, the adaptive ones included,
    succeeded (re-scored outcomes; :func:`~robustbench_snn.claims.worst_case_pairs`), for the SNN against the
    TextCNN and against its ANN twin, with the paired difference and McNemar's test."""
    rows = []
    for reference, name in (("textcnn", "TextCNN"), ("tailored", "tailored twin")):
        pairs = worst_case_pairs(records, reference)
        parts = [(snn[0]["dataset"], [(ann, snn)]) for ann, snn in pairs] + [("pooled", pairs)] * (len(pairs) > 1)
        for label, part in parts:
            test = worst_case_comparison(part)
            rows.append({"dataset": label, "against": name, "N": test["n"],
                         "attacks": ", ".join(sorted({r["attack"] for _, s in part for r in s})),
                         "SNN protocols": ", ".join(sorted({r["sampling"]["protocol"] for _, s in part for r in s})),
                         **_comparison_cells(test, " (R)")})
    return pd.DataFrame(rows)


# table name -> (the ``table`` its records name, or None: every record; renderer)
TABLES = {"table1": ("table1", accuracy_table), "table2": ("table2", attack_table),
          "table3": ("table3", accuracy_table), "table5": ("table5", energy_table),
          "paired": ("table2", paired_table), "worst-case": ("table2", worst_case_table),
          "claims": (None, claims_table)}


def render(records: list[dict], table: str, out_stem: Path | None = None) -> str:
    """Markdown for the ``records`` that belong to ``table`` (records name their table; others are left out); also
    writes ``<out_stem>.md``, ``.csv`` and ``.tex`` when given."""
    kind, renderer = TABLES[table]
    records = [r for r in records if kind is None or r.get("table") == kind]
    if not records:
        return f"no {table} records"
    frame = renderer(records)
    if frame.empty:
        return f"no {table} rows (a paired table needs an SNN and a TextCNN run on the same examples)"
    markdown = tabulate(frame, headers="keys", tablefmt="github", showindex=False)
    if out_stem is not None:
        out_stem.parent.mkdir(parents=True, exist_ok=True)
        for suffix, write in ((".md", lambda p: p.write_text(markdown + "\n")),
                              (".csv", lambda p: frame.to_csv(p, index=False)),
                              (".tex", lambda p: p.write_text(frame.to_latex(index=False, escape=True)))):
            with writing(out_stem.with_suffix(suffix)):
                write(out_stem.with_suffix(suffix))
    return markdown


def render_results(results: Path, table: str, write: bool = True) -> str:
    """Render every readable record under ``results`` that names ``table`` as its table (damaged ones are skipped
    with a warning; ``legacy/`` holds unversioned records kept for reference), writing
    ``results/tables/<table>.{md,csv,tex}`` when ``write``."""
    return render(read_records(results, skip=("legacy",)), table, results / "tables" / table if write else None)
