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
                std = values.std(ddof=1) if len(values) > 1 else 0.0
                row[dataset] = f"{values.mean():.2f} ± {std:.2f} ({len(values)})"
            paper = PAPER_TABLE1.get((dataset, model))
            if paper is not None:
                row[f"{dataset} (paper)"] = f"{paper:.2f}"
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def render(folder: Path, out_stem: Path | None = None) -> str:
    """Markdown for the records under ``folder``; also writes ``<out_stem>.md`` and ``.csv`` when given."""
    records = read_records(folder)
    if not records:
        return f"no records under {folder}"
    frame = accuracy_table(records)
    markdown = tabulate(frame, headers="keys", tablefmt="github", showindex=False)
    if out_stem is not None:
        out_stem.parent.mkdir(parents=True, exist_ok=True)
        out_stem.with_suffix(".md").write_text(markdown + "\n")
        frame.to_csv(out_stem.with_suffix(".csv"), index=False)
    return markdown
