"""The README's Python examples run as written (slow tier: they train an SST-2 model and attack real examples with
the bundle's resources)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def example(heading: str) -> str:
    """The first ```python block after the README heading ``heading``."""
    text = README.read_text()
    section = text[text.index(f"\n## {heading}\n"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_examples_are_short() -> None:
    assert len(example("Benchmark your own model").strip().splitlines()) <= 5


@pytest.mark.slow
@pytest.mark.parametrize("heading", ["Benchmark your own model", "Use with TextAttack"])
def test_a_readme_example_runs_as_written(heading: str, tmp_path: Path, bundle: Path) -> None:
    done = subprocess.run([sys.executable, "-c", example(heading)], cwd=tmp_path, capture_output=True, text=True,
                          env=os.environ | {"OMP_NUM_THREADS": "1"}, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
