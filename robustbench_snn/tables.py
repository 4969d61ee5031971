"""Tables rendered only from stored records."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tabulate import tabulate

from robustbench_snn.records import read_records
from robustbench_snn.train import MODEL_KINDS

# Lv et al. (2023), Table 1, as quoted in this project's issues (accuracy %); others left blank, not guessed.
PAPER_TABLE1 = {("sst2", "textcnn"): 83.25, ("sst2", "snn-ft"): 80.91}
DATASET_ORDER = ["mr", "sst2", "sst5", "subj", "chnsenti", "waimai"]


def variants(records: list[dict], key) -> list[str]:
    """Per record, "" or the identity digest that tells it apart: records that share ``key(record)`` (the cell
    and seed they would fill) but not their identity come from different configurations, and a table must show
    them apart instead of pooling them."""
    digests: dict = {}
    for r in records:
        digests.setdefault(key(r), set()).add(r.get("identity_digest"))
    return [r.get("identity_digest") or "unversioned" if len(digests[key(r)]) > 1 else "" for r in records]


def _labelled(name: str, variant: str) -> str:
    return f"{name} [{variant}]" if variant else name


def _mean_std(values: pd.Series, digits: int = 2) -> str:
    """``mean ± std`` over seeds; one value has no spread to show (not "± 0.00")."""
    if len(values) < 2:
        return f"{values.mean():.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def accuracy_table(records: list[dict]) -> pd.DataFrame:
    """Model x dataset cells of ``mean ± std (n)`` test accuracy in %, with the paper's values beside."""
    labels = variants(records, lambda r: (r["dataset"], r["model"], r["seed"]))
    frame = pd.DataFrame([{"dataset": r["dataset"], "model": r["model"], "variant": v, "acc": 100 * r["test_accuracy"]}
                          for r, v in zip(records, labels)])
    rows = []
    for (model, variant), part in frame.groupby(["model", "variant"], sort=False):
        row = {"model": _labelled(MODEL_KINDS[model], variant)}
        for dataset in [d for d in DATASET_ORDER if d in set(frame["dataset"])]:
            values = part[part["dataset"] == dataset]["acc"]
            if len(values):
                row[dataset] = f"{_mean_std(values)} ({len(values)})"
            paper = PAPER_TABLE1.get((dataset, model)) if records[0]["table"] == "table1" else None
            if paper is not None:
                row[f"{dataset} (paper)"] = f"{paper:.2f}"
        rows.append((list(MODEL_KINDS).index(model), variant, row))
    return pd.DataFrame([row for *_, row in sorted(rows, key=lambda x: x[:2])]).fillna("")


def energy_table(records: list[dict]) -> pd.DataFrame:
    """Table 5: per dataset, ANN and SNN operations and energy per example (mean ± std over seeds)."""
    labels = variants(records, lambda r: (r["dataset"], r["seed"]))
    frame = pd.DataFrame(records).assign(cell=[_labelled(r["dataset"], v) for r, v in zip(records, labels)])
    rows = []
    for dataset in [c for d in DATASET_ORDER for c in sorted(set(frame["cell"])) if c.split(" [")[0] == d]:
        part = frame[frame["cell"] == dataset]
        constants = sorted({(r.e_mac_pj, r.e_ac_pj) for r in part.itertuples()})
        rows.append({"dataset": dataset, "seeds": len(part), "T": int(part["steps"].iloc[0]),
                     "ANN MFLOPs": f"{part['flops'].iloc[0] / 1e6:.3f}",
                     "SNN MSOPs": _mean_std(part["sops"] / 1e6, 3),
                     "ANN energy (µJ)": f"{part['ann_pj'].iloc[0] / 1e6:.3f}",
                     "SNN energy (µJ)": _mean_std(part["snn_pj"] / 1e6, 3),
                     "reduction (ANN/SNN)": _mean_std(part["reduction"], 3),
                     "E_MAC, E_AC (pJ)": "; ".join(f"{m}, {a}" for m, a in constants)})
    return pd.DataFrame(rows)


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def attack_table(records: list[dict]) -> pd.DataFrame:
    """Table 2: Cln / Boa / Suc (%) per dataset x attack x model x N attacked examples, raw and re-scored with
    fresh draws, plus queries and perturbed-word share; seeds are pooled by mean."""
    rows = []
    labels = variants(records, lambda r: (r["dataset"], r["attack"], r["settings"], r["model"], r["sampling"],
                                          r["metrics"]["n"], r["seed"]))
    for r, variant in zip(records, labels):
        raw, again = r["metrics"], r["rescored"]["metrics"]
        rows.append({"dataset": r["dataset"], "attack": r["attack"], "settings": r["settings"],
                     "model": _labelled(MODEL_KINDS.get(r["model"], r["model"]), variant), "sampling": r["sampling"], "seed": r["seed"],
                     "N": raw["n"], "Cln": raw["cln"], "Boa": raw["boa"], "Suc": raw["suc"],
                     "Cln (R)": again["cln"], "Boa (R)": again["boa"], "Suc (R)": again["suc"],
                     "R": r["rescored"]["draws"], "successes held": r["rescored"]["held_up"]["succeeded"],
                     "failures held": r["rescored"]["held_up"]["failed"], "queries": r["mean_queries"],
                     "perturbed %": None if r["mean_perturbed_share"] is None else 100 * r["mean_perturbed_share"]})
    frame = pd.DataFrame(rows)
    keys = ["dataset", "attack", "settings", "model", "sampling", "N"]
    order = {name: i for i, name in enumerate(DATASET_ORDER)}
    frame = frame.sort_values(keys, key=lambda c: c.map(order) if c.name == "dataset" else c)
    numeric = ["Cln", "Boa", "Suc", "Cln (R)", "Boa (R)", "Suc (R)", "queries", "perturbed %"]
    grouped = frame.groupby(keys, sort=False).agg(
        {"seed": "count", **{c: "mean" for c in numeric}, "R": "first",
         "successes held": lambda x: "; ".join(x), "failures held": lambda x: "; ".join(x)}).reset_index()
    for column in numeric:
        grouped[column] = grouped[column].map(_fmt)
    return grouped.rename(columns={"seed": "seeds"})


TABLES = {"table1": accuracy_table, "table2": attack_table, "table3": accuracy_table, "table5": energy_table}


def render(records: list[dict], table: str, out_stem: Path | None = None) -> str:
    """Markdown for ``records`` of ``table`` (the records name their table; others are left out); also writes
    ``<out_stem>.md``, ``.csv`` and (Table 2) ``.tex`` when given."""
    records = [r for r in records if r.get("table") == table]
    if not records:
        return f"no {table} records"
    frame = TABLES[table](records)
    markdown = tabulate(frame, headers="keys", tablefmt="github", showindex=False)
    if out_stem is not None:
        out_stem.parent.mkdir(parents=True, exist_ok=True)
        out_stem.with_suffix(".md").write_text(markdown + "\n")
        frame.to_csv(out_stem.with_suffix(".csv"), index=False)
        if table == "table2":
            out_stem.with_suffix(".tex").write_text(frame.to_latex(index=False, escape=True))
    return markdown


def render_results(results: Path, table: str, write: bool = True) -> str:
    """Render every readable ``table`` record under ``results/<table>`` (damaged ones are skipped with a warning),
    writing ``results/tables/<table>.*`` when ``write``."""
    return render(read_records(results / table), table, results / "tables" / table if write else None)
