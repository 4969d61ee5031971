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
            paper = PAPER_TABLE1.get((dataset, model))
            if paper is not None:
                row[f"{dataset} (paper)"] = f"{paper:.2f}"
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def _mean_std(values: pd.Series, digits: int = 2) -> str:
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.{digits}f} ± {std:.{digits}f}"


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


TABLES = {"table1": accuracy_table, "table3": accuracy_table, "table5": energy_table}


def render(folder: Path, out_stem: Path | None = None) -> str:
    """Markdown for the records under ``folder`` (named after its table); also writes ``<out_stem>.md`` and
    ``.csv`` when given."""
    records = read_records(folder)
    if not records:
        return f"no records under {folder}"
    frame = TABLES[folder.name](records)
    markdown = tabulate(frame, headers="keys", tablefmt="github", showindex=False)
    if out_stem is not None:
        out_stem.parent.mkdir(parents=True, exist_ok=True)
        out_stem.with_suffix(".md").write_text(markdown + "\n")
        frame.to_csv(out_stem.with_suffix(".csv"), index=False)
    return markdown
