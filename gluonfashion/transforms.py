"""Train, eval and test-time-augmentation transforms on HxWx3 uint8 RGB arrays.

Transforms run in DataLoader workers and return uint8 images: the cast, the channel
transpose and the ImageNet normalisation happen on the device, inside the network
(``models.Preprocess``), which keeps the data sent between processes 4x smaller.

Every random transform takes a ``numpy.random.Generator``. The loader hands each
sample a generator seeded from (run seed, epoch, sample index), so augmentation is
reproducible whatever worker process handles the sample (needed for exact resume).
"""
from functools import partial

import cv2
import numpy as np

cv2.setNumThreads(1)


def resize(img, width, height):
    shrink = width * height < img.shape[0] * img.shape[1]
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def resize_short(img, side):
    h, w = img.shape[:2]
    scale = side / min(h, w)
    return resize(img, max(side, int(round(w * scale))), max(side, int(round(h * scale))))


def center_crop(img, size):
    h, w = img.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return img[y:y + size, x:x + size]


def random_resized_crop(img, size, scale, ratio, rng):
    """Crop a random area share in ``scale`` and aspect ratio in ``ratio``, resize to size."""
    h, w = img.shape[:2]
    area = h * w
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1])))
        cw, ch = int(round(np.sqrt(target * aspect))), int(round(np.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            x, y = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
            return resize(img[y:y + ch, x:x + cw], size, size)
    return resize(center_crop(img, min(h, w)), size, size)   # fallback: central square


def hflip(img):
    return img[:, ::-1]


# --- random augmentations: each ``(img, rng, ...) -> img`` on HxWx3 uint8 -------------

def area_crop(img, rng, size, scale, ratio):
    """``random_resized_crop`` with the ``(img, rng, ...)`` signature of the others."""
    return random_resized_crop(img, size, scale, ratio, rng)


def crop_box_hv(height, width, rng, h_range, v_range):
    """``(x, y, w, h)`` of a crop keeping a share in ``h_range`` of the width and,
    independently, a share in ``v_range`` of the height, at a random position."""
    cw = min(width, max(1, int(round(width * rng.uniform(*h_range)))))
    ch = min(height, max(1, int(round(height * rng.uniform(*v_range)))))
    return int(rng.integers(0, width - cw + 1)), int(rng.integers(0, height - ch + 1)), cw, ch


def hv_crop(img, rng, size, h_range=(1.0, 1.0), v_range=(1.0, 1.0)):
    """Aspect-aware random crop (separate horizontal and vertical ranges), resized to
    ``size`` x ``size``: garments keep their full length when ``v_range`` is near 1."""
    x, y, cw, ch = crop_box_hv(img.shape[0], img.shape[1], rng, h_range, v_range)
    return resize(img[y:y + ch, x:x + cw], size, size)


def random_hflip(img, rng):
    return hflip(img) if rng.random() < 0.5 else img


def rotate(img, degrees, border=cv2.BORDER_REFLECT_101):
    """Rotate counter-clockwise by ``degrees`` about the image centre, same size.

    Corners are filled by reflection: black wedges would be a cue the test images lack.
    """
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), degrees, 1.0)
    return cv2.warpAffine(img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=border)


def random_rotate(img, rng, max_deg):
    """Rotation by a uniform angle in ``[-max_deg, max_deg]``."""
    return rotate(img, rng.uniform(-max_deg, max_deg))


def random_stretch(img, rng, amount):
    """Stretch or squeeze the width by a factor in ``[1 - amount, 1 + amount]``; the
    square resize of the crop that follows turns this into an aspect change."""
    h, w = img.shape[:2]
    width = max(1, int(round(w * (1.0 + rng.uniform(-amount, amount)))))
    return resize(img, width, h)


def shift_hsv(img, hue_deg, sat_factor, val_factor):
    """Rotate the hue by ``hue_deg`` and scale saturation and value (clipped).

    Uses per-channel lookup tables on OpenCV's 8-bit HSV (hue in 0..179 = 2-degree
    steps): three table reads per pixel instead of float maths. Grey pixels have no
    saturation, so a hue rotation leaves them unchanged.
    """
    hsv = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2HSV)
    levels = np.arange(256, dtype=np.float64)
    tables = [(levels + round(hue_deg / 2.0)) % 180, levels * sat_factor, levels * val_factor]
    channels = [cv2.LUT(c, np.clip(np.round(t), 0, 255).astype(np.uint8)) for c, t in zip(cv2.split(hsv), tables)]
    return cv2.cvtColor(cv2.merge(channels), cv2.COLOR_HSV2RGB)


def random_hsv(img, rng, hue_deg, sat_share, val_share):
    """Colour shift: hue +-``hue_deg`` degrees, saturation and value x(1 +- share)."""
    return shift_hsv(img, rng.uniform(-hue_deg, hue_deg), 1.0 + rng.uniform(-sat_share, sat_share),
                     1.0 + rng.uniform(-val_share, val_share))


def random_erase(img, rng, prob, area=(0.02, 0.4), ratio=(0.3, 1 / 0.3)):
    """Random erasing (Zhong et al., 2017): with probability ``prob``, fill a rectangle
    covering an ``area`` share of the image, aspect in ``ratio``, with uniform noise."""
    if rng.random() >= prob:
        return img
    h, w = img.shape[:2]
    for _ in range(10):
        target = h * w * rng.uniform(*area)
        aspect = np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1])))
        eh, ew = int(round(np.sqrt(target * aspect))), int(round(np.sqrt(target / aspect)))
        if 0 < eh < h and 0 < ew < w:
            y, x = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
            out = img.copy()   # the input may be a view of a cached decode
            out[y:y + eh, x:x + ew] = rng.integers(0, 256, (eh, ew, img.shape[2]), dtype=np.uint8)
            return out
    return img


def augmentation_steps(size, scale=(0.64, 1.0), ratio=(0.75, 1.3333), flip=True, rotate_deg=0,
                       stretch=0.0, crop_h=None, crop_v=None, hsv_shift=(0, 0, 0), erase_prob=0.0,
                       erase_area=(0.02, 0.4)):
    """The enabled training augmentations as ``[(name, fn(img, rng))]``, in the order
    they run: stretch, rotate (full image, so the crop trims rotated borders), crop to
    ``size`` (aspect-aware when ``crop_h``/``crop_v`` are given, else area/ratio), flip,
    colour shift, erase (on the network input, as in the paper).

    Disabled steps are left out, so they draw nothing from the generator: switching an
    augmentation off gives back exactly the images of a config without it.
    """
    steps = []
    if stretch:
        steps.append(("stretch", partial(random_stretch, amount=stretch)))
    if rotate_deg:
        steps.append(("rotate", partial(random_rotate, max_deg=rotate_deg)))
    if crop_h is not None or crop_v is not None:
        steps.append(("crop_hv", partial(hv_crop, size=size, h_range=tuple(crop_h or (1.0, 1.0)),
                                         v_range=tuple(crop_v or (1.0, 1.0)))))
    else:
        steps.append(("crop", partial(area_crop, size=size, scale=tuple(scale), ratio=tuple(ratio))))
    if flip:
        steps.append(("flip", random_hflip))
    if any(hsv_shift):
        steps.append(("hsv", partial(random_hsv, hue_deg=hsv_shift[0], sat_share=hsv_shift[1],
                                     val_share=hsv_shift[2])))
    if erase_prob:
        steps.append(("erase", partial(random_erase, prob=erase_prob, area=tuple(erase_area))))
    return steps


class TrainTransform:
    """The training augmentations of ``augmentation_steps``, applied in order; always
    returns a contiguous ``size`` x ``size`` x 3 uint8 image."""

    def __init__(self, size, scale=(0.64, 1.0), ratio=(0.75, 1.3333), flip=True, **augment):
        self.size = size
        self.steps = augmentation_steps(size, scale, ratio, flip, **augment)

    def __call__(self, img, rng):
        for _, step in self.steps:
            img = step(img, rng)
        return np.ascontiguousarray(img)


# Values that make each augmentation visible in a gallery when a config leaves it off.
GALLERY_DEFAULTS = {"rotate_deg": 15, "stretch": 0.1, "crop_h": [0.85, 1.0], "crop_v": [0.9, 1.0],
                    "hsv_shift": [30, 0.3, 0.2], "erase_prob": 1.0}


def augmentation_gallery(cfg=None):
    """``[(name, fn(img, rng))]``: each training augmentation on its own, to show them
    side by side on one image. A config's settings are used where an augmentation is
    on, ``GALLERY_DEFAULTS`` where it is off; erasing always happens and the flip always
    flips. The last entry, ``all``, is the config's complete training transform."""
    from .config import DEFAULTS
    cfg = {**DEFAULTS, **(cfg or {})}
    size, scale, ratio = cfg["image_size"], cfg["crop_scale"], cfg["crop_ratio"]
    shown = {key: cfg[key] if _is_on(cfg[key]) else value for key, value in GALLERY_DEFAULTS.items()}
    shown["erase_prob"] = 1.0
    steps = dict(augmentation_steps(size, scale, ratio, False, erase_area=cfg["erase_area"], **shown))
    steps["crop"] = dict(augmentation_steps(size, scale, ratio, False))["crop"]
    steps["flip"] = hflip_always
    order = ("crop", "crop_hv", "stretch", "rotate", "flip", "hsv", "erase")
    return [(name, steps[name]) for name in order] + [("all", build_train_transform(cfg))]


def _is_on(value):
    return any(value) if isinstance(value, (list, tuple)) else bool(value)


def hflip_always(img, rng=None):
    return hflip(img)


class EvalTransform:
    """Resize the short side, then take the crops of a test-time-augmentation mode.

    Returns one crop (``none``) as HxWx3, or a stack ``(n_crops, H, W, 3)`` for
    ``flip`` (centre + mirrored) and ``ten_crop`` (4 corners + centre, and mirrored).
    """

    N_CROPS = {"none": 1, "flip": 2, "ten_crop": 10}

    def __init__(self, size, resize_to, tta="none"):
        if tta not in self.N_CROPS:
            raise ValueError(f"tta must be one of {', '.join(self.N_CROPS)}; got {tta!r}")
        self.size, self.resize_to, self.tta = size, resize_to, tta

    @property
    def n_crops(self):
        return self.N_CROPS[self.tta]

    def __call__(self, img, rng=None):
        img = resize_short(img, self.resize_to)
        centre = center_crop(img, self.size)
        if self.tta == "none":
            return np.ascontiguousarray(centre)
        crops = [centre]
        if self.tta == "ten_crop":
            h, w, s = img.shape[0], img.shape[1], self.size
            crops = [img[:s, :s], img[:s, w - s:], img[h - s:, :s], img[h - s:, w - s:], centre]
        crops += [hflip(c) for c in crops]
        return np.stack(crops)


def build_train_transform(cfg):
    return TrainTransform(cfg["image_size"], cfg["crop_scale"], cfg["crop_ratio"], cfg["hflip"],
                          **{key: cfg[key] for key in AUGMENT_KEYS})


AUGMENT_KEYS = ("rotate_deg", "stretch", "crop_h", "crop_v", "hsv_shift", "erase_prob", "erase_area")


def build_eval_transform(cfg, tta="none"):
    return EvalTransform(cfg["image_size"], cfg["resize_short"], tta)
