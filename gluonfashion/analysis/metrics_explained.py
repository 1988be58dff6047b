"""The competition metrics and losses taken apart into tables: the FashionAI AP row by row,
precision and recall per threshold, F-beta curves, each label's multi-label loss term."""
import numpy as np
import pandas as pd
from mxnet import nd

from .. import metrics
from ..losses import make_multilabel_loss


def ap_table(probs, labels, names=None):
    """The FashionAI AP, step by step: one row per sample in ranking order.

    Columns: the sample's index, its confidence (top probability), the predicted and
    true value, whether it is a hit and precision@k of the first k rows (among equal
    confidences, its mean over their orders: ``metrics.ap_ranking``). The mean of the
    last column is ``metrics.fashionai_ap(probs, labels)``.
    """
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    order, hits, precision_at_k = metrics.ap_ranking(probs, labels)
    confidence, pred = probs.max(axis=1), probs.argmax(axis=1)
    name = (lambda i: names[i]) if names else int
    return pd.DataFrame({
        "k": np.arange(1, len(order) + 1),
        "sample": order,
        "confidence": confidence[order].round(3),
        "predicted": [name(pred[i]) for i in order],
        "true": [name(labels[i]) for i in order],
        "hit": hits,
        "precision@k": precision_at_k.round(4),
    }).set_index("k")


def multilabel_loss_terms(probs, targets, label_counts, losses=("bce", "wbce", "focal"), names=None,
                          params=None):
    """Each label's loss term for ONE image under several multi-label losses.

    ``probs``, ``targets``: ``(L,)``; ``label_counts``: positives per label in the
    training set (WBCE's weights); ``params``: ``{loss: {kwarg: value}}`` for
    ``losses.make_multilabel_loss`` (e.g. ``{"wbce": {"alpha": 1.5}, "focal": {"gamma": 2}}``).
    The library's loss blocks compute the terms: with ``batch_axis=1`` their mean runs
    over the (single) sample instead of over the labels. A last row ``mean`` holds the
    image's loss (the mean over labels, what training minimises).
    """
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-6, 1 - 1e-6)
    targets = np.asarray(targets, dtype=np.float32)
    logits = nd.array(np.log(probs / (1 - probs))[None, :])
    label = nd.array(targets[None, :])
    table = pd.DataFrame({"p": probs.round(3), "y": targets.astype(int)},
                         index=names or [f"label_{i}" for i in range(len(probs))])
    for name in losses:
        block = make_multilabel_loss(name, label_counts, batch_axis=1, **(params or {}).get(name, {}))
        table[name] = block(logits, label).asnumpy()
    means = table[list(losses)].mean()
    table.loc["mean"] = [np.nan, np.nan] + list(means)
    return table


def precision_recall_table(probs, y_true, thresholds):
    """One label's precision, recall, F1 and F2 when predicting ``prob >= t``, per
    threshold ``t``: why a lower threshold suits F2 (recall counts 4x as much as precision)."""
    probs, y_true = np.asarray(probs, dtype=float).ravel(), np.asarray(y_true).astype(int).ravel()
    rows = []
    for t in thresholds:
        pred = (probs >= t).astype(int)
        tp, fp = int((pred & y_true).sum()), int((pred & (1 - y_true)).sum())
        fn = int(y_true.sum()) - tp
        f1, f2 = (float(metrics.fbeta_per_label(y_true[:, None], pred[:, None], beta)[0]) for beta in (1.0, 2.0))
        rows.append({"threshold": t, "predicted": int(pred.sum()), "TP": tp, "FP": fp, "FN": fn,
                     "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1), "F1": f1, "F2": f2})
    return pd.DataFrame(rows).set_index("threshold").round(3)


def fbeta_curves(probs, y_true, thresholds=None, beta=2.0):
    """``(thresholds, scores)``: F-beta of every label (columns of ``scores``) when
    predicting ``prob >= t``, for each threshold ``t`` (rows), without the 1..5
    per-image rule (as ``metrics.search_thresholds`` scores them)."""
    thresholds = np.linspace(0.01, 0.99, 99) if thresholds is None else np.asarray(thresholds)
    y_true = np.asarray(y_true).astype(int)
    scores = np.stack([metrics.fbeta_per_label(y_true, (np.asarray(probs) >= t).astype(int), beta)
                       for t in thresholds])
    return thresholds, scores
