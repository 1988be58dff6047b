"""Image decoding and up-front checks of an image list."""
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
    """``decode_image`` for encoded bytes already in memory (``name`` is for errors)."""
    flag = cv2.IMREAD_COLOR
    size = image_size(data) if min_side else None
    if size:
        for factor, reduced in _REDUCED:
            if min(size) // factor >= min_side:
                flag = reduced
                break
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    if img is None:
        raise IOError(f"{name}: cannot decode image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


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


def check_images(paths, mode="decode", workers=4, progress=True, cache=None, counts=None):
    """Return ``(ok_mask, problems)`` with ``problems`` a list of ``(path, reason)``.

    ``mode``: ``decode`` decodes each file (at 1/8 scale: corrupt data still fails),
    ``header`` only opens it, ``none`` checks nothing.

    ``cache``: a JSON file of earlier results (``image_check.json`` in the run folder),
    keyed by path, file size and modification time (ns): only images that are new, or
    whose size or time changed since, are checked again; the file is rewritten when
    anything changed. Missing files are always reported. ``counts`` (a dict) receives
    how many images were ``checked`` and how many came from the cache (``cached``).
    """
    paths = list(paths)
    if mode == "none":
        return np.ones(len(paths), dtype=bool), []
    known = _read_check_cache(cache, mode) if cache else {}
    results, stamps, todo = [None] * len(paths), {}, []
    for i, path in enumerate(paths):
        try:
            st = os.stat(path)
        except OSError:
            results[i] = "missing"
            continue
        stamps[path] = [st.st_size, st.st_mtime_ns]
        entry = known.get(path)
        if entry is not None and entry[:2] == stamps[path]:
            results[i] = entry[2]
        else:
            todo.append(i)
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            checked = list(tqdm(pool.map(lambda i: _check_one(paths[i], mode), todo), total=len(todo),
                                desc="check images", unit="img", disable=not progress, leave=False))
        for i, reason in zip(todo, checked):
            results[i] = reason
    if cache and (todo or set(known) != set(stamps)):
        entries = {p: stamps[p] + [r] for p, r in zip(paths, results) if p in stamps and r != "missing"}
        _write_check_cache(cache, mode, entries)
    if counts is not None:
        counts.update(checked=len(todo), cached=len(paths) - len(todo))
    problems = [(p, r) for p, r in zip(paths, results) if r]
    return np.array([r is None for r in results], dtype=bool), problems


CHECK_CACHE_VERSION = 1


def _read_check_cache(path, mode):
    """``{image path: [size, mtime_ns, problem or None]}`` from ``path``; empty when the
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
