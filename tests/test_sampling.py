"""Re-balancing of multi-label training samples."""
import numpy as np
import pytest

from gluonfashion.data.sampling import rare_labels, resample_indices

# 10 samples, 3 labels: label 2 is rare (1 of 10), labels 0 and 1 frequent.
Y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0],
              [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 1, 1], [1, 0, 0]])


def test_rare_labels_by_share():
    assert rare_labels(Y, 0.15).tolist() == [2]
    assert rare_labels(Y, 0.05).tolist() == []


def test_identity_by_default():
    assert resample_indices(Y, seed=0, rare_frequency=0.15).tolist() == list(range(10))


def test_rare_samples_repeated_frequent_ones_dropped():
    idx = resample_indices(Y, seed=0, rare_frequency=0.15, rare_repeat=3, frequent_keep=0.5)
    counts = np.bincount(idx, minlength=10)
    assert counts[8] == 3                       # the only sample with the rare label, x3
    assert set(counts[:8].tolist() + [counts[9]]) <= {0, 1}
    assert 1 <= counts.sum() - 3 <= 8           # some, not all, frequent-only samples kept
    again = resample_indices(Y, seed=0, rare_frequency=0.15, rare_repeat=3, frequent_keep=0.5)
    assert np.array_equal(idx, again)


def test_bad_rates_rejected():
    with pytest.raises(ValueError):
        resample_indices(Y, 0, rare_repeat=0)
    with pytest.raises(ValueError):
        resample_indices(Y, 0, frequent_keep=0.0)
