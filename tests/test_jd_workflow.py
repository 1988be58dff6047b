"""JD flow on tiny generated data: download, k-fold training, thresholds, submission."""
import os
from collections import Counter

import numpy as np
import pytest

from gluonfashion import checkpoint, metrics
from gluonfashion.config import load_config
from gluonfashion.data.demo_jd import generate_jd_demo
from gluonfashion.data.jd import (read_jd_answers, read_jd_probabilities, read_jd_train, write_jd_probabilities,
                                  write_jd_submission)
from gluonfashion.data.train_data import TrainData
from gluonfashion.families import get_family
from gluonfashion.families import jd as jd_module
from gluonfashion.run_folder import RunFolder

jd = get_family("jd")


@pytest.fixture(scope="module")
def jd_cfg(tmp_path_factory):
    root = tmp_path_factory.mktemp("jd")
    generate_jd_demo(str(root / "data"), n_train=160, n_test=40, image_size=48, seed=1, progress=False)
    return load_config("configs/jd/styles.yaml", [
        ("data_root", str(root / "data")), ("image_size", 32), ("resize_short", 36), ("epochs", 2),
        ("batch_size", 32), ("workers", 0), ("devices", "cpu"), ("folds", 4), ("fold", 1),
        ("rare_repeat", 2), ("output_dir", str(root / "runs/{task}")),
        ("submission_dir", str(root / "submission"))], profile="demo")


def _quiet(*_):
    pass


def test_download_then_kfold_train_thresholds_predict_evaluate(jd_cfg):
    report = jd.download(jd_cfg, progress=False, log=_quiet)
    assert report.all_ok and len(report.ok) == 200
    assert len(jd.download(jd_cfg, progress=False, log=_quiet).skipped) == 200   # resumable

    run_dir, best = jd.train(jd_cfg, progress=False, log=_quiet, then_predict=True)
    probs_file = os.path.join(jd_cfg["submission_dir"], "jd_test_probs.csv")
    _, predicted_in_training = read_jd_probabilities(probs_file)
    assert run_dir.endswith(os.path.join("jd_styles", "fold1"))
    split = checkpoint.load_json(os.path.join(run_dir, "split.json"))
    assert split["folds"] == 4 and split["fold"] == 1 and 30 <= len(split["val"]) <= 50
    assert not set(split["val"]) & set(split["train"])

    saved = checkpoint.load_json(os.path.join(run_dir, "thresholds.json"))
    ids, oof = read_jd_probabilities(os.path.join(run_dir, "val_probs.csv"))
    assert sorted(ids) == sorted(split["val"]) and oof.shape == (len(ids), 13)
    truth_ids, val_truth = read_jd_answers(os.path.join(run_dir, "val_truth.csv"))
    assert truth_ids == ids
    # every saved threshold is the best cut of a brute-force search over that style's
    # validation probabilities (highest cut among equally good ones)
    np.testing.assert_array_equal(np.float32(saved["thresholds"]), _best_cuts(oof, val_truth))
    assert (saved["min_positive"], saved["max_positive"]) == (1, 5) and len(saved["classes"]) == 13
    # the validation means it records are those of its thresholds, and of 0.5, under the 1..5 rule
    assert saved["val_mf2_tuned"] == pytest.approx(
        metrics.mean_fbeta(val_truth, metrics.apply_thresholds(oof, np.float32(saved["thresholds"]))))
    assert saved["val_mf2_fixed_0.5"] == pytest.approx(
        metrics.mean_fbeta(val_truth, metrics.apply_thresholds(oof, 0.5)))

    sub = jd.predict(run_dir, progress=False, log=_quiet)     # a new network from the saved weights
    sub_ids, binary = read_jd_answers(sub)
    # the trained network, its run's weights loaded back, predicts what a new one does
    np.testing.assert_allclose(read_jd_probabilities(probs_file)[1], predicted_in_training, atol=1e-5)
    assert len(sub_ids) == 40
    assert binary.sum(1).min() >= 1 and binary.sum(1).max() <= 5    # 1..5 styles per image
    answers = os.path.join(jd_cfg["data_root"], "answers.txt")
    result = jd.score_file(os.path.join(jd_cfg["submission_dir"], "jd_test_probs.csv"), answers,
                           os.path.join(run_dir, "thresholds.json"))
    # the scorer re-applies the thresholds to the probabilities: the per-style F2 of the
    # 0/1 submission that predict wrote, on the answers in the submission's order
    answer_ids, truth = read_jd_answers(answers)
    truth = truth[[answer_ids.index(i) for i in sub_ids]]
    np.testing.assert_allclose(result["f2_tuned"], metrics.fbeta_per_label(truth, binary))
    np.testing.assert_array_equal(result["support"], truth.sum(0))


def _best_cuts(probs, truth):
    """Per column, the probability that maximises F2 when predicting ``prob >= cut``,
    tried one by one from the highest (so the highest wins a tie)."""
    cuts = []
    for c in range(probs.shape[1]):
        tried = sorted(set(probs[:, c].tolist()), reverse=True)
        f2 = [metrics.fbeta_per_label(truth[:, [c]], probs[:, [c]] >= t)[0] for t in tried]
        cuts.append(tried[int(np.argmax(f2))])
    return np.float32(cuts)


def test_score_file_on_a_hand_made_case(tmp_path):
    # Three images, six styles; thresholds t = (0.5, 0.3, 0.5, 0.5, 0.5, 0.2).
    #   a: p (.9 .3 .2 .1 .1 .1), truth {0, 1, 5}: styles 0 (margin .4) and 1 (margin 0: p >= t) -> {0, 1}
    #   b: p (.2 .25 .1 .3 .4 .1), truth {1}: none reaches its t; at least one style: the
    #      largest margin, style 1 (-.05; the others -.3 -.4 -.2 -.1 -.1) -> {1}
    #   c: p (.6 .8 .7 .9 .56 .25), truth {1, 3, 5}: all six reach t; at most five: drop the
    #      smallest margin, style 5 (.05; the others .1 .5 .2 .4 .06) -> {0, 1, 2, 3, 4}
    # Per style (TP, FP, FN) and F2 = 5 TP / (5 TP + 4 FN + FP):
    #   0: (1, 1, 0) 5/6;  1: (3, 0, 0) 1;  2: (0, 1, 0) 0;  3: (1, 0, 0) 1;  4: (0, 1, 0) 0;  5: (0, 0, 2) 0
    # With 0.5 for every style: a -> {0}; b -> none, so its top p, style 4; c -> {0, 1, 2, 3, 4}:
    #   0: (1, 1, 0) 5/6;  1: (1, 0, 2) 5/13;  2: 0;  3: 1;  4: (0, 2, 0) 0;  5: (0, 0, 2) 0
    probs = [[.9, .3, .2, .1, .1, .1], [.2, .25, .1, .3, .4, .1], [.6, .8, .7, .9, .56, .25]]
    truth = [[1, 1, 0, 0, 0, 1], [0, 1, 0, 0, 0, 0], [0, 1, 0, 1, 0, 1]]
    write_jd_probabilities(tmp_path / "probs.csv", ["a", "b", "c"], probs)
    write_jd_submission(tmp_path / "answers.txt", ["c", "a", "b"], [truth[2], truth[0], truth[1]])  # by id
    checkpoint.save_json(tmp_path / "thresholds.json", {"thresholds": [0.5, 0.3, 0.5, 0.5, 0.5, 0.2]})
    result = jd.score_file(tmp_path / "probs.csv", tmp_path / "answers.txt", tmp_path / "thresholds.json")
    np.testing.assert_allclose(result["f2_tuned"], [5 / 6, 1, 0, 1, 0, 0])
    np.testing.assert_allclose(result["f2_fixed"], [5 / 6, 5 / 13, 0, 1, 0, 0])
    np.testing.assert_array_equal(result["support"], [1, 3, 0, 1, 0, 2])
    assert "mean F2" in jd_module.format_table(result) and f"{17 / 36:.4f}" in jd_module.format_table(result)


def test_resampling_repeats_rare_style_images(jd_cfg, tmp_path):
    run_dir = str(tmp_path)
    jd.download(jd_cfg, progress=False, log=_quiet)          # fetched already when the whole file runs
    data = jd.prepare_data(dict(jd_cfg, rare_repeat=3, rare_frequency=0.05), RunFolder(run_dir), progress=False,
                           log=_quiet)
    # Worked out from the training part of the saved split: a style is rare when it is
    # on fewer than 5 % of those rows; every row carrying one appears 3 times, the others once.
    ids, _, y = read_jd_train(os.path.join(jd_cfg["data_root"], "train.txt"))
    train = set(checkpoint.load_json(os.path.join(run_dir, "split.json"))["train"])
    y_train = y[[i in train for i in ids]]
    rare = y_train.sum(0) < 0.05 * len(y_train)
    has_rare = {f"{i}.jpg" for i, row in zip(ids, y) if i in train and row[rare].any()}
    copies = Counter(os.path.basename(p) for p in data.train_images)
    assert copies == {f"{i}.jpg": 3 if f"{i}.jpg" in has_rare else 1 for i in train}
    # This seeded demo: 118 training rows, 5 % of them is 5.9; sports (on 0 rows), street/punk
    # (5) and national/ethnic (2) are rare, no row has two of them -> 7 rows, 118 + 2 * 7 = 132.
    assert y_train.sum(0)[[0, 11, 12]].tolist() == [0, 5, 2] and rare.nonzero()[0].tolist() == [0, 11, 12]
    assert len(has_rare) == 7
    assert (data.summary["train"], data.summary["train_after_resampling"]) == (118, 132)


def test_cost_sensitive_weights_rare_labels_by_sample_share(jd_cfg):
    cfg = dict(jd_cfg, rare_frequency=0.05, fn_weight=5.0, loss="cost_sensitive")
    # shares 0.5, 0.02, 0.1 of 100 samples: only the second label is rare
    assert jd_module._fn_weights(cfg, np.array([50, 2, 10]), 100).tolist() == [1.0, 5.0, 1.0]
    problem = jd.objective(cfg, TrainData([], None, [], None, [], label_counts=np.array([50, 2, 10]), label_rows=100))
    assert problem.n_outputs == 3


def test_training_before_download_names_the_missing_step(jd_cfg, tmp_path):
    cfg = dict(jd_cfg, images_dir=str(tmp_path / "never_fetched"))
    with pytest.raises(FileNotFoundError, match="none of the 160 images .* `gluonfashion download`"):
        jd.prepare_data(cfg, RunFolder(str(tmp_path)), progress=False, log=_quiet)
