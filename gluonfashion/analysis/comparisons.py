"""Comparing techniques fairly: test accuracy with its 95 % interval, the spread over
seeds, and what each technique costs (training time per image and epoch, prediction
time per image), for single-label (FashionAI) runs with a test set that has answers;
for DeepFashion runs, each test image's top-k figures, their means with 95 % intervals
and the paired difference of two runs on the same images."""
import os
import time

import numpy as np
import pandas as pd

from .. import metrics
from ..data.deepfashion import ATTRIBUTE_TYPES, read_scores
from ..data.fashionai import read_predictions
from ..families import family_of
from ..families.deepfashion import benchmark
from ..run_folder import RunFolder


def accuracy_row(probs, labels):
    """Accuracy of ``(N, C)`` probabilities against ``(N,)`` labels with its 95 % Wilson
    interval (``metrics.binomial_interval``), and the FashionAI AP, as a dict."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    if probs.ndim != 2 or labels.shape != (len(probs),):
        raise ValueError(f"need (N, C) probabilities and (N,) labels; got {probs.shape} and {labels.shape}")
    hits = int((probs.argmax(axis=1) == labels).sum())
    low, high = metrics.binomial_interval(hits, len(labels))
    return {"test accuracy": hits / len(labels), "95 % low": low, "95 % high": high,
            "test AP": metrics.fashionai_ap(probs, labels), "test images": len(labels)}


def run_test_probs(run_dir):
    """``(probs, labels)`` of a run's saved test predictions (``test_probs.csv``, with the
    run's own TTA), in the order of the test set."""
    run = RunFolder(run_dir)
    cfg = run.config()
    test = family_of(cfg).test_set(cfg)
    if test is None:
        raise FileNotFoundError(f"{run_dir}: its data has no answers file, so there is no test set to score")
    saved = {rel: probs for rel, _, probs, _ in read_predictions(run.file(run.TEST_PROBS))}
    return _in_test_order(test.keys, saved, run.file(run.TEST_PROBS)), test.truth


def _in_test_order(keys, saved, path):
    """The rows of ``saved`` (``{key: probabilities}``, read from ``path``) in the order of ``keys``."""
    missing = [key for key in keys if key not in saved]
    if missing:
        raise ValueError(f"{path} lacks {len(missing)} of the {len(keys)} test images (e.g. {missing[0]}): "
                         "predict the run again")
    return np.stack([saved[key] for key in keys])


def test_accuracy(run_dir):
    """``accuracy_row`` of a run's saved test predictions."""
    return accuracy_row(*run_test_probs(run_dir))


def training_cost(run_dir):
    """What a run's training cost, from its ``metrics.csv``: the median seconds per epoch
    and milliseconds per training image over its epochs (the median, because a shared
    machine slows single epochs down), and the epochs run."""
    history = pd.read_csv(os.path.join(run_dir, "metrics.csv"))
    return {"s per epoch": float(history["train_seconds"].median()),
            "ms per training image": float((1000.0 / history["train_img_per_s"]).median()),
            "epochs": int(len(history))}


def timed_predictions(run_dir, images, tta=None, loaded=None, which=None):
    """``(probs, ms per image)``: a run's probabilities for ``images`` with ``tta`` and
    the wall-clock time that took, the network already loaded (``loaded``, a
    ``RunFolder.load`` result; loaded here, untimed, when not given)."""
    run = RunFolder(run_dir)
    loaded = loaded or run.load(which, log=lambda *a: None)
    start = time.perf_counter()
    probs = run.predict_images(images, tta, loaded, progress=False)
    return probs, 1000.0 * (time.perf_counter() - start) / max(len(images), 1)


def seed_spread(rows, by="variant", column="test accuracy"):
    """One row per ``by`` value of ``rows`` (dicts or a table with a ``seed`` column):
    ``column`` per seed, their mean and their range (max - min), in first-seen order."""
    table = pd.DataFrame(rows)
    wide = table.pivot_table(index=by, columns="seed", values=column, aggfunc="first", sort=False)
    wide.columns = [f"seed {s}" for s in wide.columns]
    return wide.assign(mean=wide.mean(axis=1), range=wide.max(axis=1) - wide.min(axis=1))


# ------------------------------------------------------------------ DeepFashion: top-k figures per test image

def category_attribute_test(run_dir):
    """A DeepFashion run's saved test scores (``test_probs.csv``, with the run's TTA) in
    test-set order, with their truth: ``(scores (N, C + A), truth (N, C + A) 0/1,
    n_categories, attribute_types (A,))``."""
    run = RunFolder(run_dir)
    cfg = run.config()
    test = family_of(cfg).test_set(cfg)
    if test is None:
        raise FileNotFoundError(f"{run_dir}: its data has no test partition to score")
    names, scores, n_categories = read_scores(run.file(run.TEST_PROBS))
    scores = _in_test_order(test.keys, dict(zip(names, scores)), run.file(run.TEST_PROBS))
    return scores, test.truth, n_categories, benchmark(cfg).attribute_types


def topk_per_image(scores, truth, n_categories, attribute_types=None, category_ks=(1, 3), recall_ks=(3, 5)):
    """Each image's top-k figures, one column each: ``category top-k`` (bool: its
    category is among its k highest category scores, ``metrics.topk_hits``),
    ``attribute recall@k`` (the share of its present attributes among its k highest
    attribute scores, NaN when it has none, ``metrics.topk_recall_per_image``) and, with
    ``attribute_types`` (A,), ``<type> recall@k``: the same ranked among that type's
    attributes only. The columns' means (NaN left out) are the figures of
    ``metrics.category_attribute_scores``."""
    scores, truth = np.asarray(scores), np.asarray(truth)
    labels = (truth[:, :n_categories] == 1).argmax(axis=1)
    present = (truth[:, n_categories:] == 1).astype(np.uint8)
    attributes = scores[:, n_categories:]
    columns = {f"category top-{k}": metrics.topk_hits(scores[:, :n_categories], labels, k) for k in category_ks}
    groups = [("attribute", np.ones(present.shape[1], dtype=bool))]
    if attribute_types is not None:
        types = np.asarray(attribute_types)
        groups += [(ATTRIBUTE_TYPES.get(int(t), f"type {t}"), types == t) for t in np.unique(types)]
    for name, cut in groups:
        for k in recall_ks:
            columns[f"{name} recall@{k}"] = metrics.topk_recall_per_image(attributes[:, cut], present[:, cut],
                                                                          min(k, int(cut.sum())))
    return pd.DataFrame(columns)


def mean_interval(values, z=1.96):
    """``{"value", "95 % low", "95 % high", "images"}`` of per-image values, NaN left
    out: for bool values the share that is True with its Wilson interval
    (``metrics.binomial_interval``, as ``accuracy_row``), for others the mean with
    mean +- z * sd / sqrt(n) (sd with n - 1; NaN bounds for fewer than 2 values)."""
    values = np.asarray(values)
    if values.dtype == bool:
        hits, n = int(values.sum()), len(values)
        low, high = metrics.binomial_interval(hits, n, z)
        return {"value": hits / n, "95 % low": low, "95 % high": high, "images": n}
    values = values[~np.isnan(values)].astype(np.float64)
    n = len(values)
    mean = float(values.mean()) if n else float("nan")
    half = float(z * values.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return {"value": mean, "95 % low": mean - half, "95 % high": mean + half, "images": n}


def interval_table(per_image, z=1.96):
    """``mean_interval`` of every column of ``per_image`` (``topk_per_image``), one row each."""
    return pd.DataFrame({column: mean_interval(per_image[column].to_numpy(), z) for column in per_image}).T


def paired_difference(a, b, z=1.96):
    """Two runs' per-image values on the same images: the mean of ``a - b`` over the
    images where both are defined, with mean +- z * sd(a - b) / sqrt(n). Pairing leaves
    out what the images themselves contribute (an easy image is easy for both runs), so
    this interval is narrower than the two runs' own intervals suggest."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return mean_interval(diff, z)
