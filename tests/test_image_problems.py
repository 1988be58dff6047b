"""Images the up-front check must catch or the decoder must convert: cut JPEGs (which
OpenCV decodes with a grey bottom), images too small for the network's input, and
grey-scale, CMYK, palette and alpha images, each to plain RGB the same way."""
import csv
import io

import numpy as np
import pytest
from PIL import Image

from gluonfashion.data.images import check_images, decode_image, jpeg_complete
from gluonfashion.families import get_family
from gluonfashion.run_folder import RunFolder


def _noise_jpeg(size=(96, 64), progressive=False):
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90, progressive=progressive)
    return buf.getvalue()


def _with_thumbnail(jpeg):
    """``jpeg`` with an APP1 segment holding a complete small JPEG (as EXIF thumbnails
    are): its end-of-image marker sits near the start of the file."""
    thumb = _noise_jpeg((8, 8))
    segment = b"\xff\xe1" + (len(thumb) + 2 + 6).to_bytes(2, "big") + b"Exif\0\0" + thumb
    return jpeg[:2] + segment + jpeg[2:]


def test_cut_jpegs_are_found_and_complete_ones_pass(tmp_path):
    full, progressive = _noise_jpeg(), _noise_jpeg(progressive=True)
    thumbed = _with_thumbnail(full)
    files = {
        "full.jpg": full,
        "trailing.jpg": full + b"\0\0 bytes after the end",       # decoders ignore them
        "thumbed.jpg": thumbed,
        "cut.jpg": full[: len(full) // 2],
        "cut_progressive.jpg": progressive[: len(progressive) // 2],
        "cut_no_eoi.jpg": full[:-2],                                 # only the end marker gone
        "cut_thumbed.jpg": thumbed[: len(thumbed) - len(full) // 2],  # the thumbnail's end is still in it
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    for mode in ("decode", "header"):
        ok, problems = check_images([str(tmp_path / n) for n in files], mode, workers=1, progress=False)
        assert ok.tolist() == [True, True, True, False, False, False, False], mode
        assert {p.split("/")[-1]: r for p, r in problems} == {
            n: "truncated (no JPEG end-of-image marker)"
            for n in ("cut.jpg", "cut_progressive.jpg", "cut_no_eoi.jpg", "cut_thumbed.jpg")}
    assert jpeg_complete(full) and not jpeg_complete(full[:-1])


def test_images_too_small_for_the_input_are_reported_not_upscaled(tmp_path):
    sizes = {"big.jpg": (40, 32), "narrow.jpg": (31, 64), "tiny.png": (8, 8)}
    for name, size in sizes.items():
        Image.new("RGB", size, (10, 20, 30)).save(tmp_path / name)
    paths = [str(tmp_path / n) for n in sizes]
    cache = str(tmp_path / "image_check.json")
    ok, problems = check_images(paths, workers=1, progress=False, cache=cache, min_side=32)
    # short sides 32, 31 and 8 against 32: the last two are too small
    assert ok.tolist() == [True, False, False]
    assert dict(problems) == {
        paths[1]: "too small (31x64; the short side must be at least 32)",
        paths[2]: "too small (8x8; the short side must be at least 32)"}
    # The sizes are cached: another minimum needs no new decoding, and 0 accepts all.
    counts = {}
    ok, _ = check_images(paths, workers=1, progress=False, cache=cache, min_side=8, counts=counts)
    assert ok.tolist() == [True, True, True] and counts == {"checked": 0, "cached": 3}


def _png(tmp_path, name, image):
    image.save(tmp_path / name)
    return str(tmp_path / name)


def test_every_colour_layout_becomes_rgb_explicitly(tmp_path):
    # RGBA: left half opaque blue, right half fully transparent with red hidden under it,
    # one pixel of black at alpha 128 -> composited on white: 255 * (1 - 128/255) = 127.
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[:, :2] = (0, 0, 255, 255)
    rgba[:, 2:] = (255, 0, 0, 0)
    rgba[0, 0] = (0, 0, 0, 128)
    out = decode_image(_png(tmp_path, "rgba.png", Image.fromarray(rgba, "RGBA")))
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    assert out[1, 0].tolist() == [0, 0, 255]            # opaque: as stored
    assert out[1, 3].tolist() == [255, 255, 255]        # transparent: white, not the hidden red
    assert out[0, 0].tolist() == [127, 127, 127]

    # grey + alpha (LA): grey 100 at alpha 0 -> white; at 255 -> 100 in all three channels
    la = Image.fromarray(np.array([[[100, 0], [100, 255]]], dtype=np.uint8), "LA")
    assert decode_image(_png(tmp_path, "la.png", la)).tolist() == [[[255] * 3, [100] * 3]]

    # palette with a transparent entry: entry 0 (green) transparent -> white; entry 1 red
    pal = Image.fromarray(np.array([[0, 1]], dtype=np.uint8), "P")
    pal.putpalette([0, 255, 0, 255, 0, 0] + [0] * 762)
    pal.save(tmp_path / "pal.png", transparency=0)
    assert decode_image(str(tmp_path / "pal.png")).tolist() == [[[255, 255, 255], [255, 0, 0]]]

    # 16-bit grey 40000 -> 40000 >> 8 = 156
    grey16 = Image.fromarray(np.full((2, 2), 40000, dtype=np.uint16))
    assert decode_image(_png(tmp_path, "grey16.png", grey16)).tolist() == [[[156] * 3] * 2] * 2

    # grey-scale and CMYK JPEGs through libjpeg: grey 90 -> (90, 90, 90); RGB (200, 100,
    # 50) as PIL's CMYK (C=55, M=155, Y=205, K=0) comes back within JPEG's rounding.
    Image.new("L", (16, 16), 90).save(tmp_path / "grey.jpg", quality=100)
    assert np.abs(decode_image(str(tmp_path / "grey.jpg")).astype(int) - 90).max() <= 1
    Image.new("RGB", (16, 16), (200, 100, 50)).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    assert np.abs(decode_image(str(tmp_path / "cmyk.jpg")).astype(int) - [200, 100, 50]).max() <= 3


def test_training_skips_and_lists_cut_and_small_images(tiny_config, tiny_fashionai, tmp_path):
    """The check as training runs it: the config's image_size (32) is the minimum side."""
    images = tiny_fashionai / "Images/bar_length"
    cut = images / "train_0_0.jpg"
    cut.write_bytes(cut.read_bytes()[:300])
    Image.new("RGB", (20, 48), (0, 0, 0)).save(images / "train_1_0.jpg")
    run = RunFolder.of(tiny_config).create()
    data = get_family("fashionai").prepare_data(tiny_config, run, progress=False, log=lambda *_: None)
    # 60 training rows, 2 skipped; 58 split into train and validation
    assert len(data.train_images) + len(data.val_images) == 58
    with open(run.file(RunFolder.IMAGE_PROBLEMS), newline="") as f:
        rows = {r[0].split("/")[-1]: r[1] for r in list(csv.reader(f))[1:]}
    assert rows == {"train_0_0.jpg": "truncated (no JPEG end-of-image marker)",
                    "train_1_0.jpg": "too small (20x48; the short side must be at least 32)"}


@pytest.mark.parametrize("min_image_side, skipped", [(None, 1), (0, 0), (16, 0)])
def test_min_image_side_is_configurable(tiny_config, tiny_fashionai, min_image_side, skipped):
    Image.new("RGB", (20, 48), (0, 0, 0)).save(tiny_fashionai / "Images/bar_length/train_1_0.jpg")
    cfg = dict(tiny_config, min_image_side=min_image_side)
    data = get_family("fashionai").prepare_data(cfg, RunFolder.of(cfg).create(), progress=False,
                                                log=lambda *_: None)
    assert data.summary["skipped_images"] == skipped
