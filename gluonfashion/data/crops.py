"""Bounding-box crops, written once and read by every later epoch and run.

A crop is the box (widened by ``margin``, a share of its width and height on each
side, and clipped to the image) resized to ``side`` x ``side`` pixels, as the
DeepFashion thesis prepares its inputs (box, then a bicubic resize to a square; the
garment is stretched, never cut by a later centre crop); ``side`` 0 keeps the box's
own pixels. Crops are JPEG files under ``<crop_root>/s<side>_m<margin>/``, at the
image's own path with the box in the file name: a changed box is a new file, a crop
that exists is reused, so decoding a whole photo happens once per image, not once per
epoch (on 2 CPU cores the cheapest of the options: the loaders, augmentations, packs
and predictions then work on plain image files as for the other families).

A box reaching outside its image is clipped and reported; a box with nothing left
inside the image skips the image, reported. Both are found when the crop is made, so
they are reported by the run that makes it.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from .images import decode_image

JPEG_QUALITY = 95


def crop_folder(crop_root, side, margin):
    return os.path.join(crop_root, f"s{side}_m{margin:g}")


def crop_path(folder, name, box):
    """Where the crop of image ``name`` (a relative path) with ``box`` is kept."""
    stem, _ = os.path.splitext(name)
    return os.path.join(folder, f"{stem}_{'_'.join(str(int(v)) for v in box)}.jpg")


def widen(box, margin):
    """``box`` with ``margin`` of its width and height added on every side (floats)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = margin * (x2 - x1), margin * (y2 - y1)
    return x1 - dx, y1 - dy, x2 + dx, y2 + dy


def clip(box, width, height):
    """``(x1, y1, x2, y2)`` integer pixel bounds of ``box`` inside a ``width`` x
    ``height`` image (columns x1..x2-1), and whether the box reached outside it."""
    x1, y1, x2, y2 = box
    outside = x1 < 0 or y1 < 0 or x2 > width or y2 > height
    bounds = (max(0, int(np.floor(x1))), max(0, int(np.floor(y1))),
              min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2))))
    return bounds, outside


def cut(img, box, side, margin=0.0):
    """The crop of an RGB image: ``(crop or None when nothing is left, whether the box
    itself reached outside the image)``; the margin is clipped without a report."""
    height, width = img.shape[:2]
    outside = clip(box, width, height)[1]
    x1, y1, x2, y2 = clip(widen(box, margin), width, height)[0]
    if x2 <= x1 or y2 <= y1:
        return None, outside
    crop = img[y1:y2, x1:x2]
    if side:
        shrink = crop.shape[0] >= side and crop.shape[1] >= side
        crop = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    return crop, outside


@dataclass
class Crops:
    """Crop paths in the order asked for, which of them exist, and the reports."""
    paths: list
    ok: np.ndarray
    problems: list = field(default_factory=list)   # (image, why it has no crop)
    clipped: list = field(default_factory=list)    # images whose box reached outside


def _write(source, box, target, side, margin):
    """Make one crop; returns ``(made, reached outside, problem or None)``."""
    try:
        img = decode_image(source)
    except IOError as exc:
        return False, False, str(exc)
    crop, outside = cut(img, box, side, margin)
    if crop is None:
        h, w = img.shape[:2]
        return False, outside, f"box {' '.join(map(str, box))} lies outside the {w}x{h} image"
    os.makedirs(os.path.dirname(target), exist_ok=True)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data.tobytes())
    os.replace(tmp, target)   # a crop is whole or absent
    return True, outside, None


def make_crops(data_root, names, boxes, crop_root, side, margin=0.0, workers=2, progress=True):
    """Crops of images ``names`` (relative to ``data_root``) with their ``boxes``,
    made where missing (``workers`` threads: OpenCV decodes and encodes without the
    GIL); returns ``Crops``."""
    folder = crop_folder(crop_root, side, margin)
    paths = [crop_path(folder, n, b) for n, b in zip(names, boxes)]
    todo = [i for i, p in enumerate(paths) if not os.path.exists(p)]
    ok = np.ones(len(paths), dtype=bool)
    result = Crops(paths, ok)
    if not todo:
        return result

    def one(i):
        return _write(os.path.join(data_root, names[i]), boxes[i], paths[i], side, margin)

    with ThreadPoolExecutor(max(1, workers)) as pool:
        done = pool.map(one, todo)
        for i, (made, outside, problem) in tqdm(zip(todo, done), total=len(todo), desc="crops",
                                                disable=not progress, leave=False):
            ok[i] = made
            if outside:
                result.clipped.append(names[i])
            if problem:
                result.problems.append((names[i], problem))
    return result
