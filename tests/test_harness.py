"""The attack harness: metric arithmetic, sampling protocols, re-scoring, resume after a crash, refusal."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import DictionaryParts

from robustbench_snn import harness
from robustbench_snn.config import ModelConfig, SNNConfig
from robustbench_snn.convert import convert
from robustbench_snn.errors import UserError
from robustbench_snn.config import AttackConfig
from robustbench_snn.harness import run
from robustbench_snn.planning import plan_run, select_examples
from robustbench_snn.rescoring import rescored_outcomes
from robustbench_snn.outcomes import encode
from robustbench_snn.stats import summarize
from robustbench_snn.models.spiking import FreshBernoulli
from robustbench_snn.models.textcnn import TailoredTextCNN
from robustbench_snn.tables import render_results
from robustbench_snn.prepared import make_embedding, prepare
from robustbench_snn.zoo import Built
from robustbench_snn.config import Sampling
from robustbench_snn.wrappers import ClassifierWrapper


def test_metrics_worked_values() -> None:
    # N=5: 2 succeeded, 2 failed, 1 skipped -> Cln 4/5, Boa 2/5, Suc 2/4 (fractions)
    found = summarize(encode(["succeeded", "failed", "skipped", "failed", "succeeded"]))
    intervals = found.pop("ci95")
    assert found == {"n": 5, "succeeded": 2, "failed": 2, "skipped": 1, "cln": 0.8, "boa": 0.4, "suc": 0.5}
    assert intervals["boa"] == pytest.approx((0.11762, 0.76928), abs=1e-5)  # Wilson interval of 2 of 5
    assert summarize("k")["suc"] is None and summarize("")["cln"] is None


def test_rescoring_uses_a_strict_majority_of_draws() -> None:
    clean = np.array([10, 10, 5, 6, 6])  # correct draws out of 10 on the clean text
    adversarial = np.array([0, 6, 9, 5, 4])  # ... on the final (perturbed) text
    assert rescored_outcomes(clean, adversarial, 10) == ["succeeded", "failed", "skipped", "succeeded",
                                                         "succeeded"]


def test_sampling_protocol_names() -> None:
    names = ("seeded", "fresh", "frozen", "eot:4")
    assert [str(Sampling.parse(p)) for p in names] == list(names)
    for bad in ("eot", "eot:0", "eot:x", "poisson"):
        with pytest.raises(UserError, match="valid protocols: seeded, fresh, frozen, eot:K"):
            Sampling.parse(bad)


@pytest.fixture(scope="module")
def tiny() -> Built:
    """An untrained, DN-normalized spiking TextCNN over the tiny dataset's vocabulary (T=10): cheap and real."""
    config = ModelConfig("tiny", "snn-conv-dn", seed=3, snn=SNNConfig(steps=10))
    prepared = prepare("tiny", 0, False, None)
    torch.manual_seed(3)
    ann = TailoredTextCNN(make_embedding(config, prepared), 2).eval()
    ann.fc.reset_parameters()  # signed output weights: some output neurons fire, some stay silent
    snn, _ = convert(ann, "dn", [prepared.ids["train"][:512]], steps=10, encoder=FreshBernoulli())
    with torch.no_grad():  # busier neurons than an untrained model's, so fresh draws visibly differ (and the
        for conv in snn.convs:  # pool neurons, which need a pooled rate of 1/T to spike at all, fire within T=10)
            conv.weight.mul_(4.0)
        snn.fc.weight.mul_(5.0)
    return Built(snn, config, prepared, {"weights_sha256": "untrained-test-model"})


def test_protocols_mean_what_they_say(tiny: Built) -> None:
    texts = ["a good movie", "a bad , boring film"] * 3
    seeded = ClassifierWrapper(tiny.classifier(), Sampling.parse("seeded"), seed=1)
    assert seeded.deterministic and np.array_equal(seeded(texts), seeded(texts))
    assert seeded.queries == 12 and seeded.time_steps == 12 * 10
    fresh = ClassifierWrapper(tiny.classifier(), Sampling.parse("fresh"), seed=1)
    assert not fresh.deterministic and not np.array_equal(fresh(texts), fresh(texts))
    eot = ClassifierWrapper(tiny.classifier(), Sampling.parse("eot:4"), seed=1)
    scores = eot(texts)
    assert eot.time_steps == 6 * 10 * 4 and np.allclose(scores * 10 * 4, np.round(scores * 10 * 4), atol=1e-4)


@pytest.mark.parametrize("protocol", ["fresh", "frozen"])
def test_frozen_keeps_the_first_draw_of_each_text_for_the_example(tiny: Built, protocol: str) -> None:
    """``frozen`` (the authors' code): TextAttack's cache on, so a text queried again within an example gets its
    first draw back; ``fresh``: a new draw on every query. Between examples the cache is cleared."""
    from textattack.goal_functions import UntargetedClassification
    from textattack.shared import AttackedText

    from robustbench_snn.wrappers import set_goal_function_cache

    wrapper = ClassifierWrapper(tiny.classifier(), Sampling.parse(protocol), seed=1)
    goal = UntargetedClassification(wrapper)
    set_goal_function_cache(goal, wrapper)
    text = AttackedText("a bad , boring film with a good cast")
    goal.init_attack_example(text, 0)
    draws = [goal.get_results([text])[0][0].raw_output for _ in range(8)]
    repeated = all(np.array_equal(draws[0], d) for d in draws)
    assert wrapper.cached == (protocol == "frozen") and repeated == (protocol == "frozen")
    goal.clear_cache()
    assert wrapper.queries == (1 if protocol == "frozen" else 9)  # init_attack_example's query included


def examples_file(record: dict, results: Path) -> Path:
    """The per-example file of a run record under ``results``."""
    [path] = results.rglob(record["examples_file"])
    return path


def _attack(tmp_path: Path, **changes) -> AttackConfig:
    return replace(AttackConfig("pwws", settings="original", sampling="fresh", num_examples=6, rescore_draws=3),
                   **changes)


def test_a_query_budget_caps_each_example_and_is_part_of_the_identity(tiny: Built, tmp_path: Path) -> None:
    capped = run(tiny.config, _attack(tmp_path, query_budget=3), tmp_path, parts=DictionaryParts(), built=tiny,
                 progress=False)
    rows = [json.loads(line) for line in examples_file(capped, tmp_path).read_text().splitlines()[1:]]
    assert capped["identity"]["attack"]["query_budget"] == 3
    assert all(r["model_calls"] <= 3 for r in rows if r["outcome"] != "k")
    unlimited = plan_run(tiny.config, _attack(tmp_path), DictionaryParts(), model_identity=tiny.identity or {},
                         results=tmp_path, stochastic=True)
    assert "query_budget" not in unlimited.identity["attack"]  # unlimited runs keep the identities they had


def test_run_writes_examples_and_a_record_that_renders(tiny: Built, tmp_path: Path) -> None:
    record = run(tiny.config, _attack(tmp_path), tmp_path, parts=DictionaryParts(), built=tiny, progress=False)
    lines = examples_file(record, tmp_path).read_text().splitlines()
    rows = [json.loads(line) for line in lines[1:]]
    assert json.loads(lines[0])["examples"] == select_examples(60, 6, 3)
    assert [r["index"] for r in rows] == select_examples(60, 6, 3)
    assert record["metrics"] == json.loads(json.dumps(summarize(encode([r["outcome"] for r in rows]))))
    assert record["metrics"]["n"] == 6
    assert record["rescored"]["draws"] == 3 and len(record["rescored"]["clean_correct_draws"]) == 6
    assert record["sampling"]["protocol"] == "fresh" and record["selection"]["seed"] == 3
    assert all(r["time_steps"] == r["model_calls"] * 10 for r in rows)
    table = render_results(tmp_path, "table2")
    assert "Conv SNN + DN" in table and (tmp_path / "tables" / "table2.tex").exists()


def test_interrupted_run_resumes_without_losing_or_repeating(tiny: Built, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    reference = run(tiny.config, _attack(tmp_path), tmp_path / "whole", parts=DictionaryParts(), built=tiny,
                    progress=False)
    real = harness.attack_one
    calls = {"n": 0}

    def crash_on_fourth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(harness, "attack_one", crash_on_fourth)
    with pytest.raises(KeyboardInterrupt):
        run(tiny.config, _attack(tmp_path), tmp_path, parts=DictionaryParts(), built=tiny, progress=False)
    examples = examples_file(reference, tmp_path / "whole").relative_to(tmp_path / "whole")
    examples = tmp_path / examples  # the same identity, so the same file name in the other folder
    assert len(examples.read_text().splitlines()) == 1 + 3
    with examples.open("a") as handle:  # a kill -9 in the middle of a write (non-ASCII: offsets are bytes)
        handle.write('{"index": 12, "text": "naïve café …", "outc')
    monkeypatch.setattr(harness, "attack_one", real)
    resumed = run(tiny.config, _attack(tmp_path), tmp_path, parts=DictionaryParts(), built=tiny, progress=False)
    rows = [json.loads(line) for line in examples.read_text().splitlines()[1:]]
    whole = [json.loads(line) for line in examples_file(reference, tmp_path / "whole").read_text().splitlines()[1:]]
    strip = [{k: v for k, v in r.items() if k not in ("seconds", "model_seconds")} for r in rows]
    assert strip == [{k: v for k, v in r.items() if k not in ("seconds", "model_seconds")} for r in whole]
    assert resumed["metrics"] == reference["metrics"] and resumed["rescored"] == reference["rescored"]
    before = examples.read_bytes()
    run(tiny.config, _attack(tmp_path), tmp_path, parts=DictionaryParts(), built=tiny, progress=False)
    assert examples.read_bytes() == before  # rerunning a finished run changes nothing

    other = run(tiny.config, _attack(tmp_path, rescore_draws=5), tmp_path, parts=DictionaryParts(), built=tiny,
                progress=False)  # another identity: its own files, never the first run's rows
    assert other["identity_digest"] != resumed["identity_digest"] and examples.read_bytes() == before
    assert examples_file(other, tmp_path) != examples


def test_empty_and_all_unknown_texts_get_scores(tiny: Built) -> None:
    for sampling in ("seeded", "fresh", "eot:2"):
        wrapper = ClassifierWrapper(tiny.classifier(), Sampling.parse(sampling), seed=0)
        scores = wrapper(["", "qzxv blorfing wugs", "   "])
        assert scores.shape == (3, 2) and np.isfinite(scores).all()
    assert ClassifierWrapper(tiny.classifier(), Sampling("seeded"), 0)([""]).sum() == 0  # no spikes


def test_run_refuses_bad_names_with_the_valid_choices(tiny: Built, tmp_path: Path) -> None:
    for change, message in [({"attack": "deepwordbug"}, "valid attacks: bert-attack, gradient-eot, pwws, textbugger, textfooler, "
                                                     "transfer-rate, transfer-twin"),
                            ({"settings": "strong"}, "unknown setting .strong.; valid settings: authors-code, original, paper"),
                            ({"sampling": "poisson"}, "valid protocols: seeded, fresh, frozen, eot:K"),
                            ({"num_examples": 0}, "num_examples must be at least 1"),
                            ({"num_examples": 61}, "exceeds the 60 test examples of tiny; use at most 60")]:
        with pytest.raises(UserError, match=message):
            run(tiny.config, _attack(tmp_path, **change), tmp_path, parts=DictionaryParts(), built=tiny)


def test_example_log_reopens_non_ascii_rows_unchanged(tmp_path: Path) -> None:
    from faults import HEADER, row

    from robustbench_snn.example_log import ExampleLog

    path = tmp_path / "run.jsonl"
    log = ExampleLog(path, HEADER)
    for i in HEADER["examples"][:3]:
        log.add(row(i, "naïve café … ｇｏｏｄ"))  # TextBugger's homoglyphs are multi-byte too
    before = path.read_bytes()
    assert ExampleLog(path, HEADER).rows == log.rows and path.read_bytes() == before


def test_window_cache_gives_identical_results(tiny: Built, tmp_path: Path) -> None:
    seeded = _attack(tmp_path, sampling="seeded")
    fast = run(tiny.config, seeded, tmp_path / "a", parts=DictionaryParts(), built=tiny, progress=False)
    slow = run(tiny.config, seeded, tmp_path / "b", parts=DictionaryParts(), built=tiny, progress=False,
               incremental=False)
    assert fast["sampling"]["window_cache"] and not slow["sampling"]["window_cache"]

    def rows(folder: Path) -> list[dict]:
        lines = next(folder.rglob("*.jsonl")).read_text().splitlines()[1:]
        return [{k: v for k, v in json.loads(line).items() if k not in ("seconds", "model_seconds")} for line in lines]

    assert rows(tmp_path / "a") == rows(tmp_path / "b") and fast["metrics"] == slow["metrics"]


def test_progress_in_a_log_is_a_line_at_most_every_30_seconds() -> None:
    import io

    from robustbench_snn.runtime import LogProgress

    now, stream = [0.0], io.StringIO()
    progress = LogProgress("pwws vs snn-ft", 100, done=10, stream=stream, clock=lambda: now[0])
    for done, at in ((11, 5.0), (12, 20.0), (15, 36.0), (16, 50.0), (100, 55.0)):
        now[0] = at
        progress.update(done, "Cln 80.0")
    lines = stream.getvalue().splitlines()
    assert lines == ["pwws vs snn-ft: 11/100, 12.0/min, about 7 min 25 s left; Cln 80.0",  # 1 in 5 s: 89 left
                     "pwws vs snn-ft: 15/100, 8.3/min, about 10 min 12 s left; Cln 80.0",  # the next after 30 s
                     "pwws vs snn-ft: 100/100, 98.2/min; Cln 80.0"]  # and the last


def test_mean_similarity_is_the_encoder_cosine_of_successful_pairs(monkeypatch) -> None:
    import numpy as np

    from robustbench_snn import attack_parts

    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([0.6, 0.8]), "c": np.array([0.0, 2.0])}
    monkeypatch.setattr(attack_parts, "_encode_batch", lambda texts: [vectors[t] for t in texts])
    rows = [{"outcome": "succeeded", "text": "a", "perturbed_text": "b"},
            {"outcome": "failed", "text": "a", "perturbed_text": "c"},  # not a success: not counted
            {"outcome": "succeeded", "text": "c", "perturbed_text": "b"}]
    assert attack_parts.mean_similarity(rows) == pytest.approx((0.6 + 0.8) / 2)
    assert attack_parts.mean_similarity(rows[1:2]) is None


def test_migrate_adds_the_similarity_to_older_records(tiny: Built, tmp_path: Path, monkeypatch) -> None:
    from robustbench_snn import attack_parts
    from robustbench_snn.cli import main

    record = run(tiny.config, _attack(tmp_path), tmp_path, parts=DictionaryParts(), built=tiny, progress=False)
    assert record["mean_similarity"] is None  # the test parts have no sentence encoder
    [path] = [p for p in tmp_path.rglob("*.json") if p.with_name(record["examples_file"]).exists()]
    older = json.loads(path.read_text())
    del older["mean_similarity"]
    path.write_text(json.dumps(older))
    monkeypatch.setattr(attack_parts, "_encode_batch", lambda texts: [np.ones(3) for _ in texts])
    assert main(["migrate", "--similarity", "--results", str(tmp_path)]) == 0
    assert "s" in older["outcomes"]  # the tiny model falls to the dictionary swaps
    assert json.loads(path.read_text())["mean_similarity"] == pytest.approx(1.0)


def test_migrate_retires_records_older_code_made(tiny: Built, tmp_path: Path, capsys) -> None:
    """`migrate --retire` moves a record whose identity names an older training (or evaluation, attack) code, with
    its per-example file, under legacy/superseded/, where tables never read it; current records stay."""
    from robustbench_snn.cli import main
    from robustbench_snn.records import read_records
    from robustbench_snn.train import TRAINING_CODE_VERSION as TRAINING_CODE

    record = run(tiny.config, _attack(tmp_path), tmp_path, parts=DictionaryParts(), built=tiny, progress=False)
    [path] = [p for p in tmp_path.rglob("*.json") if p.with_name(record["examples_file"]).exists()]
    older = json.loads(path.read_text())
    # a model that training code 1 made (from a source of the current code): no longer re-derivable
    older["identity"]["model"] = {"kind": "snn-ft", "training_code": 1, "from": {"training_code": TRAINING_CODE}}
    stale = path.with_name(path.name.replace(record["identity_digest"], "0ld"))
    stale.write_text(json.dumps(older | {"examples_file": "old.jsonl"}))
    stale.with_name("old.jsonl").write_text(path.with_name(record["examples_file"]).read_text())
    assert len(read_records(tmp_path, skip=("legacy",))) == 2
    assert main(["migrate", "--retire", "--results", str(tmp_path)]) == 0
    assert "1 record(s) made by older code moved" in capsys.readouterr().out
    assert [r["identity_digest"] for r in read_records(tmp_path, skip=("legacy",))] == [record["identity_digest"]]
    moved = tmp_path / "legacy" / "superseded" / stale.relative_to(tmp_path)
    assert moved.exists() and moved.with_name("old.jsonl").exists() and not stale.exists()
