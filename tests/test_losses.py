"""Losses against hand-computed values (arithmetic in the comments) and Gluon's own losses."""
import math

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon, nd

from gluonfashion.losses import (
    CostSensitiveBCE, FocalLoss, MultiLabelBCE, SigmoidBCE, SoftTargetCrossEntropy,
    WeightedBCE, cost_sensitive_weights, make_multilabel_loss, wbce_weights)
from gluonfashion.data.fashionai import soft_targets

LN2, LN3 = math.log(2), math.log(3)
# A logit of ln 3 gives p = sigmoid(ln 3) = 3/4:
NLL_POS = -math.log(3 / 4)   # -log p      = 0.287682, cost of a positive
NLL_NEG = -math.log(1 / 4)   # -log (1-p)  = 1.386294, cost of a negative

# One sample, two labels, both logits ln 3; label 0 is positive, label 1 negative.
PRED = nd.array([[LN3, LN3]])
LABEL = nd.array([[1, 0]])


def _value(loss, pred=PRED, label=LABEL, *rest):
    return loss(pred, label, *rest).asnumpy()


def _random_batch(n=6, n_labels=4, seed=0):
    rng = np.random.RandomState(seed)
    pred = nd.array(rng.randn(n, n_labels) * 3)
    label = nd.array(rng.rand(n, n_labels) < 0.4)
    return pred, label


# ------------------------------------------------------------ soft targets / CE

def test_soft_targets_with_maybe():
    # "nymn": weights (0, 1, 0.25, 0), sum 1.25 -> (0, 0.8, 0.2, 0)
    # "ynmm": weights (1, 0, 0.25, 0.25), sum 1.5 -> (2/3, 0, 1/6, 1/6)
    targets = soft_targets(["nymn", "ynmm"], maybe_share=0.25)
    assert targets.dtype == np.float32 and targets.shape == (2, 4)
    np.testing.assert_allclose(targets, [[0, 0.8, 0.2, 0], [2 / 3, 0, 1 / 6, 1 / 6]], rtol=1e-5)


def test_soft_targets_maybe_share_zero_is_one_hot():
    np.testing.assert_array_equal(soft_targets(["nymn", "ynmm"], 0.0), [[0, 1, 0, 0], [1, 0, 0, 0]])


def test_soft_targets_several_y_share_equally():
    np.testing.assert_allclose(soft_targets(["yny"], 0.25), [[0.5, 0, 0.5]])


@pytest.mark.parametrize("rows, message", [
    (["nyn", "nnn"], r"ynm_rows\[1\] = 'nnn'"),
    (["nyn", "nxy"], r"ynm_rows\[1\] = 'nxy'"),
    (["nyn", "Ynn"], r"ynm_rows\[1\] = 'Ynn'"),
    (["nyn", "nnyn"], r"ynm_rows\[1\] = 'nnyn' has 4 values, but ynm_rows\[0\] has 3"),
    ("nyn", "one string"),
    ([], "empty"),
])
def test_soft_targets_bad_rows_raise(rows, message):
    with pytest.raises(ValueError, match=message):
        soft_targets(rows)


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_soft_targets_share_out_of_range_raises(share):
    with pytest.raises(ValueError, match="maybe_share"):
        soft_targets(["ny"], share)


def test_soft_target_ce_by_hand():
    # Logits (ln 3, 0) -> softmax (3/4, 1/4); target (0.8, 0.2):
    # CE = -(0.8 ln 3/4 + 0.2 ln 1/4) = 0.8 * 0.287682 + 0.2 * 1.386294 = 0.507405
    loss = _value(SoftTargetCrossEntropy(), nd.array([[LN3, 0]]), nd.array([[0.8, 0.2]]))
    np.testing.assert_allclose(loss, [0.8 * NLL_POS + 0.2 * NLL_NEG], rtol=1e-5)
    # Equal logits over 4 values: log-softmax is -ln 4 everywhere, whatever the target.
    targets = nd.array(soft_targets(["nymn"]))
    np.testing.assert_allclose(_value(SoftTargetCrossEntropy(), nd.zeros((1, 4)), targets),
                               [2 * LN2], rtol=1e-5)


def test_soft_target_ce_equals_gluon_sparse_ce_on_one_hot():
    pred, _ = _random_batch(n=8, n_labels=5)
    labels = nd.array([0, 1, 2, 3, 4, 0, 1, 2])
    expected = gluon.loss.SoftmaxCrossEntropyLoss()(pred, labels).asnumpy()
    got = SoftTargetCrossEntropy()(pred, nd.one_hot(labels, 5)).asnumpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)


# ------------------------------------------------------------ multi-label losses

def test_bce_by_hand_and_equal_to_gluon():
    # Mean over the two labels: (0.287682 + 1.386294) / 2 = 0.836988
    np.testing.assert_allclose(_value(SigmoidBCE()), [(NLL_POS + NLL_NEG) / 2], rtol=1e-5)
    # Logit 0 is p = 1/2: ln 2 whatever the label.
    np.testing.assert_allclose(_value(SigmoidBCE(), nd.zeros((1, 2))), [LN2], rtol=1e-5)
    pred, label = _random_batch()
    expected = gluon.loss.SigmoidBinaryCrossEntropyLoss()(pred, label).asnumpy()
    np.testing.assert_allclose(SigmoidBCE()(pred, label).asnumpy(), expected, rtol=1e-5)


def test_bce_is_stable_for_huge_logits():
    loss = SigmoidBCE()(nd.array([[100.0, -100.0]]), nd.array([[1, 1]])).asnumpy()
    # label 0 right: ~0; label 1 wrong by 100: ~100 -> mean ~50, finite
    np.testing.assert_allclose(loss, [50.0], rtol=1e-5)


def test_weighted_bce_weights_whole_term():
    # Weights (2, 0.5): (2 * 0.287682 + 0.5 * 1.386294) / 2 = 0.634256
    np.testing.assert_allclose(_value(WeightedBCE([2.0, 0.5])),
                               [(2 * NLL_POS + 0.5 * NLL_NEG) / 2], rtol=1e-5)


def test_cost_sensitive_weights_only_the_positive_term():
    # fn weight 5 on both labels; only label 0 is positive:
    # (5 * 0.287682 + 1.386294) / 2 = 1.412352
    np.testing.assert_allclose(_value(CostSensitiveBCE([5.0, 5.0])),
                               [(5 * NLL_POS + NLL_NEG) / 2], rtol=1e-5)


def test_focal_by_hand():
    # gamma 2, p = 3/4: positive (1 - 3/4)^2 * 0.287682 = 0.017980,
    # negative (3/4)^2 * 1.386294 = 0.779790 -> mean 0.398885
    pos, neg = 0.25 ** 2 * NLL_POS, 0.75 ** 2 * NLL_NEG
    np.testing.assert_allclose(_value(FocalLoss(gamma=2)), [(pos + neg) / 2], rtol=1e-5)
    # alpha 0.25 weighs positives 0.25, negatives 0.75 -> (0.004495 + 0.584843) / 2
    np.testing.assert_allclose(_value(FocalLoss(gamma=2, alpha=0.25)),
                               [(0.25 * pos + 0.75 * neg) / 2], rtol=1e-5)


def test_focal_with_gamma_zero_is_bce():
    pred, label = _random_batch()
    np.testing.assert_allclose(FocalLoss(gamma=0)(pred, label).asnumpy(),
                               SigmoidBCE()(pred, label).asnumpy(), rtol=1e-5)


def test_sample_weight_and_scalar_weight():
    pred, label = _random_batch(n=3)
    base = SigmoidBCE()(pred, label).asnumpy()
    sample_weight = nd.array([[1.0], [0.0], [2.0]])
    np.testing.assert_allclose(SigmoidBCE()(pred, label, sample_weight).asnumpy(),
                               base * [1, 0, 2], rtol=1e-5)
    np.testing.assert_allclose(SigmoidBCE(weight=3.0)(pred, label).asnumpy(), base * 3, rtol=1e-5)


@pytest.mark.parametrize("make", [
    SigmoidBCE,
    lambda: WeightedBCE([0.5, 1.0, 2.0, 4.0]),
    lambda: CostSensitiveBCE([5.0, 1.0, 5.0, 1.0]),
    lambda: FocalLoss(gamma=2.0, alpha=[0.25, 0.5, 0.75, 0.9]),
    SoftTargetCrossEntropy,
])
def test_hybridized_equals_imperative_values_and_gradients(make):
    pred, label = _random_batch()
    if make is SoftTargetCrossEntropy:
        label = label + 0.1
        label = label / label.sum(axis=1, keepdims=True)
    results = []
    for hybridize in (False, True):
        loss = make()
        if hybridize:
            loss.hybridize()
        for _ in range(2):  # the second hybridized call runs the cached graph
            x = pred.copy()
            x.attach_grad()
            with autograd.record():
                out = loss(x, label)
            out.backward()
        results.append((out.asnumpy(), x.grad.asnumpy()))
    (value, grad), (value_h, grad_h) = results
    np.testing.assert_allclose(value_h, value, rtol=1e-5)
    np.testing.assert_allclose(grad_h, grad, rtol=1e-5, atol=1e-7)


def test_label_weights_follow_the_input_context():
    # Weights are created on the default context; an input elsewhere (a GPU in
    # real use, a second CPU context here) gets a copy instead of an error.
    pred, label = _random_batch()
    loss = WeightedBCE([0.5, 1.0, 2.0, 4.0])
    loss.hybridize()
    expected = loss(pred, label).asnumpy()
    other = mx.cpu(1)
    got = loss(pred.as_in_context(other), label.as_in_context(other))
    assert got.context == other
    np.testing.assert_allclose(got.asnumpy(), expected, rtol=1e-5)


def test_label_weights_are_constants_not_trained():
    loss = WeightedBCE([1.0, 2.0])
    assert all(p.grad_req == "null" for p in loss.collect_params().values())


@pytest.mark.parametrize("kwargs, message", [
    (dict(pos_weight=[[1.0]]), "pos_weight"),
    (dict(neg_weight=[1.0, -1.0]), "neg_weight"),
    (dict(gamma=-1), "gamma"),
])
def test_core_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiLabelBCE(**kwargs)


def test_focal_alpha_out_of_range_raises():
    with pytest.raises(ValueError, match="alpha"):
        FocalLoss(alpha=1.5)


# ------------------------------------------------------------ weights and factory

def test_wbce_weight_formula():
    # w = 1.5 ** (-ln n): n = 1 -> 1; n = e^2 -> 1.5^-2 = 4/9
    raw = wbce_weights([1, math.e ** 2], alpha=1.5, normalize=False)
    np.testing.assert_allclose(raw, [1, 4 / 9], rtol=1e-5)
    # Normalised to mean 1: divide by (1 + 4/9) / 2 = 13/18 -> (18/13, 8/13)
    np.testing.assert_allclose(wbce_weights([1, math.e ** 2]), [18 / 13, 8 / 13], rtol=1e-5)
    # Equivalent closed form n ** (-ln alpha); an unseen label counts as n = 1.
    counts = np.array([0, 5, 50, 500])
    np.testing.assert_allclose(wbce_weights(counts, normalize=False),
                               np.maximum(counts, 1) ** -math.log(1.5), rtol=1e-5)


@pytest.mark.parametrize("counts", [[3, -1], [[1, 2]], [], [1, np.nan]])
def test_bad_label_counts_raise(counts):
    with pytest.raises(ValueError, match="label_counts"):
        wbce_weights(counts)


def test_cost_sensitive_weights_pick_the_rarest_half():
    # 13 JD-like counts: ceil(0.5 * 13) = 7 rarest labels get 5, the rest 1.
    counts = np.array([100, 9000, 20000, 1500, 16000, 12000, 600, 3000, 19000, 8000,
                       2500, 900, 400])
    weights = cost_sensitive_weights(counts)
    rare = np.argsort(counts)[:7]
    assert set(np.flatnonzero(weights == 5)) == set(rare)
    assert np.all(np.delete(weights, rare) == 1)


def test_factory_builds_each_loss():
    counts = [10, 100, 1000, 10000]
    assert type(make_multilabel_loss("bce")) is SigmoidBCE
    assert type(make_multilabel_loss("focal", gamma=1.0)) is FocalLoss
    wbce = make_multilabel_loss("wbce", counts, alpha=2.0)
    assert type(wbce) is WeightedBCE
    np.testing.assert_allclose(wbce.pos_weight.data().asnumpy()[0],
                               wbce_weights(counts, alpha=2.0))
    cost = make_multilabel_loss("cost_sensitive", counts, fn_weight=3.0)
    np.testing.assert_allclose(cost.pos_weight.data().asnumpy()[0], [3, 3, 1, 1])
    explicit = make_multilabel_loss("cost_sensitive", fn_weights=[1, 2, 3, 4])
    np.testing.assert_allclose(explicit.pos_weight.data().asnumpy()[0], [1, 2, 3, 4])


def test_factory_errors():
    with pytest.raises(ValueError, match="valid names: bce, cost_sensitive, focal, wbce"):
        make_multilabel_loss("softmax")
    with pytest.raises(ValueError, match="'wbce' needs label_counts"):
        make_multilabel_loss("wbce")
    with pytest.raises(ValueError, match="'cost_sensitive' needs label_counts"):
        make_multilabel_loss("cost_sensitive")
