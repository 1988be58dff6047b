"""Which images a model gets wrong: confusion matrix, top confusions, most confident
mistakes, and a run's saved validation predictions to study them on."""
import csv
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import checkpoint
from ..data.fashionai import csv_root, read_predictions
from ..workflows.fashionai import label_files


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


@dataclass
class ValPredictions:
    """A run's saved validation predictions (``val_probs.csv``) with their truth."""
    images: list        # absolute image paths
    rel_paths: list     # as in the label file
    ynm: list           # label strings (``m`` marks kept)
    probs: np.ndarray   # (N, C), with the run's test-time augmentation
    labels: np.ndarray  # (N,) index of the ``y`` value
    classes: list       # value names

    @property
    def preds(self):
        return self.probs.argmax(axis=1)


def load_val_predictions(run_dir):
    """``ValPredictions`` of a finished FashionAI run (written at the end of ``train``)."""
    record = checkpoint.load_json(os.path.join(run_dir, "best.json"))
    with open(os.path.join(run_dir, "val_truth.csv"), newline="", encoding="utf-8") as f:
        truth = [row for row in csv.reader(f) if row]
    preds = read_predictions(os.path.join(run_dir, "val_probs.csv"))
    if [(r[0], r[1]) for r in truth] != [(p[0], p[1]) for p in preds]:
        raise ValueError(f"{run_dir}: val_probs.csv and val_truth.csv list different images")
    roots = [csv_root(p) for p in label_files(record["config"])]

    def locate(rel):   # image paths are relative to the root of the label file they came from
        found = [os.path.join(r, rel) for r in roots if os.path.exists(os.path.join(r, rel))]
        return found[0] if found else os.path.join(roots[0], rel)

    ynm = [r[2] for r in truth]
    return ValPredictions([locate(r[0]) for r in truth], [r[0] for r in truth], ynm,
                          np.stack([p[2] for p in preds]), np.array([s.index("y") for s in ynm]),
                          list(record["classes"]))
