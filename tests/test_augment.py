"""Training augmentations: contract (uint8 HxWx3, seeded), and each does what it says."""
import numpy as np
import pytest

from gluonfashion import transforms as T
from gluonfashion.config import DEFAULTS, ConfigError, load_config


def _image(h=48, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("name, fn, keeps_shape", [
    ("rotate", lambda img, rng: T.random_rotate(img, rng, 15), True),
    ("stretch", lambda img, rng: T.random_stretch(img, rng, 0.1), False),
    ("crop_hv", lambda img, rng: T.hv_crop(img, rng, 32, (0.8, 1.0), (0.9, 1.0)), False),
    ("hsv", lambda img, rng: T.random_hsv(img, rng, 30, 0.3, 0.2), True),
    ("erase", lambda img, rng: T.random_erase(img, rng, 1.0), True),
    ("flip", T.random_hflip, True),
])
def test_each_augmentation_keeps_the_contract_and_is_seeded(name, fn, keeps_shape):
    img = _image()
    before = img.copy()
    out = fn(img, _rng(5))
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3, name
    if keeps_shape:
        assert out.shape == img.shape, name
    assert np.array_equal(out, fn(img, _rng(5))), name        # same seed, same image
    assert np.array_equal(img, before), name                   # the input is never written
    outs = [fn(img, _rng(s)) for s in range(6)]
    assert any(o.shape != outs[0].shape or not np.array_equal(o, outs[0]) for o in outs[1:]), name


def test_rotate_by_90_moves_a_mark_from_top_to_left():
    img = np.zeros((9, 9, 3), dtype=np.uint8)
    img[0, 4] = 255                                            # top centre
    out = T.rotate(img, 90)                                    # counter-clockwise
    assert [tuple(p) for p in np.argwhere(out[..., 0] > 128)] == [(4, 0)]   # left centre
    assert np.array_equal(out, np.rot90(img))


def test_random_rotate_angle_stays_in_range():
    img = np.zeros((33, 33, 3), dtype=np.uint8)
    img[16, 16:] = 255                                         # a ray from the centre to the right
    for seed in range(10):
        out = T.random_rotate(img, _rng(seed), 15)
        ys, xs = np.nonzero(out[..., 0] > 128)
        far = np.argmax(np.hypot(ys - 16, xs - 16))
        angle = np.degrees(np.arctan2(16 - ys[far], xs[far] - 16))
        expected = _rng(seed).uniform(-15, 15)
        assert abs(angle - expected) < 3 and abs(angle) <= 15 + 2


def test_erase_fills_one_rectangle_within_the_area_range():
    img = np.zeros((40, 50, 3), dtype=np.uint8)
    for seed in range(20):
        out = T.random_erase(img, _rng(seed), 1.0, area=(0.1, 0.2))
        ys, xs = np.nonzero(out.any(axis=2))
        box = out[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        # noise fills the whole box: almost every pixel of it is non-zero
        assert box.any(axis=2).mean() > 0.97
        share = box.shape[0] * box.shape[1] / (40 * 50)
        assert 0.1 * 0.85 <= share <= 0.2 * 1.15, share       # rounding of the sides
    assert np.array_equal(T.random_erase(img, _rng(0), 0.0), img)   # prob 0: untouched


def test_crop_hv_keeps_the_width_and_height_shares_asked_for():
    for seed in range(50):
        x, y, w, h = T.crop_box_hv(200, 100, _rng(seed), (0.85, 1.0), (0.5, 0.6))
        assert 85 <= w <= 100 and 100 <= h <= 120
        assert 0 <= x <= 100 - w and 0 <= y <= 200 - h
    # the crop shows exactly that box, resized
    img = np.zeros((200, 100, 3), dtype=np.uint8)
    img[:, :, 0] = np.arange(100, dtype=np.uint8)[None, :]     # red = column
    img[:, :, 1] = (np.arange(200) // 2).astype(np.uint8)[:, None]   # green = row // 2
    x, y, w, h = T.crop_box_hv(200, 100, _rng(3), (0.5, 0.6), (0.5, 0.6))
    out = T.hv_crop(img, _rng(3), 16, (0.5, 0.6), (0.5, 0.6))
    assert out.shape == (16, 16, 3)
    assert x <= out[..., 0].min() and out[..., 0].max() <= x + w - 1
    assert y // 2 <= out[..., 1].min() and out[..., 1].max() <= (y + h - 1) // 2


def test_stretch_changes_only_the_width_within_range():
    img = _image(40, 100)
    widths = {T.random_stretch(img, _rng(s), 0.1).shape[1] for s in range(30)}
    assert all(90 <= w <= 110 for w in widths) and len(widths) > 5
    assert {T.random_stretch(img, _rng(s), 0.1).shape[0] for s in range(5)} == {40}


def test_hsv_shift_rotates_hue_but_leaves_grey_alone():
    red = np.zeros((4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    assert T.shift_hsv(red, 120, 1.0, 1.0)[0, 0].tolist() == [0, 255, 0]    # red -> green
    assert T.shift_hsv(red, -120, 1.0, 1.0)[0, 0].tolist() == [0, 0, 255]   # red -> blue
    assert T.shift_hsv(red, 0, 1.0, 0.5)[0, 0].tolist() == [128, 0, 0]      # value halved
    grey = np.full((8, 8, 3), 128, dtype=np.uint8)
    for seed in range(5):
        assert np.array_equal(T.random_hsv(grey, _rng(seed), 90, 0.5, 0.0), grey)
    assert not np.array_equal(T.random_hsv(red, _rng(0), 90, 0.0, 0.0), red)


def test_train_transform_composes_in_order_and_defaults_are_unchanged():
    img = _image(80, 100)
    plain = T.TrainTransform(32, scale=(0.5, 1.0))
    assert [name for name, _ in plain.steps] == ["crop", "flip"]
    # the default config draws exactly what the crop + flip transform always drew
    rng = _rng(7)
    expected = T.random_resized_crop(img, 32, (0.5, 1.0), (0.75, 1.3333), rng)
    expected = T.hflip(expected) if rng.random() < 0.5 else expected
    assert np.array_equal(plain(img, _rng(7)), expected)

    cfg = dict(DEFAULTS, image_size=32, rotate_deg=10, stretch=0.1, crop_h=[0.85, 1.0], crop_v=[0.9, 1.0],
               hsv_shift=[10, 0.1, 0.1], erase_prob=0.5)
    full = T.build_train_transform(cfg)
    assert [name for name, _ in full.steps] == ["stretch", "rotate", "crop_hv", "flip", "hsv", "erase"]
    out = full(img, _rng(1))
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8 and out.flags["C_CONTIGUOUS"]
    assert np.array_equal(out, full(img, _rng(1)))


def test_gallery_shows_every_augmentation_even_when_the_config_has_them_off():
    img = _image(60, 80)
    gallery = T.augmentation_gallery(dict(DEFAULTS, image_size=32))
    names = [name for name, _ in gallery]
    assert names == ["crop", "crop_hv", "stretch", "rotate", "flip", "hsv", "erase", "all"]
    for name, fn in gallery:
        out = fn(img, _rng(2))
        assert out.dtype == np.uint8 and out.shape[2] == 3, name
        if name in ("rotate", "flip", "hsv", "erase"):
            assert out.shape == img.shape and not np.array_equal(out, img), name
    assert np.array_equal(dict(gallery)["flip"](img, _rng(0)), img[:, ::-1])


@pytest.mark.parametrize("override, message", [
    ("crop_h=[0.5]", "crop_h must be"),
    ("crop_v=[0.9, 1.2]", "crop_v must be"),
    ("erase_prob=2", "erase_prob must be"),
    ("erase_area=[0.3, 0.1]", "erase_area must be"),
    ("stretch=-0.1", "stretch must be"),
    ("rotate_deg=200", "rotate_deg must be"),
    ("hsv_shift=[10, 0.1]", "hsv_shift must be"),
])
def test_bad_augmentation_settings_are_rejected(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])
