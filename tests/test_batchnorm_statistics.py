"""BatchNorm running statistics must be the training data's, in every backbone.

MXNet updates running mean/var in the backward pass; a BatchNorm that no gradient
reaches (the first layer of every ResNet-v2 normalises the image with no learnable
scale or shift) would keep its initial statistics, and inference-mode predictions on
data unlike ImageNet would collapse while training looked fine.
"""
import csv
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, nd
from PIL import Image

from gluonfashion.config import load_config
from gluonfashion.data.images import decode_image
from gluonfashion.engine import _train_epoch, make_trainer
from gluonfashion.models import build_model, hybridize
from gluonfashion.objectives import SingleLabel
from gluonfashion.run_folder import load_run
from gluonfashion.swa import bn_layers
from gluonfashion.transforms import build_eval_transform
from gluonfashion.families import get_family

fashionai = get_family("fashionai")
from conftest import write_csv


def _config(**overrides):
    base = {"model": "resnet18_v2", "pretrained": False, "allow_random_init": True, "image_size": 32,
            "batch_size": 8, "epochs": 1, "optimizer": "sgd", "lr": 0.01, "devices": "cpu", "workers": 0}
    base.update(overrides)
    return load_config(None, list(base.items()), profile="demo")


def _dark_batches(n_batches, batch_size, side, n_classes=3, seed=0):
    """Dim grey-scale uint8 NHWC batches: statistics far from ImageNet's (mean ~ 20 of 255)."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(n_batches):
        grey = rng.integers(0, 40, size=(batch_size, side, side, 1), dtype=np.uint8)
        x = nd.array(np.repeat(grey, 3, axis=3), dtype="uint8")
        y = nd.array(np.eye(n_classes, dtype=np.float32)[rng.integers(0, n_classes, batch_size)])
        batches.append((x, y))
    return batches


@pytest.mark.parametrize("model, side, batches, batch_size", [
    ("resnet18_v1", 32, 3, 8),
    ("resnet18_v2", 32, 3, 8),
    ("mobilenetv3_small", 32, 3, 8),
    ("densenet121", 224, 2, 2),     # its features end in a 7x7 pooling: needs the full size
])
def test_every_batchnorm_layer_learns_training_statistics(model, side, batches, batch_size):
    cfg = _config(model=model, image_size=side, batch_size=batch_size)
    ctx = [mx.cpu()]
    problem = SingleLabel(3)
    net = hybridize(build_model(cfg, problem.n_outputs, ctx, log=lambda *_: None))
    layers = bn_layers(net)
    assert len(layers) >= 10, f"{model}: expected a network full of BatchNorm layers"
    trainer = make_trainer(cfg, net)
    _train_epoch(net, _dark_batches(batches, batch_size, side), trainer, problem.loss, ctx, cfg, 0,
                 batches * batch_size, progress=False)
    # Random init leaves every running mean at 0 and every running variance at 1.
    stuck = [layer.name for layer in layers
             if np.all(layer.running_mean.data().asnumpy() == 0) and np.all(layer.running_var.data().asnumpy() == 1)]
    assert not stuck, f"{model}: running statistics never updated in {stuck}"


# ----------------------------------------------------------- inference vs batch statistics

def _dark_bar(value, n_values, size, rng):
    """A grey bar on a near-black background whose length is the class; grey-scale and dim,
    so per-channel statistics are nothing like ImageNet's."""
    img = np.full((size, size), rng.integers(0, 12), dtype=np.uint8)
    length = int(size * (value + 1) / (n_values + 1))
    x0 = rng.integers(0, size // 4)
    img[x0:x0 + length, size // 2 - 4:size // 2 + 4] = rng.integers(45, 70)
    return np.repeat(img[..., None], 3, axis=2)


@pytest.fixture
def dark_task(tmp_path):
    root = tmp_path / "dark"
    os.makedirs(root / "Images/dark_bars")
    rng = np.random.default_rng(1)
    rows = []
    for v in range(3):
        for i in range(40):
            rel = f"Images/dark_bars/{v}_{i}.png"
            Image.fromarray(_dark_bar(v, 3, 40, rng)).save(root / rel)
            rows.append([rel, "dark_bars", "".join("y" if j == v else "n" for j in range(3))])
    write_csv(str(root / "Annotations/label.csv"), rows)
    write_csv(str(root / "Tests/question.csv"), [[r[0], r[1], "?"] for r in rows[:3]])
    return root


def test_inference_mode_matches_batch_statistics_on_dark_greyscale_images(dark_task, tmp_path):
    cfg = _config(task="dark_bars", data_root=str(dark_task), image_size=32, resize_short=32,
                  crop_scale=[0.85, 1.0], batch_size=8, epochs=6, optimizer="adam", lr=0.003,
                  lr_schedule="cosine", val_fraction=0.25, output_dir=str(tmp_path / "runs/{task}"))
    run_dir, _ = fashionai.train(cfg, progress=False, log=lambda *_: None)
    net, cfg, _, _ = load_run(run_dir, which="last", log=lambda *_: None)
    with open(os.path.join(run_dir, "val_truth.csv"), newline="") as f:
        rows = list(csv.reader(f))
    truth = np.array([ynm.index("y") for _, _, ynm in rows])
    transform = build_eval_transform(cfg, "none")
    batch = nd.array(np.stack([transform(decode_image(str(dark_task / rel))) for rel, _, _ in rows]),
                     dtype="uint8")
    inference = net(batch).argmax(axis=1).asnumpy()
    with autograd.train_mode():   # every BatchNorm normalises by this batch's own statistics
        batch_stats = net(batch).argmax(axis=1).asnumpy()
    acc_inference = float(np.mean(inference == truth))
    acc_batch = float(np.mean(batch_stats == truth))
    assert acc_batch > 0.6, f"the network did not learn (batch-statistics accuracy {acc_batch:.2f})"
    assert abs(acc_inference - acc_batch) <= 0.1, (
        f"inference-mode accuracy {acc_inference:.2f} vs batch-statistics accuracy {acc_batch:.2f}")
