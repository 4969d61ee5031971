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


FIGURES = sorted(p.stem for p in (RESULTS / "figures").glob("*.png"))


@pytest.mark.parametrize("name", FIGURES)
def test_committed_records_render_the_committed_figures(name: str, tmp_path: Path) -> None:
    """`snn-robust plot NAME` (and `report`) redraws each committed figure byte for byte from the committed
    records, with the matplotlib that drew them (`figures/rendered-with.txt`; PNG bytes depend on its version)."""
    import matplotlib

    from robustbench_snn.plots import RENDERED_WITH, plot

    drawn_with = (RESULTS / "figures" / RENDERED_WITH).read_text().strip()
    if drawn_with != f"matplotlib {matplotlib.__version__}":
        pytest.skip(f"figures drawn with {drawn_with}, this is matplotlib {matplotlib.__version__}")
    copy = tmp_path / "results"
    shutil.copytree(RESULTS, copy, ignore=shutil.ignore_patterns("figures", "tables"))
    for path in plot(name, copy):
        assert path.read_bytes() == (RESULTS / "figures" / path.name).read_bytes(), path.name
