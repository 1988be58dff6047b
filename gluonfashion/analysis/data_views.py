"""Looking at a dataset as numbers and images: value counts, examples per value, label
co-occurrence, where a JD image lies, and the training augmentations of some images."""
import os
from urllib.parse import unquote, urlparse

import numpy as np

from ..config import DEFAULTS
from ..data.images import decode_image
from ..transforms import augmentation_gallery, build_eval_transform


def fashionai_value_counts(rows):
    """Per task, how many rows have each value as ``y`` and as ``m``.

    ``rows``: ``LabelRow`` objects (``read_label_file``). Returns
    ``{task: {"y": array (C,), "m": array (C,)}}`` in order of first appearance.
    """
    counts = {}
    for r in rows:
        c = counts.setdefault(r.task, {"y": np.zeros(len(r.ynm), int), "m": np.zeros(len(r.ynm), int)})
        c["y"][r.label] += 1
        c["m"] += np.array([ch == "m" for ch in r.ynm])
    return counts


def examples_per_value(labels, per_value, seed=0):
    """Up to ``per_value`` random indices of each class, class by class: ``{class: [i, ...]}``."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    picked = {}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        picked[int(c)] = sorted(rng.choice(idx, min(per_value, len(idx)), replace=False).tolist())
    return picked


def cooccurrence(y):
    """``(L, L)`` counts: entry (a, b) = images carrying both label a and label b
    (the diagonal holds each label's count)."""
    y = np.asarray(y, dtype=np.int64)
    return y.T @ y


def conditional_cooccurrence(y):
    """``(L, L)`` shares: entry (a, b) = P(label b | label a); rows of absent labels are 0."""
    both = cooccurrence(y).astype(float)
    counts = np.diag(both).copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = both / counts[:, None]
    share[counts == 0] = 0.0
    return share


def jd_image_path(root, image_id, url, images_dir="images"):
    """Where to read a JD image: the downloaded copy when present, else a local
    ``file://`` URL (the demo's source images), else the download location."""
    local = os.path.join(root, images_dir, f"{image_id}.jpg")
    if not os.path.exists(local) and url.startswith("file://"):
        return unquote(urlparse(url).path)
    return local


def augmentation_examples(images, cfg=None, seed=0):
    """Every training augmentation of ``transforms.augmentation_gallery(cfg)`` applied to
    each image: ``(grid, titles, row_labels)`` for ``image_grid``, one row per image.

    The first column is the evaluation input (short side resized, centre crop), the
    last is the config's complete training transform; each random step draws from a
    generator seeded by ``(seed, row)``, so the figure is reproducible.
    """
    cfg = {**DEFAULTS, **(cfg or {})}
    steps = augmentation_gallery(cfg)
    to_input = build_eval_transform(cfg, "none")
    grid, titles = [], []
    for row, image in enumerate(images):
        img = decode_image(image) if isinstance(image, str) else image
        grid.append(to_input(img))
        for name, step in steps:
            rng = np.random.default_rng([seed, row])
            out = step(img, rng)
            # steps that do not crop are shown on the evaluation input's framing
            grid.append(out if out.shape[:2] == (cfg["image_size"],) * 2 else to_input(out))
        titles += ["eval input"] + [name for name, _ in steps]
    return grid, titles, [f"image {i + 1}" for i in range(len(images))]
