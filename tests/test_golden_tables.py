"""Golden tables: the committed records render to exactly the committed tables, so restructuring the code never
changes a published number or its layout unnoticed (regenerate both with `snn-robust table NAME` when a change
is meant to alter them, and say why in the change)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from robustbench_snn.tables import TABLES, render_results

RESULTS = Path(__file__).resolve().parents[1] / "results"


@pytest.mark.parametrize("table", sorted(t for t in TABLES if (RESULTS / "tables" / f"{t}.md").exists()))
def test_committed_records_render_the_committed_tables(table: str, tmp_path: Path) -> None:
    copy = tmp_path / "results"
    shutil.copytree(RESULTS, copy, ignore=shutil.ignore_patterns("figures", "tables"))
    render_results(copy, table)
    for suffix in (".md", ".csv", ".tex"):
        rendered = (copy / "tables" / table).with_suffix(suffix)
        assert rendered.read_text() == (RESULTS / "tables" / table).with_suffix(suffix).read_text(), rendered.name
