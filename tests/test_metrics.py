"""Metrics against hand-computed values (arithmetic in the comments) and scikit-learn."""
import itertools

import numpy as np
import pytest
from sklearn.metrics import fbeta_score

from gluonfashion.metrics import (
    accuracy, apply_thresholds, basic_precision, binomial_interval, fashionai_ap, fashionai_map,
    fbeta_per_label, mean_fbeta, search_thresholds, topk_recall)

# --------------------------------------------------------------------- FashionAI

# Four samples, two values. Sorted by top probability: s0 (0.9, right), s1 (0.8,
# wrong: argmax 1, label 0), s2 (0.7, right), s3 (0.6, right).
AP_PROBS = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
AP_LABELS = np.array([0, 0, 1, 0])
# precision@1..4 = 1/1, 1/2, 2/3, 3/4 -> AP = (12 + 6 + 8 + 9) / 12 / 4 = 35/48
AP_EXPECTED = 35 / 48


def test_ap_mistake_at_rank_two():
    assert fashionai_ap(AP_PROBS, AP_LABELS) == pytest.approx(AP_EXPECTED)


def test_ap_depends_on_confidence_order_not_input_order():
    perm = [3, 1, 0, 2]
    assert fashionai_ap(AP_PROBS[perm], AP_LABELS[perm]) == pytest.approx(AP_EXPECTED)


def test_ap_mistake_at_last_rank():
    # Only the least confident sample (0.6) is wrong: precision@k = 1, 1, 1, 3/4
    # -> AP = 3.75 / 4 = 0.9375
    labels = np.array([0, 1, 1, 1])
    assert fashionai_ap(AP_PROBS, labels) == pytest.approx(0.9375)


def test_ap_perfect_and_all_wrong():
    assert fashionai_ap(AP_PROBS, AP_PROBS.argmax(1)) == 1.0
    assert fashionai_ap(AP_PROBS, 1 - AP_PROBS.argmax(1)) == 0.0


def test_ap_scores_a_tie_as_the_mean_over_its_orders():
    # Equal top probability 0.6: the rule does not order the two samples, so neither
    # input order may decide. Wrong then right: precision@1..2 = 0, 1/2 -> AP 1/4;
    # right then wrong: 1, 1/2 -> AP 3/4; a tie scores their mean, 1/2, both ways round.
    probs = np.array([[0.6, 0.4], [0.6, 0.4]])
    assert fashionai_ap(probs, [1, 0]) == pytest.approx(0.5)
    assert fashionai_ap(probs, [0, 1]) == pytest.approx(0.5)
    # 0.9 right, then 0.7 right and 0.7 wrong (tied). Orders: hit hit miss -> (1 + 1 + 2/3) / 3
    # = 8/9; hit miss hit -> (1 + 1/2 + 2/3) / 3 = 13/18; mean (16/18 + 13/18) / 2 = 29/36.
    # (As expected hits: rank 2 holds 1 + 1/2, precision 3/4: (1 + 3/4 + 2/3) / 3 = 29/36.)
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.7, 0.3]])
    assert fashionai_ap(probs, [0, 1, 1]) == pytest.approx(29 / 36)
    assert fashionai_ap(probs[[0, 2, 1]], [0, 1, 1]) == pytest.approx(29 / 36)


def test_ap_with_ties_is_the_mean_over_all_tie_orders_brute_force():
    # Confidences on a coarse grid tie often; enumerate every order of every tied group.
    rng = np.random.RandomState(4)
    top = rng.choice([0.5, 0.7, 0.9], size=7)
    probs = np.stack([top, 1 - top], axis=1)
    labels = rng.randint(0, 2, size=7)
    hit = labels == 0
    groups = [np.flatnonzero(top == c) for c in sorted(set(top), reverse=True)]
    aps = []
    for orders in itertools.product(*(itertools.permutations(g) for g in groups)):
        ranked = hit[np.concatenate(orders)]
        aps.append(np.mean(np.cumsum(ranked) / np.arange(1, 8)))
    assert fashionai_ap(probs, labels) == pytest.approx(np.mean(aps))
    assert len(set(np.round(aps, 12))) > 1          # the tie orders do give different APs


# The official counting rule for `m` ("maybe") values. Four samples, three values:
#   s0 [0.7, 0.2, 0.1]   ynm yn n, answered 0 (conf 0.7): right
#   s1 [0.1, 0.8, 0.1]   ynm y m n, answered 1 (conf 0.8): an `m` value, not counted
#   s2 [0.3, 0.6, 0.1]   ynm y n n, answered 1 (conf 0.6): wrong
#   s3 [0.05, 0.05, 0.9] ynm n n y, answered 2 (conf 0.9): right
M_PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.6, 0.1], [0.05, 0.05, 0.9]])
M_LABELS = np.array([0, 0, 0, 2])
M_MAYBE = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0]], dtype=bool)


def test_ap_and_basic_precision_do_not_count_rows_answered_with_an_m_value():
    # Without the rule, ranked s3 (hit), s1 (miss), s0 (hit), s2 (miss):
    # precision@k = 1, 1/2, 2/3, 2/4 -> AP = (1 + 0.5 + 0.6667 + 0.5) / 4 = 2/3; accuracy 2/4.
    assert fashionai_ap(M_PROBS, M_LABELS) == pytest.approx(2 / 3)
    assert basic_precision(M_PROBS, M_LABELS) == pytest.approx(0.5)
    # With it, s1 is left out: s3 (hit), s0 (hit), s2 (miss): precision@k = 1, 1, 2/3
    # -> AP = (1 + 1 + 2/3) / 3 = 8/9; accuracy 2/3.
    assert fashionai_ap(M_PROBS, M_LABELS, M_MAYBE) == pytest.approx(8 / 9)
    assert basic_precision(M_PROBS, M_LABELS, M_MAYBE) == pytest.approx(2 / 3)
    # An `m` on a value the sample was not answered with changes nothing.
    other = np.zeros_like(M_MAYBE)
    other[2, 2] = True
    assert fashionai_ap(M_PROBS, M_LABELS, other) == pytest.approx(2 / 3)


def test_m_rule_leaving_no_row_gives_nan_and_checks_the_mask_shape():
    only_maybe = np.array([[0, 1, 0]], dtype=bool)
    assert np.isnan(fashionai_ap(M_PROBS[1:2], M_LABELS[1:2], only_maybe))
    assert np.isnan(basic_precision(M_PROBS[1:2], M_LABELS[1:2], only_maybe))
    with pytest.raises(ValueError, match="maybe must have shape"):
        fashionai_ap(M_PROBS, M_LABELS, M_MAYBE[:, :2])


def test_wilson_interval_of_an_accuracy_by_hand():
    # 8 of 10, z = 1.96: z^2 = 3.8416, z^2/n = 0.38416, centre = (0.8 + 0.19208) / 1.38416 = 0.71674,
    # half = 1.96 * sqrt(0.016 + 0.009604) / 1.38416 = 0.22658 -> (0.49016, 0.94332)
    low, high = binomial_interval(8, 10)
    assert low == pytest.approx(0.49016, abs=1e-5) and high == pytest.approx(0.94332, abs=1e-5)
    # 0 of 5 stays inside [0, 1]: centre = half = (3.8416 / 10) / (1 + 0.76832) = 0.217246
    assert binomial_interval(0, 5) == pytest.approx((0.0, 0.434492), abs=1e-5)
    with pytest.raises(ValueError, match="hits <= n"):
        binomial_interval(6, 5)


def test_ap_accepts_integer_valued_float_labels():
    # MXNet loaders hand labels over as float32.
    assert fashionai_ap(AP_PROBS, AP_LABELS.astype(np.float32)) == pytest.approx(AP_EXPECTED)


def test_map_is_mean_over_tasks_with_per_task_values():
    mean, per_task = fashionai_map({
        "skirt_length_labels": (AP_PROBS, AP_LABELS),
        "coat_length_labels": (AP_PROBS, AP_PROBS.argmax(1)),
    })
    # (35/48 + 1) / 2 = 83/96
    assert mean == pytest.approx(83 / 96)
    assert per_task == pytest.approx({"skirt_length_labels": 35 / 48, "coat_length_labels": 1.0})


def test_basic_precision_is_argmax_accuracy():
    # 3 of the 4 argmaxes match the label.
    assert basic_precision(AP_PROBS, AP_LABELS) == 0.75
    assert accuracy(AP_PROBS, AP_LABELS) == 0.75
    assert accuracy(np.array([0, 1, 1, 0]), AP_LABELS) == 0.75


@pytest.mark.parametrize("probs, labels, message", [
    (np.ones(4), [0, 0, 0, 0], r"\(N, C\)"),
    (np.ones((4, 2)), [0, 0, 0], r"shape \(4,\)"),
    (np.ones((4, 2)), [0, 0, 0, 2], r"labels\[3\] = 2"),
    (np.ones((4, 2)), [0, 0, 0, -1], r"labels\[3\] = -1"),
    (np.ones((4, 2)), [0, 0, 0, 0.5], "integer"),
    (np.full((4, 2), np.nan), [0, 0, 0, 0], "NaN"),
    (np.ones((0, 2)), [], "non-empty"),
])
def test_fashionai_bad_inputs_raise(probs, labels, message):
    with pytest.raises(ValueError, match=message):
        fashionai_ap(probs, labels)


def test_map_empty_and_basic_precision_needs_2d():
    with pytest.raises(ValueError, match="empty"):
        fashionai_map({})
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        basic_precision(np.array([0, 1]), [0, 1])


# ------------------------------------------------------------------ F-beta / MF2

# Columns: a mixed label, a perfect one, one with no true and no predicted
# positive, one whose positives are all missed.
Y_TRUE = np.array([[1, 1, 0, 1],
                   [1, 0, 0, 0],
                   [0, 0, 0, 0],
                   [0, 1, 0, 0],
                   [1, 0, 0, 1]])
Y_PRED = np.array([[1, 1, 0, 0],
                   [0, 0, 0, 0],
                   [1, 0, 0, 0],
                   [0, 1, 0, 0],
                   [0, 0, 0, 0]])


def test_f2_by_hand():
    # Column 0: TP = 1, FP = 1, FN = 2 -> P = 1/2, R = 1/3,
    #   F2 = 5 * (1/2)(1/3) / (4 * 1/2 + 1/3) = (5/6) / (7/3) = 5/14
    # Column 1: perfect -> 1.  Column 2: 0/0 -> zero_division = 0.
    # Column 3: TP = 0, FN = 2 -> 0.
    np.testing.assert_allclose(fbeta_per_label(Y_TRUE, Y_PRED), [5 / 14, 1, 0, 0])
    assert mean_fbeta(Y_TRUE, Y_PRED) == pytest.approx((5 / 14 + 1) / 4)


def test_f1_by_hand_and_zero_division_option():
    # beta = 1, column 0: 2 * (1/2)(1/3) / (1/2 + 1/3) = (1/3) / (5/6) = 2/5
    scores = fbeta_per_label(Y_TRUE, Y_PRED, beta=1.0, zero_division=1.0)
    np.testing.assert_allclose(scores, [2 / 5, 1, 1, 0])


def test_fbeta_matches_sklearn():
    rng = np.random.RandomState(0)
    y_true = rng.rand(200, 13) < 0.2
    y_pred = rng.rand(200, 13) < 0.3
    y_true[:, 5] = y_pred[:, 5] = False  # the 0/0 case, scored 0 by both
    for beta in (0.5, 1.0, 2.0):
        expected = fbeta_score(y_true, y_pred, beta=beta, average=None, zero_division=0)
        np.testing.assert_allclose(fbeta_per_label(y_true, y_pred, beta), expected)
        macro = fbeta_score(y_true, y_pred, beta=beta, average="macro", zero_division=0)
        assert mean_fbeta(y_true, y_pred, beta) == pytest.approx(macro)


@pytest.mark.parametrize("y_true, y_pred, message", [
    (np.ones((3, 2)), np.ones((3, 3)), r"shape \(3, 2\)"),
    (np.ones(3), np.ones(3), r"\(N, L\)"),
    (np.full((3, 2), 2), np.ones((3, 2)), "only 0 and 1"),
])
def test_fbeta_bad_inputs_raise(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        fbeta_per_label(y_true, y_pred)


def test_fbeta_bad_beta_raises():
    with pytest.raises(ValueError, match="beta"):
        mean_fbeta(Y_TRUE, Y_PRED, beta=0)


# ------------------------------------------------------------ threshold search

def test_search_threshold_by_hand():
    probs = np.array([[0.9], [0.8], [0.3], [0.2], [0.1]])
    y_true = np.array([[1], [0], [1], [0], [0]])
    # F2 = 5TP / (5TP + 4FN + FP) at each candidate:
    #   t = 0.9: TP 1 FP 0 FN 1 -> 5/9      t = 0.8: TP 1 FP 1 FN 1 -> 5/10
    #   t = 0.3: TP 2 FP 1 FN 0 -> 10/11    t = 0.2: 10/12    t = 0.1: 10/13
    thresholds, scores = search_thresholds(probs, y_true)
    np.testing.assert_allclose(thresholds, [0.3])
    np.testing.assert_allclose(scores, [10 / 11])


def test_search_cannot_split_tied_probabilities():
    # Only sample 0 is positive but sample 1 has the same 0.5: t = 0.5 predicts
    # both (TP 1 FP 1 -> 5/6), t = 0.1 predicts all three (TP 1 FP 2 -> 5/7).
    thresholds, scores = search_thresholds([[0.5], [0.5], [0.1]], [[1], [0], [0]])
    np.testing.assert_allclose(thresholds, [0.5])
    np.testing.assert_allclose(scores, [5 / 6])


def test_search_ties_in_score_pick_the_higher_threshold():
    # t = 0.9: TP 1 FN 1 FP 0 -> 5/9; t = 0.1: TP 2 FN 0 FP 8 -> 10/18 = 5/9;
    # every cut in between is worse (5 / (9 + FP)). The higher one wins.
    probs = np.array([0.9] + [0.5] * 8 + [0.1])[:, None]
    y_true = np.array([1] + [0] * 8 + [1])[:, None]
    thresholds, scores = search_thresholds(probs, y_true)
    np.testing.assert_allclose(thresholds, [0.9])
    np.testing.assert_allclose(scores, [5 / 9])


def test_search_label_without_positives_gets_the_top_probability():
    thresholds, scores = search_thresholds([[0.2], [0.7], [0.4]], [[0], [0], [0]])
    np.testing.assert_allclose(thresholds, [0.7])
    np.testing.assert_allclose(scores, [0.0])


def test_search_matches_brute_force_and_reproduces_its_score():
    rng = np.random.RandomState(1)
    y_true = rng.rand(60, 5) < 0.3
    # Rounded probabilities create plenty of ties.
    probs = np.round(np.clip(0.3 * y_true + rng.rand(60, 5) * 0.7, 0, 1), 1).astype(np.float32)
    thresholds, scores = search_thresholds(probs, y_true)
    assert thresholds.dtype == np.float32
    for label in range(5):
        candidates = sorted(set(probs[:, label]), reverse=True)
        brute = [fbeta_per_label(y_true[:, [label]], probs[:, [label]] >= t)[0]
                 for t in candidates]
        assert scores[label] == pytest.approx(max(brute))
        assert thresholds[label] == candidates[int(np.argmax(brute))]
    np.testing.assert_allclose(fbeta_per_label(y_true, probs >= thresholds), scores)


def test_search_bad_shapes_raise():
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        search_thresholds(np.ones((3, 2)), np.ones((3, 1)))


# ------------------------------------------------------------ apply_thresholds

def test_apply_thresholds_fills_empty_rows_and_trims_full_rows():
    probs = np.array([
        [0.10, 0.40, 0.20, 0.30, 0.05, 0.00, 0.45],   # 0 above 0.5 -> add label 6
        [0.90, 0.60, 0.70, 0.55, 0.80, 0.95, 0.65],   # 7 above -> drop 0.55, 0.60
        [0.90, 0.10, 0.70, 0.10, 0.10, 0.60, 0.10],   # 3 above -> unchanged
    ])
    expected = np.array([
        [0, 0, 0, 0, 0, 0, 1],
        [1, 0, 1, 0, 1, 1, 1],
        [1, 0, 1, 0, 0, 1, 0],
    ])
    np.testing.assert_array_equal(apply_thresholds(probs, np.full(7, 0.5)), expected)
    np.testing.assert_array_equal(apply_thresholds(probs, 0.5), expected)  # scalar


def test_apply_thresholds_ranks_by_margin_not_probability():
    # Margins 0.05 - 0.1 = -0.05 and 0.3 - 0.5 = -0.2: label 0 is closer to its
    # threshold although its probability is lower.
    np.testing.assert_array_equal(apply_thresholds([[0.05, 0.3]], [0.1, 0.5]), [[1, 0]])


def test_apply_thresholds_bounds_can_be_disabled_or_changed():
    probs = np.array([[0.1, 0.2, 0.3], [0.9, 0.8, 0.7]])
    plain = apply_thresholds(probs, 0.5, min_positive=0, max_positive=None)
    np.testing.assert_array_equal(plain, probs >= 0.5)
    np.testing.assert_array_equal(apply_thresholds(probs, 0.5, 2, 2), [[0, 1, 1], [1, 1, 0]])


@pytest.mark.parametrize("thresholds, lo, hi, message", [
    ([0.5, 0.5], 1, 5, r"shape \(3,\)"),
    (0.5, 3, 2, "min_positive <= max_positive"),
    (0.5, 4, 10, "exceeds"),
])
def test_apply_thresholds_bad_arguments_raise(thresholds, lo, hi, message):
    with pytest.raises(ValueError, match=message):
        apply_thresholds(np.ones((2, 3)), thresholds, lo, hi)


# ------------------------------------------------------------------ top-k recall

def test_topk_recall_by_hand():
    scores = np.array([[0.9, 0.1, 0.5, 0.3],
                       [0.2, 0.8, 0.7, 0.1],
                       [0.4, 0.3, 0.2, 0.1]])
    y_true = np.array([[1, 0, 0, 1],
                       [0, 1, 1, 0],
                       [0, 0, 0, 0]])       # no labels: left out of the mean
    # k = 2: row 0 top {0, 2} finds 1 of 2; row 1 top {1, 2} finds 2 of 2 -> 0.75
    assert topk_recall(scores, y_true, 2) == pytest.approx(0.75)
    # k = 1: 1/2 and 1/2 -> 0.5
    assert topk_recall(scores, y_true, 1) == pytest.approx(0.5)
    assert topk_recall(scores, y_true, 4) == 1.0


def test_topk_recall_ties_go_to_lower_index_and_one_hot_is_accuracy():
    assert topk_recall([[0.5, 0.5]], [[1, 0]], 1) == 1.0
    assert topk_recall([[0.5, 0.5]], [[0, 1]], 1) == 0.0
    one_hot = np.eye(2)[AP_LABELS]
    assert topk_recall(AP_PROBS, one_hot, 1) == accuracy(AP_PROBS, AP_LABELS)


@pytest.mark.parametrize("y_true, k, message", [
    (np.ones((2, 3)), 0, r"k must be in \[1, 3\]"),
    (np.ones((2, 3)), 4, r"k must be in \[1, 3\]"),
    (np.zeros((2, 3)), 1, "no positive label"),
    (np.ones((2, 2)), 1, r"shape \(2, 3\)"),
])
def test_topk_recall_bad_arguments_raise(y_true, k, message):
    with pytest.raises(ValueError, match=message):
        topk_recall(np.ones((2, 3)), y_true, k)


def test_fbeta_matches_sklearn_on_many_small_cases():
    # A spread of 3x2 binary matrices, 0/0 columns included.
    cases = [np.array(bits).reshape(3, 2) for bits in itertools.product((0, 1), repeat=6)]
    for y_true in cases[::7]:
        for y_pred in cases[::5]:
            expected = fbeta_score(y_true, y_pred, beta=2, average=None, zero_division=0)
            np.testing.assert_allclose(fbeta_per_label(y_true, y_pred), expected)
