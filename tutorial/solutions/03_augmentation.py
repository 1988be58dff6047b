"""Worked solutions to the exercises at the end of 03_augmentation.ipynb.

    python tutorial/solutions/03_augmentation.py                      # about 3 minutes on a laptop CPU
    GLUONFASHION_FAST=1 python tutorial/solutions/03_augmentation.py  # tiny data, one epoch

Exercise 1 trains two runs on the notebook's low-data set; the crop+flip runs it
compares them with are the notebook's (reused when they are there, trained otherwise).
"""
import os
import time

import numpy as np
import pandas as pd

from gluonfashion import analysis
from gluonfashion.config import load_config
from gluonfashion.data.fashionai import read_label_file
from gluonfashion.data.images import decode_image
from gluonfashion.transforms import augmentation_gallery

TASK = "skirt_length_labels"
LOW_DATA = {"train_per_value": 10, "test_per_value": 100}                # as in the notebook
LOW_DATA_SETTINGS = {"val_fraction": 0.25, "epochs": 16, "workers": 0}   # as in the notebook
MORE = {"crop_h": [0.85, 1.0], "crop_v": [0.9, 1.0], "stretch": 0.1,     # the notebook's "more"
        "rotate_deg": 10, "hsv_shift": [30, 0.3, 0.2], "erase_prob": 0.5}


def erasing_alone(env, data_root):
    """Exercise 1: random erasing on top of crop+flip, against crop+flip, seeds 0 and 1."""
    rows = []
    for name, run_name, extra in (("crop+flip", "full", {}), ("crop+flip+erase", "erase", {"erase_prob": 0.5})):
        for seed in (0, 1):
            cfg = load_config(f"configs/fashionai/{TASK}.yaml", env.config_overrides(
                data_root=data_root, seed=seed,
                output_dir=os.path.join(env.runs_dir, "low_data", run_name, f"seed{seed}"),
                **LOW_DATA_SETTINGS, **extra), profile="demo")
            run, _ = analysis.train_or_reuse(cfg, log=lambda *a: None)
            rows.append({"variant": name, "seed": seed, **analysis.test_accuracy(run)})
    spread = analysis.seed_spread(rows)
    print("Exercise 1: test accuracy, random erasing alone on top of crop+flip")
    print(spread.round(3).to_string(), "\n")
    return spread


def hem_kept(draws=100):
    """Exercise 2: how often does a crop cut away the bottom tenth of the image?"""
    image = np.full((128, 128, 3), 128, dtype=np.uint8)
    image[-13:] = (255, 0, 0)                        # the bottom tenth, in red: "the hem"
    area = dict(augmentation_gallery({"image_size": 96, "crop_scale": [0.7, 1.0]}))["crop"]
    keep_height = dict(augmentation_gallery({"image_size": 96, "crop_h": [0.8, 1.0], "crop_v": [1.0, 1.0]}))["crop_hv"]
    kept = {}
    for name, crop in (("area crop (70-100 % of the area)", area), ("crop_h [0.8, 1], crop_v [1, 1]", keep_height)):
        rng = np.random.default_rng(0)
        # the hem survives when the crop's last row is still red
        kept[name] = sum(bool((crop(image, rng)[-1, :, 0] > 200).all()) for _ in range(draws))
    for name, n in kept.items():
        print(f"Exercise 2: {name}: the bottom row is the hem in {n} of {draws} draws")
    print()
    return kept


def best_ms(fn, items, repeat=3):
    """Milliseconds per item of ``fn`` over ``items``, the best of ``repeat`` passes."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, (time.perf_counter() - start) / len(items))
    return 1000 * best


def step_costs(cfg, paths):
    """Exercise 3: milliseconds per image of decoding and of each augmentation step, and
    the loader workers a GPU training 1,000 images per second would need."""
    images = [decode_image(p) for p in paths]
    costs = {"decode (JPEG file)": best_ms(decode_image, paths)}
    for name, step in augmentation_gallery(cfg):
        rng = np.random.default_rng(0)
        costs[name] = best_ms(lambda img: step(img, rng), images)
    table = pd.Series(costs, name="ms per image").round(3)
    # a worker prepares 1000 / (decode + all) images per second; 1,000 images/s need
    # 1000 / that = (decode + all) ms / 1 ms workers, rounded up
    workers = int(np.ceil((costs["decode (JPEG file)"] + costs["all"]) * 1000 / 1000))
    print("Exercise 3: the cost of decoding and of each augmentation step on the training drawings")
    print(table.to_string())
    print(f"Exercise 3: at {costs['decode (JPEG file)'] + costs['all']:.2f} ms per image, a GPU training 1,000 "
          f"images per second needs about {workers} loader worker(s) on cores of this speed")
    return table, workers


def main():
    env = analysis.notebook_setup(fashionai_root=None, need=())
    data_root = env.low_data_demo(TASK, **LOW_DATA)
    spread = erasing_alone(env, data_root)
    assert list(spread.index) == ["crop+flip", "crop+flip+erase"]
    kept = hem_kept()
    assert kept["crop_h [0.8, 1], crop_v [1, 1]"] == 100           # the whole height, every time
    assert kept["area crop (70-100 % of the area)"] < 100
    paths = [r.image for r in read_label_file(os.path.join(data_root, "Annotations", "label.csv"))]
    cfg = load_config(f"configs/fashionai/{TASK}.yaml", list(MORE.items()), profile="demo")
    costs, workers = step_costs(cfg, paths)
    assert list(costs.index) == ["decode (JPEG file)", "crop", "crop_hv", "stretch", "rotate", "flip", "hsv",
                                 "erase", "all"]
    assert workers >= 1


if __name__ == "__main__":
    main()
