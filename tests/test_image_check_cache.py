"""The up-front image check remembers its results by path, size and modification time
(data.images.check_images with a cache file): unchanged images are not decoded again,
and an image that changed or is new is always checked again."""
import os

import numpy as np
import pytest
from PIL import Image

from gluonfashion.data import images


@pytest.fixture
def decodes(monkeypatch):
    """The paths ``_check_one`` was called with (it is what decodes an image)."""
    seen, real = [], images._check_one

    def counting(path, mode):
        seen.append(os.path.basename(path))
        return real(path, mode)
    monkeypatch.setattr(images, "_check_one", counting)
    return seen


def _jpeg(path, value=128):
    Image.fromarray(np.full((16, 16, 3), value, dtype=np.uint8)).save(path, quality=90)


def _touch_later(path, seconds=10):
    """Move the modification time forward: a change the cache must see even when a
    file system's clock granularity would give the new file its old time."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 10 ** 9))


def _check(paths, cache, mode="decode"):
    counts = {}
    ok, problems = images.check_images(paths, mode, workers=1, progress=False, cache=str(cache), counts=counts)
    return ok.tolist(), dict(problems), counts


def test_unchanged_images_are_not_decoded_again(tmp_path, decodes):
    paths = [str(tmp_path / f"{name}.jpg") for name in "ab"]
    for p in paths:
        _jpeg(p)
    cache = tmp_path / "run" / "image_check.json"
    assert _check(paths, cache) == ([True, True], {}, {"checked": 2, "cached": 0})
    assert cache.exists()
    decodes.clear()
    assert _check(paths, cache) == ([True, True], {}, {"checked": 0, "cached": 2})
    assert decodes == []


def test_a_changed_or_new_image_is_checked_again(tmp_path, decodes):
    a, b, c = (str(tmp_path / f"{name}.jpg") for name in "abc")
    _jpeg(a)
    _jpeg(b)
    cache = tmp_path / "image_check.json"
    assert _check([a, b], cache)[0] == [True, True]

    # a is overwritten with bytes that are no image (another size, a later time)
    with open(a, "wb") as f:
        f.write(b"not a jpeg at all")
    _touch_later(a)
    # b keeps its size exactly but its content (and time) changes: truncated JPEG data
    size = os.path.getsize(b)
    with open(b, "r+b") as f:
        f.seek(size // 2)
        f.write(b"\0" * (size - size // 2))
    assert os.path.getsize(b) == size
    _touch_later(b)
    # c is new
    _jpeg(c)

    decodes.clear()
    ok, problems, counts = _check([a, b, c], cache)
    assert sorted(decodes) == ["a.jpg", "b.jpg", "c.jpg"]
    assert counts == {"checked": 3, "cached": 0}
    assert ok[0] is False and problems[a].startswith("undecodable")
    assert ok[2] is True
    # whatever b's verdict, it came from decoding the new content, and is now cached
    decodes.clear()
    assert _check([a, b, c], cache)[:2] == (ok, problems) and decodes == []


def test_missing_files_and_another_mode_are_not_served_from_the_cache(tmp_path, decodes):
    a, b = (str(tmp_path / f"{name}.jpg") for name in "ab")
    _jpeg(a)
    _jpeg(b)
    cache = tmp_path / "image_check.json"
    _check([a, b], cache)
    os.remove(b)
    decodes.clear()
    ok, problems, _ = _check([a, b], cache)
    assert ok == [True, False] and problems == {b: "missing"} and decodes == []
    assert _check([a], cache, mode="header")[2] == {"checked": 1, "cached": 0}


def test_a_damaged_cache_file_means_checking_everything(tmp_path, decodes):
    a = str(tmp_path / "a.jpg")
    _jpeg(a)
    cache = tmp_path / "image_check.json"
    cache.write_text("{not json")
    assert _check([a], cache) == ([True], {}, {"checked": 1, "cached": 0})
