"""The helpers the tutorial's comparisons use: accuracy with its interval, a run's saved
test predictions in test-set order, the cost of training, the spread over seeds, and
the notebooks' low-data demo sets."""
import os

import numpy as np
import pandas as pd
import pytest

from gluonfashion import analysis
from gluonfashion.config import load_config
from gluonfashion.data.fashionai import read_label_file, read_question_file


def test_accuracy_row_by_hand():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 1])
    row = analysis.accuracy_row(probs, labels)
    # 3 of 4 right. Wilson, z = 1.96: centre (0.75 + 3.8416/8) / (1 + 3.8416/4) = 0.62753,
    # half 1.96 * sqrt(0.75 * 0.25 / 4 + 3.8416 / 64) / 1.9604 = 0.32689 -> [0.30064, 0.95442].
    assert row["test accuracy"] == 0.75 and row["test images"] == 4
    assert row["95 % low"] == pytest.approx(0.30064, abs=1e-4)
    assert row["95 % high"] == pytest.approx(0.95442, abs=1e-4)
    # AP: confidences 0.9 (right), 0.8 (right), 0.7 (right), 0.6 (wrong):
    # precision@k 1, 1, 1, 3/4 -> mean 0.9375.
    assert row["test AP"] == pytest.approx(0.9375)
    with pytest.raises(ValueError, match=r"\(N, C\) probabilities and \(N,\) labels"):
        analysis.accuracy_row(probs, labels[:3])


def test_training_cost_takes_medians(tmp_path):
    pd.DataFrame({"epoch": [1, 2, 3], "train_seconds": [1.0, 5.0, 2.0],
                  "train_img_per_s": [100.0, 20.0, 50.0]}).to_csv(tmp_path / "metrics.csv", index=False)
    cost = analysis.training_cost(str(tmp_path))
    # seconds 1, 5, 2 -> median 2; ms per image 10, 50, 20 -> median 20
    assert cost == {"s per epoch": 2.0, "ms per training image": 20.0, "epochs": 3}


def test_seed_spread_by_hand():
    rows = [{"variant": "b", "seed": 0, "test accuracy": 0.50},
            {"variant": "a", "seed": 0, "test accuracy": 0.70},
            {"variant": "b", "seed": 1, "test accuracy": 0.60},
            {"variant": "a", "seed": 1, "test accuracy": 0.64}]
    table = analysis.seed_spread(rows)
    assert list(table.index) == ["b", "a"]                      # first-seen order, not sorted
    assert list(table.columns) == ["seed 0", "seed 1", "mean", "range"]
    assert table.loc["b", "mean"] == pytest.approx(0.55) and table.loc["b", "range"] == pytest.approx(0.10)
    assert table.loc["a", "mean"] == pytest.approx(0.67) and table.loc["a", "range"] == pytest.approx(0.06)


def _fast_env(tmp_path):
    return analysis.NotebookEnv(True, os.getcwd(), str(tmp_path / "fashionai"), None, str(tmp_path / "runs"),
                                dict(analysis.FAST_OVERRIDES), str(tmp_path))


def test_low_data_demo_in_fast_mode_is_tiny_and_shared(tmp_path):
    env = _fast_env(tmp_path)
    root = env.low_data_demo("skirt_length_labels", train_per_value=10, test_per_value=100)
    assert root == os.path.join(str(tmp_path), "low_data", "skirt_length_labels_10_100")
    # fast mode: 2 images per value whatever is asked; skirt length has 6 values -> 12 and 12
    assert len(read_label_file(os.path.join(root, "Annotations", "label.csv"))) == 12
    assert len(read_question_file(os.path.join(root, "Tests", "question.csv"))) == 12
    stamp = os.path.getmtime(os.path.join(root, "demo.json"))
    assert env.low_data_demo("skirt_length_labels", 10, 100) == root       # current: not generated again
    assert os.path.getmtime(os.path.join(root, "demo.json")) == stamp


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One epoch on the fast-mode low-data set: 2 training and 2 test drawings per value."""
    root = tmp_path_factory.mktemp("comparisons")
    env = _fast_env(root)
    data_root = env.low_data_demo("skirt_length_labels", train_per_value=10, test_per_value=100)
    cfg = load_config("configs/fashionai/skirt_length_labels.yaml", env.config_overrides(
        data_root=data_root, image_size=32, resize_short=32, devices="cpu", val_fraction=0.25,
        output_dir=str(root / "runs/{task}")), profile="demo")
    run_dir, _ = analysis.train_or_reuse(cfg, log=lambda *a: None)
    return cfg, run_dir


def test_run_test_probs_follow_the_test_set_order(tiny_run):
    cfg, run_dir = tiny_run
    probs, labels = analysis.run_test_probs(run_dir)
    test = analysis.test_set(cfg)
    assert probs.shape == (12, 6)                                  # 2 test images x 6 values
    np.testing.assert_array_equal(labels, test.truth)
    saved = os.path.join(run_dir, "test_probs.csv")
    with open(saved) as f:
        lines = f.readlines()
    try:
        with open(saved, "w") as f:                                # the file's rows in reverse order
            f.writelines(lines[::-1])
        reordered, _ = analysis.run_test_probs(run_dir)
        np.testing.assert_array_equal(reordered, probs)
        row = analysis.test_accuracy(run_dir)
        assert row["test accuracy"] == pytest.approx(analysis.score_test_probs(run_dir)["test accuracy"])
        with open(saved, "w") as f:                                # one test image missing
            f.writelines(lines[1:])
        with pytest.raises(ValueError, match="lacks 1 of the 12 test images"):
            analysis.run_test_probs(run_dir)
    finally:
        with open(saved, "w") as f:                                # the module's other tests read it
            f.writelines(lines)


def test_timed_predictions_are_the_run_predictions(tiny_run):
    _, run_dir = tiny_run
    images = analysis.run_eval_sets(run_dir)["test"].images[:5]
    probs, ms = analysis.timed_predictions(run_dir, images, "none")
    assert probs.shape == (5, 6) and ms > 0
    np.testing.assert_allclose(probs, analysis.predict_images(run_dir, images, tta="none"), rtol=1e-5, atol=1e-6)


def test_load_test_predictions_carry_the_answers(tiny_run):
    _, run_dir = tiny_run
    test = analysis.load_test_predictions(run_dir)
    assert len(test.images) == 12 and test.probs.shape == (12, 6)
    assert [s.index("y") for s in test.ynm] == test.labels.tolist()     # the y of each answer string
    assert test.classes[0] == "Invisible" and len(test.classes) == 6
    assert analysis.confusion_matrix(test.labels, test.preds, 6).sum() == 12


def test_curves_side_by_side_one_panel_per_metric(tiny_run):
    import matplotlib
    matplotlib.use("Agg")
    _, run_dir = tiny_run
    fig = analysis.plot_curves_side_by_side({"a": run_dir, "b": run_dir}, metrics=("train_loss", "val_accuracy"))
    assert len(fig.axes) == 2
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 2]          # one line per run in each panel
    assert [ax.get_yscale() for ax in fig.axes] == ["log", "linear"]    # losses on a log scale
    assert fig.axes[1].get_legend() is not None and fig.axes[0].get_legend() is None
