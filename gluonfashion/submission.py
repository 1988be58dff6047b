"""Merging per-task predictions into one FashionAI submission, validating it, scoring it."""
import csv
import os
from collections import defaultdict

import numpy as np

from . import metrics
from .data.errors import DataFormatError
from .data.fashionai import format_probs, read_label_file, read_predictions, read_question_file
from .data.paths import file_in
from .tasks import FASHIONAI_TASKS


class SubmissionError(ValueError):
    """A submission would be incomplete or malformed; the message lists what is wrong."""


def _check_probs(path, line, task, probs, n_values):
    if n_values is not None and len(probs) != n_values:
        raise DataFormatError(path, line, f"{n_values} probabilities for {task}", len(probs))
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise DataFormatError(path, line, "finite, non-negative probabilities", ";".join(map(str, probs)))
    if abs(probs.sum() - 1.0) > 1e-3:
        raise DataFormatError(path, line, "probabilities summing to 1", f"sum {probs.sum():.6f}")


def check_rows(path, predictions, questions):
    """Every question row exactly once, nothing else, every probability vector valid.

    ``predictions``: rows from ``read_predictions``; returns them keyed by (path, task).
    """
    wanted = {(q.rel_path, q.task) for q in questions}
    by_key, n_values = {}, {}
    for rel, task, probs, line in predictions:
        key = (rel, task)
        if key in by_key:
            raise DataFormatError(path, line, "each question row once", f"{rel} repeated")
        if key not in wanted:
            raise DataFormatError(path, line, "only rows of the question file", rel)
        known = len(FASHIONAI_TASKS[task]) if task in FASHIONAI_TASKS else None
        _check_probs(path, line, task, probs, n_values.setdefault(task, known or len(probs)))
        by_key[key] = probs
    missing = [k for k in wanted if k not in by_key]
    if missing:
        raise SubmissionError(f"{path}: {len(missing)} question rows have no prediction "
                              f"(e.g. {missing[0][0]} of {missing[0][1]})")
    return by_key


def merge(question_file, pred_dir, out_path, log=print):
    """Join ``<pred_dir>/<task>.csv`` in question order into ``out_path``.

    Refuses (raises) rather than writing an incomplete or malformed submission.
    """
    questions = read_question_file(question_file)
    if not questions:
        raise SubmissionError(f"{question_file}: no question rows")
    by_task = defaultdict(list)
    for q in questions:
        by_task[q.task].append(q)
    merged = {}
    for task, rows in by_task.items():
        path = file_in(pred_dir, f"{task}.csv", "task file")
        if not os.path.exists(path):
            raise SubmissionError(f"no predictions for task {task}: {path} not found "
                                  f"({len(rows)} question rows need it)")
        merged.update(check_rows(path, read_predictions(path), rows))
    tmp = f"{out_path}.tmp"
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        for q in questions:
            writer.writerow([q.rel_path, q.task, format_probs(merged[(q.rel_path, q.task)])])
    os.replace(tmp, out_path)
    log(f"[merge] {len(questions)} rows, {len(by_task)} tasks -> {out_path}")
    return out_path


def validate(submission_path, question_file):
    """Raise if a merged submission is not complete and well formed for the question file."""
    return check_rows(submission_path, read_predictions(submission_path), read_question_file(question_file))


def evaluate(submission_path, answers_path):
    """Per-task competition mAP and BasicPrecision with the official ``m`` rule (a row
    answered with one of its ``m`` values is not counted), the row count ``n`` and
    ``m_skipped``, the rows left out that way."""
    answers = read_label_file(answers_path)
    predictions = {(rel, task): probs for rel, task, probs, _ in read_predictions(submission_path)}
    per_task = defaultdict(lambda: ([], [], []))
    missing = 0
    for a in answers:
        probs = predictions.get((a.rel_path, a.task))
        if probs is None:
            missing += 1
            continue
        per_task[a.task][0].append(probs)
        per_task[a.task][1].append(a.label)
        per_task[a.task][2].append([c == "m" for c in a.ynm])
    if missing:
        raise SubmissionError(f"{submission_path}: {missing} answer rows have no prediction")
    table = {}
    for task, (probs, labels, maybe) in per_task.items():
        probs, labels, maybe = np.stack(probs), np.array(labels), np.array(maybe)
        table[task] = {"map": metrics.fashionai_ap(probs, labels, maybe),
                       "basic_precision": metrics.basic_precision(probs, labels, maybe), "n": len(labels),
                       "m_skipped": int((~metrics.counted_rows(probs, maybe)).sum())}
    return table
