"""A task's images resized once into an MXNet RecordIO pack (``gluonfashion pack``).

Decoding full-size JPEGs every epoch is the largest CPU cost of the input pipeline.
A pack stores every image of a task (training, validation and question images) with
its short side resized to ``short_side``, so later epochs decode small images only.

Layout, next to the data (paths inside are relative to ``data_root``, so the data
folder can move)::

    <data_root>/packed/<task>_s<short_side>.rec   records: header label [h, w] + image bytes
    <data_root>/packed/<task>_s<short_side>.idx   record offsets (MXIndexedRecordIO)
    <data_root>/packed/<task>_s<short_side>.json  short side, encoding, image keys in record order

The ``.json`` is written last: a pack without it is incomplete and is never read.
``encoding`` is ``jpg`` (small, lossy), ``png`` (lossless) or ``raw`` (uncompressed
RGB pixels: no decoding at all, largest). Training reads a pack when the config says
``image_source: pack`` (``pack_side`` picks the short side, default ``resize_short``).
"""
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor

ENCODINGS = ("jpg", "png", "raw")


# ------------------------------------------------------------------ where and what

def pack_side(cfg):
    """The short side of the pack a config reads (default: its ``resize_short``)."""
    return int(cfg["pack_side"] or cfg["resize_short"])


def pack_prefix(cfg, side=None):
    """``<data_root>/packed/<task>_s<side>`` (without extension)."""
    name = f"{cfg['task'] or cfg['family']}_s{side or pack_side(cfg)}"
    return os.path.join(cfg["data_root"], "packed", name)


def existing_images(images, what):
    """``images`` that exist, each once, in order; ``what`` names them in the error
    raised when none does."""
    images = [p for p in dict.fromkeys(images) if os.path.exists(p)]
    if not images:
        raise FileNotFoundError(f"no images to pack for {what}")
    return images


# ------------------------------------------------------------------ writing

def resized(path, short_side):
    """The image at ``path`` (RGB uint8) with its short side resized to ``short_side``;
    JPEGs are decoded at a reduced scale first where that still covers ``short_side``."""
    from ..transforms import resize_short
    from .images import decode_image
    img = decode_image(path, short_side)
    return img if min(img.shape[:2]) == short_side else resize_short(img, short_side)


def encode(img, encoding, quality=95):
    """Bytes of an RGB image in ``encoding``."""
    import cv2
    if encoding == "raw":
        return img.tobytes()
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if encoding == "jpg" else []
    ok, buf = cv2.imencode(f".{encoding}", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise IOError(f"cannot encode an image as {encoding}")
    return buf.tobytes()


def _prepare(path, short_side, encoding, quality):
    """``(h, w, bytes)`` of one image, or None when it cannot be read."""
    try:
        img = resized(path, short_side)
    except IOError:
        return None
    return img.shape[0], img.shape[1], encode(img, encoding, quality)


def write_pack(images, root, prefix, short_side, encoding="jpg", quality=95, workers=2,
               progress=True, chunk=256):
    """Resize ``images`` (paths under ``root``) into the pack ``prefix``.{rec,idx,json}.

    Decoding, resizing and encoding run on ``workers`` threads (OpenCV releases the
    GIL); records are written in ``images`` order. Returns a summary dict.
    """
    import mxnet as mx
    from tqdm import tqdm

    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}; got {encoding!r}")
    os.makedirs(os.path.dirname(prefix) or ".", exist_ok=True)
    if os.path.exists(prefix + ".json"):
        os.remove(prefix + ".json")     # the old pack is invalid from here on
    record = mx.recordio.MXIndexedRecordIO(prefix + ".idx.tmp", prefix + ".rec.tmp", "w")
    keys, stamps, skipped = [], [], []
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(images), desc="pack", unit="img", disable=not progress, leave=False) as bar:
        for start in range(0, len(images), chunk):   # bounded memory: one chunk in flight
            part = images[start:start + chunk]
            for path, item in zip(part, pool.map(lambda p: _prepare(p, short_side, encoding, quality), part)):
                if item is None:
                    skipped.append(path)
                    continue
                h, w, payload = item
                record.write_idx(len(keys), mx.recordio.pack(mx.recordio.IRHeader(0, [h, w], len(keys), 0), payload))
                keys.append(os.path.relpath(path, root))
                stamps.append(file_stamp(path))
            bar.update(len(part))
    record.close()
    for ext in (".rec", ".idx"):
        os.replace(prefix + ext + ".tmp", prefix + ext)
    meta = {"short_side": short_side, "encoding": encoding, "quality": quality, "keys": keys,
            "stamps": stamps}
    with open(prefix + ".json", "w", encoding="utf-8") as f:
        json.dump(meta, f)
    return {"images": len(keys), "skipped": skipped, "megabytes": os.path.getsize(prefix + ".rec") / 2 ** 20}


def file_stamp(path):
    """Size and modification time of a source image: a changed file makes its record stale."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


# ------------------------------------------------------------------ reading

class StalePackError(RuntimeError):
    """A pack whose source images changed since it was written."""


class PackReader:
    """Random access to a pack's images by path.

    Each thread (and each forked loader worker) opens its own record handle on first
    use: a handle has one file position, so sharing one would mix up reads.
    """

    def __init__(self, prefix):
        meta_path = prefix + ".json"
        if not os.path.exists(meta_path):
            raise FileNotFoundError(f"{prefix}.rec: no complete pack here; run `gluonfashion pack` "
                                    f"with the same config (and short side) first")
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        self.prefix, self.short_side, self.encoding = prefix, meta["short_side"], meta["encoding"]
        self.root = os.path.dirname(os.path.dirname(os.path.abspath(prefix)))
        self.index = {key: i for i, key in enumerate(meta["keys"])}
        self.stamps = meta.get("stamps")
        self._local = threading.local()

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_local")      # handles never travel between processes
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def __len__(self):
        return len(self.index)

    def record_of(self, path):
        """Record number of an image path (absolute, or relative to the data root)."""
        key = os.path.relpath(os.path.abspath(path), self.root)
        if key not in self.index:
            raise KeyError(f"{path} is not in the pack {self.prefix}.rec: re-run `gluonfashion pack`")
        record = self.index[key]
        # e.g. the demo data was generated again after packing: same names, new pictures
        source = os.path.join(self.root, key)   # packs may outlive their source images
        if self.stamps is None or (os.path.exists(source) and file_stamp(source) != self.stamps[record]):
            raise StalePackError(f"{path} changed after the pack {self.prefix}.rec was written: "
                                 f"re-run `gluonfashion pack`")
        return record

    def read(self, record):
        """The RGB uint8 image of record number ``record``."""
        import mxnet as mx
        import numpy as np
        from .images import decode_bytes
        handle = getattr(self._local, "handle", None)
        if handle is None:
            handle = self._local.handle = mx.recordio.MXIndexedRecordIO(
                self.prefix + ".idx", self.prefix + ".rec", "r")
        header, payload = mx.recordio.unpack(handle.read_idx(record))
        if self.encoding == "raw":
            h, w = (int(v) for v in header.label)
            return np.frombuffer(payload, dtype=np.uint8).reshape(h, w, 3)
        return decode_bytes(payload, name=f"{self.prefix}.rec record {record}")
