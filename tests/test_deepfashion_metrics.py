"""DeepFashion scores, loss and activation, against values worked out by hand."""
import math

import numpy as np
import pytest
from mxnet import nd

from gluonfashion.losses import CategoryAttributeLoss
from gluonfashion.metrics import category_attribute_scores, topk_accuracy, topk_recall_by_group
from gluonfashion.objectives import CategoryAndAttributes, activation_for, split_activation


def test_topk_accuracy_by_hand():
    scores = [[0.1, 0.5, 0.3, 0.1], [0.4, 0.3, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]]
    labels = [2, 3, 1]
    # ranked: row 0 -> 1, 2, 0, 3; row 1 -> 0, 1, 2, 3; row 2 (a tie) -> 0, 1, 2, 3
    assert topk_accuracy(scores, labels, 1) == 0.0
    assert topk_accuracy(scores, labels, 2) == pytest.approx(2 / 3)    # rows 0 and 2
    assert topk_accuracy(scores, labels, 3) == pytest.approx(2 / 3)    # row 1's label ranks last
    assert topk_accuracy(scores, labels, 9) == 1.0


def test_topk_recall_ranks_within_each_group():
    scores = [[0.9, 0.1, 0.2, 0.8], [0.3, 0.6, 0.7, 0.1]]
    truth = [[0, 1, 1, 0], [1, 1, 0, 0]]
    # group 1 (columns 0, 1), k = 1: row 0 picks column 0 (not true): 0/1; row 1 picks column 1: 1/2.
    # group 2 (columns 2, 3): row 0 picks column 3 (not true): 0/1; row 1 has no true label there.
    assert topk_recall_by_group(scores, truth, [1, 1, 2, 2], 1) == {1: pytest.approx(0.25), 2: 0.0}
    # a group with fewer columns than k ranks all of them; a group nobody has is NaN
    result = topk_recall_by_group(scores, truth, [1, 1, 2, 3], 3)
    assert result[1] == 1.0 and result[2] == 1.0 and math.isnan(result[3])


def test_category_and_attribute_scores_by_hand():
    # 2 categories, then 6 attributes of types 1, 1, 1, 2, 2, 2
    scores = np.array([[0.7, 0.3, 0.9, 0.1, 0.8, 0.2, 0.7, 0.3],
                       [0.4, 0.6, 0.1, 0.6, 0.5, 0.4, 0.3, 0.2],
                       [0.2, 0.8, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]])
    truth = np.array([[1, 0, 0, 1, 0, 1, 1, 0],
                      [1, 0, 0, 1, -1, 0, 0, 1],     # -1: unknown, not present
                      [0, 1, 0, 0, 0, 0, 0, 0]])     # no present attribute: left out of recall
    out = category_attribute_scores(scores, truth, 2, attribute_types=np.array([1, 1, 1, 2, 2, 2]))
    # category: row 1's argmax is the wrong one; with 2 categories top-3 and top-5 hold every one
    assert out["category_top1"] == pytest.approx(2 / 3)
    assert out["category_top3"] == out["category_top5"] == 1.0
    # row 0: top 3 = attributes 0, 2, 4 (0.9, 0.8, 0.7), present 1, 3, 4 -> 1/3;
    #        top 5 adds 5 (0.3) and 3 (0.2) -> 2/3
    # row 1: top 3 = attributes 1, 2, 3 (0.6, 0.5, 0.4), present 1, 5 -> 1/2; top 5 adds 4, 5 -> 2/2
    assert out["attribute_recall3"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert out["attribute_recall5"] == pytest.approx((2 / 3 + 1) / 2)
    assert out["top3_score"] == pytest.approx((1.0 + 5 / 12) / 2)
    # per type, ranked among the type's 3 attributes: top 3 holds every one
    assert out["by_type"] == {1: {3: 1.0, 5: 1.0}, 2: {3: 1.0, 5: 1.0}}
    with pytest.raises(ValueError, match="exactly one category"):
        category_attribute_scores(scores, np.zeros_like(truth), 2)


L3 = math.log(3)


def test_loss_by_hand_masks_unknown_attributes():
    logits = nd.array([[0, L3, 0, L3], [L3, 0, 0, L3]])
    targets = nd.array([[0, 1, 1, 0], [1, 0, -1, 1]])   # 2 categories, then 2 attributes (-1 unknown)
    # row 0: category CE -ln(3/4) = 0.287682; attributes: present at logit 0 costs ln 2 = 0.693147,
    #        absent at logit ln 3 (p = 3/4) costs 0.1 * -ln(1/4) = 0.138629; mean 0.415888
    #        total 1 * 0.287682 + 2 * 0.415888 = 1.119459
    # row 1: CE -ln(3/4) = 0.287682; the unknown costs nothing, present at ln 3 costs -ln(3/4),
    #        mean over the 2 attributes 0.143841; total 0.287682 + 2 * 0.143841 = 0.575364
    loss = CategoryAttributeLoss(2, category_weight=1.0, attribute_weight=2.0, pos_weight=1.0, neg_weight=0.1)
    expected = [1.119459, 0.575364]
    assert loss(logits, targets).asnumpy() == pytest.approx(expected, abs=1e-5)
    loss.hybridize()
    assert loss(logits, targets).asnumpy() == pytest.approx(expected, abs=1e-5)


def test_activation_splits_softmax_and_sigmoid_and_comes_back_from_the_record():
    logits = nd.array([[0, L3, 0, L3]])
    # softmax of (0, ln 3) = (1/4, 3/4); sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4
    assert split_activation(2)(logits).asnumpy()[0] == pytest.approx([0.25, 0.75, 0.5, 0.75], abs=1e-6)
    objective = CategoryAndAttributes(2, 2)
    record = {"problem": objective.kind, "objective": objective.saved()}
    assert activation_for(record)(logits).asnumpy()[0] == pytest.approx([0.25, 0.75, 0.5, 0.75], abs=1e-6)
    # records of the other objectives (and older ones, without "objective") keep their activation
    assert activation_for({"problem": "single"})(logits).asnumpy()[0].sum() == pytest.approx(1.0)


def test_objective_evaluates_the_benchmark_scores_and_the_loss_of_its_own_probabilities():
    objective = CategoryAndAttributes(2, 2, attribute_weight=2.0)
    probs = np.array([[0.25, 0.75, 0.5, 0.75], [0.75, 0.25, 0.5, 0.75]])
    targets = np.array([[0, 1, 1, 0], [1, 0, -1, 1]], np.float32)
    out = objective.evaluate(probs, targets)
    # the probabilities are those of the logits of the loss test: its mean, (1.119459 + 0.575364) / 2
    assert out["loss"] == pytest.approx(0.8474115, abs=1e-5)
    assert out["category_top1"] == 1.0 and objective.select_metric in out
