"""Worked solutions to the exercises at the end of 01_data.ipynb.

    python tutorial/solutions/01_data.py                      # on the demo data (seconds)
    GLUONFASHION_FAST=1 python tutorial/solutions/01_data.py  # tiny data, as the tests run it

Run it from anywhere inside the repository; like the notebook it moves to the
repository root and generates the demo data when it is missing.
"""
import os

import numpy as np
import pandas as pd

from gluonfashion import analysis, tasks
from gluonfashion.data.fashionai import read_label_file
from gluonfashion.data.jd import read_jd_train, style_names
from gluonfashion.data.split import stratified_split

TASK = "skirt_length_labels"


def maybe_pairs(rows):
    """Exercise 1: which value does each `m` mark point to, given the row's `y` value?"""
    names = tasks.value_names(TASK, len(rows[0].ynm))
    pairs = pd.crosstab(pd.Series([names[r.label] for r in rows for i, ch in enumerate(r.ynm) if ch == "m"],
                                  name="y value"),
                        pd.Series([names[i] for r in rows for i, ch in enumerate(r.ynm) if ch == "m"],
                                  name="m value"))
    steps = [abs(i - r.label) for r in rows for i, ch in enumerate(r.ynm) if ch == "m"]
    print(f"Exercise 1: {len(steps)} `m` marks in {TASK}, {sum(s == 1 for s in steps)} of them on a "
          f"neighbouring value (one position away from the `y`)")
    print(pairs.to_string(), "\n")
    return steps


def split_overlap(rows):
    """Exercise 2: two seeds, two validation sets: how many images do they share?"""
    labels = np.array([r.label for r in rows])
    val = {seed: stratified_split(labels, val_fraction=0.1, seed=seed)[1] for seed in (0, 1)}
    shared = len(np.intersect1d(val[0], val[1]))
    per_value = np.bincount(labels[val[1]], minlength=labels.max() + 1)
    # Chance level: each value gives a tenth of its images to validation under both seeds,
    # independently, so a tenth of a tenth of the images is expected in both.
    expected = len(labels) * 0.1 * 0.1
    print(f"Exercise 2: seeds 0 and 1 choose {len(val[0])} validation images each; {shared} are shared "
          f"(chance: about {expected:.0f}); validation images per value with seed 1: {per_value.tolist()}\n")
    return shared, per_value


def jd_singles_and_pairs(y, names):
    """Exercise 3: the style most often alone, and the pair of styles seen together most."""
    alone = y[y.sum(axis=1) == 1].sum(axis=0)
    both = analysis.cooccurrence(y).astype(float)
    np.fill_diagonal(both, -1)
    a, b = np.unravel_index(np.argmax(both), both.shape)
    print(f"Exercise 3: most often the only style of an image: {names[int(np.argmax(alone))]} "
          f"({int(alone.max())} of {int((y.sum(axis=1) == 1).sum())} single-style images); "
          f"most frequent pair: {names[a]} + {names[b]} ({int(both[a, b])} images)")
    return alone, (a, b)


def main():
    env = analysis.notebook_setup(jd_root=analysis.DEMO_JD_ROOT, need=("fashionai", "jd"))
    rows = [r for r in read_label_file(os.path.join(env.fashionai_root, "Annotations", "label.csv"))
            if r.task == TASK]
    steps = maybe_pairs(rows)
    assert all(s >= 1 for s in steps)                     # an `m` never sits on the `y` itself
    _, per_value = split_overlap(rows)
    counts = np.bincount([r.label for r in rows])
    # the split keeps round(10 %) of every value, at least one
    assert per_value.tolist() == [max(1, int(round(c * 0.1))) for c in counts]
    _, _, y = read_jd_train(os.path.join(env.jd_root, "train.txt"), n_labels=None)
    alone, _ = jd_singles_and_pairs(y, style_names(y.shape[1]))
    assert alone.sum() == (y.sum(axis=1) == 1).sum()      # every single-style image counted once


if __name__ == "__main__":
    main()
