"""Error-analysis helpers: confusion matrix, mistakes, AP table, co-occurrence, CAM."""
import numpy as np
import pytest

from gluonfashion import analysis, metrics


def test_confusion_matrix_by_hand():
    labels = [0, 0, 1, 1, 1, 2]
    preds = [0, 1, 1, 1, 2, 0]
    expected = np.array([[1, 1, 0],
                         [0, 2, 1],
                         [1, 0, 0]])
    np.testing.assert_array_equal(analysis.confusion_matrix(labels, preds), expected)
    # a class nobody has still gets its row and column when the count is given
    assert analysis.confusion_matrix(labels, preds, n_classes=4).shape == (4, 4)
    with pytest.raises(ValueError):
        analysis.confusion_matrix([0, 1], [0])


def test_most_confident_mistakes_by_hand():
    probs = np.array([[0.9, 0.1],    # right
                      [0.3, 0.7],    # wrong, confidence 0.7
                      [0.05, 0.95],  # wrong, 0.95
                      [0.6, 0.4],    # wrong, 0.6
                      [0.2, 0.8],    # right
                      [0.3, 0.7]])   # wrong, 0.7 (ties keep input order)
    labels = np.array([0, 0, 0, 1, 1, 0])
    np.testing.assert_array_equal(analysis.most_confident_mistakes(probs, labels), [2, 1, 5, 3])
    np.testing.assert_array_equal(analysis.most_confident_mistakes(probs, labels, k=2), [2, 1])
    assert len(analysis.most_confident_mistakes(probs, probs.argmax(1))) == 0


def test_ap_table_mean_is_the_metric():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.4, 0.35, 0.25],
                      [0.2, 0.2, 0.6], [0.5, 0.3, 0.2], [0.1, 0.45, 0.45]])
    labels = np.array([0, 1, 1, 2, 2, 1])
    table = analysis.ap_table(probs, labels)
    assert list(table["sample"]) == [1, 0, 3, 4, 5, 2]          # by confidence, stable
    assert list(table["hit"]) == [True, True, True, False, True, False]
    assert table["precision@k"].mean() == pytest.approx(metrics.fashionai_ap(probs, labels), abs=1e-4)
    # a tie (two samples at 0.6, one wrong): rank 1 holds half a hit whichever is listed first
    tied = analysis.ap_table([[0.6, 0.4], [0.6, 0.4]], [1, 0])
    assert list(tied["hit"]) == [False, True] and list(tied["precision@k"]) == [0.5, 0.5]


def test_cooccurrence_and_conditional_shares():
    y = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]])
    np.testing.assert_array_equal(analysis.cooccurrence(y), [[3, 2, 0], [2, 3, 0], [0, 0, 0]])
    share = analysis.conditional_cooccurrence(y)
    assert share[0, 1] == pytest.approx(2 / 3)
    np.testing.assert_array_equal(share[2], 0)     # absent label: no division by zero


def test_value_counts_and_examples():
    from gluonfashion.data.fashionai import LabelRow
    rows = [LabelRow("a", "a", "t", "ynm", "x:1"), LabelRow("b", "b", "t", "nyn", "x:2"),
            LabelRow("c", "c", "t", "myn", "x:3"), LabelRow("d", "d", "u", "yn", "x:4")]
    counts = analysis.fashionai_value_counts(rows)
    np.testing.assert_array_equal(counts["t"]["y"], [1, 2, 0])
    np.testing.assert_array_equal(counts["t"]["m"], [1, 0, 1])
    np.testing.assert_array_equal(counts["u"]["y"], [1, 0])
    picked = analysis.examples_per_value([0, 1, 1, 1, 2], per_value=2, seed=0)
    assert picked[0] == [0] and len(picked[1]) == 2 and set(picked[1]) <= {1, 2, 3} and picked[2] == [4]


def _tiny_net(head, image_size=64, n_classes=3):
    from gluonfashion.config import load_config
    from gluonfashion.models import build_model
    import mxnet as mx
    cfg = load_config(None, [("model", "resnet18_v2"), ("pretrained", False), ("allow_random_init", True),
                             ("image_size", image_size), ("resize_short", image_size), ("head", head),
                             ("head_hidden", 16)], profile="demo")
    mx.random.seed(0)
    return build_model(cfg, n_classes, [mx.cpu()], log=lambda *a: None)


def _batch(n=2, size=64):
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_cam_shape_range_and_exactness():
    from mxnet import nd
    net = _tiny_net("dense")
    batch = _batch()
    cam = analysis.class_activation_maps(net, batch)
    assert cam.method == "cam"
    assert cam.maps.shape == (2, 64, 64) and cam.raw.shape == (2, 2, 2)   # resnet18 at 64 px: 2x2 maps
    assert cam.maps.min() >= 0 and cam.maps.max() <= 1
    logits = net(nd.array(batch, dtype="uint8")).asnumpy()
    np.testing.assert_array_equal(cam.classes, logits.argmax(1))
    # CAM is exact for a dense head: class score = spatial mean of the raw map + bias
    bias = net.head[-1].bias.data().asnumpy()
    rows = np.arange(2)
    np.testing.assert_allclose(cam.raw.mean(axis=(1, 2)) + bias[cam.classes], logits[rows, cam.classes],
                               rtol=1e-4, atol=1e-4)


def test_gradcam_matches_cam_for_a_dense_head():
    net = _tiny_net("dense")
    batch = _batch()
    cam = analysis.class_activation_maps(net, batch, classes=[1, 2], method="cam")
    grad = analysis.class_activation_maps(net, batch, classes=[1, 2], method="gradcam")
    np.testing.assert_array_equal(grad.classes, [1, 2])
    # the gradient of a dense-after-average-pooling score is w[c] / (h * w): same map, scaled, then ReLU
    np.testing.assert_allclose(grad.raw, np.maximum(cam.raw, 0) / 4, rtol=1e-4, atol=1e-6)


def test_gradcam_of_an_earlier_block():
    net = _tiny_net("dense")
    shapes = analysis.feature_shapes(net, 64)
    assert [s[2] for s in shapes][-1] == (512,) and shapes[7][2][1:] == (4, 4)   # resnet18_v2: stage 3 at 1/16
    cam = analysis.class_activation_maps(net, _batch(), layer=7)
    assert cam.method == "gradcam" and cam.raw.shape == (2, 4, 4) and cam.maps.shape == (2, 64, 64)
    with pytest.raises(ValueError):
        analysis.class_activation_maps(net, _batch(), layer=12)     # Flatten: no spatial map


def test_gradcam_for_the_fc_bn_head():
    net = _tiny_net("fc_bn")
    cam = analysis.class_activation_maps(net, _batch(3))
    assert cam.method == "gradcam"
    assert cam.maps.shape == (3, 64, 64)
    assert np.all((cam.maps >= 0) & (cam.maps <= 1))
    with pytest.raises(ValueError):
        analysis.class_activation_maps(net, _batch(1), method="cam")


def test_overlay_keeps_the_image_shape():
    img = np.zeros((40, 30, 3), dtype=np.uint8)
    out = analysis.overlay_map(img, np.eye(2))
    assert out.shape == img.shape and out.dtype == np.uint8 and out.max() > 0


def test_figures_render(tmp_path):
    counts = {"t": {"y": np.array([3, 1]), "m": np.array([0, 1])}}
    y = np.array([[1, 0], [1, 1]])
    figs = [analysis.plot_class_balance(counts, {"t": ["a", "b"]}),
            analysis.image_grid([np.zeros((8, 8, 3), np.uint8)] * 3, ["x", "y", "z"], ncols=2),
            analysis.plot_label_frequency(y, ["a", "b"]),
            analysis.plot_cooccurrence(y, ["a", "b"]),
            analysis.plot_confusion(np.array([[2, 1], [0, 3]]), ["a", "b"])]
    for i, fig in enumerate(figs):
        fig.savefig(tmp_path / f"{i}.png")
    assert len(list(tmp_path.glob("*.png"))) == len(figs)


def test_find_repo_root_and_fast_mode(monkeypatch, tmp_path):
    import os
    root = analysis.find_repo_root(os.path.join(os.path.dirname(__file__), "..", "tutorial"))
    assert os.path.isdir(os.path.join(root, "configs", "fashionai"))
    with pytest.raises(FileNotFoundError):
        analysis.find_repo_root(str(tmp_path))
    monkeypatch.setenv(analysis.FAST_ENV, "1")
    assert analysis.is_fast_mode()
    monkeypatch.setenv(analysis.FAST_ENV, "0")
    assert not analysis.is_fast_mode()
