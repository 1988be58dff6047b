"""JD flow on tiny generated data: download, k-fold training, thresholds, submission."""
import os

import numpy as np
import pytest

from gluonfashion import checkpoint
from gluonfashion.config import load_config
from gluonfashion.data.demo_jd import generate_jd_demo
from gluonfashion.data.jd import read_jd_answers, read_jd_probabilities
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
    assert len(saved["thresholds"]) == 13
    ids, oof = read_jd_probabilities(os.path.join(run_dir, "val_probs.csv"))
    assert sorted(ids) == sorted(split["val"]) and oof.shape == (len(ids), 13)

    sub = jd.predict(run_dir, progress=False, log=_quiet)     # a new network from the saved weights
    sub_ids, binary = read_jd_answers(sub)
    # the trained network, its run's weights loaded back, predicts what a new one does
    np.testing.assert_allclose(read_jd_probabilities(probs_file)[1], predicted_in_training, atol=1e-5)
    assert len(sub_ids) == 40
    assert binary.sum(1).min() >= 1 and binary.sum(1).max() <= 5    # 1..5 styles per image
    result = jd.score_file(os.path.join(jd_cfg["submission_dir"], "jd_test_probs.csv"),
                         os.path.join(jd_cfg["data_root"], "answers.txt"),
                         os.path.join(run_dir, "thresholds.json"))
    assert result["f2_tuned"].shape == (13,) and np.all((0 <= result["f2_tuned"]) & (result["f2_tuned"] <= 1))


def test_resampling_repeats_rare_style_images(jd_cfg, tmp_path):
    run_dir = str(tmp_path)
    data = jd.prepare_data(dict(jd_cfg, rare_repeat=3, rare_frequency=0.05), RunFolder(run_dir), progress=False,
                           log=_quiet)
    assert data.summary["train_after_resampling"] > data.summary["train"]
    assert len(data.train_images) == data.summary["train_after_resampling"]


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
