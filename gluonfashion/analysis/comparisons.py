"""Comparing techniques fairly: test accuracy with its 95 % interval, the spread over
seeds, and what each technique costs (training time per image and epoch, prediction
time per image). For single-label (FashionAI) runs with a test set that has answers."""
import os
import time

import numpy as np
import pandas as pd

from .. import metrics
from ..data.fashionai import read_predictions
from ..families import family_of
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
    missing = [key for key in test.keys if key not in saved]
    if missing:
        raise ValueError(f"{run.file(run.TEST_PROBS)} lacks {len(missing)} of the {len(test.keys)} test images "
                         f"(e.g. {missing[0]}): predict the run again")
    return np.stack([saved[key] for key in test.keys]), test.truth


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
