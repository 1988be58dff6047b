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
    # numpy's default_rng(0).random(10) = .637 .270 .041 .017 .813 .913 .607 .729 .544 .935:
    # of the frequent-only samples (all but 8) those drawing below 0.5 stay: 1, 2 and 3;
    # sample 8, the only one with the rare label, is kept whatever its draw, 3 times.
    assert np.random.default_rng(0).random(10).round(3).tolist() == [
        .637, .27, .041, .017, .813, .913, .607, .729, .544, .935]
    assert idx.tolist() == [1, 2, 3, 8, 8, 8]
    again = resample_indices(Y, seed=0, rare_frequency=0.15, rare_repeat=3, frequent_keep=0.5)
    assert np.array_equal(idx, again)


def test_bad_rates_rejected():
    with pytest.raises(ValueError):
        resample_indices(Y, 0, rare_repeat=0)
    with pytest.raises(ValueError):
        resample_indices(Y, 0, frequent_keep=0.0)
