"""Helpers of the augmentation, multi-label and TTA/ensembling notebooks: reused runs,
scoring with TTA and weights, ensemble tables, loss terms, F2 tables and curves."""
import os

import numpy as np
import pytest

from gluonfashion import analysis, checkpoint, metrics
from gluonfashion.config import load_config
from gluonfashion.losses import wbce_weights


def _quiet(*_):
    pass


# ------------------------------------------------------------------ FashionAI runs

@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two tiny runs of one task on the same split (the second: SWA over the last 2
    epochs, predicting with the average), on generated demo data."""
    from gluonfashion.data.demo_fashionai import generate_fashionai_demo
    root = tmp_path_factory.mktemp("fashionai_more")
    generate_fashionai_demo(str(root / "data"), train_per_value=8, test_per_value=3, image_size=48,
                            tasks=["skirt_length_labels"], progress=False)
    cfg = load_config("configs/fashionai/skirt_length_labels.yaml", [
        ("data_root", str(root / "data")), ("image_size", 32), ("resize_short", 36), ("epochs", 3),
        ("batch_size", 16), ("workers", 0), ("devices", "cpu"), ("val_fraction", 0.25),
        ("output_dir", str(root / "runs/{task}")), ("submission_dir", str(root / "submission"))], profile="demo")
    first, reused = analysis.train_or_reuse(cfg, log=_quiet)
    assert not reused
    second_cfg = dict(cfg, output_dir=cfg["output_dir"] + "_b", swa_epochs=2, predict_weights="swa")
    second, _ = analysis.train_or_reuse(second_cfg, log=_quiet)
    return cfg, first, second_cfg, second


def test_train_or_reuse_reuses_only_the_same_settings(two_runs):
    cfg, run_dir, _, _ = two_runs
    assert os.path.exists(os.path.join(run_dir, "test_probs.csv"))
    assert os.path.exists(os.path.join(run_dir, "predictions", "skirt_length_labels.csv"))   # not submission/
    assert not os.path.exists(cfg["submission_dir"])
    stamp = os.path.getmtime(os.path.join(run_dir, "best.json"))
    assert analysis.finished_run(dict(cfg, workers=2, devices="cpu"))    # runtime keys do not count
    again, reused = analysis.train_or_reuse(dict(cfg, workers=1), log=_quiet)
    assert reused and again == run_dir and os.path.getmtime(os.path.join(run_dir, "best.json")) == stamp
    assert not analysis.finished_run(dict(cfg, lr=0.01))                 # another recipe
    assert not analysis.finished_run(dict(cfg, epochs=4))


def test_evaluate_run_matches_the_training_record(two_runs):
    _, run_dir, _, _ = two_runs
    record = checkpoint.load_json(os.path.join(run_dir, "best.json"))
    plain = analysis.evaluate_run(run_dir, tta="none")
    # validation during training uses the centre crop: the same AP on the best weights
    assert plain["val AP"] == pytest.approx(record["metrics"]["val_map"], abs=1e-6)
    assert plain["val accuracy"] == pytest.approx(record["metrics"]["val_accuracy"], abs=1e-6)
    assert plain["crops"] == 1 and analysis.evaluate_run(run_dir, tta="ten_crop")["crops"] == 10
    sets = analysis.run_eval_sets(run_dir)
    assert len(sets["test"].images) == 18 and sorted(sets["test"].truth.tolist()) == sorted(list(range(6)) * 3)


def test_score_test_probs_matches_the_submission_scorer(two_runs):
    from gluonfashion.submission import evaluate
    cfg, run_dir, _, _ = two_runs
    answers = os.path.join(cfg["data_root"], cfg["answers_file"])
    expected = evaluate(os.path.join(run_dir, "test_probs.csv"), answers)["skirt_length_labels"]
    got = analysis.score_test_probs(run_dir)
    assert got["test AP"] == pytest.approx(expected["map"]) and got["test accuracy"] == pytest.approx(
        expected["basic_precision"])


def test_swa_weights_are_scored_separately(two_runs):
    _, _, _, swa_run = two_runs
    # each set of weights scores, with the centre crop, what its own record says
    for which, record in (("best", "best.json"), ("swa", "swa.json")):
        saved = checkpoint.load_json(os.path.join(swa_run, record))["metrics"]
        assert analysis.evaluate_run(swa_run, tta="none", which=which)["val AP"] == pytest.approx(
            saved["val_map"], abs=1e-6)
    images = analysis.run_eval_sets(swa_run)["val"].images
    best, swa = (analysis.predict_images(swa_run, images, "none", which) for which in ("best", "swa"))
    assert np.abs(best - swa).max() > 1e-4            # two networks, not one scored twice


def test_compare_ensembles_table(two_runs, tmp_path):
    from gluonfashion.ensembling.combiners import vote
    _, first, _, second = two_runs
    table, _ = analysis.compare_ensembles([first, second], methods=("mean", "vote"), out_root=str(tmp_path))
    assert list(table.columns) == ["val AP", "test AP"]
    assert list(table.index) == ["model: skirt_length_labels", "model: skirt_length_labels_b", "ensemble: mean",
                                 "ensemble: vote"]
    # worked out again from the runs' files: the mean and the vote of their validation
    # probabilities (same split, rows matched by path), scored by the competition AP
    val = [analysis.load_val_predictions(run) for run in (first, second)]
    order = [val[1].rel_paths.index(p) for p in val[0].rel_paths]
    probs = np.stack([val[0].probs, val[1].probs[order]])
    assert table.loc["ensemble: mean", "val AP"] == pytest.approx(metrics.fashionai_ap(probs.mean(0), val[0].labels))
    assert table.loc["ensemble: vote", "val AP"] == pytest.approx(metrics.fashionai_ap(vote(probs), val[0].labels))
    for row, probs_m in zip(table.index[:2], probs):
        assert table.loc[row, "val AP"] == pytest.approx(metrics.fashionai_ap(probs_m, val[0].labels))
    assert os.path.exists(tmp_path / "mean" / "skirt_length_labels.csv")


def test_plot_val_curves_marks_swa(two_runs):
    import matplotlib.pyplot as plt
    _, first, _, second = two_runs
    fig = analysis.plot_val_curves({"a": first, "b": second})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[:2] == ["a", "b"] and "SWA" in labels[2]
    plt.close(fig)


# ------------------------------------------------------------------ JD runs

@pytest.fixture(scope="module")
def jd_runs(tmp_path_factory):
    from gluonfashion.data.demo_jd import generate_jd_demo
    from gluonfashion.families import get_family
    jd = get_family("jd")
    root = tmp_path_factory.mktemp("jd_more")
    generate_jd_demo(str(root / "data"), n_train=120, n_test=30, image_size=40, seed=2, progress=False)
    runs = []
    for loss in ("bce", "focal"):
        cfg = load_config("configs/jd/styles.yaml", [
            ("data_root", str(root / "data")), ("image_size", 32), ("resize_short", 36), ("epochs", 1),
            ("batch_size", 32), ("workers", 0), ("devices", "cpu"), ("loss", loss),
            ("output_dir", str(root / f"runs/{loss}")), ("submission_dir", str(root / "submission"))],
            profile="demo")
        if not runs:
            jd.download(cfg, progress=False, log=_quiet)
        runs.append(analysis.train_or_reuse(cfg, log=_quiet)[0])
    return runs


def test_jd_scores_and_ensembles(jd_runs, tmp_path):
    from gluonfashion.data.jd import read_jd_answers, read_jd_probabilities
    # centre crop, best weights: what validation during training measured (best.json)
    scores = analysis.evaluate_run(jd_runs[0], tta="none")
    trained = checkpoint.load_json(os.path.join(jd_runs[0], "best.json"))["metrics"]
    assert scores["val mean F2"] == pytest.approx(trained["val_mf2"], abs=1e-6)
    assert scores["val mean F2 @0.5"] == pytest.approx(trained["val_mf2_fixed"], abs=1e-6)
    saved = checkpoint.load_json(os.path.join(jd_runs[0], "thresholds.json"))
    run_tta = analysis.evaluate_run(jd_runs[0])      # the run's own TTA: the thresholds it saved
    assert run_tta["val mean F2"] == pytest.approx(saved["val_mf2_tuned"], abs=1e-6)
    # ... and, on test, what its saved test probabilities score with those thresholds
    assert run_tta["test mean F2"] == pytest.approx(analysis.score_test_probs(jd_runs[0])["test mean F2"], abs=1e-6)

    table, _ = analysis.compare_ensembles(jd_runs, methods=("mean", "topn"), out_root=str(tmp_path))
    assert list(table.columns) == ["val mean F2", "test mean F2"]
    assert list(table.index) == ["model: bce", "model: focal", "ensemble: mean", "ensemble: topn"]
    assert table.loc["model: bce", "val mean F2"] == pytest.approx(saved["val_mf2_tuned"], abs=1e-6)
    # the mean ensemble worked out from the runs' files: average the two runs' validation
    # probabilities (rows matched by id), search thresholds there, apply them (1..5 per
    # image) to the average of their test probabilities, score against the answers
    def read(run, name):
        ids, probs = read_jd_probabilities(os.path.join(run, name))
        return dict(zip(ids, probs.astype(np.float64)))
    vals, tests = [read(r, "val_probs.csv") for r in jd_runs], [read(r, "test_probs.csv") for r in jd_runs]
    truth_ids, val_truth = read_jd_answers(os.path.join(jd_runs[0], "val_truth.csv"))
    val_mean = np.array([(vals[0][i] + vals[1][i]) / 2 for i in truth_ids])
    thresholds, _ = metrics.search_thresholds(val_mean, val_truth)
    cfg = checkpoint.load_json(os.path.join(jd_runs[0], "best.json"))["config"]
    answer_ids, test_truth = read_jd_answers(os.path.join(cfg["data_root"], cfg["answers_file"]))
    test_mean = np.array([(tests[0][i] + tests[1][i]) / 2 for i in answer_ids])
    assert table.loc["ensemble: mean", "val mean F2"] == pytest.approx(
        metrics.mean_fbeta(val_truth, metrics.apply_thresholds(val_mean, thresholds)))
    assert table.loc["ensemble: mean", "test mean F2"] == pytest.approx(
        metrics.mean_fbeta(test_truth, metrics.apply_thresholds(test_mean, thresholds)), abs=1e-6)


# ------------------------------------------------------------------ worked examples

def test_loss_terms_are_the_library_losses_per_label():
    p = np.array([0.9, 0.2, 0.6, 0.05])
    y = np.array([1, 1, 0, 0])
    counts = np.array([500, 5, 100, 50])
    table = analysis.multilabel_loss_terms(p, y, counts, names=list("abcd"),
                                           params={"wbce": {"alpha": 1.5}, "focal": {"gamma": 2.0}})
    bce = np.where(y == 1, -np.log(p), -np.log(1 - p))
    np.testing.assert_allclose(table["bce"].values[:4], bce, rtol=1e-4)
    np.testing.assert_allclose(table["wbce"].values[:4], bce * wbce_weights(counts, 1.5), rtol=1e-4)
    pt = np.where(y == 1, p, 1 - p)
    np.testing.assert_allclose(table["focal"].values[:4], (1 - pt) ** 2 * bce, rtol=1e-4)
    assert table.loc["mean", "bce"] == pytest.approx(bce.mean(), rel=1e-4)
    assert list(table.index) == ["a", "b", "c", "d", "mean"]


def test_precision_recall_table_by_hand():
    probs = [0.9, 0.8, 0.6, 0.4, 0.2]
    y = [1, 0, 1, 1, 0]
    table = analysis.precision_recall_table(probs, y, [0.3, 0.7])
    low, high = table.loc[0.3], table.loc[0.7]
    assert (low.TP, low.FP, low.FN) == (3, 1, 0) and low.recall == 1.0 and low.precision == 0.75
    assert (high.TP, high.FP, high.FN) == (1, 1, 2)
    assert low.F2 == pytest.approx(5 * 0.75 / (4 * 0.75 + 1), abs=1e-3)
    assert high.F1 == pytest.approx(0.4, abs=1e-3)       # P 0.5, R 1/3


def test_fbeta_curves_reach_the_searched_optimum():
    rng = np.random.default_rng(0)
    y = (rng.random((80, 4)) < 0.3).astype(int)
    probs = np.clip(0.5 * y + 0.6 * rng.random((80, 4)), 0, 1)
    thresholds, best = metrics.search_thresholds(probs, y)
    _, scores = analysis.fbeta_curves(probs, y, thresholds=np.sort(probs.ravel()))
    np.testing.assert_allclose(scores.max(axis=0), best)
    grid, coarse = analysis.fbeta_curves(probs, y)
    assert coarse.shape == (len(grid), 4) and np.all(coarse.max(axis=0) <= best + 1e-12)
    import matplotlib.pyplot as plt
    plt.close(analysis.plot_fbeta_curves(probs, y, list("abcd"), [0, 2], thresholds))


def test_score_predictions_multilabel_uses_validation_thresholds():
    y_val = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    p_val = np.array([[0.3, 0.1], [0.2, 0.7], [0.35, 0.6], [0.1, 0.2]])
    scores = analysis.score_predictions(p_val, y_val, p_val, y_val, min_positive=0)
    assert scores["val mean F2"] == scores["test mean F2"] == pytest.approx(1.0)
    assert scores["val mean F2 @0.5"] < 1.0
    single = analysis.score_predictions(np.eye(3), np.arange(3))
    assert single == {"val AP": 1.0, "val accuracy": 1.0}


def test_augmentation_examples_shapes_and_determinism():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (80, 60, 3), dtype=np.uint8) for _ in range(2)]
    cfg = {"image_size": 32, "resize_short": 36}
    grid, titles, rows = analysis.augmentation_examples(images, cfg, seed=1)
    per_row = len(titles) // 2
    assert titles[0] == "eval input" and titles[per_row - 1] == "all" and len(rows) == 2
    assert all(g.shape == (32, 32, 3) and g.dtype == np.uint8 for g in grid)
    again, _, _ = analysis.augmentation_examples(images, cfg, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(grid, again))
