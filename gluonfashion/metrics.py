"""Evaluation metrics of the two task families, in plain numpy.

FashionAI (single-label per attribute task):
    ``fashionai_ap`` / ``fashionai_map``  the competition's ranking metric (mAP)
    ``basic_precision`` / ``accuracy``    "BasicPrecision", plain argmax accuracy

JD style (13 binary labels per image):
    ``fbeta_per_label`` / ``mean_fbeta``  per-style F2 and their mean (MF2)
    ``search_thresholds``                 per-style threshold maximising F2
    ``apply_thresholds``                  0/1 predictions with 1..5 labels per image

DeepFashion (a category and attributes per image):
    ``topk_accuracy``                     share of images whose category is in the top-k scores
    ``topk_recall``                       share of true labels found in the top-k scores
    ``topk_recall_by_group``              ``topk_recall`` within each attribute type
    ``category_attribute_scores``         all of them from one (N, C + A) score matrix

Conventions: score arrays are ``(N, C)`` (one row per sample), class labels are
``(N,)`` integers, multi-label targets and predictions are ``(N, L)`` arrays of 0/1
(or bool). Every function checks its inputs and raises ``ValueError`` naming the
argument and the shape it got.
"""
import numpy as np

__all__ = [
    "fashionai_ap", "ap_ranking", "fashionai_map", "basic_precision", "accuracy", "counted_rows", "binomial_interval",
    "fbeta_per_label", "mean_fbeta", "search_thresholds", "apply_thresholds",
    "topk_accuracy", "topk_recall", "topk_recall_by_group", "category_attribute_scores",
]


# ---------------------------------------------------------------- input checks

def _scores_2d(name, scores):
    """``scores`` as a non-empty (N, C) floating array of finite values."""
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (N, C) array, got shape {scores.shape}")
    if scores.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {scores.dtype}")
    if scores.dtype.kind != "f":
        scores = scores.astype(np.float64)
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return scores


def _class_labels(labels, n_rows, n_classes=None, name="labels"):
    """``labels`` as an (N,) int array of class indices in ``[0, n_classes)``.

    ``n_classes=None`` only checks that the indices are not negative.

    Integer-valued floats are accepted because MXNet data loaders hand labels
    over as float32.
    """
    labels = np.asarray(labels)
    if labels.shape != (n_rows,):
        raise ValueError(f"{name} must have shape ({n_rows},) to match, got {labels.shape}")
    if labels.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be integer class indices, got dtype {labels.dtype}")
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        raise ValueError(f"{name} must be integer class indices, got non-integer values")
    labels = labels.astype(np.int64)
    bad = labels < 0 if n_classes is None else (labels < 0) | (labels >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        allowed = ">= 0" if n_classes is None else f"in [0, {n_classes})"
        raise ValueError(f"{name}[{i}] = {labels[i]} is not {allowed}")
    return labels


def _binary_2d(name, values, shape=None):
    """``values`` as an (N, L) bool array; only 0/1 (or bool) entries are allowed."""
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (N, L) array, got shape {values.shape}")
    if shape is not None and values.shape != shape:
        raise ValueError(f"{name} must have shape {shape} to match, got {values.shape}")
    if not np.isin(values, (0, 1)).all():
        raise ValueError(f"{name} must contain only 0 and 1")
    return values.astype(bool)


def _check_beta(beta):
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta}")


# ------------------------------------------------------------------- FashionAI

def counted_rows(probs, maybe=None):
    """Which samples the FashionAI scores count: all, except (official rule) a sample
    whose top value is one of its ``m`` ("maybe") values, which is neither right nor
    wrong. ``maybe``: optional (N, C) bool, True where a sample's value is labelled
    ``m``. Returns an (N,) bool array."""
    probs = _scores_2d("probs", probs)
    if maybe is None:
        return np.ones(len(probs), dtype=bool)
    maybe = _binary_2d("maybe", maybe, probs.shape)
    return ~maybe[np.arange(len(probs)), probs.argmax(axis=1)]


def ap_ranking(probs, labels):
    """The ranking behind ``fashionai_ap``: ``(order, hits, precision_at_k)``.

    ``order`` lists the samples by confidence (top probability), descending, equal
    confidences in input order; ``hits`` (in that order) whether a sample's argmax is
    its label; ``precision_at_k`` the precision of the first k samples. Samples of
    equal confidence have no order of their own, so for them precision@k is the
    expectation over every order of the tie: a tied group of g samples with h hits
    holds h * j / g hits in its first j places. No two equal confidences: the plain
    cumulative precision.
    """
    probs = _scores_2d("probs", probs)
    labels = _class_labels(labels, *probs.shape)
    confidence = probs.max(axis=1)
    order = np.argsort(-confidence, kind="stable")
    hits = (probs.argmax(axis=1) == labels)[order]
    ranked = confidence[order]
    n = len(order)
    starts_group = np.ones(n, dtype=bool)
    starts_group[1:] = ranked[1:] != ranked[:-1]
    starts = np.flatnonzero(starts_group)
    group = np.cumsum(starts_group) - 1
    sizes = np.diff(np.append(starts, n))
    group_hits = np.add.reduceat(hits.astype(np.float64), starts)
    hits_before = np.concatenate([[0.0], np.cumsum(group_hits)[:-1]])
    place = np.arange(n) - starts[group] + 1
    expected_hits = hits_before[group] + group_hits[group] * place / sizes[group]
    return order, hits, expected_hits / np.arange(1, n + 1)


def fashionai_ap(probs, labels, maybe=None):
    """FashionAI average precision of one attribute task.

    Definition (the competition's): for every sample take its highest probability
    and the value it belongs to (the argmax); sort the samples by that probability,
    descending; precision@k is the share of the first k samples whose argmax is the
    ``y`` value; AP is the mean of precision@k over k = 1..N. With ``maybe`` the
    samples whose argmax is an ``m`` value are left out before ranking
    (``counted_rows``).

    Equal probabilities: the rule does not order them, and taking them in file order
    would make the score depend on where a row sits in the file. A tie is scored as
    the mean over all its orders (``ap_ranking``), so the AP depends only on the
    probabilities and the labels, and equals the rule's wherever no two samples tie.

    So AP rewards being right on the samples the model is most sure about: a
    mistake at rank r costs 1/k in every precision@k with k >= r.

    Args:
        probs: (N, C) value probabilities (any scores work; only their order
            within a row and across rows matters).
        labels: (N,) index of the ``y`` value of each sample.
        maybe: optional (N, C) bool mask of each sample's ``m`` values.

    Returns:
        float in [0, 1]; NaN when every sample was left out.
    """
    probs = _scores_2d("probs", probs)
    labels = _class_labels(labels, *probs.shape)
    keep = counted_rows(probs, maybe)
    if not keep.any():
        return float("nan")
    return float(ap_ranking(probs[keep], labels[keep])[2].mean())


def fashionai_map(per_task):
    """FashionAI mAP: the mean of ``fashionai_ap`` over attribute tasks.

    Args:
        per_task: dict ``task -> (probs, labels)`` as taken by ``fashionai_ap``.

    Returns:
        ``(mean_ap, {task: ap})``; every task counts once whatever its size.
    """
    if not per_task:
        raise ValueError("per_task is empty: need at least one task")
    aps = {task: fashionai_ap(probs, labels) for task, (probs, labels) in per_task.items()}
    return float(np.mean(list(aps.values()))), aps


def accuracy(probs_or_pred, labels):
    """Share of samples whose predicted class equals the label.

    Args:
        probs_or_pred: (N, C) scores (the argmax is the prediction) or (N,)
            predicted class indices.
        labels: (N,) class indices.
    """
    values = np.asarray(probs_or_pred)
    if values.ndim == 2:
        probs = _scores_2d("probs_or_pred", values)
        pred, n_classes = probs.argmax(axis=1), probs.shape[1]
    elif values.ndim == 1 and values.shape[0] > 0:
        pred, n_classes = _class_labels(values, len(values), name="probs_or_pred"), None
    else:
        raise ValueError("probs_or_pred must be (N, C) scores or (N,) class indices, "
                         f"got shape {values.shape}")
    labels = _class_labels(labels, len(pred), n_classes)
    return float(np.mean(pred == labels))


def binomial_interval(hits, n, z=1.96):
    """Wilson score interval ``(low, high)`` of a proportion such as an accuracy:
    ``hits`` successes out of ``n`` (z = 1.96: 95 %). Unlike the normal approximation it
    stays inside [0, 1] and is honest for small ``n`` or proportions near 0 or 1."""
    if n <= 0 or not 0 <= hits <= n:
        raise ValueError(f"need 0 <= hits <= n and n > 0; got hits={hits}, n={n}")
    p, z2 = hits / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))   # no rounding past the ends


def basic_precision(probs, labels, maybe=None):
    """FashionAI "BasicPrecision": accuracy of the argmax value.

    The organisers define it as precision at probability threshold 0, i.e. every
    sample is answered with its most probable value, which is plain accuracy.
    Takes (N, C) probabilities, (N,) labels and the optional ``maybe`` mask like
    ``fashionai_ap`` (samples answered with an ``m`` value are not counted; NaN when
    none is left).
    """
    probs = _scores_2d("probs", probs)
    labels = _class_labels(labels, *probs.shape)
    keep = counted_rows(probs, maybe)
    return accuracy(probs[keep], labels[keep]) if keep.any() else float("nan")


# ----------------------------------------------------------------- JD style, F2

def _fbeta_from_counts(tp, fp, fn, beta, zero_division):
    """F-beta from counts: (1+b^2)TP / ((1+b^2)TP + b^2 FN + FP).

    That is (1+b^2)PR / (b^2 P + R) written with counts, so it is 0 whenever
    TP = 0 and there is anything to find or anything predicted. Only when
    TP = FP = FN = 0 is it undefined; that case gets ``zero_division``.
    """
    b2 = beta * beta
    numerator = (1 + b2) * tp
    denominator = numerator + b2 * fn + fp
    with np.errstate(divide="ignore", invalid="ignore"):
        score = numerator / denominator
    return np.where(denominator > 0, score, zero_division)


def fbeta_per_label(y_true, y_pred, beta=2.0, zero_division=0.0):
    """F-beta of every label (column), computed over all samples (rows).

    F_beta = (1 + b^2) P R / (b^2 P + R), with precision P = TP / (TP + FP) and
    recall R = TP / (TP + FN); b = 2 (JD's F2) weighs recall more than precision.
    It is 0 when TP = 0. A label with no true and no predicted positive (the
    formula is 0/0) scores ``zero_division``, 0 by default: the same as
    scikit-learn's ``fbeta_score`` and the usual "0 when TP = 0" reading of the JD
    papers, so a label absent from a validation split can never raise the mean.

    Args:
        y_true, y_pred: (N, L) arrays of 0/1 (or bool), same shape.
        beta: positive weight of recall.
        zero_division: score of a label with TP = FP = FN = 0.

    Returns:
        (L,) float64 array.
    """
    _check_beta(beta)
    y_true = _binary_2d("y_true", y_true)
    y_pred = _binary_2d("y_pred", y_pred, shape=y_true.shape)
    tp = np.sum(y_true & y_pred, axis=0)
    fp = np.sum(~y_true & y_pred, axis=0)
    fn = np.sum(y_true & ~y_pred, axis=0)
    return _fbeta_from_counts(tp, fp, fn, beta, zero_division)


def mean_fbeta(y_true, y_pred, beta=2.0, zero_division=0.0):
    """Mean over labels of ``fbeta_per_label`` (JD's MF2 for beta = 2).

    Every label counts once, whatever its frequency (a macro average).
    """
    return float(np.mean(fbeta_per_label(y_true, y_pred, beta, zero_division)))


def search_thresholds(probs, y_true, beta=2.0):
    """Per-label threshold that maximises that label's F-beta on (validation) data.

    The JD 4th-place rule: t* = argmax over t in S of F2(t), where S is the set of
    predicted values of the label and a sample is predicted positive when
    ``prob >= t``. Each label is searched on its own.

    Sorting a column once (descending) makes "predict the top k" a prefix, so
    cumulative sums give TP/FP/FN for every candidate at once: O(N log N) per
    label. Only the last position of a run of equal probabilities is a valid cut
    (a threshold cannot split ties).

    Tie-break: among equally good thresholds the highest wins (fewest positives).
    In particular a label without any positive in ``y_true`` scores 0 everywhere
    and gets the highest observed probability as its threshold.

    Args:
        probs: (N, L) predicted probabilities (any scores work).
        y_true: (N, L) 0/1 targets.
        beta: positive weight of recall (2 for JD's F2).

    Returns:
        ``(thresholds, best_scores)``, both (L,): thresholds in the dtype of
        ``probs`` (so ``probs >= thresholds`` reproduces the search exactly) and
        the F-beta each reaches on the given data.
    """
    _check_beta(beta)
    probs = _scores_2d("probs", probs)
    y_true = _binary_2d("y_true", y_true, shape=probs.shape)
    n_rows, n_labels = probs.shape

    order = np.argsort(-probs, axis=0, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, axis=0)
    tp = np.cumsum(np.take_along_axis(y_true, order, axis=0), axis=0)
    n_predicted = np.arange(1, n_rows + 1)[:, None]
    # At least one sample is predicted at every cut, so the denominator is > 0.
    scores = _fbeta_from_counts(tp, n_predicted - tp, tp[-1] - tp, beta, 0.0)

    last_of_run = np.ones_like(sorted_probs, dtype=bool)
    last_of_run[:-1] = sorted_probs[:-1] != sorted_probs[1:]
    scores = np.where(last_of_run, scores, -1.0)

    best = scores.argmax(axis=0)  # first maximum = highest threshold
    columns = np.arange(n_labels)
    return sorted_probs[best, columns], scores[best, columns]


def apply_thresholds(probs, thresholds, min_positive=1, max_positive=5):
    """0/1 predictions from per-label thresholds, with a bound on positives per row.

    A label is predicted when ``prob >= threshold``. Then every row is brought to
    between ``min_positive`` and ``max_positive`` positives (JD: every image has
    1 to 5 styles): labels are ranked by the margin ``prob - threshold`` (ties
    keep label order); a row with too few positives gets the best-ranked missing
    labels added, a row with too many loses its worst-ranked ones. The
    difference, not the ratio, is used because it stays defined for a threshold
    of 0 and is in probability units for every label.

    Args:
        probs: (N, L) probabilities.
        thresholds: (L,) per-label thresholds, or one scalar for all labels.
        min_positive: least positives per row; 0 disables the lower bound.
        max_positive: most positives per row; None disables the upper bound.

    Returns:
        (N, L) int64 array of 0/1.
    """
    probs = _scores_2d("probs", probs)
    n_rows, n_labels = probs.shape
    thresholds = np.asarray(thresholds, dtype=probs.dtype)
    if thresholds.shape not in ((), (n_labels,)):
        raise ValueError(f"thresholds must be a scalar or have shape ({n_labels},), "
                         f"got {thresholds.shape}")
    if not np.all(np.isfinite(thresholds)):
        raise ValueError("thresholds contain NaN or infinite values")
    if max_positive is None:
        max_positive = n_labels
    if not 0 <= min_positive <= max_positive:
        raise ValueError("need 0 <= min_positive <= max_positive, got "
                         f"{min_positive} and {max_positive}")
    if min_positive > n_labels:
        raise ValueError(f"min_positive = {min_positive} exceeds the {n_labels} labels")

    margin = probs - thresholds
    # Rank of every label within its row, 0 = largest margin. The labels at or
    # above their threshold (margin >= 0) are exactly the first n_positive ranks,
    # so keeping the first clip(n_positive) ranks both adds and drops correctly.
    order = np.argsort(-margin, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n_labels)[None, :].repeat(n_rows, 0), axis=1)
    n_positive = np.sum(margin >= 0, axis=1, keepdims=True)
    keep = np.clip(n_positive, min_positive, max_positive)
    return (rank < keep).astype(np.int64)


# ------------------------------------------------------------ DeepFashion top-k

def thresholded_fbeta(probs, y_true, thresholds=None, min_positive=1, max_positive=5, beta=2.0):
    """The multi-label (JD) scoring rule in one place: per-label thresholds, searched on
    these rows when not given (``search_thresholds``), then ``min_positive..max_positive``
    labels per row (``apply_thresholds``), scored per label with F-beta; a fixed 0.5
    under the same bounds for comparison.

    Returns ``{"thresholds": (L,), "per_label": (L,), "mean": float,
    "per_label_fixed": (L,), "mean_fixed": float}``. With searched thresholds the
    scores are optimistic for these rows (the thresholds were fitted on them).
    """
    y_true = _binary_2d("y_true", y_true)
    if thresholds is None:
        thresholds, _ = search_thresholds(probs, y_true, beta=beta)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    bounds = {"min_positive": min_positive, "max_positive": max_positive}
    tuned = fbeta_per_label(y_true, apply_thresholds(probs, thresholds, **bounds), beta)
    fixed = fbeta_per_label(y_true, apply_thresholds(probs, 0.5, **bounds), beta)
    return {"thresholds": thresholds, "per_label": tuned, "mean": float(tuned.mean()),
            "per_label_fixed": fixed, "mean_fixed": float(fixed.mean())}


def score_sets(val_probs, val_truth, test_probs=None, test_truth=None, min_positive=1, max_positive=5):
    """The competition metrics of validation (and test) probabilities, as a dict.

    Single-label (``truth`` of shape ``(N,)``): ``fashionai_ap`` and ``basic_precision``
    of each set. Multi-label (``(N, L)``): ``thresholded_fbeta`` with per-label
    thresholds searched on validation (so the validation mean F2 is optimistic) and
    applied to test, plus a fixed 0.5 for comparison.
    """
    val_truth = np.asarray(val_truth)
    sets = [("val", val_probs, val_truth)] + ([("test", test_probs, np.asarray(test_truth))]
                                            if test_probs is not None else [])
    out = {}
    if val_truth.ndim == 1:
        for name, probs, truth in sets:
            out[f"{name} AP"] = fashionai_ap(probs, truth)
            out[f"{name} accuracy"] = basic_precision(probs, truth)
        return out
    thresholds = None          # searched on validation, the first set
    for name, probs, truth in sets:
        scores = thresholded_fbeta(probs, truth, thresholds, min_positive, max_positive)
        thresholds = scores["thresholds"]
        out[f"{name} mean F2"], out[f"{name} mean F2 @0.5"] = scores["mean"], scores["mean_fixed"]
    return out


def topk_recall(scores, y_true, k):
    """Attribute top-k recall (DeepFashion protocol).

    For every image, the share of its true labels that are among its k highest
    scores (ties broken towards the lower label index); averaged over the images
    that have at least one true label. With one-hot ``y_true`` this is top-k
    accuracy.

    Args:
        scores: (N, L) scores.
        y_true: (N, L) 0/1 targets.
        k: number of top scores per image, 1 <= k <= L.

    Returns:
        float in [0, 1].
    """
    scores = _scores_2d("scores", scores)
    y_true = _binary_2d("y_true", y_true, shape=scores.shape)
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"k must be in [1, {scores.shape[1]}], got {k}")
    n_true = y_true.sum(axis=1)
    if not n_true.any():
        raise ValueError("y_true has no positive label in any row: recall is undefined")
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    found = np.take_along_axis(y_true, top, axis=1).sum(axis=1)
    has_labels = n_true > 0
    return float(np.mean(found[has_labels] / n_true[has_labels]))


def topk_accuracy(scores, labels, k):
    """Share of samples whose label is among their ``k`` highest scores (ties broken
    towards the lower class index, as ``topk_recall``); ``k`` larger than the number of
    classes counts every class. ``k = 1`` is ``accuracy``."""
    scores = _scores_2d("scores", scores)
    labels = _class_labels(labels, *scores.shape)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean((top == labels[:, None]).any(axis=1)))


def topk_recall_by_group(scores, y_true, groups, k):
    """``topk_recall`` within each group of columns: ``{group: recall}``.

    For group g the scores and labels are cut to the columns with ``groups == g``, the
    top k are taken among them (all of them when the group has fewer than k columns)
    and the recall is averaged over the rows with a true label in the group; NaN
    when no row has one.
    """
    scores = _scores_2d("scores", scores)
    y_true = _binary_2d("y_true", y_true, shape=scores.shape)
    groups = np.asarray(groups)
    if groups.shape != (scores.shape[1],):
        raise ValueError(f"groups must have shape ({scores.shape[1]},) to match, got {groups.shape}")
    out = {}
    for group in np.unique(groups):
        columns = groups == group
        rows = y_true[:, columns].any(axis=1)
        out[group.item()] = (topk_recall(scores[rows][:, columns], y_true[rows][:, columns],
                                         min(k, int(columns.sum())))
                             if rows.any() else float("nan"))
    return out


def category_attribute_scores(scores, truth, n_categories, attribute_types=None):
    """The DeepFashion benchmark's scores of one ``(N, C + A)`` score matrix.

    ``truth`` is ``(N, C + A)``: a one-hot category, then per attribute 1 (present);
    other values (0 absent, -1 unknown) are not present. Returns category top-1/3/5
    accuracy (``category_top1`` ...), attribute recall@3 and @5 (``attribute_recall3``,
    ``attribute_recall5``: ``topk_recall``, over the images with a present attribute;
    NaN when none has one), ``top3_score`` (the mean of category top-3 accuracy and
    attribute recall@3, leaving out a NaN) and, with ``attribute_types`` (A,),
    ``by_type: {type: {3: recall, 5: recall}}`` (``topk_recall_by_group``).
    """
    scores = _scores_2d("scores", scores)
    truth = np.asarray(truth)
    if truth.shape != scores.shape or not 0 < n_categories < scores.shape[1]:
        raise ValueError(f"truth must have the scores' shape {scores.shape} and n_categories must leave "
                         f"attribute columns; got {truth.shape} and {n_categories}")
    one_hot = truth[:, :n_categories] == 1
    if not np.all(one_hot.sum(axis=1) == 1):
        raise ValueError("every truth row needs exactly one category (a 1 among the first n_categories columns)")
    labels = one_hot.argmax(axis=1)
    present = (truth[:, n_categories:] == 1).astype(np.uint8)
    attributes = scores[:, n_categories:]
    has = present.any(axis=1)
    out = {f"category_top{k}": topk_accuracy(scores[:, :n_categories], labels, k) for k in (1, 3, 5)}
    for k in (3, 5):
        out[f"attribute_recall{k}"] = (topk_recall(attributes[has], present[has], min(k, present.shape[1]))
                                       if has.any() else float("nan"))
    parts = [v for v in (out["category_top3"], out["attribute_recall3"]) if not np.isnan(v)]
    out["top3_score"] = float(np.mean(parts))
    if attribute_types is not None:
        by_k = {k: topk_recall_by_group(attributes, present, attribute_types, k) for k in (3, 5)}
        out["by_type"] = {t: {k: by_k[k][t] for k in (3, 5)} for t in by_k[3]}
    return out
