"""The competition metrics and losses taken apart into tables: the FashionAI AP row by row,
precision and recall per threshold, F-beta curves, each label's multi-label loss term,
the DeepFashion loss per output and its top-k figures image by image."""
import numpy as np
import pandas as pd
from mxnet import nd

from .. import metrics
from ..losses import CategoryAttributeLoss, MultiLabelBCE, make_multilabel_loss


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


def category_attribute_loss_terms(logits, targets, n_categories, weightings, pos_weight=1.0, neg_weight=0.1,
                                  names=None):
    """ONE image's DeepFashion loss (``losses.CategoryAttributeLoss``) taken apart.

    ``logits``, ``targets``: ``(C + A,)``: the category's logits then the attributes';
    the one-hot category then per attribute 1 (present), 0 (absent) or -1 (unknown).
    ``weightings``: ``{name: (w_c, w_s)}``. Returns ``(terms, totals)``:

    * ``terms``, one row per output: its logit, probability (softmax over the C
      categories, a sigmoid per attribute), target and loss term: -y * log p for a
      category (only the true one counts), ``pos_weight * y * -log p + neg_weight *
      (1 - y) * -log(1 - p)`` for an attribute, 0 when unknown (the kit's ``MultiLabelBCE``);
    * ``totals``: the category cross-entropy (the category terms' sum), the attributes'
      mean term (over all A, unknown ones counting 0) and, per weighting, the image's
      loss w_c * CE + w_s * mean as ``CategoryAttributeLoss`` computes it.
    """
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    n = n_categories
    row = nd.array(logits[None, :])
    category_p = nd.softmax(row[:, :n]).asnumpy()[0]
    attribute_p = nd.sigmoid(row[:, n:]).asnumpy()[0]
    values = targets[n:]
    bce = MultiLabelBCE(pos_weight=pos_weight, neg_weight=neg_weight, batch_axis=1)   # mean over the one image
    attribute_terms = bce(row[:, n:], nd.array(np.maximum(values, 0)[None, :]),
                          nd.array((values >= 0)[None, :].astype(np.float32))).asnumpy()
    category_terms = -targets[:n] * np.log(category_p)
    terms = pd.DataFrame({"logit": logits, "probability": np.concatenate([category_p, attribute_p]),
                          "target": targets.astype(int), "term": np.concatenate([category_terms, attribute_terms])},
                         index=names or [f"c{i + 1}" for i in range(n)] + [f"a{i + 1}" for i in range(len(values))])
    totals = {"category cross-entropy": float(category_terms.sum()),
              "attributes' mean term": float(attribute_terms.mean())}
    for name, (w_c, w_s) in weightings.items():
        loss = CategoryAttributeLoss(n, w_c, w_s, pos_weight, neg_weight)
        totals[f"loss, {name} (w_c {w_c:g}, w_s {w_s:g})"] = float(loss(row, nd.array(targets[None, :])).asscalar())
    return terms, pd.Series(totals)


def topk_table(scores, truth, n_categories, k=3, category_names=None, attribute_names=None):
    """The DeepFashion top-k figures image by image: one row per image with its k best
    categories (best first), its true category, whether that is among them
    (``metrics.topk_hits``), its k best attributes, its present ones, how many of those
    are among the k, and its recall@k (``metrics.topk_recall_per_image``: NaN for an
    image with no present attribute). ``scores``, ``truth``: ``(N, C + A)`` as in
    ``metrics.category_attribute_scores``. The columns' means are the top-k accuracy
    and the attribute recall@k."""
    scores, truth = np.asarray(scores, dtype=np.float64), np.asarray(truth)
    n = n_categories
    categories = category_names or [f"c{i + 1}" for i in range(n)]
    attributes = attribute_names or [f"a{i + 1}" for i in range(scores.shape[1] - n)]
    labels = (truth[:, :n] == 1).argmax(axis=1)
    present = (truth[:, n:] == 1).astype(np.uint8)
    k_att = min(k, present.shape[1])
    top_c = np.argsort(-scores[:, :n], axis=1, kind="stable")[:, :k]
    top_a = np.argsort(-scores[:, n:], axis=1, kind="stable")[:, :k_att]
    return pd.DataFrame({
        f"top-{k} categories": [", ".join(categories[j] for j in row) for row in top_c],
        "category": [categories[j] for j in labels],
        "hit": metrics.topk_hits(scores[:, :n], labels, k),
        f"top-{k} attributes": [", ".join(attributes[j] for j in row) for row in top_a],
        "present": [", ".join(attributes[j] for j in np.flatnonzero(row)) for row in present],
        "found": [f"{int(present[i, top_a[i]].sum())} of {int(present[i].sum())}" for i in range(len(present))],
        f"recall@{k}": metrics.topk_recall_per_image(scores[:, n:], present, k_att),
    }, index=pd.RangeIndex(1, len(scores) + 1, name="image"))
