"""Readers and writers for the FashionAI CSV formats.

``Annotations/label.csv``  rows ``Images/<task>/<file>.jpg,<task>,<ynm>``
``Tests/question.csv``     rows ``Images/<task>/<file>.jpg,<task>,?``
submission                 rows ``Images/<task>/<file>.jpg,<task>,p1;p2;...``

Image paths in a CSV are relative to the folder that holds the CSV's folder
(``base/Annotations/label.csv`` -> ``base/``), as in the distributed archives, and must
stay inside it; task names must be usable as file names (they name per-task outputs).
A UTF-8 byte-order mark at the start of a file is ignored.
"""
import csv
import os
from dataclasses import dataclass

import numpy as np

from .errors import DataFormatError
from .paths import is_inside_path, is_plain_name


@dataclass(frozen=True)
class LabelRow:
    """One labelled image: where it is, its task and its ``y/m/n`` string."""
    image: str      # absolute path
    rel_path: str   # as written in the CSV (the key used in submissions)
    task: str
    ynm: str
    source: str     # "file:line" for error messages

    @property
    def label(self):
        return self.ynm.index("y")


@dataclass(frozen=True)
class QuestionRow:
    image: str
    rel_path: str
    task: str


def csv_root(csv_path):
    """The folder image paths in ``csv_path`` are relative to."""
    return os.path.dirname(os.path.dirname(os.path.abspath(csv_path)))


def _rows(path, third):
    """``(line number, [image path, task, third column])`` of every non-blank row;
    ``third`` says what the third column holds, for the error message."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: file not found")
    with open(path, newline="", encoding="utf-8-sig") as f:   # -sig: a byte-order mark is dropped
        for line_no, row in enumerate(csv.reader(f), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            row = [c.strip() for c in row]
            if len(row) != 3:
                raise DataFormatError(path, line_no, f"3 columns: image path, task, {third}", ",".join(row))
            _check_path_and_task(path, line_no, *row[:2])
            yield line_no, row


def _check_path_and_task(path, line_no, rel, task):
    """The image path stays inside the CSV's root; the task can name a file."""
    if not is_inside_path(rel):
        raise DataFormatError(path, line_no, "an image path relative to the data folder, inside it "
                              "(not absolute, no '..' leading out)", rel)
    if not is_plain_name(task):
        raise DataFormatError(path, line_no, "a task name usable as a file name (no path separator, "
                              "not '.' or '..')", task)


def check_ynm(ynm, path, line_no):
    if not ynm or set(ynm) - set("ynm") or ynm.count("y") != 1:
        raise DataFormatError(path, line_no, "a label string of y/m/n with exactly one 'y'", ynm)


def read_label_file(path, tasks=None):
    """All rows of a label.csv (or answers file), optionally only those of ``tasks``."""
    root, rows, lengths = csv_root(path), [], {}
    for line_no, row in _rows(path, "y/m/n string"):
        rel, task, ynm = row
        check_ynm(ynm, path, line_no)
        expected = lengths.setdefault(task, len(ynm))
        if len(ynm) != expected:
            raise DataFormatError(path, line_no, f"{expected} values for task {task} (as in its first row)", ynm)
        if tasks is None or task in tasks:
            rows.append(LabelRow(os.path.join(root, rel), rel, task, ynm, f"{path}:{line_no}"))
    return rows


def read_label_files(paths, task=None):
    """Rows of several label files (e.g. base + warm-up) for one task; duplicates rejected."""
    rows, seen = [], {}
    for path in paths:
        for r in read_label_file(path, None if task is None else {task}):
            if r.image in seen:
                raise DataFormatError(path, int(r.source.rsplit(":", 1)[1]),
                                      f"each image once (already at {seen[r.image]})", r.rel_path)
            seen[r.image] = r.source
            rows.append(r)
    if rows and len({len(r.ynm) for r in rows}) != 1:
        raise DataFormatError(paths[0], None, f"the same number of values for task {task} in every file")
    return rows


def read_question_file(path, tasks=None):
    """Rows of a question.csv, in file order."""
    root, rows = csv_root(path), []
    for line_no, row in _rows(path, "'?'"):
        if row[2] != "?":
            raise DataFormatError(path, line_no, "3 columns: image path, task, '?'", ",".join(row))
        if tasks is None or row[1] in tasks:
            rows.append(QuestionRow(os.path.join(root, row[0]), row[0], row[1]))
    return rows


def format_probs(probs):
    """``p1;p2;...`` with 9 significant digits: every float32 reads back exactly, so two
    confident rows (0.99999994 and 0.99999988) do not tie, as they did at 6 decimals,
    leaving the mAP ranking to row order."""
    return ";".join(f"{p:.9g}" for p in probs)


def write_predictions(path, rows, probs):
    """Write ``path,task,p1;p2;...`` rows (the official submission row format)."""
    probs = np.asarray(probs)
    if len(rows) != len(probs):
        raise ValueError(f"{len(rows)} rows but {len(probs)} probability vectors")
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        for r, p in zip(rows, probs):
            writer.writerow([r.rel_path, r.task, format_probs(p)])
    os.replace(tmp, path)


def read_predictions(path):
    """Rows of a per-task or merged submission: list of (rel_path, task, probs, line)."""
    out = []
    for line_no, row in _rows(path, "p1;p2;..."):
        try:
            probs = np.array([float(x) for x in row[2].split(";")], dtype=np.float64)
        except ValueError:
            raise DataFormatError(path, line_no, "probabilities as numbers joined by ';'", row[2]) from None
        out.append((row[0], row[1], probs, line_no))
    return out


def soft_targets(ynm_rows, maybe_share=0.25):
    """Target distributions from FashionAI label strings.

    Every character of a label string is one value of the task: ``y`` (yes) gets
    weight 1, ``m`` (maybe) gets ``maybe_share``, ``n`` (no) gets 0; each row is
    then divided by its sum. Example: ``"nymn"`` with ``maybe_share=0.25`` gives
    weights (0, 1, 0.25, 0), i.e. targets (0, 0.8, 0.2, 0). ``maybe_share=0``
    ignores ``m`` (one-hot on ``y``, the reference kit's behaviour).

    Args:
        ynm_rows: list of label strings, all of the same length, each with at
            least one ``y`` (several ``y`` share the mass equally).
        maybe_share: weight of an ``m`` relative to a ``y``, in [0, 1] (a
            "maybe" never counts more than a "yes"; at 1 an ``m`` ties with the
            ``y``, so the argmax of a row no longer identifies the ``y``).

    Returns:
        (N, C) float32 array whose rows sum to 1.

    Raises:
        ValueError naming the index and string of the first bad row.
    """
    if isinstance(ynm_rows, str):
        raise ValueError("ynm_rows must be a list of label strings, got one string "
                         f"{ynm_rows!r}; wrap it in a list")
    rows = list(ynm_rows)
    if not rows:
        raise ValueError("ynm_rows is empty")
    if not 0 <= maybe_share <= 1:
        raise ValueError(f"maybe_share must be in [0, 1], got {maybe_share}")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if not isinstance(row, str) or set(row) - set("ynm") or "y" not in row:
            raise ValueError(f"ynm_rows[{i}] = {row!r}: expected a string of y/m/n "
                             "characters with at least one 'y'")
        if len(row) != width:
            raise ValueError(f"ynm_rows[{i}] = {row!r} has {len(row)} values, "
                             f"but ynm_rows[0] has {width}")
    chars = np.array([list(row) for row in rows])
    weights = (chars == "y") + maybe_share * (chars == "m")
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
