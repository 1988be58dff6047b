"""Image decoding and up-front checks of an image list."""
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from tqdm import tqdm

from ..checkpoint import atomic_write

# OpenCV threads compete with MXNet's and with DataLoader workers on small machines.
cv2.setNumThreads(1)

_REDUCED = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
            (2, cv2.IMREAD_REDUCED_COLOR_2))


def decode_image(path, min_side=None):
    """Read an image as an RGB uint8 HxWx3 array.

    With ``min_side``, JPEGs are decoded at 1/2, 1/4 or 1/8 scale when the result still
    has a short side >= ``min_side`` (libjpeg's DCT scaling: much less work than a full
    decode followed by a resize). The file is read once; its size comes from the header.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise IOError(f"{path}: file not found") from None
    return decode_bytes(data, min_side, path)


def decode_bytes(data, min_side=None, name="image"):
    """``decode_image`` for encoded bytes already in memory (``name`` is for errors).

    Every colour layout becomes RGB the same, explicit way: JPEGs (grey-scale, YCbCr,
    CMYK/YCCK) through libjpeg's colour conversion; other formats are decoded as stored
    and then converted here: grey -> RGB, 16-bit -> 8-bit, palette expanded, and an
    alpha channel composited onto white (a transparent background is white, not the
    colour hidden under it).
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    if not is_jpeg(data):
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise IOError(f"{name}: cannot decode image")
        return to_rgb(img)
    flag = cv2.IMREAD_COLOR
    size = image_size(data) if min_side else None
    if size:
        for factor, reduced in _REDUCED:
            if min(size) // factor >= min_side:
                flag = reduced
                break
    img = cv2.imdecode(buf, flag)
    if img is None:
        raise IOError(f"{name}: cannot decode image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def to_rgb(img):
    """An image as OpenCV decodes it unchanged (HxW, HxWx1, 3 BGR or 4 BGRA channels,
    8 or 16 bits, or float) as RGB uint8 HxWx3; alpha is composited onto white."""
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(np.asarray(img, dtype=np.float32) * 255.0, 0, 255).round().astype(np.uint8)
    if img.ndim == 2 or img.shape[2] == 1:
        return cv2.cvtColor(img.reshape(img.shape[:2]), cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        alpha = img[:, :, 3:].astype(np.float32) / 255.0
        rgb = cv2.cvtColor(img[:, :, :3], cv2.COLOR_BGR2RGB).astype(np.float32)
        return (rgb * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def is_jpeg(data):
    return data[:2] == b"\xff\xd8"


# JPEG start-of-frame markers (they hold the size); C4/C8/CC are other segments.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_size(data):
    """``(width, height)`` from a JPEG or PNG header, or None (unknown or truncated)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:          # fill byte before a marker
            i += 1
        elif 0xD0 <= marker <= 0xD9 or marker == 0x01:   # markers without a length
            i += 2
        elif marker in _SOF:
            return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
        else:
            i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def jpeg_complete(data):
    """True when a JPEG's segments and scans run on to its end-of-image marker.

    A cut file has no end-of-image marker, and libjpeg (so OpenCV) decodes it anyway,
    warning "Premature end of JPEG file" and filling the missing part with grey. The
    walk follows the segment lengths and skips entropy-coded data to the next marker
    (stuffed ``FF 00`` and restart markers belong to the data), so an end-of-image
    marker inside an embedded thumbnail is not mistaken for the file's own; bytes after
    the end are allowed, as decoders ignore them.
    """
    n, i = len(data), 2
    while True:
        i = data.find(b"\xff", i)          # extraneous bytes before a marker are tolerated
        if i < 0 or i + 1 >= n:
            return False
        marker = data[i + 1]
        if marker == 0xD9:
            return True
        if marker == 0xFF or marker == 0x00:   # fill byte, or a stray stuffed byte
            i += 1
            continue
        if 0xD0 <= marker <= 0xD8 or marker == 0x01:   # markers without a length
            i += 2
            continue
        if i + 4 > n:
            return False
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xDA:                  # start of scan: skip its entropy-coded data
            while True:
                i = data.find(b"\xff", i)
                if i < 0 or i + 1 >= n:
                    return False
                if data[i + 1] == 0x00 or 0xD0 <= data[i + 1] <= 0xD7:
                    i += 2
                elif data[i + 1] == 0xFF:
                    i += 1
                else:
                    break


def _header_size(data):
    """``(width, height)`` from the header, through PIL for formats ``image_size`` does not parse."""
    size = image_size(data)
    if size is None:
        from PIL import Image
        with Image.open(io.BytesIO(data)) as im:
            size = im.size
    return size


def _check_one(path, mode):
    """``(problem or None, (width, height) or None)`` of one image file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return "missing", None
    try:
        if is_jpeg(data) and not jpeg_complete(data):
            return "truncated (no JPEG end-of-image marker)", None
        if mode == "decode":
            if is_jpeg(data):
                if cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_REDUCED_COLOR_8) is None:
                    return "undecodable", None
                return None, _header_size(data)
            return None, decode_bytes(data, name=path).shape[1::-1]
        from PIL import Image
        with Image.open(io.BytesIO(data)) as im:
            size = im.size
            im.verify()
        return None, size
    except Exception as exc:  # noqa: BLE001 - any failure means unusable
        return f"undecodable ({exc.__class__.__name__})", None


def _too_small(size, min_side):
    if min_side and size and min(size) < min_side:
        return f"too small ({size[0]}x{size[1]}; the short side must be at least {min_side})"
    return None


def check_images(paths, mode="decode", workers=4, progress=True, cache=None, counts=None, min_side=None):
    """Return ``(ok_mask, problems)`` with ``problems`` a list of ``(path, reason)``.

    ``mode``: ``decode`` decodes each file (JPEGs at 1/8 scale: corrupt data still
    fails), ``header`` only opens it, ``none`` checks nothing. Both check that a JPEG
    is complete (a cut file decodes with a grey bottom otherwise). ``min_side``: images
    whose shorter side is below it are problems too ("too small"), rather than being
    upscaled to the network's input.

    ``cache``: a JSON file of earlier results (``image_check.json`` in the run folder),
    keyed by path, file size and modification time (ns): only images that are new, or
    whose size or time changed since, are checked again; the file is rewritten when
    anything changed. It keeps each image's width and height, so another ``min_side``
    needs no new check. Missing files are always reported. ``counts`` (a dict) receives
    how many images were ``checked`` and how many came from the cache (``cached``).
    """
    paths = list(paths)
    if mode == "none":
        return np.ones(len(paths), dtype=bool), []
    known = _read_check_cache(cache, mode) if cache else {}
    results, sizes, stamps, todo = [None] * len(paths), [None] * len(paths), {}, []
    for i, path in enumerate(paths):
        try:
            st = os.stat(path)
        except OSError:
            results[i] = "missing"
            continue
        stamps[path] = [st.st_size, st.st_mtime_ns]
        entry = known.get(path)
        if isinstance(entry, list) and len(entry) == 5 and entry[:2] == stamps[path]:
            results[i], sizes[i] = entry[2], (tuple(entry[3:]) if entry[3] is not None else None)
        else:
            todo.append(i)
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            checked = list(tqdm(pool.map(lambda i: _check_one(paths[i], mode), todo), total=len(todo),
                                desc="check images", unit="img", disable=not progress, leave=False))
        for i, (reason, size) in zip(todo, checked):
            results[i], sizes[i] = reason, size
    if cache and (todo or set(known) != set(stamps)):
        entries = {p: stamps[p] + [r] + list(s or (None, None))
                   for p, r, s in zip(paths, results, sizes) if p in stamps and r != "missing"}
        _write_check_cache(cache, mode, entries)
    if counts is not None:
        counts.update(checked=len(todo), cached=len(paths) - len(todo))
    results = [r or _too_small(s, min_side) for r, s in zip(results, sizes)]
    problems = [(p, r) for p, r in zip(paths, results) if r]
    return np.array([r is None for r in results], dtype=bool), problems


CHECK_CACHE_VERSION = 2


def _read_check_cache(path, mode):
    """``{image path: [size, mtime_ns, problem or None, width, height]}`` from ``path``; empty when the
    file is absent, unreadable, of another version or made with another ``mode``."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CHECK_CACHE_VERSION or data.get("mode") != mode:
        return {}
    entries = data.get("images")
    return entries if isinstance(entries, dict) else {}


def _write_check_cache(path, mode, entries):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"version": CHECK_CACHE_VERSION, "mode": mode, "images": entries}, f)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write(path, write)
