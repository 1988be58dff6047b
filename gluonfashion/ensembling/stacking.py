"""Stacking: a meta-model learns how to combine the models from their out-of-fold
probabilities (JD 1st place: 5-fold CNNs, then XGBoost on the out-of-fold predictions).

The meta-model sees, for every sample, the probabilities of all models for all columns
(as log-odds), so it can learn "trust model A for this label, model B for that one"
and use co-occurring labels. It is scikit-learn's ``LogisticRegression`` by default;
``meta="xgboost"`` uses ``xgboost.XGBClassifier`` when that package is installed.

Its own validation output is cross-fitted: the rows are split into folds and every
row is predicted by a meta-model fitted on the other folds (what scikit-learn's
``cross_val_predict`` does), so scores and thresholds computed on it are not measured
on the rows the meta-model was fitted on. The test output comes from a meta-model
fitted on all rows.

scikit-learn is imported inside the functions, so importing this module stays cheap.
"""
import warnings

import numpy as np

__all__ = ["stack_features", "make_meta_model", "cross_fitted", "stack_multilabel", "stack_singlelabel"]

_EPS = 1e-6


def stack_features(probs):
    """``(M, N, C)`` probabilities -> ``(N, M * C)`` log-odds, model after model.

    Log-odds spread probabilities near 0 and 1 (where the models differ most in
    confidence) and make a linear meta-model an average in logit space.
    """
    probs = np.clip(np.asarray(probs, dtype=np.float64), _EPS, 1 - _EPS)
    if probs.ndim != 3:
        raise ValueError(f"probs must be (models, samples, columns), got shape {probs.shape}")
    logits = np.log(probs) - np.log1p(-probs)
    n_models, n_rows, n_columns = probs.shape
    return logits.transpose(1, 0, 2).reshape(n_rows, n_models * n_columns)


def make_meta_model(kind="logistic", seed=0):
    """A fresh, unfitted meta-model: ``logistic`` (scikit-learn) or ``xgboost`` (optional)."""
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        # Scaling makes the L2 penalty treat every model/column alike.
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    if kind == "xgboost":
        try:
            import xgboost
        except ImportError:
            raise RuntimeError("meta-model xgboost needs the xgboost package (pip install xgboost); "
                               "the default logistic meta-model needs only scikit-learn") from None
        return xgboost.XGBClassifier(n_estimators=200, max_depth=3, learning_rate=0.05, subsample=0.8,
                                     random_state=seed, n_jobs=1)
    raise ValueError(f"unknown meta-model {kind!r}: use logistic or xgboost")


def _fit_predict(kind, seed, X, y, X_out, n_classes):
    """Class probabilities ``(len(X_out), n_classes)`` of a meta-model fitted on ``(X, y)``.

    Classes absent from ``y`` get probability 0. With a single class present there is
    nothing to learn and that class gets probability 1.
    """
    present = np.unique(y)
    out = np.zeros((len(X_out), n_classes))
    if len(present) == 1:
        out[:, present[0]] = 1.0
        return out
    model = make_meta_model(kind, seed)
    model.fit(X, np.searchsorted(present, y))   # codes 0..k-1: xgboost insists on them
    out[:, present] = model.predict_proba(X_out)
    return out


def cross_fitted(X, y, X_test, n_classes, folds=5, seed=0, meta="logistic"):
    """Cross-fitted probabilities on ``X`` and probabilities on ``X_test``.

    Args:
        X: (N, F) meta-features of the out-of-fold rows; y: (N,) class indices.
        X_test: (N_test, F) meta-features of the test rows.
        n_classes: number of output columns (classes may be missing from ``y``).
        folds: stratified folds for the cross-fitting; fewer are used when the
            smallest class has fewer rows (at least 2).

    Returns:
        ``(oof, test)``: (N, n_classes) where row i comes from a meta-model fitted
        without row i, and (N_test, n_classes) from a meta-model fitted on all rows.
    """
    from sklearn.model_selection import StratifiedKFold
    y = np.asarray(y, dtype=np.int64)
    counts = np.bincount(y, minlength=n_classes)
    if counts.max() < 2:
        raise ValueError(f"stacking needs validation rows to cross-fit the meta-model: got {len(y)} "
                         "rows, no class with 2 or more")
    n_splits = max(2, min(folds, counts[counts > 0].min()))
    oof = np.zeros((len(y), n_classes))
    with warnings.catch_warnings():
        # A class with fewer rows than folds is fine here (_fit_predict copes with a
        # training part that lacks it); scikit-learn would warn on every call.
        warnings.simplefilter("ignore", UserWarning)
        for fit_rows, held_out in StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(X, y):
            oof[held_out] = _fit_predict(meta, seed, X[fit_rows], y[fit_rows], X[held_out], n_classes)
    return oof, _fit_predict(meta, seed, X, y, X_test, n_classes)


def _check(oof_probs, test_probs, n_rows_truth):
    oof_probs, test_probs = np.asarray(oof_probs), np.asarray(test_probs)
    if oof_probs.ndim != 3 or test_probs.ndim != 3 or oof_probs.shape[::2] != test_probs.shape[::2]:
        raise ValueError(f"oof_probs and test_probs must be (models, rows, columns) with the same models "
                         f"and columns, got {oof_probs.shape} and {test_probs.shape}")
    if oof_probs.shape[1] != n_rows_truth:
        raise ValueError(f"{oof_probs.shape[1]} out-of-fold rows but {n_rows_truth} truth rows")


def stack_multilabel(oof_probs, y_true, test_probs, folds=5, seed=0, meta="logistic"):
    """One binary meta-model per label, on all models' probabilities of all labels.

    Args:
        oof_probs: (M, N, L) out-of-fold (validation) probabilities.
        y_true: (N, L) 0/1 targets.
        test_probs: (M, N_test, L).

    Returns:
        ``(oof, test)``: (N, L) cross-fitted probabilities (search thresholds on
        these) and (N_test, L) test probabilities.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    _check(oof_probs, test_probs, len(y_true))
    X, X_test = stack_features(oof_probs), stack_features(test_probs)
    oof = np.empty(y_true.shape)
    test = np.empty((len(X_test), y_true.shape[1]))
    for label in range(y_true.shape[1]):
        o, t = cross_fitted(X, y_true[:, label], X_test, 2, folds, seed, meta)
        oof[:, label], test[:, label] = o[:, 1], t[:, 1]
    return oof, test


def stack_singlelabel(oof_probs, labels, test_probs, folds=5, seed=0, meta="logistic"):
    """One multinomial meta-model on all models' value probabilities (one task).

    Args:
        oof_probs: (M, N, C) out-of-fold (validation) probabilities.
        labels: (N,) class indices.
        test_probs: (M, N_test, C).

    Returns:
        ``(oof, test)``: (N, C) cross-fitted and (N_test, C) test distributions.
    """
    labels = np.asarray(labels, dtype=np.int64)
    _check(oof_probs, test_probs, len(labels))
    n_classes = np.asarray(oof_probs).shape[2]
    return cross_fitted(stack_features(oof_probs), labels, stack_features(test_probs), n_classes,
                        folds, seed, meta)
