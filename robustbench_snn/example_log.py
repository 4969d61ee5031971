"""The per-example file of an attack run (JSONL): a header line holding the run's identity, then one line per
attacked example, each flushed and fsynced, so an interrupted run resumes after its last complete line.

On resume every row is checked against the schema and the selection order; a damaged file is refused naming
``file:line``, and ``repair=True`` keeps its longest valid prefix. One process writes a file at a time (the caller
holds its lock, see :mod:`robustbench_snn.locks`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from robustbench_snn.errors import UserError, writing
from robustbench_snn.identity import describe_differences

from robustbench_snn.outcomes import OUTCOMES


def _lines(path: Path) -> tuple[list[bytes], bool]:
    """The complete lines of a file and whether bytes follow the last newline (cut by a crash: dropped)."""
    try:
        data = path.read_bytes() if path.exists() else b""
    except OSError as err:
        raise UserError(f"cannot read {path} ({err.strerror}); check its permissions") from None
    lines = data.split(b"\n")
    return lines[:-1], bool(lines[-1])


def _parse(line: bytes):
    """The JSON value of one line, or a string saying why it is not one."""
    try:
        return json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as err:
        return f"invalid UTF-8 at byte {err.start}"
    except ValueError as err:
        return f"not a JSON line ({err})" if line.strip() else "blank line"


def _read(lines: list[bytes], examples: list[int]) -> tuple:
    """(header or why it is unreadable, the valid rows, line number of the first bad one, its problem)."""
    found = _parse(lines[0]) if lines else None
    if isinstance(found, str):
        return found, [], 1, found
    rows = []
    for number, line in enumerate(lines[1:], 2):
        row = _parse(line)
        if len(rows) == len(examples):
            return found, rows, number, f"more rows than the {len(examples)} selected examples"
        problem = row if isinstance(row, str) else _row_problem(row, examples[len(rows)])
        if problem is not None:
            return found, rows, number, problem
        rows.append(row)
    return found, rows, None, None


ROW_FIELDS = {"index": int, "label": int, "outcome": str, "text": str, "perturbed_text": str,
              "original_prediction": int, "perturbed_prediction": int, "queries": int, "model_calls": int,
              "time_steps": int, "words": int, "perturbed_words": int, "perturbed_share": (int, float),
              "seconds": (int, float), "model_seconds": (int, float)}


def _row_problem(row, expected_index: int) -> str | None:
    """Why ``row`` is not the next valid example row (None when it is)."""
    if not isinstance(row, dict):
        return f"expected a JSON object, found {type(row).__name__}"
    for name, kind in ROW_FIELDS.items():
        if name not in row:
            return f"field {name!r} is missing"
        if isinstance(row[name], bool) or not isinstance(row[name], kind):
            return f"field {name!r} has the wrong type ({row[name]!r})"
    if row["outcome"] not in OUTCOMES:
        return f"outcome {row['outcome']!r} is not one of {', '.join(OUTCOMES)}"
    if row["index"] != expected_index:
        return f"example {row['index']} where the selection order has {expected_index} (missing, repeated or " \
               "swapped rows)"
    return None


def read_rows(path: Path) -> list[dict]:
    """The rows of a finished per-example file (one-line error naming ``file:line`` where one is damaged)."""
    lines, _ = _lines(path)
    header = _parse(lines[0]) if lines else "empty file"
    if isinstance(header, str):
        raise UserError(f"{path}:1: {header}")
    _, rows, number, problem = _read(lines, header["examples"])
    if problem is not None:
        raise UserError(f"{path}:{number}: {problem}")
    return rows


class ExampleLog:
    """The per-example JSONL: header line + one line per example; resumable and validated.

    ``header["examples"]`` is the selection the rows must follow. A file whose header differs is refused naming
    the differing fields; a damaged row is refused naming ``file:line``, unless ``repair``, which keeps the rows
    before it and drops the rest (they are attacked again). A header cut short by a crash holds no rows: the
    file is started over. The caller holds the file's lock (:func:`robustbench_snn.locks.exclusive`)."""

    def __init__(self, path: Path, header: dict, repair: bool = False):
        self.path = path
        lines, trailing = _lines(path)
        found, self.rows, number, problem = _read(lines, header["examples"])
        if lines and found != header:
            why = found if isinstance(found, str) else \
                f"it holds another run ({describe_differences(header, found)} differ)"
            if not repair:
                raise UserError(f"{path}:1: {why}; delete the file to start this run over, or rerun with --repair")
            print(f"repaired {path}: its header was not this run's ({why}); starting over", flush=True)
            self.rows, problem = [], None  # nothing in a foreign or damaged header's file is this run's
        elif problem is not None:
            if not repair:
                raise UserError(f"{path}:{number}: {problem}; rerun with --repair to keep the {len(self.rows)} valid "
                                "rows before it and attack the rest again")
            print(f"repaired {path}: kept {len(self.rows)} valid rows, dropped line {number} on ({problem})",
                  flush=True)
        if not lines or found != header or problem is not None or trailing:
            self.rewrite(path, header, self.rows)

    @staticmethod
    def valid_rows(path: Path, examples: list[int]) -> int:
        """How many rows of ``path`` are valid rows for the selection ``examples``, without changing the file
        (planning; the writer checks the header too)."""
        return len(_read(_lines(path)[0], examples)[1])

    def _append(self, row: dict) -> None:
        _write_lines(self.path, [row], "a")

    @staticmethod
    def rewrite(path: Path, header: dict, rows: list[dict]) -> None:
        """Write a complete per-example file atomically: the old one stays whole until the new one is."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".jsonl.tmp")
        _write_lines(tmp, [header, *rows], "w")
        os.replace(tmp, path)

    def add(self, row: dict) -> None:
        self._append(row)
        self.rows.append(row)


def _write_lines(path: Path, rows: list[dict], mode: str) -> None:
    """JSON lines, flushed and fsynced: a line on disk is a line that survives a crash."""
    with writing(path), path.open(mode) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
