"""Image decoding and up-front checks of an image list."""
import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from tqdm import tqdm

# OpenCV threads compete with MXNet's and with DataLoader workers on small machines.
cv2.setNumThreads(1)

_REDUCED = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
            (2, cv2.IMREAD_REDUCED_COLOR_2))


def decode_image(path, min_side=None):
    """Read an image as an RGB uint8 HxWx3 array.

    With ``min_side``, JPEGs are decoded at 1/2, 1/4 or 1/8 scale when the result still
    has a short side >= ``min_side`` (libjpeg's DCT scaling: much less work than a full
    decode followed by a resize).
    """
    flag = cv2.IMREAD_COLOR
    if min_side:
        side = _short_side(path)
        for factor, reduced in _REDUCED:
            if side and side // factor >= min_side:
                flag = reduced
                break
    img = cv2.imread(path, flag)
    if img is None:
        raise IOError(f"{path}: cannot decode image" if os.path.exists(path) else f"{path}: file not found")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _short_side(path):
    """Short side from the JPEG/PNG header without decoding (None when unknown)."""
    try:
        from PIL import Image
        with Image.open(path) as im:
            return min(im.size)
    except Exception:  # undecodable files are reported by the decode itself
        return None


def _check_one(path, mode):
    if not os.path.exists(path):
        return "missing"
    try:
        if mode == "decode":
            if cv2.imread(path, cv2.IMREAD_REDUCED_COLOR_8) is None:
                return "undecodable"
        else:
            from PIL import Image
            with Image.open(path) as im:
                im.verify()
    except Exception as exc:  # noqa: BLE001 - any failure means unusable
        return f"undecodable ({exc.__class__.__name__})"
    return None


def check_images(paths, mode="decode", workers=4, progress=True):
    """Return ``(ok_mask, problems)`` with ``problems`` a list of ``(path, reason)``.

    ``mode``: ``decode`` decodes each file (at 1/8 scale: corrupt data still fails),
    ``header`` only opens it, ``none`` checks nothing.
    """
    paths = list(paths)
    if mode == "none":
        return np.ones(len(paths), dtype=bool), []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(tqdm(pool.map(lambda p: _check_one(p, mode), paths), total=len(paths),
                            desc="check images", unit="img", disable=not progress, leave=False))
    problems = [(p, r) for p, r in zip(paths, results) if r]
    return np.array([r is None for r in results], dtype=bool), problems
