"""Which images a model gets wrong: confusion matrix, top confusions, most confident
mistakes, and a run's saved validation or test predictions to study them on."""
import os

import numpy as np
import pandas as pd

from ..data.fashionai import read_label_file
from ..families import family_of
from ..families.fashionai import ValPredictions  # noqa: F401  (re-exported: what load_val_predictions returns)
from ..run_folder import RunFolder
from .comparisons import run_test_probs


def confusion_matrix(labels, preds, n_classes=None):
    """``(C, C)`` counts: entry (t, p) = samples of true class t predicted as p."""
    labels, preds = np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)
    if labels.shape != preds.shape or labels.ndim != 1:
        raise ValueError(f"labels and preds must be (N,) arrays of the same length, got "
                         f"{labels.shape} and {preds.shape}")
    n = n_classes or int(max(labels.max(initial=-1), preds.max(initial=-1)) + 1)
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    return cm


def top_confusions(cm, names, k=5):
    """The ``k`` largest off-diagonal cells of a confusion matrix, as a table."""
    cm = np.asarray(cm)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    cells = [(int(off[t, p]), t, p) for t, p in zip(*np.nonzero(off))]
    cells.sort(key=lambda c: (-c[0], c[1], c[2]))
    totals = cm.sum(axis=1)
    return pd.DataFrame([{"true": names[t], "predicted": names[p], "images": n,
                          "share of true": round(n / totals[t], 3)} for n, t, p in cells[:k]])


def most_confident_mistakes(probs, labels, k=None):
    """Indices of wrongly predicted samples, most confident (highest top probability)
    first; at most ``k``. Ties keep input order."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    wrong = np.flatnonzero(probs.argmax(axis=1) != labels)
    order = wrong[np.argsort(-probs[wrong].max(axis=1), kind="stable")]
    return order if k is None else order[:k]


def load_val_predictions(run_dir):
    """``ValPredictions`` (images, label strings, probabilities, truth) of a finished
    FashionAI run, written at the end of ``train``."""
    run = RunFolder(run_dir)
    return family_of(run.config()).read_val_predictions(run)


def load_test_predictions(run_dir):
    """``ValPredictions`` of a FashionAI run's saved test predictions (``test_probs.csv``,
    written by ``predict``) with the answers of its data, in test-set order: a larger
    held-out set than validation where the data has answers (the demo's do)."""
    run = RunFolder(run_dir)
    cfg = run.config()
    test = family_of(cfg).test_set(cfg)
    probs, labels = run_test_probs(run_dir)
    answers = {r.rel_path: r.ynm for r in read_label_file(os.path.join(cfg["data_root"], cfg["answers_file"]))
               if r.task == cfg["task"]}
    return ValPredictions(list(test.images), list(test.keys), [answers[k] for k in test.keys], probs, labels,
                          list(run.record()["classes"]))
