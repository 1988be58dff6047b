"""Worked solutions to the exercises at the end of 07_deepfashion.ipynb.

    python tutorial/solutions/07_deepfashion.py                      # one training of a few minutes
    GLUONFASHION_FAST=1 python tutorial/solutions/07_deepfashion.py  # tiny data, one epoch

The runs of the two weightings are the notebook's (runs/tutorial/deepfashion/...,
reused when they are there, trained otherwise); exercise 2 trains the thesis weighting
with a second seed.
"""
import os

import numpy as np
import pandas as pd

from gluonfashion import analysis, metrics
from gluonfashion.config import load_config
from gluonfashion.data.deepfashion import CATEGORY_TYPES
from gluonfashion.families.deepfashion import benchmark

SETTINGS = {"epochs": 2}                   # as in the notebook, so its runs are reused
WEIGHTINGS = {"thesis": (1.0, 20.0), "equal": (1.0, 1.0)}
FIGURES = ["category top-1", "category top-3", "attribute recall@3", "attribute recall@5"]


def weighting_config(env, w_c, w_s, seed=0):
    """The notebook's config: loss weights w_c and w_s, its data, SETTINGS and run folders."""
    return load_config("configs/deepfashion/deepfashion.yaml", env.config_overrides(
        data_root=env.deepfashion_root, seed=seed, category_loss_weight=w_c, attribute_loss_weight=w_s,
        output_dir=os.path.join(env.runs_dir, "deepfashion", f"wc{w_c:g}_ws{w_s:g}", f"seed{seed}"), **SETTINGS),
        profile="demo")


def recall_ceiling(runs):
    """Exercise 1: the best recall@k a ranking can reach on the test images (each image
    scored with its own truth), against the runs' recall."""
    # By hand: an image with n present attributes finds at most min(k, n) of them in its top k:
    # with 2 present recall@3 can reach 2/2 = 1, with 8 present only 3/8 = 0.375.
    print("Exercise 1: by hand, recall@3 is at most 1 with 2 present attributes and 3/8 = 0.375 with 8")
    attribute_scores = {}
    for name, run in runs.items():
        scores, truth, n_cat, _ = analysis.category_attribute_test(run)
        attribute_scores[name] = scores[:, n_cat:]
    present = (truth[:, n_cat:] == 1).astype(np.uint8)
    counts = present.sum(axis=1)
    rows = {}
    for k in (3, 5):
        ceiling = metrics.topk_recall(present.astype(float), present, k)    # a perfect ranking
        # the same from the counts alone: the mean of min(k, n) / n over the images with n > 0
        assert abs(ceiling - np.mean(np.minimum(k, counts[counts > 0]) / counts[counts > 0])) < 1e-12
        rows[f"recall@{k}"] = {"ceiling": ceiling, **{name: metrics.topk_recall(s, present, k)
                                                      for name, s in attribute_scores.items()}}
    table = pd.DataFrame(rows).T
    for name in runs:
        table[f"{name}: share of the ceiling"] = table[name] / table["ceiling"]
    print(f"Exercise 1: on the {int((counts > 0).sum())} test images with a present attribute "
          f"({counts[counts > 0].mean():.1f} on average, up to {counts.max()})")
    print(table.round(4).to_string(), "\n")
    return table


def second_seed(env, runs):
    """Exercise 2: the thesis weighting with seed 1; the seed's paired differences next to
    the weighting's."""
    seed1, _ = analysis.train_or_reuse(weighting_config(env, *WEIGHTINGS["thesis"], seed=1), log=lambda *a: None)
    n_cat = analysis.category_attribute_test(seed1)[2]
    per_image = {name: analysis.topk_per_image(*analysis.category_attribute_test(run)[:2], n_cat)
                 for name, run in {**runs, "thesis, seed 1": seed1}.items()}
    rows = []
    for label, (a, b) in {"seed 0 - seed 1 (thesis)": ("thesis", "thesis, seed 1"),
                          "thesis - equal (seed 0)": ("thesis", "equal")}.items():
        for figure in FIGURES:
            rows.append({"comparison": label, "figure": figure,
                         **analysis.paired_difference(per_image[a][figure], per_image[b][figure])})
    table = pd.DataFrame(rows).set_index(["comparison", "figure"])
    print("Exercise 2: paired differences on the test images, the seed's and the weighting's")
    print(table.round(4).astype({"images": int}).to_string(), "\n")
    return table


def confusions(run, category_names, category_types, top=8):
    """Exercise 3: the most frequent (true, predicted) pairs among the top-1 mistakes, and
    how many mistakes stay within the true category's type."""
    scores, truth, n_cat, _ = analysis.category_attribute_test(run)
    labels, predicted = truth[:, :n_cat].argmax(axis=1), scores[:, :n_cat].argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    pairs = pd.Series([(category_names[labels[i]], category_names[predicted[i]]) for i in wrong]).value_counts()
    same_type = category_types[labels[wrong]] == category_types[predicted[wrong]]
    # by chance: a wrong category drawn evenly from the other C - 1 would share the type with
    # probability (categories of that type - 1) / (C - 1), averaged over the mistakes
    of_type = {t: int((category_types == t).sum()) for t in CATEGORY_TYPES}
    chance = np.mean([(of_type[category_types[labels[i]]] - 1) / (n_cat - 1) for i in wrong]) if len(wrong) else 0.0
    print(f"Exercise 3: {len(wrong)} of {len(labels)} test images have the wrong top-1 category; "
          f"{int(same_type.sum())} of the mistakes ({same_type.mean() if len(wrong) else 0:.0%}) stay within the "
          f"true category's type (by chance: {chance:.0%})")
    print("Exercise 3: the most frequent confusions (true -> predicted):")
    print("\n".join(f"    {t} -> {p}: {n}" for (t, p), n in pairs.head(top).items()), "\n")
    return wrong, same_type, chance


def main():
    env = analysis.notebook_setup(fashionai_root=None, deepfashion_root=analysis.DEMO_DEEPFASHION_ROOT,
                                  need=("deepfashion",))
    runs = {name: analysis.train_or_reuse(weighting_config(env, *weights), log=lambda *a: None)[0]
            for name, weights in WEIGHTINGS.items()}
    ceiling = recall_ceiling(runs)
    assert (ceiling["ceiling"] <= 1).all() and (ceiling["thesis"] <= ceiling["ceiling"] + 1e-12).all()
    differences = second_seed(env, runs)
    assert len(differences) == 2 * len(FIGURES)
    bench = benchmark(weighting_config(env, *WEIGHTINGS["thesis"]))
    wrong, same_type, chance = confusions(runs["thesis"], bench.categories, bench.category_types)
    assert len(same_type) == len(wrong) and 0 <= chance <= 1


if __name__ == "__main__":
    main()
