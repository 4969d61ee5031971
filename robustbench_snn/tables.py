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


def _mean_std(values: pd.Series, digits: int = 2) -> str:
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.{digits}f} ± {std:.{digits}f}"


def accuracy_table(records: list[dict]) -> pd.DataFrame:
    """Model x dataset cells of ``mean ± std (n)`` test accuracy in %, with the paper's values beside."""
    frame = pd.DataFrame([{"dataset": r["dataset"], "model": r["model"], "acc": 100 * r["test_accuracy"]}
                          for r in records])
    rows = []
    for model in [m for m in MODEL_KINDS if m in set(frame["model"])]:
        row = {"model": MODEL_KINDS[model]}
        for dataset in [d for d in DATASET_ORDER if d in set(frame["dataset"])]:
            values = frame[(frame["model"] == model) & (frame["dataset"] == dataset)]["acc"]
            if len(values):
                row[dataset] = f"{_mean_std(values)} ({len(values)})"
            paper = PAPER_TABLE1.get((dataset, model)) if records[0]["table"] == "table1" else None
            if paper is not None:
                row[f"{dataset} (paper)"] = f"{paper:.2f}"
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def energy_table(records: list[dict]) -> pd.DataFrame:
    """Table 5: per dataset, ANN and SNN operations and energy per example (mean ± std over seeds)."""
    frame = pd.DataFrame(records)
    rows = []
    for dataset in [d for d in DATASET_ORDER if d in set(frame["dataset"])]:
        part = frame[frame["dataset"] == dataset]
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
    for r in records:
        raw, again = r["metrics"], r["rescored"]["metrics"]
        rows.append({"dataset": r["dataset"], "attack": r["attack"], "settings": r["settings"],
                     "model": MODEL_KINDS.get(r["model"], r["model"]), "sampling": r["sampling"], "seed": r["seed"],
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


def render(folder: Path, out_stem: Path | None = None) -> str:
    """Markdown for the records under ``folder`` (named after its table); also writes ``<out_stem>.md`` and
    ``.csv`` when given."""
    records = read_records(folder)
    if not records:
        return f"no records under {folder}"
    frame = TABLES[folder.name]([r for r in records if "table" in r])
    markdown = tabulate(frame, headers="keys", tablefmt="github", showindex=False)
    if out_stem is not None:
        out_stem.parent.mkdir(parents=True, exist_ok=True)
        out_stem.with_suffix(".md").write_text(markdown + "\n")
        frame.to_csv(out_stem.with_suffix(".csv"), index=False)
        if folder.name == "table2":
            out_stem.with_suffix(".tex").write_text(frame.to_latex(index=False, escape=True))
    return markdown
