"""What a task family hands to training: the two parts of a split, ready for loaders."""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class TrainData:
    """Image paths and target arrays of the training and validation parts of a split.

    ``val_keys`` name the validation rows in the family's own terms (FashionAI
    ``(rel_path, task, ynm)`` rows, JD image ids), so validation files can be written
    in its formats; ``summary`` holds counts for the run record (``best.json``) and is
    read by people, not by code.
    """
    train_images: list
    train_targets: np.ndarray
    val_images: list
    val_targets: np.ndarray
    class_names: list
    val_keys: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    # Multi-label: positives per label among the ``label_rows`` training rows before any
    # resampling, for loss weights.
    label_counts: np.ndarray = None
    label_rows: int = 0

