"""Combining the predictions of several models: averaging, voting, per-label model
selection and correlation pruning, in plain numpy.

Every combiner takes ``probs``, an ``(M, N, C)`` array: M models, N samples, C columns
(the values of one FashionAI task, or the 13 JD styles). Model scores are validation
scores, higher is better: ``(M,)`` for one score per model (a task's AP, a model's mean
F2) or ``(M, C)`` for one per column (per-style F2).

The recipe of the JD winners ("good and different" models) maps onto them: drop models
that agree too much with a better one (``prune_correlated``), keep the best few per
label (``top_n_mask`` + ``weighted_mean``), or learn the combination from out-of-fold
predictions (``gluonfashion.ensembling.stacking``); vote at the end (``vote``).

Reading run folders and writing an ensemble's outputs is ``ensembling.workflow``'s part.
"""
import numpy as np

__all__ = [
    "mean_probs", "score_weights", "weighted_mean", "top_n_mask", "vote",
    "majority_threshold", "prediction_correlation", "prune_correlated", "METHODS",
]

METHODS = ("mean", "weighted", "vote", "topn", "stack")


def _as_stack(probs):
    """``probs`` as a non-empty (M, N, C) float64 array of finite values."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 3 or 0 in probs.shape:
        raise ValueError(f"probs must be a non-empty (models, samples, columns) array, got shape {probs.shape}")
    if not np.all(np.isfinite(probs)):
        raise ValueError("probs contain NaN or infinite values")
    return probs


def _per_model(name, values, n_models, n_columns):
    """``values`` of shape (M,) or (M, C) as an (M, C) float64 array."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape == (n_models,):
        values = np.repeat(values[:, None], n_columns, axis=1)
    if values.shape != (n_models, n_columns):
        raise ValueError(f"{name} must have shape ({n_models},) or ({n_models}, {n_columns}), "
                         f"got {values.shape}")
    return values


# ------------------------------------------------------------------- averaging

def mean_probs(probs):
    """Plain average of the models: ``(M, N, C) -> (N, C)``."""
    return _as_stack(probs).mean(axis=0)


def score_weights(scores):
    """Model weights proportional to their validation scores, summing to 1 per column.

    ``w[m] = s[m] / sum_k s[k]``, computed separately for every column when ``scores``
    is ``(M, C)``. Scores must be non-negative (AP, F2). A column where every model
    scores 0 gets equal weights, as nobody is better there.

    Example: scores (0.6, 0.2, 0.2) give weights (0.6, 0.2, 0.2); scores (3, 1) give
    (0.75, 0.25). Scores of similar models (0.61 vs 0.60) give nearly equal weights,
    so this is a gentle correction of the mean, not a selection (see ``top_n_mask``).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim not in (1, 2) or scores.shape[0] == 0:
        raise ValueError(f"scores must be (M,) or (M, C), got shape {scores.shape}")
    if not np.all(np.isfinite(scores)) or np.any(scores < 0):
        raise ValueError("scores must be finite and non-negative")
    total = scores.sum(axis=0, keepdims=True)
    equal = np.full_like(scores, 1.0 / scores.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, scores / total, equal)


def weighted_mean(probs, weights):
    """Weighted average of the models, weights normalised per column.

    Args:
        probs: (M, N, C).
        weights: (M,) one weight per model, or (M, C) one per model and column
            (e.g. from ``score_weights`` or a 0/1 selection from ``top_n_mask``).
            Non-negative; every column needs a positive total.

    Returns:
        (N, C): ``sum_m w[m, c] probs[m, :, c] / sum_m w[m, c]``.
    """
    probs = _as_stack(probs)
    n_models, _, n_columns = probs.shape
    weights = _per_model("weights", weights, n_models, n_columns)
    if np.any(weights < 0) or not np.all(weights.sum(axis=0) > 0):
        raise ValueError("weights must be non-negative with a positive total in every column")
    weights = weights / weights.sum(axis=0, keepdims=True)
    return np.einsum("mnc,mc->nc", probs, weights)


def top_n_mask(scores, n):
    """Which models are among the ``n`` best of each column (JD 1st place: per-label top-N).

    Args:
        scores: (M,) or (M, C) validation scores, higher is better.
        n: how many models to keep per column; ``n >= M`` keeps all.

    Returns:
        bool array shaped like ``scores``. Among equal scores the model listed first
        wins, so the result is deterministic. Pass it to ``weighted_mean`` as weights
        for the mean of the selected models.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim not in (1, 2) or scores.shape[0] == 0:
        raise ValueError(f"scores must be (M,) or (M, C), got shape {scores.shape}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    # Stable sort of -scores: best first, ties in model order.
    rank = np.argsort(np.argsort(-scores, axis=0, kind="stable"), axis=0, kind="stable")
    return rank < n


# ---------------------------------------------------------------------- voting

def majority_threshold(n_models):
    """Cut on ``vote`` scores that means "more than half of ``n_models`` voted".

    ``(floor(M/2) + 1) / (M + 1)``: see ``vote`` for why it separates exactly.
    """
    return (n_models // 2 + 1) / (n_models + 1)


def vote(probs, thresholds=None):
    """Vote of the models, returned as scores ``(votes + mean prob) / (M + 1)``.

    Each model casts votes:
      * single-label (``thresholds=None``): one vote per sample, for its argmax value;
      * multi-label: a vote for every column where ``prob >= thresholds[m, c]``, its
        own (validation-searched) threshold.

    The score of a column is ``(v + p) / (M + 1)``, with ``v`` its number of votes and
    ``p`` the models' mean probability, in [0, 1]. Because ``p`` is below 1 whenever
    someone did not vote, the vote count decides and the mean probability only breaks
    ties:
      * single-label: the argmax of the scores is the plurality winner, ties broken
        by the mean probability; each row sums to 1 (the votes sum to M, the mean
        probabilities to 1), so it is a distribution whose peak grows with agreement,
        which is what the FashionAI AP ranks by;
      * multi-label: "more than half of the models voted" is exactly
        ``score >= majority_threshold(M)``, and the scores rank the labels of a row for
        the 1..5 post-processing (more votes first, then higher mean probability).
        With M even, a tie (M/2 votes) is not a majority.

    Example, 3 models, one sample, 3 values with argmaxes 0, 1, 1: votes (1, 2, 0);
    with mean probabilities (0.4, 0.5, 0.1) the scores are (1.4, 2.5, 0.1) / 4 =
    (0.35, 0.625, 0.025).

    Args:
        probs: (M, N, C).
        thresholds: None (single-label), or (M,) / (M, C) per-model thresholds.

    Returns:
        (N, C) vote scores.
    """
    probs = _as_stack(probs)
    n_models, _, n_columns = probs.shape
    if thresholds is None:
        winners = probs.argmax(axis=2)
        votes = (winners[..., None] == np.arange(n_columns)).sum(axis=0)
    else:
        thresholds = _per_model("thresholds", thresholds, n_models, n_columns)
        votes = (probs >= thresholds[:, None, :]).sum(axis=0)
    return (votes + probs.mean(axis=0)) / (n_models + 1)


# -------------------------------------------------------- correlation pruning

def prediction_correlation(probs):
    """(M, M) correlation between the models' predictions.

    The Pearson correlation of two models is computed per column over the samples,
    then averaged over columns. Flattening all columns into one vector would count
    the shared base rates (every model predicts "sports" low and "casual" high) as
    agreement, and make any two sensible models look correlated. A column where a
    model's predictions are constant counts as uncorrelated (0) for that model.
    """
    probs = _as_stack(probs)
    centred = probs - probs.mean(axis=1, keepdims=True)
    norm = np.sqrt((centred ** 2).sum(axis=1))                      # (M, C)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = np.where(norm[:, None, :] > 0, centred / norm[:, None, :], 0.0)
    per_column = np.einsum("anc,bnc->abc", unit, unit)              # (M, M, C)
    corr = per_column.mean(axis=2)
    np.fill_diagonal(corr, 1.0)
    return corr


def prune_correlated(probs, scores, threshold=0.9):
    """Greedy "good and different" selection: drop models that copy a better one.

    Models are visited from the best validation score to the worst (ties: listed
    first wins). A model is kept unless its prediction correlation
    (``prediction_correlation``) with an already kept model is above ``threshold``;
    a model is only ever dropped in favour of a better, kept one. ``threshold >= 1``
    keeps everything. The JD 1st place used 0.9.

    Args:
        probs: (M, N, C) validation predictions.
        scores: (M,) validation scores (one per model).
        threshold: largest correlation allowed between two kept models.

    Returns:
        ``(kept, dropped)``: ``kept`` the sorted indices of the kept models;
        ``dropped`` maps a dropped index to ``(index of the kept model it correlates
        with most, that correlation)``.
    """
    probs = _as_stack(probs)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (probs.shape[0],):
        raise ValueError(f"scores must have shape ({probs.shape[0]},), got {scores.shape}")
    corr = prediction_correlation(probs)
    kept, dropped = [], {}
    for m in np.argsort(-scores, kind="stable"):
        m = int(m)
        if kept:
            closest = max(kept, key=lambda k: corr[m, k])
            if corr[m, closest] > threshold:
                dropped[m] = (closest, float(corr[m, closest]))
                continue
        kept.append(m)
    return sorted(kept), dropped
