"""Worked solutions to the exercises at the end of 05_tta_and_ensembling.ipynb.

    python tutorial/solutions/05_tta_and_ensembling.py                      # about 2 minutes on a laptop CPU
    GLUONFASHION_FAST=1 python tutorial/solutions/05_tta_and_ensembling.py  # tiny data, one epoch

The runs are the notebook's (runs/tutorial/low_data/...), reused when they are there
and trained otherwise; exercise 2 trains one more seed.
"""
import os

import numpy as np
import pandas as pd

from gluonfashion import analysis
from gluonfashion.config import load_config
from gluonfashion.run_folder import RunFolder

TASK = "skirt_length_labels"
LOW_DATA = {"train_per_value": 10, "test_per_value": 100}                # as in the notebook
LOW_DATA_SETTINGS = {"val_fraction": 0.25, "epochs": 16, "workers": 0}   # as in the notebook
SWA = {"lr_schedule": "cyclic", "cycle_epochs": 2, "lr_min": 0.0005, "swa_epochs": 6, "predict_weights": "swa"}


def validation_vs_test(runs):
    """Exercise 1: the flip TTA gain on the 12 validation images against the 600 test images."""
    rows = []
    for seed, run in runs.items():
        scores = {mode: analysis.evaluate_run(run, tta=mode) for mode in ("none", "flip")}
        rows.append({"seed": seed, **{f"{column} gain": scores["flip"][column] - scores["none"][column]
                                      for column in ("val accuracy", "val AP", "test accuracy", "test AP")}})
    table = pd.DataFrame(rows).set_index("seed")
    print("Exercise 1: what flip TTA adds (flip - none), on validation and on test")
    print(table.round(4).to_string(), "\n")
    return table


def three_seeds(runs, test):
    """Exercise 2: the mean of three seeds' test probabilities against each seed alone."""
    probs = {f"seed {seed}": analysis.run_test_probs(run)[0] for seed, run in runs.items()}
    probs["mean of the three"] = np.mean(list(probs.values()), axis=0)
    table = pd.DataFrame({name: analysis.accuracy_row(p, test.truth) for name, p in probs.items()}).T
    print("Exercise 2: three seeds of crop+flip and their mean ensemble")
    print(table.drop(columns="test images").round(3).to_string(), "\n")
    return table


def probabilities_vs_weights(swa_run, test):
    """Exercise 3: averaging the best and last epochs' probabilities, against SWA's weights."""
    probs = {w: analysis.predict_images(swa_run, test.images, tta="none", which=w) for w in ("best", "last", "swa")}
    probs["mean of best and last probabilities"] = (probs["best"] + probs["last"]) / 2
    table = pd.DataFrame({name: analysis.accuracy_row(p, test.truth) for name, p in probs.items()}).T
    print("Exercise 3: the cyclic run's weights, and an average of two of its epochs' predictions")
    print(table.drop(columns="test images").round(3).to_string())
    return table


def main():
    env = analysis.notebook_setup(fashionai_root=None, need=())
    data_root = env.low_data_demo(TASK, **LOW_DATA)

    def config(name, seed, **extra):
        return load_config(f"configs/fashionai/{TASK}.yaml", env.config_overrides(
            data_root=data_root, seed=seed, output_dir=os.path.join(env.runs_dir, "low_data", name, f"seed{seed}"),
            **LOW_DATA_SETTINGS, **extra), profile="demo")

    fast_swa = {**SWA, "cycle_epochs": 1, "swa_epochs": 1} if env.fast else SWA
    runs = {seed: analysis.train_or_reuse(config("full", seed), log=lambda *a: None)[0] for seed in (0, 1, 2)}
    swa_run, _ = analysis.train_or_reuse(config("swa", 0, **fast_swa), log=lambda *a: None)
    test = analysis.test_set(config("full", 0))
    gains = validation_vs_test({seed: runs[seed] for seed in (0, 1)})
    assert list(gains.index) == [0, 1]
    table = three_seeds(runs, test)
    # the ensemble's probabilities are the mean of the three: its AP and accuracy are
    # worked out from them, so only the rows' presence and range are checked here
    assert list(table.index)[-1] == "mean of the three" and table["test accuracy"].between(0, 1).all()
    weights = probabilities_vs_weights(swa_run, test)
    assert len(weights) == 4
    probs = RunFolder(swa_run).predict_images(test.images[:3], "none", which="best", progress=False)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)              # probabilities, one row per image


if __name__ == "__main__":
    main()
