"""Worked solutions to the exercises at the end of 06_error_analysis.ipynb.

    python tutorial/solutions/06_error_analysis.py                      # seconds, with notebook 02's run
    GLUONFASHION_FAST=1 python tutorial/solutions/06_error_analysis.py  # tiny data, one epoch

The run is notebook 02's low-data run (runs/tutorial/low_data/full/seed0), trained
first when it is not there; the images are its 600 test drawings.
"""
import os

import numpy as np
import pandas as pd

from gluonfashion import analysis
from gluonfashion.config import load_config
from gluonfashion.data.images import decode_image
from gluonfashion.run_folder import load_run
from gluonfashion.transforms import build_eval_transform

TASK = "skirt_length_labels"
LOW_DATA = {"train_per_value": 10, "test_per_value": 100}                # as in notebook 02
LOW_DATA_SETTINGS = {"val_fraction": 0.25, "epochs": 16, "workers": 0}   # as in notebook 02


def doubtful_images(held, k=12):
    """Exercise 1: the images with the smallest margin between their two most probable values."""
    top2 = np.sort(held.probs, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    order = np.argsort(margin, kind="stable")[:k]
    second = np.argsort(-held.probs, axis=1, kind="stable")[:, 1]
    table = pd.DataFrame({"margin": margin[order].round(3), "true": [held.classes[held.labels[i]] for i in order],
                          "first": [held.classes[held.preds[i]] for i in order],
                          "second": [held.classes[second[i]] for i in order],
                          "right": held.preds[order] == held.labels[order]}, index=order)
    print(f"Exercise 1: the {k} most doubtful images, {int((~table['right']).sum())} of them wrong "
          f"(accuracy over all {len(held.labels)}: {(held.preds == held.labels).mean():.3f})")
    print(table.to_string(), "\n")
    return table


def recall_and_precision(cm, names, show=True):
    """Exercise 2: per value, recall (diagonal / row) and precision (diagonal / column)."""
    cm = np.asarray(cm, dtype=float)
    table = pd.DataFrame({"images": cm.sum(axis=1).astype(int), "predicted": cm.sum(axis=0).astype(int),
                          "recall": np.diag(cm) / np.maximum(cm.sum(axis=1), 1),
                          "precision": np.diag(cm) / np.maximum(cm.sum(axis=0), 1)}, index=names)
    if show:
        print("Exercise 2: recall and precision per value")
        print(table.round(3).to_string(), "\n")
    return table


def every_value_map(run_dir, held):
    """Exercise 3: the class activation map of every value for one image of the middle value."""
    net, run_cfg, _, _ = load_run(run_dir, log=lambda *a: None)
    middle = len(held.classes) // 2
    index = int(np.flatnonzero(held.labels == middle)[0]) if (held.labels == middle).any() else 0
    image = build_eval_transform(run_cfg, "none")(decode_image(held.images[index]))
    batch = np.stack([image] * len(held.classes))
    maps = analysis.class_activation_maps(net, batch, classes=np.arange(len(held.classes)))
    rows = maps.raw.shape[1]
    # where each value's evidence is strongest: the row of the map (0 = top of the image)
    strongest = [int(np.unravel_index(np.argmax(m), m.shape)[0]) for m in maps.raw]
    print(f"Exercise 3: image {index} (true value {held.classes[held.labels[index]]}), {maps.method} maps of "
          f"{rows}x{rows}; the row (0 = top) where each value's evidence is strongest:")
    print(pd.Series(strongest, index=held.classes, name="strongest row").to_string())
    return maps


def main():
    env = analysis.notebook_setup(fashionai_root=None, need=())
    data_root = env.low_data_demo(TASK, **LOW_DATA)
    cfg = load_config(f"configs/fashionai/{TASK}.yaml", env.config_overrides(
        data_root=data_root, seed=0, output_dir=os.path.join(env.runs_dir, "low_data", "full", "seed0"),
        **LOW_DATA_SETTINGS), profile="demo")
    run_dir, _ = analysis.train_or_reuse(cfg, log=lambda *a: None)
    held = analysis.load_test_predictions(run_dir)
    table = doubtful_images(held)
    assert (np.diff(table["margin"].to_numpy()) >= 0).all()          # smallest margins first
    # by hand: two values, rows 8/2 and 3/7 -> recall 0.8 and 0.7, precision 8/11 and 7/9
    small = recall_and_precision([[8, 2], [3, 7]], ["a", "b"], show=False)
    assert np.allclose(small["recall"], [0.8, 0.7]) and np.allclose(small["precision"], [8 / 11, 7 / 9])
    cm = analysis.confusion_matrix(held.labels, held.preds, len(held.classes))
    per_value = recall_and_precision(cm, held.classes)
    assert per_value["images"].sum() == len(held.labels)
    maps = every_value_map(run_dir, held)
    assert len(maps.raw) == len(held.classes)


if __name__ == "__main__":
    main()
