"""Readers for the three file formats of the six datasets, each with its stated policy for the data's traps.

Every reader returns examples plus a count of what it dropped and why, so the policy shows up in records.
A malformed file fails with ``file:line`` and what was expected.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path
from typing import NamedTuple

from robustbench_snn.errors import UserError


class Example(NamedTuple):
    text: str
    label: int


class ReadResult(NamedTuple):
    examples: list[Example]
    dropped: dict[str, int]


def _lines(path: Path, encoding: str) -> list[tuple[int, str]]:
    """(line number, text) pairs. Splits on ``\\n`` only: MR and Subj contain byte 0x85, which decodes to
    U+0085 (NEL), and ``str.splitlines`` would split a sentence there."""
    out = []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            out.append((number, raw.decode(encoding).rstrip("\r")))
        except UnicodeDecodeError as err:
            raise UserError(f"{path}:{number}: cannot decode as {encoding} ({err.reason}); expected the "
                            "published file") from None
    return out


def read_labelled_lines(path: Path, num_classes: int) -> ReadResult:
    """SST format: ``<label> <sentence>`` per line, label in ``0..num_classes-1``; blank lines are skipped."""
    examples = []
    for number, line in _lines(path, "utf-8"):
        if not line.strip():
            continue
        label, _, text = line.partition(" ")
        if not label.isdigit() or int(label) >= num_classes or not text.strip():
            raise UserError(f"{path}:{number}: expected '<label> <sentence>' with label in 0..{num_classes - 1}, "
                            f"got {line[:60]!r}")
        examples.append(Example(text.strip(), int(label)))
    return ReadResult(examples, {})


def read_sentence_files(files_by_label: dict[int, Path]) -> ReadResult:
    """MR / Subj format: one sentence per line, one file per class.

    Policy: the files are cp1252 bytes (not UTF-8); cp1252 maps 0x85 and friends to real punctuation
    (an ellipsis, curly quotes) where Latin-1 would give control characters. Blank lines are skipped.
    """
    examples = []
    for label, path in sorted(files_by_label.items()):
        examples += [Example(line.strip(), label) for _, line in _lines(path, "cp1252") if line.strip()]
    return ReadResult(examples, {})


def read_label_review_csv(path: Path) -> ReadResult:
    """ChnSenti / Waimai format: CSV with header ``label,review``, label 0 or 1.

    Policy: an empty review is dropped (ChnSenti has one); a text that appears with both labels is dropped in
    all its copies (Waimai has 7), since no model can be right on both and a copy could land in both train
    and test. Repeated texts with one label are kept, as published.
    """
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != ["label", "review"]:
            raise UserError(f"{path}:1: expected the header 'label,review', got {','.join(header or [])!r}")
        rows = []
        for row in reader:
            if len(row) != 2 or row[0] not in {"0", "1"}:
                raise UserError(f"{path}:{reader.line_num}: expected '<0|1>,<review>', got {','.join(row)[:60]!r}")
            rows.append(Example(row[1].strip(), int(row[0])))
    dropped: Counter[str] = Counter()
    labels_of: defaultdict[str, set[int]] = defaultdict(set)
    for example in rows:
        labels_of[example.text].add(example.label)
    examples = []
    for example in rows:
        if not example.text:
            dropped["empty text"] += 1
        elif len(labels_of[example.text]) > 1:
            dropped["text with contradictory labels"] += 1
        else:
            examples.append(example)
    return ReadResult(examples, dict(dropped))
