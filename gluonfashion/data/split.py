"""Seeded, reproducible train/validation splits (no images are copied).

- ``stratified_split``: single-label; every class keeps its share in both parts.
- ``multilabel_folds``: K folds for multi-label data by iterative stratification
  (Sechidis et al., 2011): the rarest labels are placed first, each sample going to the
  fold that still lacks most of that label, so every fold sees every rare style.
"""
import json
import os

import numpy as np


def stratified_split(labels, val_fraction, seed):
    """Indices ``(train, val)``; each class with >= 2 samples gives at least one to val."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n_val = int(round(len(idx) * val_fraction))
        if val_fraction > 0 and len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        val.extend(idx[:n_val].tolist())
    val = np.array(sorted(val), dtype=np.int64)
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val


def multilabel_folds(y, folds, seed):
    """Fold id (0..folds-1) for each row of the 0/1 matrix ``y`` (N, L)."""
    y = np.asarray(y, dtype=bool)
    n = len(y)
    if folds < 2 or folds > n:
        raise ValueError(f"folds must be in [2, {n}], got {folds}")
    rng = np.random.default_rng(seed)
    fold_of = np.full(n, -1, dtype=np.int64)
    want_total = np.full(folds, n / folds)
    want_label = np.tile(y.sum(0) / folds, (folds, 1))   # (folds, L)
    remaining = y.copy()
    order = rng.permutation(n)                            # random tie-breaks, seeded
    while remaining.any():
        counts = remaining.sum(0).astype(float)
        counts[counts == 0] = np.inf
        label = int(np.argmin(counts))                    # rarest label still to place
        for i in order[remaining[order, label]]:
            f = _pick_fold(want_label[:, label], want_total, rng)
            fold_of[i] = f
            want_label[f] -= y[i]
            want_total[f] -= 1
            remaining[i] = False
    for i in order[fold_of[order] < 0]:                   # rows with no positive label
        f = int(np.argmax(want_total + rng.random(folds) * 1e-9))
        fold_of[i] = f
        want_total[f] -= 1
    return fold_of


def _pick_fold(want_for_label, want_total, rng):
    best = np.flatnonzero(want_for_label == want_for_label.max())
    if len(best) > 1:
        best = best[want_total[best] == want_total[best].max()]
    return int(rng.choice(best))


def save_split(path, train_keys, val_keys, **info):
    """Write the split as JSON (lists of image keys) so a run can be reproduced."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({**info, "train": list(train_keys), "val": list(val_keys)}, f, indent=1)
    os.replace(tmp, path)


def load_split(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
