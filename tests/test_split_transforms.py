"""Stratified and multi-label splits; transforms and the seeded sampler."""
import numpy as np

from gluonfashion.data.dataset import SeededShuffleSampler
from gluonfashion.data.split import multilabel_folds, stratified_split
from gluonfashion.transforms import EvalTransform, TrainTransform


def test_stratified_split_is_seeded_disjoint_and_keeps_class_shares():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    train, val = stratified_split(labels, 0.2, seed=3)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 100
    assert np.bincount(labels[val]).tolist() == [10, 6, 4]
    again = stratified_split(labels, 0.2, seed=3)
    assert np.array_equal(val, again[1])
    assert not np.array_equal(val, stratified_split(labels, 0.2, seed=4)[1])


def test_stratified_split_gives_small_classes_one_val_sample():
    train, val = stratified_split(np.array([0] * 30 + [1, 1]), 0.1, seed=0)
    assert (np.array([0] * 30 + [1, 1])[val] == 1).sum() == 1


def test_multilabel_folds_spread_every_rare_label():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 5)) < [0.5, 0.3, 0.1, 0.05, 0.025]).astype(np.uint8)
    folds = multilabel_folds(y, 5, seed=0)
    assert set(folds) == set(range(5))
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 3
    for label in range(5):
        per_fold = np.array([y[folds == f, label].sum() for f in range(5)])
        # iterative stratification: each fold within one of the ideal count
        assert per_fold.max() - per_fold.min() <= 1, (label, per_fold)
    assert np.array_equal(folds, multilabel_folds(y, 5, seed=0))


def test_train_transform_is_deterministic_per_seed_and_sized():
    img = np.random.default_rng(0).integers(0, 255, (80, 100, 3), dtype=np.uint8)
    t = TrainTransform(32, scale=(0.5, 1.0))
    a = t(img, np.random.default_rng(7))
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, t(img, np.random.default_rng(7)))


def test_eval_crops_count_and_flip():
    img = np.arange(40 * 50 * 3, dtype=np.uint8).reshape(40, 50, 3)
    assert EvalTransform(32, 36, "none")(img).shape == (32, 32, 3)
    flip = EvalTransform(32, 36, "flip")(img)
    assert flip.shape == (2, 32, 32, 3) and np.array_equal(flip[1], flip[0][:, ::-1])
    ten = EvalTransform(32, 36, "ten_crop")(img)
    assert ten.shape == (10, 32, 32, 3) and np.array_equal(ten[5:], ten[:5, :, ::-1])


def test_sampler_orders_depend_on_epoch_only():
    s = SeededShuffleSampler(10, seed=1)
    s.set_epoch(0)
    first = list(s)
    s.set_epoch(1)
    second = list(s)
    s.set_epoch(0)
    assert list(s) == first and first != second
    assert sorted(i for i, _ in first) == list(range(10))
