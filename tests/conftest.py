"""Shared fixtures: tiny FashionAI-format datasets made on the fly (no network)."""
import csv
import os
import warnings

import numpy as np
import pytest
from PIL import Image

import gluonfashion  # noqa: F401  first: sets MXNet's operator threads before MXNet loads (threads.py)

warnings.filterwarnings("ignore", module="gluoncv")


def write_csv(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def bar_image(value, n_values, size, rng):
    """A bar whose length encodes ``value``: a tiny learnable 'length' attribute."""
    img = np.full((size, size, 3), rng.integers(0, 80), dtype=np.uint8)
    length = int(size * (value + 1) / (n_values + 1))
    x0 = rng.integers(0, size // 4)
    img[x0:x0 + length, size // 2 - 3:size // 2 + 3] = rng.integers(160, 255, size=3)
    return img


@pytest.fixture
def tiny_fashionai(tmp_path):
    """A 3-value task 'bar_length' with 20 train and 6 test images per value."""
    root = tmp_path / "fashionai"
    rng = np.random.default_rng(0)
    train, questions, answers = [], [], []
    for split, per_value, rows in (("train", 20, train), ("test", 6, answers)):
        for v in range(3):
            for i in range(per_value):
                rel = f"Images/bar_length/{split}_{v}_{i}.jpg"
                os.makedirs(root / "Images/bar_length", exist_ok=True)
                Image.fromarray(bar_image(v, 3, 48, rng)).save(root / rel, quality=95)
                ynm = "".join("y" if j == v else "n" for j in range(3))
                rows.append([rel, "bar_length", ynm])
    questions = [[r[0], r[1], "?"] for r in answers]
    write_csv(str(root / "Annotations/label.csv"), train)
    write_csv(str(root / "Tests/question.csv"), questions)
    write_csv(str(root / "answers.csv"), answers)
    return root


@pytest.fixture
def tiny_config(tiny_fashionai, tmp_path):
    """A config for the tiny task: small net, few epochs, CPU."""
    from gluonfashion.config import load_config
    return load_config(None, [
        ("task", "bar_length"), ("data_root", str(tiny_fashionai)), ("answers_file", "answers.csv"),
        ("model", "resnet18_v2"), ("pretrained", False), ("allow_random_init", True),
        ("image_size", 32), ("resize_short", 36), ("crop_scale", [0.8, 1.0]), ("batch_size", 16),
        ("epochs", 3), ("optimizer", "adam"), ("lr", 0.003), ("lr_schedule", "cosine"),
        ("workers", 0), ("devices", "cpu"), ("tta", "flip"), ("val_fraction", 0.2),
        ("output_dir", str(tmp_path / "runs/{task}")), ("submission_dir", str(tmp_path / "submission")),
    ], profile="demo")


def saved_file(run_dir, name):
    """A file of a run's saved resume state (``last.params``, ``last.states``,
    ``swa_running.params``), wherever its generation folder is."""
    from gluonfashion.run_folder import RunFolder
    return RunFolder(str(run_dir)).resume_state()[1][name]


class Interrupted(Exception):
    """Raised from a log callback to stop training as an interruption would."""


def interrupt_after_first_epoch(line):
    """A ``log`` callback that stops training right after epoch 1 was saved."""
    if line.startswith("[train] epoch   1"):
        raise Interrupted
