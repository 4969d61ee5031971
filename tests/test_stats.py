"""Worked values for the intervals, the paired comparison, McNemar's test and the worst case over attacks, and
the tables that print them."""

from __future__ import annotations

import pytest
from fakes import schema_record

from robustbench_snn.stats import mcnemar_exact, paired_bootstrap, paired_comparison, robust, wilson, worst_case
from robustbench_snn.tables import render


def test_wilson_interval_worked_values() -> None:
    assert wilson(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-5)  # the textbook 5/10 interval
    assert wilson(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)  # never below 0, even with no hits
    low, high = wilson(100, 200)
    assert high - low == pytest.approx(0.137, abs=0.001)  # a 200-example cell: about +-7 points
    assert wilson(0, 0) is None


def test_mcnemar_exact_worked_values() -> None:
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0


def test_paired_bootstrap_keeps_pairs_together() -> None:
    same = paired_bootstrap([1, 0, 1, 0], [1, 0, 1, 0])
    assert same["difference"] == 0 and same["ci95"] == [0, 0]  # identical per example: no spread at all
    gain = paired_bootstrap([0] * 50, [1] * 50)
    assert gain["difference"] == 1 and gain["ci95"] == [1, 1]
    half = paired_bootstrap([0] * 100, [1, 0] * 50, seed=3)
    assert half["difference"] == 0.5 and half["ci95"][0] < 0.5 < half["ci95"][1]
    assert paired_bootstrap([0] * 100, [1, 0] * 50, seed=3) == half  # seeded


@pytest.mark.parametrize("n", [1, 7, 200, 1000])
def test_the_shared_resample_counts_give_the_bootstrap_of_direct_indexing_bit_for_bit(monkeypatch, n) -> None:
    import numpy as np

    from robustbench_snn import stats

    rng = np.random.default_rng(n)
    pairs = [(rng.random(n) < rng.random(), rng.random(n) < rng.random()) for _ in range(3)]
    fast = [paired_bootstrap(a, b, seed=seed) for seed, (a, b) in enumerate(pairs)]
    monkeypatch.setattr(stats, "COUNTS_LIMIT", 0)  # every sample indexes directly, as pooled ones do
    assert fast == [paired_bootstrap(a, b, seed=seed) for seed, (a, b) in enumerate(pairs)]


def test_paired_comparison_counts_discordant_examples() -> None:
    # robust (f) per example: ANN f f s s k, SNN f s f f k -> SNN-only 2, ANN-only 1
    found = paired_comparison("ffssk", "fsffk")
    assert (found["robust_only_first"], found["robust_only_second"]) == (1, 2)
    assert found["boa_first"] == 0.4 and found["boa_second"] == 0.6
    assert found["mcnemar_p"] == pytest.approx(mcnemar_exact(1, 2))
    assert robust("fsk").tolist() == [True, False, False]


def test_worst_case_follows_autoattacks_rule() -> None:
    # per example: one success is enough; a misclassified clean text is never robust
    assert worst_case(["sfk", "ffs", "fff"]) == "sfk"
    with pytest.raises(ValueError):
        worst_case(["sf", "fff"])


def _record(model: str, attack: str, outcomes: str, rescored: str, sampling: str = "seeded") -> dict:
    return schema_record("table2", identity_digest=f"{model}{attack}", attack=attack, settings="paper", model=model,
                         options="population 1" if model != "textcnn" else "",
                         sampling={"protocol": sampling if model != "textcnn" else "deterministic"},
                         metrics={"n": len(outcomes), "cln": 0, "boa": 0, "suc": 0}, outcomes=outcomes, attack_config={},
                         rescored={"outcomes": rescored, "draws": 10, "held_up": {"succeeded": {"held": 1, "of": 1}},
                                   "metrics": {"n": len(rescored), "cln": 0, "boa": 0, "suc": 0}},
                         mean_queries=10.0, mean_perturbed_share=0.1)


def test_attack_table_prints_intervals_and_a_worst_case_row() -> None:
    records = [_record("textcnn", "pwws", "ssff", "ssff"), _record("textcnn", "textfooler", "fsfs", "fsfs"),
               _record("snn-ft", "pwws", "ffff", "fffs")]
    table = render(records, "table2")
    assert "Conv SNN FT (population 1)" in table
    assert "worst case (pwws, textfooler)" in table  # the TextCNN: both attacks on the same examples
    rows = [line for line in table.splitlines() if "worst case" in line]
    assert len(rows) == 1 and "Original TextCNN" in rows[0]
    assert " 25.0 [4.6, 69.9]" in rows[0]  # robust only on example 3 of 4 (s f f s) -> Boa 1/4, Wilson interval


def test_paired_table_compares_the_snn_with_the_textcnn_on_the_same_examples() -> None:
    records = [_record("textcnn", "pwws", "ssff", "ssff"), _record("snn-ft", "pwws", "ffff", "fffs")]
    table = render(records, "paired")
    assert "Conv SNN FT (population 1)" in table and "+50.0" in table  # Boa 50 -> 100
    assert "2 / 0" in table  # two examples only the SNN withstood
    assert render(records[1:], "paired").startswith("no paired rows")  # no TextCNN run to pair with
