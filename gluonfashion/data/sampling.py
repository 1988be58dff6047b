"""Re-balancing a multi-label training set by repeating or dropping whole samples.

Two published moves (JD first place): repeat samples that carry a rare style, and drop
a share of the samples whose styles are all frequent (dropping ~20% worked best).
"""
import numpy as np


def rare_labels(y, rare_frequency):
    """Indices of labels whose share of positive samples is below ``rare_frequency``."""
    return np.flatnonzero(np.asarray(y).mean(0) < rare_frequency)


def resample_indices(y, seed, rare_frequency=0.05, rare_repeat=1, frequent_keep=1.0):
    """Training indices after re-balancing (with repeats), in a seeded order.

    - a sample with any rare label (share < ``rare_frequency``) appears ``rare_repeat`` times;
    - a sample whose labels are all frequent is kept with probability ``frequent_keep``.
    ``rare_repeat=1, frequent_keep=1.0`` returns every index once.
    """
    y = np.asarray(y, dtype=bool)
    if rare_repeat < 1 or not 0.0 < frequent_keep <= 1.0:
        raise ValueError("rare_repeat must be >= 1 and frequent_keep in (0, 1]")
    rng = np.random.default_rng(seed)
    has_rare = y[:, rare_labels(y, rare_frequency)].any(1)
    keep = has_rare | (rng.random(len(y)) < frequent_keep)
    repeats = np.where(has_rare, int(rare_repeat), 1) * keep
    return np.repeat(np.arange(len(y)), repeats)
