"""A predictor for any image: no label or question file, just image files and folders.

    from gluonfashion.serving import Predictor
    predictions = Predictor.from_run("runs/demo/skirt_length_labels").predict(["a.jpg", "photos/"])
    for line in predictions.lines():
        print(line)
    predictions.save("predictions.csv")      # or .json

Images go through the run's own prediction path (``RunFolder.predict_images``: its eval
transform, test-time augmentation, batch size) and the family says what the
probabilities mean (``Family.image_labels``: a FashionAI task's top values, the JD
styles over the run's thresholds). Files that cannot be decoded are skipped, counted and
listed (``Predictions.skipped``); a path that does not exist is an error.
"""
import csv
import os
from dataclasses import dataclass, field

import numpy as np

from .. import checkpoint
from ..data.images import check_images
from ..families import family_of
from ..run_folder import RunFolder
from .quantize import load_int8

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def image_files(paths):
    """The image files ``paths`` name, in order: files as given, folders searched
    (recursively, sorted) for files with an image extension."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            inside = sorted(os.path.join(folder, name) for folder, _, names in os.walk(path) for name in names
                            if name.lower().endswith(IMAGE_EXTENSIONS))
            if not inside:
                raise ValueError(f"{path}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
            found += inside
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such image file or folder")
    return found


def label_text(labels):
    """``heading: name 0.912, name 0.050`` for one image's ``{heading: [(name, p), ...]}``."""
    return "; ".join(f"{heading}: " + (", ".join(f"{name} {p:.3f}" for name, p in values) or "(none)")
                     for heading, values in labels.items())


@dataclass
class Predictions:
    """What a run says about some images: ``probs`` ``(N, C)`` over ``classes``, and per
    image ``{heading: [(name, probability), ...]}`` (``labels``); ``skipped``: ``(path,
    reason)`` of the files that could not be read."""
    images: list
    probs: np.ndarray
    classes: list
    labels: list
    skipped: list = field(default_factory=list)

    def __len__(self):
        return len(self.images)

    def lines(self):
        """One line of text per image: ``path  heading: name 0.912, name 0.050``."""
        return [f"{image}  {label_text(labels)}" for image, labels in zip(self.images, self.labels)]

    def records(self):
        """One JSON-ready dict per image: ``image``, ``labels``, ``probabilities``."""
        return [{"image": image, "labels": {h: [[n, round(p, 6)] for n, p in v] for h, v in labels.items()},
                 "probabilities": dict(zip(self.classes, np.round(probs, 6).tolist()))}
                for image, labels, probs in zip(self.images, self.labels, self.probs)]

    def save(self, path):
        """Write ``path``: ``.json`` (``records``) or ``.csv`` (image, labels, then one
        probability column per class)."""
        kind = os.path.splitext(path)[1].lower()
        if kind not in (".csv", ".json"):
            raise ValueError(f"{path}: predictions are saved as .csv or .json")
        if kind == ".json":
            checkpoint.save_json(path, {"predictions": self.records(), "skipped": self.skipped})
        else:
            checkpoint.atomic_write(path, self._write_csv)
        return path

    def _write_csv(self, path):
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["image", "labels", *self.classes])
            for image, labels, probs in zip(self.images, self.labels, self.probs):
                writer.writerow([image, label_text(labels), *(f"{p:.6f}" for p in probs)])


class Predictor:
    """A finished run, loaded once, that predicts any images (see the module's doc)."""

    def __init__(self, run, loaded, tta=None, top=3):
        self.run, self.top = run, top
        # New images are read from their files, never from the run's pack.
        self.loaded = loaded._replace(cfg=dict(loaded.cfg, image_source="files"))
        self.tta = tta or loaded.cfg["tta"]
        self.family = family_of(loaded.cfg)
        self.classes = list(loaded.record["classes"])

    @classmethod
    def from_run(cls, run_dir, tta=None, weights=None, devices=None, top=3, log=print, int8=False,
                 calib_images=64, calib_mode="naive"):
        """The predictor of a run folder: weights ``best``/``swa``/``last`` (default the
        run's ``predict_weights``), test-time augmentation ``none``/``flip``/``ten_crop``
        (default the run's), devices (default the run's); ``top`` values per attribute.
        ``int8``: predict through the INT8 network (CPU, oneDNN), calibrated on
        ``calib_images`` validation images (``calib_mode``: ``naive`` or ``entropy``);
        ``bench --run RUN --int8`` says what it costs in accuracy."""
        run = RunFolder(run_dir)
        loaded = (load_int8(run, weights, calib_images, calib_mode, log) if int8
                  else run.load(weights, devices, log=log))
        return cls(run, loaded, tta, top)

    def predict(self, images, progress=False):
        """``Predictions`` of image files and folders (see ``image_files``)."""
        files = image_files(images)
        ok, skipped = check_images(files, "decode", max(2, self.loaded.cfg["workers"]), progress)
        readable = [f for f, good in zip(files, ok) if good]
        if readable:
            probs = self.run.predict_images(readable, self.tta, self.loaded, desc=f"predict ({self.tta})",
                                            progress=progress)
        else:
            probs = np.zeros((0, len(self.classes)), dtype=np.float32)
        return Predictions(readable, probs, self.classes, self.family.image_labels(probs, self.run, self.top),
                           skipped)
