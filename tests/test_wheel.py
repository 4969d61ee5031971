"""A plain (non-editable) install works from any folder: build the wheel, install it into a fresh virtual
environment, list the attacks, find a packaged recipe, attack a tiny model through the public API, and run the
packaged smoke grid, then render its table and a figure, in a folder outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

ATTACK_A_TINY_MODEL = """
import numpy as np
import robustbench_snn as rs
from robustbench_snn.records import RESULTS
POSITIVE = {"good", "great", "fun", "funny", "charming", "moving", "clever"}
def lexicon(texts):
    return np.array([[0.5, float(sum(w in POSITIVE for w in t.split()))] for t in texts], dtype=np.float32)
[record] = rs.benchmark(lexicon, "tiny", attacks="pwws", num_examples=4, settings="original", rescore_draws=2,
                        results="results")
assert RESULTS.resolve() == (__import__("pathlib").Path.cwd() / "results").resolve()
print("attacked", record["metrics"]["n"], "installed at", rs.__file__)
"""


@pytest.mark.slow  # builds a wheel and a virtual environment; the attack uses the bundle's WordNet
def test_the_wheel_installs_and_attacks_from_any_folder(tmp_path: Path, bundle: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(REPO)], check=True, timeout=600)
    [wheel] = (tmp_path / "dist").glob("snn_robust-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # the dependencies come from this environment (a .pth line adds its site-packages, not its editable finder)
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, timeout=600)
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)

    def run(*argv: str) -> str:
        done = subprocess.run(argv, cwd=elsewhere, capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    listed = run(str(venv / "bin" / "snn-robust"), "attacks")
    assert all(name in listed for name in ("pwws", "textfooler", "textbugger", "bert-attack")), listed
    where = run(str(python), "-c", "from robustbench_snn.config import load_study; "
                                   "print(load_study('recipes/table1.yaml').name, load_study('table5').name)")
    assert where.split() == ["table1", "table5"]
    attacked = run(str(python), "-c", ATTACK_A_TINY_MODEL)
    assert attacked.startswith("attacked 4") and str(venv) in attacked and str(REPO) not in attacked
    assert list((elsewhere / "results" / "table2" / "tiny").rglob("*.json"))
    snn_robust = str(venv / "bin" / "snn-robust")
    grid = run(snn_robust, "--bundle", str(bundle), "grid", "smoke-grid", "--num-examples", "6", "--results", "smoke")
    assert "2 runs: 0 done, 2 to do" in grid and "Conv SNN + DN" in grid, grid
    assert "Conv SNN + DN" in run(snn_robust, "table", "table2", "--results", "smoke")
    assert (elsewhere / "smoke" / "tables" / "table2.md").exists()
    assert "rescoring.png" in run(snn_robust, "plot", "rescoring", "--results", "smoke")
    assert (elsewhere / "smoke" / "figures" / "rescoring.pdf").stat().st_size > 1000
