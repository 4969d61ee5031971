"""The loaders' traps, policies and error messages, on small files and on the real bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from robustbench_snn.data import load_dataset
from robustbench_snn.data.readers import read_label_review_csv, read_labelled_lines, read_sentence_files
from robustbench_snn.errors import UserError


def test_sentence_files_split_on_newline_only_and_decode_cp1252(tmp_path: Path) -> None:
    pos = tmp_path / "pos"
    pos.write_bytes(b"caf\xe9 was fine \x85 really\nsecond line\n\n")
    neg = tmp_path / "neg"
    neg.write_bytes(b"bad\n")
    examples = read_sentence_files({1: pos, 0: neg}).examples
    # 0x85 is an ellipsis in cp1252 and must not split the first sentence in two.
    assert [tuple(e) for e in examples] == [("bad", 0), ("café was fine … really", 1), ("second line", 1)]


@pytest.mark.slow  # the real datasets and resources of the bundle
def test_real_mr_and_subj_have_no_control_characters() -> None:
    for name in ("mr", "subj"):
        data = load_dataset(name)
        texts = [e.text for e in data.train + data.dev + data.test]
        assert len(texts) == {"mr": 10662, "subj": 10000}[name]
        assert not any("\x85" in t for t in texts)
    assert any("…" in t for t in texts)  # the subjective file's 0x85 bytes became ellipses


def test_csv_policy_drops_empty_and_contradictory_texts(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text("label,review\n1,好吃\n0,好吃\n1,快\n1,快\n0,\n0,慢\n", encoding="utf-8")
    result = read_label_review_csv(path)
    assert [tuple(e) for e in result.examples] == [("快", 1), ("快", 1), ("慢", 0)]
    assert result.dropped == {"text with contradictory labels": 2, "empty text": 1}


@pytest.mark.slow  # the real datasets and resources of the bundle
def test_real_chinese_datasets_apply_the_policy() -> None:
    chnsenti, waimai = load_dataset("chnsenti"), load_dataset("waimai")
    assert (chnsenti.raw_count, chnsenti.dropped) == (7766, {"empty text": 1})
    assert (waimai.raw_count, waimai.dropped) == (11987, {"text with contradictory labels": 14})
    texts = [e.text for e in waimai.train + waimai.dev + waimai.test]
    assert "不错很好吃" not in texts and len(texts) == 11973


@pytest.mark.parametrize(
    ("content", "where"),
    [("1 fine\nx broken line\n", ":2: expected '<label> <sentence>' with label in 0..1"),
     ("1 fine\n7 label out of range\n", ":2: expected"),
     ("0\n", ":1: expected")],
)
def test_malformed_sst_file_names_file_and_line(tmp_path: Path, content: str, where: str) -> None:
    path = tmp_path / "stsa.binary.train"
    path.write_text(content)
    with pytest.raises(UserError, match=f"{path}{where}".replace(".", r"\.").replace("(", r"\(")):
        read_labelled_lines(path, 2)


def test_malformed_csv_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("text,label\n")
    with pytest.raises(UserError, match=r"bad\.csv:1: expected the header 'label,review'"):
        read_label_review_csv(path)
    path.write_text('label,review\n1,ok\n"1",fine\n2,nope\n')
    with pytest.raises(UserError, match=r"bad\.csv:4: expected '<0\|1>,<review>'"):
        read_label_review_csv(path)


def test_undecodable_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "stsa.fine.dev"
    path.write_bytes(b"1 ok\n0 caf\xe9\n")
    with pytest.raises(UserError, match=r"stsa\.fine\.dev:2: cannot decode as utf-8"):
        read_labelled_lines(path, 5)
