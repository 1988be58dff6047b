"""Train, eval and test-time-augmentation transforms on HxWx3 uint8 RGB arrays.

Transforms run in DataLoader workers and return uint8 images: the cast, the channel
transpose and the ImageNet normalisation happen on the device, inside the network
(``models.Preprocess``), which keeps the data sent between processes 4x smaller.

Every random transform takes a ``numpy.random.Generator``. The loader hands each
sample a generator seeded from (run seed, epoch, sample index), so augmentation is
reproducible whatever worker process handles the sample (needed for exact resume).
"""
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


class TrainTransform:
    """Random resized crop + optional horizontal flip."""

    def __init__(self, size, scale=(0.64, 1.0), ratio=(0.75, 1.3333), flip=True):
        self.size, self.scale, self.ratio, self.flip = size, tuple(scale), tuple(ratio), flip

    def __call__(self, img, rng):
        img = random_resized_crop(img, self.size, self.scale, self.ratio, rng)
        if self.flip and rng.random() < 0.5:
            img = hflip(img)
        return np.ascontiguousarray(img)


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
    return TrainTransform(cfg["image_size"], cfg["crop_scale"], cfg["crop_ratio"], cfg["hflip"])


def build_eval_transform(cfg, tta="none"):
    return EvalTransform(cfg["image_size"], cfg["resize_short"], tta)
