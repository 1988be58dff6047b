"""Worked solutions to the exercises at the end of 02_transfer_learning.ipynb.

    python tutorial/solutions/02_transfer_learning.py                      # about 2 minutes on a laptop CPU
    GLUONFASHION_FAST=1 python tutorial/solutions/02_transfer_learning.py  # tiny data, one epoch

Exercise 3 trains on the notebook's low-data set (10 drawings per value): the seed-1
runs land next to the notebook's runs (runs/tutorial/low_data/<variant>/seed1), so a
run that notebook 03 already trained is reused.
"""
import os

import numpy as np
import pandas as pd
from mxnet import nd
from skimage import data as photos

from gluonfashion import analysis
from gluonfashion.config import load_config
from gluonfashion.devices import resolve_devices
from gluonfashion.models import build_model
from gluonfashion.pretrained import classify, efficientnet_lite0

TASK = "skirt_length_labels"
LOW_DATA = {"train_per_value": 10, "test_per_value": 100}                # as in the notebook
LOW_DATA_SETTINGS = {"val_fraction": 0.25, "epochs": 16, "workers": 0}   # as in the notebook


def n_params(block):
    return sum(int(np.prod(p.shape)) for p in block.collect_params().values())


def photos_and_views():
    """Exercise 1: two more photographs, mirrored and cropped."""
    net = efficientnet_lite0(pretrained=True)
    rows = []
    for name in ("astronaut", "rocket"):
        photo = getattr(photos, name)()
        h, w = photo.shape[:2]
        views = {"as shot": photo, "mirrored": photo[:, ::-1],
                 "central half": photo[h // 4:h - h // 4, w // 4:w - w // 4]}
        for view, image in views.items():
            top = classify(net, np.ascontiguousarray(image), k=3)
            rows.append({"photo": name, "view": view, "top class": top[0][1], "probability": round(top[0][2], 3),
                         "next two": ", ".join(label for _, label, _ in top[1:])})
    table = pd.DataFrame(rows).set_index(["photo", "view"])
    print("Exercise 1: the ImageNet head on other photographs and views of them")
    print(table.to_string(), "\n")
    return table


def fc_bn_head():
    """Exercise 2: the parameters of an fc_bn head with 128 hidden units, by hand and built."""
    # Dense 1280 -> 128: 1280 * 128 weights and no bias (the BatchNorm's beta right after it
    #   would make a bias redundant: make_head builds it with use_bias=False) = 163,840
    # BatchNorm(128): gamma, beta, running mean, running variance = 4 * 128 = 512
    # Dense 128 -> 6: 128 * 6 + 6 = 774                                       total 165,126
    by_hand = 1280 * 128 + 4 * 128 + 128 * 6 + 6
    cfg = load_config(f"configs/fashionai/{TASK}.yaml", [("head", "fc_bn"), ("head_hidden", 128)], profile="demo")
    ctx = resolve_devices("auto")[:1]
    net = build_model(cfg, n_outputs=6, ctx=ctx, log=lambda *a: None)
    net(nd.zeros((1, cfg["image_size"], cfg["image_size"], 3), dtype="uint8", ctx=ctx[0]))   # sizes the layers
    built = n_params(net.head)
    print(f"Exercise 2: fc_bn head with 128 hidden units for 6 values: {by_hand:,} parameters by hand, "
          f"{built:,} counted on the built network\n")
    return by_hand, built


def another_seed(env):
    """Exercise 3: head only and full fine-tuning with seeds 0 and 1."""
    data_root = env.low_data_demo(TASK, **LOW_DATA)
    rows = []
    for name, extra in (("head_only", {"backbone_lr_mult": 0.0}), ("full", {})):
        for seed in (0, 1):
            cfg = load_config(f"configs/fashionai/{TASK}.yaml", env.config_overrides(
                data_root=data_root, seed=seed, output_dir=os.path.join(env.runs_dir, "low_data", name, f"seed{seed}"),
                **LOW_DATA_SETTINGS, **extra), profile="demo")
            run, _ = analysis.train_or_reuse(cfg, log=lambda *a: None)
            rows.append({"variant": name, "seed": seed, **analysis.test_accuracy(run)})
    spread = analysis.seed_spread(rows)
    print("Exercise 3: test accuracy per seed")
    print(spread.round(3).to_string())
    return spread


def main():
    env = analysis.notebook_setup(fashionai_root=None, need=())
    table = photos_and_views()
    assert len(table) == 6 and table["probability"].between(0, 1).all()
    by_hand, built = fc_bn_head()
    assert by_hand == 165_126 and built == by_hand
    spread = another_seed(env)
    assert list(spread.index) == ["head_only", "full"] and list(spread.columns[:2]) == ["seed 0", "seed 1"]


if __name__ == "__main__":
    main()
