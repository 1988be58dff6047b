"""Ensembling: combiners on tiny hand-checked arrays, stacking on a synthetic case,
and the `ensemble` verb end to end on fake JD and FashionAI run folders."""
import csv
import json
import os

import numpy as np
import pytest

from gluonfashion import checkpoint, metrics
from gluonfashion.cli import main
from gluonfashion.data.fashionai import QuestionRow, read_predictions, write_predictions
from gluonfashion.data.jd import (read_jd_answers, read_jd_probabilities, write_jd_probabilities,
                                  write_jd_submission)
from gluonfashion.ensembling.combiners import (majority_threshold, mean_probs, prediction_correlation, prune_correlated,
                                   score_weights, top_n_mask, vote, weighted_mean)
from gluonfashion.ensembling.stacking import stack_multilabel, stack_singlelabel


# ------------------------------------------------------------------ combiners

def test_mean():
    probs = [[[0.2, 0.8], [0.6, 0.4]],
             [[0.4, 0.6], [1.0, 0.0]]]
    # row 0: (0.2+0.4)/2 = 0.3, (0.8+0.6)/2 = 0.7; row 1: 0.8, 0.2
    np.testing.assert_allclose(mean_probs(probs), [[0.3, 0.7], [0.8, 0.2]])


def test_score_weights_and_weighted_mean():
    # 3 / (3 + 1) = 0.75 and 1 / 4 = 0.25
    np.testing.assert_allclose(score_weights([3.0, 1.0]), [0.75, 0.25])
    # per column; column 1: both models score 0 there -> equal weights
    np.testing.assert_allclose(score_weights([[0.6, 0.0], [0.2, 0.0]]), [[0.75, 0.5], [0.25, 0.5]])

    probs = [[[0.2, 0.8]], [[0.6, 0.4]]]
    # 0.75 * 0.2 + 0.25 * 0.6 = 0.3 ; 0.75 * 0.8 + 0.25 * 0.4 = 0.7
    np.testing.assert_allclose(weighted_mean(probs, [3.0, 1.0]), [[0.3, 0.7]])
    # per-column weights: column 0 only model 1, column 1 only model 0
    np.testing.assert_allclose(weighted_mean(probs, [[0, 1], [1, 0]]), [[0.6, 0.8]])
    with pytest.raises(ValueError, match="positive total"):
        weighted_mean(probs, [0.0, 0.0])


def test_vote_single_label_plurality_and_tie():
    # 3 models, argmaxes 0, 1, 1 -> votes (1, 2, 0); mean probs (0.4, 0.5, 0.1)
    probs = [[[0.7, 0.2, 0.1]], [[0.3, 0.6, 0.1]], [[0.2, 0.7, 0.1]]]
    # scores (votes + mean) / (3 + 1) = (1.4, 2.5, 0.1) / 4
    out = vote(probs)
    np.testing.assert_allclose(out, [[0.35, 0.625, 0.025]])
    assert out.sum() == pytest.approx(1.0)

    # 2 models disagree: votes (1, 1, 0) tie; mean (0.45, 0.55, 0) breaks it for value 1
    tie = vote([[[0.6, 0.4, 0.0]], [[0.3, 0.7, 0.0]]])
    np.testing.assert_allclose(tie, [[1.45 / 3, 1.55 / 3, 0.0]])
    assert tie.argmax() == 1

    # the plurality wins over a higher mean probability: one very sure model for
    # value 1 against two lukewarm ones for value 0: votes (2, 1), mean (0.4, 0.6)
    lone = vote([[[0.55, 0.45]], [[0.55, 0.45]], [[0.1, 0.9]]])
    # (2 + 0.4, 1 + 0.6) / 4
    np.testing.assert_allclose(lone, [[0.6, 0.4]])


def test_vote_multilabel_majority():
    # thresholds per model and label; model votes where prob >= its threshold
    thresholds = [[0.5, 0.5], [0.3, 0.9], [0.8, 0.2]]
    probs = [[[0.6, 0.4]], [[0.4, 0.5]], [[0.7, 0.3]]]
    # label 0: votes 1 + 1 + 0 = 2 of 3, mean 0.5667 -> (2 + 0.5667) / 4 = 0.6417
    # label 1: votes 0 + 0 + 1 = 1 of 3, mean 0.4    -> (1 + 0.4) / 4 = 0.35
    out = vote(probs, thresholds)
    np.testing.assert_allclose(out, [[(2 + 1.7 / 3) / 4, 1.4 / 4]])
    assert majority_threshold(3) == 0.5                      # (1 + 1) / 4
    assert (out >= majority_threshold(3)).tolist() == [[True, False]]

    # 2 models, 1 vote each: a tie is not a majority; (1 + mean) / 3 < (1 + 1) / 3
    tie = vote([[[0.9]], [[0.1]]], [[0.5], [0.5]])
    np.testing.assert_allclose(tie, [[1.5 / 3]])
    assert majority_threshold(2) == pytest.approx(2 / 3)
    assert not (tie >= majority_threshold(2)).any()
    both = vote([[[0.9]], [[0.6]]], [[0.5], [0.5]])           # (2 + 0.75) / 3
    assert (both >= majority_threshold(2)).all()


def test_top_n_mask_picks_the_best_models_per_label():
    scores = [[0.5, 0.1, 0.7],
              [0.6, 0.3, 0.7],
              [0.4, 0.2, 0.1]]
    # label 0: models 1 (0.6), 0 (0.5); label 1: models 1 (0.3), 2 (0.2);
    # label 2: models 0 and 1 tie at 0.7 -> both (n = 2); n = 1 -> the first listed
    np.testing.assert_array_equal(top_n_mask(scores, 2), [[True, False, True],
                                                         [True, True, True],
                                                         [False, True, False]])
    np.testing.assert_array_equal(top_n_mask(scores, 1)[:, 2], [True, False, False])
    np.testing.assert_array_equal(top_n_mask([0.2, 0.9, 0.5], 1), [False, True, False])
    assert top_n_mask([0.2, 0.9], 5).all()
    # the mask as weights: mean of the selected models per label
    probs = [[[0.1, 0.2]], [[0.3, 0.4]], [[0.5, 0.9]]]
    # label 0 picks models 0, 1 -> (0.1 + 0.3) / 2 = 0.2; label 1 picks 1, 2 -> (0.4 + 0.9) / 2
    np.testing.assert_allclose(weighted_mean(probs, top_n_mask([[0.5, 0.1], [0.6, 0.3], [0.4, 0.2]], 2)),
                               [[0.2, 0.65]])


def test_prediction_correlation_is_per_column():
    a = np.array([[0.1, 0.8], [0.2, 0.9]])        # 2 samples, 2 labels
    b = np.array([[0.2, 0.9], [0.1, 0.8]])        # same base rates, opposite order
    # per label both columns are reversed -> correlation -1 in each, mean -1
    # (flattened, the shared base rates would make them look ~0.97 alike)
    corr = prediction_correlation([a, b])
    np.testing.assert_allclose(corr, [[1, -1], [-1, 1]])


def test_prune_correlated_drops_the_copy_of_a_better_model():
    a = [[0.1], [0.2], [0.3], [0.4]]
    b = [[0.2], [0.3], [0.4], [0.5]]              # a + 0.1: correlation 1
    c = [[0.4], [0.1], [0.3], [0.2]]
    # corr(a, c): centred a (-.15, -.05, .05, .15), centred c (.15, -.15, .05, -.05);
    # dot -.02, both norms^2 .05 -> -0.4
    corr = prediction_correlation([a, b, c])
    assert corr[0, 2] == pytest.approx(-0.4)
    assert corr[0, 1] == pytest.approx(1.0)
    # best first: a (0.9) kept, b (0.8) copies a -> dropped, c (0.7) different -> kept
    kept, dropped = prune_correlated([a, b, c], [0.9, 0.8, 0.7], 0.9)
    assert kept == [0, 2]
    assert list(dropped) == [1] and dropped[1][0] == 0 and dropped[1][1] == pytest.approx(1.0)
    # when b is the better one, a goes
    kept, dropped = prune_correlated([a, b, c], [0.8, 0.9, 0.7], 0.9)
    assert kept == [1, 2] and dropped[0][0] == 1
    # threshold 1 keeps everything
    assert prune_correlated([a, b, c], [0.9, 0.8, 0.7], 1.0)[0] == [0, 1, 2]


# ------------------------------------------------------------------- stacking

def _two_experts(rng, n):
    """Model 0 knows label 0 and guesses label 1; model 1 the other way round."""
    y = (rng.random((n, 2)) < 0.3).astype(int)
    good = lambda col: np.clip(0.25 + 0.5 * col + rng.normal(0, 0.12, n), 0.01, 0.99)
    noise = lambda: rng.uniform(0.01, 0.99, n)
    probs = np.stack([np.stack([good(y[:, 0]), noise()], axis=1),
                      np.stack([noise(), good(y[:, 1])], axis=1)])
    return probs, y


def test_stacking_beats_the_single_models_when_they_know_different_labels():
    rng = np.random.default_rng(0)
    val, y_val = _two_experts(rng, 300)
    test, y_test = _two_experts(rng, 300)

    def mf2(probs, thresholds, y):
        return metrics.mean_fbeta(y, metrics.apply_thresholds(probs, thresholds, 0, None))

    oof, stacked_test = stack_multilabel(val, y_val, test, folds=5, seed=0)
    thresholds, _ = metrics.search_thresholds(oof, y_val)    # on cross-fitted output
    singles = [mf2(test[m], metrics.search_thresholds(val[m], y_val)[0], y_test) for m in range(2)]
    stacked = mf2(stacked_test, thresholds, y_test)
    # each single model is near-perfect on one label and guessing on the other
    assert stacked > max(singles) + 0.1, (stacked, singles)


def test_stacking_single_label_gives_distributions():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 90)
    onehot = np.eye(3)[labels]
    sharp = 0.6 * onehot + 0.4 * rng.dirichlet(np.ones(3), 90)         # informative
    flat = rng.dirichlet(np.ones(3), 90)                                # noise
    oof, test = stack_singlelabel(np.stack([sharp, flat]), labels, np.stack([sharp[:10], flat[:10]]), folds=3)
    assert oof.shape == (90, 3) and test.shape == (10, 3)
    np.testing.assert_allclose(oof.sum(1), 1.0)
    assert metrics.fashionai_ap(oof, labels) > metrics.fashionai_ap(flat, labels)


# ------------------------------------------------------------ fake run folders

JD_CLASSES = ["sports", "casual", "Korean", "simple"]


def _jd_run(path, val_ids, val_probs, val_truth, test_ids, test_probs, folds=0, fold=0, classes=JD_CLASSES):
    os.makedirs(path)
    write_jd_probabilities(os.path.join(path, "val_probs.csv"), val_ids, val_probs, classes)
    write_jd_submission(os.path.join(path, "val_truth.csv"), val_ids, val_truth)
    write_jd_probabilities(os.path.join(path, "test_probs.csv"), test_ids, test_probs, classes)
    cfg = {"family": "jd", "folds": folds, "fold": fold, "min_positive": 1, "max_positive": 5}
    checkpoint.save_json(os.path.join(path, "best.json"), {"config": cfg, "classes": classes})


@pytest.fixture
def jd_runs(tmp_path):
    """Model a: 2 folds; model b: 2 folds split differently; model c: one run, a copy of a."""
    rng = np.random.default_rng(3)
    ids, test_ids = [f"img{i:02d}" for i in range(16)], ["t1", "t2", "t3"]
    truth = (rng.random((16, 4)) < 0.4).astype(int)
    truth[truth.sum(1) == 0, 1] = 1
    # float32 like the reader's, so the thresholds found here and in the verb are identical
    as_read = lambda x: np.round(x, 3).astype(np.float32).astype(np.float64)
    probs = {m: as_read(np.clip(0.3 * truth + rng.random((16, 4)) * 0.7, 0, 1)) for m in "ab"}
    tests = {(m, f): as_read(rng.random((3, 4))) for m in "ab" for f in (0, 1)}
    halves = {"a": (np.arange(16) < 8), "b": (np.arange(16) % 2 == 0)}
    for m in "ab":
        for f in (0, 1):
            rows = np.flatnonzero(halves[m] == (f == 0))
            _jd_run(tmp_path / f"jd_{m}/fold{f}", [ids[i] for i in rows], probs[m][rows], truth[rows],
                    test_ids, tests[m, f], folds=2, fold=f)
    # c: the same predictions as a, scaled (correlation 1, same F2), not k-fold
    _jd_run(tmp_path / "jd_c", ids[::-1], probs["a"][::-1] * 0.5, truth[::-1], test_ids,
            (tests["a", 0] + tests["a", 1]) / 4)
    return {"ids": ids, "truth": truth, "probs": probs, "test_ids": test_ids,
            "test": {m: (tests[m, 0] + tests[m, 1]) / 2 for m in "ab"}}


def _report(out):
    with open(out / "ensemble_report.json") as f:
        return json.load(f)


def test_jd_ensemble_verb_mean(jd_runs, tmp_path, capsys):
    out = tmp_path / "out"
    # a k-fold parent folder, a glob of fold folders and a plain run folder
    argv = ["ensemble", "--runs", str(tmp_path / "jd_a"), str(tmp_path / "jd_b/fold*"), str(tmp_path / "jd_c"),
            "--method", "mean", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "ensemble" in printed and "dropped: correlation 1.000 > 0.9" in printed

    report = _report(out)
    models = {m["name"]: m for m in report["groups"]["styles"]["models"]}
    a, b, c = "jd_a", "jd_b", "jd_c"                             # names relative to their parent
    assert models[a]["kept"] and models[b]["kept"] and not models[c]["kept"]
    assert "with jd_a" in models[c]["status"]                  # dropped in favour of a (listed first)
    assert len(models[a]["runs"]) == 2

    # single-model scores: thresholds searched on its out-of-fold rows, 1..5 per image
    truth = jd_runs["truth"]
    for name, m in (("a", a), ("b", b)):
        p = jd_runs["probs"][name]
        own_thresholds, _ = metrics.search_thresholds(p, truth)
        expected = metrics.mean_fbeta(truth, metrics.apply_thresholds(p, own_thresholds))
        assert models[m]["val_score"] == pytest.approx(expected)

    # ensemble = mean of a and b (c dropped); test of a model = mean of its folds
    ids, test = read_jd_probabilities(out / "jd_test_probs.csv")
    assert ids == jd_runs["test_ids"]
    np.testing.assert_allclose(test, (jd_runs["test"]["a"] + jd_runs["test"]["b"]) / 2, atol=1e-6)
    val_ids, val = read_jd_probabilities(out / "jd_val_probs.csv")
    assert val_ids == jd_runs["ids"]                          # aligned by id on the first model's order
    mean_val = (jd_runs["probs"]["a"] + jd_runs["probs"]["b"]) / 2
    np.testing.assert_allclose(val, mean_val, atol=1e-6)
    thresholds = np.array(checkpoint.load_json(out / "thresholds.json")["thresholds"])
    np.testing.assert_allclose(thresholds, metrics.search_thresholds(mean_val, truth)[0])
    ens = report["groups"]["styles"]["ensemble"]
    assert ens["val_score"] == pytest.approx(
        metrics.mean_fbeta(truth, metrics.apply_thresholds(mean_val, thresholds)))
    sub_ids, binary = read_jd_answers(out / "jd_submission.csv", n_labels=4)
    assert sub_ids == jd_runs["test_ids"]
    expected_test = (jd_runs["test"]["a"] + jd_runs["test"]["b"]) / 2
    np.testing.assert_array_equal(binary, metrics.apply_thresholds(expected_test, thresholds, 1, 5))
    assert set(report["outputs"]) >= {"jd_test_probs.csv", "jd_submission.csv", "ensemble_report.json"}


# Two JD models, two styles (s0, s1), four validation rows, two test rows, small enough
# to work every method out by hand.
#   truth       r0 (1, 0)   r1 (0, 1)   r2 (1, 1)   r3 (0, 1)
#   model A     s0 .8 .2 .7 .1: cut .7 finds r0, r2 alone: F2 1
#               s1 .6 .3 .4 .5: cuts .6: 0; .5: (TP 1 FP 1 FN 2) 5/14; .4: (2 1 1) 10/15;
#                               .3: (3 1 0) 15/16 -> cut .3, F2 15/16
#   model B     s0 .6 .65 .55 .2: cuts .65: 0; .6: (1 1 1) 5/10; .55: (2 1 0) 10/11;
#                                 .2: (2 2 0) 10/12 -> cut .55, F2 10/11
#               s1 .1 .9 .8 .7: cut .7 finds r1, r2, r3 alone: F2 1
#   tests       t1: A (.9, .2), B (.2, .5);   t2: A (.1, .6), B (.8, .2)
# Each model's mean F2 with its cuts and 1..5 styles per row: A predicts r0 {0, 1}, r1 {1},
# r2 {0, 1}, r3 {1}: s0 1, s1 (3 1 0) 15/16 -> 31/32; B predicts r0 {0}, r1 {0, 1},
# r2 {0, 1}, r3 {1}: s0 (2 1 0) 10/11, s1 1 -> 21/22.
SMALL_IDS, SMALL_TRUTH = ["r0", "r1", "r2", "r3"], [[1, 0], [0, 1], [1, 1], [0, 1]]
SMALL_VAL = {"a": [[.8, .6], [.2, .3], [.7, .4], [.1, .5]], "b": [[.6, .1], [.65, .9], [.55, .8], [.2, .7]]}
SMALL_TEST = {"a": [[.9, .2], [.1, .6]], "b": [[.2, .5], [.8, .2]]}


@pytest.fixture
def small_jd_runs(tmp_path):
    """Runs ``small/a`` and ``small/b``; b lists its rows in reverse: rows are matched by id."""
    for m, order in (("a", slice(None)), ("b", slice(None, None, -1))):
        _jd_run(tmp_path / "small" / m, SMALL_IDS[order], np.array(SMALL_VAL[m])[order],
                np.array(SMALL_TRUTH)[order], ["t1", "t2"][order], np.array(SMALL_TEST[m])[order],
                classes=["s0", "s1"])
    return tmp_path / "small"


def _small_ensemble(runs, method):
    out = runs.parent / method
    assert main(["ensemble", "--runs", str(runs / "*"), "--method", method, "--top-n", "1",
                 "--stack-folds", "2", "--corr-threshold", "1", "--out", str(out)]) == 0
    report = _report(out)["groups"]["styles"]
    ids, test = read_jd_probabilities(out / "jd_test_probs.csv")
    assert ids == ["t1", "t2"]
    _, binary = read_jd_answers(out / "jd_submission.csv", n_labels=2)
    thresholds = checkpoint.load_json(out / "thresholds.json")["thresholds"]
    return report, test, binary, thresholds


def test_small_jd_models_score_as_worked_out(small_jd_runs):
    report, _, _, _ = _small_ensemble(small_jd_runs, "mean")
    scores = {m["name"]: m["val_score"] for m in report["models"]}
    assert scores == pytest.approx({"a": 31 / 32, "b": 21 / 22})
    per_style = {m["name"]: list(m["val_f2_per_style"].values()) for m in report["models"]}
    assert per_style == {"a": pytest.approx([1, 15 / 16]), "b": pytest.approx([10 / 11, 1])}


def test_jd_ensemble_verb_weighted(small_jd_runs):
    report, test, binary, thresholds = _small_ensemble(small_jd_runs, "weighted")
    # weights per style from the per-style F2: s0 A 1 / (1 + 10/11) = 11/21, B 10/21;
    # s1 A (15/16) / (31/16) = 15/31, B 16/31
    weights = {m["name"]: m["weight"] for m in report["models"]}
    assert weights == {"a": pytest.approx([11 / 21, 15 / 31]), "b": pytest.approx([10 / 21, 16 / 31])}
    # t1: s0 (11 * .9 + 10 * .2) / 21 = 11.9/21, s1 (15 * .2 + 16 * .5) / 31 = 11/31
    # t2: s0 (11 * .1 + 10 * .8) / 21 = 9.1/21,  s1 (15 * .6 + 16 * .2) / 31 = 12.2/31
    np.testing.assert_allclose(test, [[11.9 / 21, 11 / 31], [9.1 / 21, 12.2 / 31]], atol=1e-6)
    # validation: s0 (14.8 8.7 13.2 3.1) / 21 -> cut 13.2/21 finds r0, r2; s1 (10.6 18.9
    # 18.8 18.7) / 31 -> cut 18.7/31 finds r1, r2, r3: F2 1 and 1
    np.testing.assert_allclose(thresholds, [13.2 / 21, 18.7 / 31], atol=1e-6)
    assert report["ensemble"]["val_score"] == pytest.approx(1.0)
    # neither test row reaches a cut; the larger margin wins: t1 s0 -1.3/21 vs s1 -7.7/31,
    # t2 s0 -4.1/21 = -.195 vs s1 -6.5/31 = -.210 -> s0 both times
    assert binary.tolist() == [[1, 0], [1, 0]]


def test_jd_ensemble_verb_topn(small_jd_runs):
    report, test, binary, thresholds = _small_ensemble(small_jd_runs, "topn")
    # top 1 per style: s0 A (1 > 10/11), s1 B (1 > 15/16)
    assert {m["name"]: m["selected_for"] for m in report["models"]} == {"a": ["s0"], "b": ["s1"]}
    np.testing.assert_allclose(test, [[.9, .5], [.1, .2]], atol=1e-6)        # A's s0, B's s1
    np.testing.assert_allclose(thresholds, [.7, .7], atol=1e-6)              # each model's own cut
    assert report["ensemble"]["val_score"] == pytest.approx(1.0)
    # t1: s0 .9 >= .7, s1 .5 < .7 -> {s0}; t2: nothing reaches .7, margins s0 -.6, s1 -.5 -> {s1}
    assert binary.tolist() == [[1, 0], [0, 1]]


def test_jd_ensemble_verb_vote(small_jd_runs):
    report, test, binary, thresholds = _small_ensemble(small_jd_runs, "vote")
    # each model votes with its own cuts (A .7 .3, B .55 .7); 2 models: a majority is 2 votes,
    # the score (votes + mean p) / 3 reaches (1 + 1) / 3 = 2/3 only then
    np.testing.assert_allclose(thresholds, [2 / 3, 2 / 3])
    # validation votes: r0 (2, 1), r1 (1, 2), r2 (2, 2), r3 (0, 2) -> exactly the truth: F2 1
    assert report["ensemble"]["val_score"] == pytest.approx(1.0)
    # t1: s0 A yes B no, s1 no no -> ((1 + .55) / 3, (0 + .35) / 3)
    # t2: s0 A no B yes, s1 A yes B no -> ((1 + .45) / 3, (1 + .4) / 3)
    np.testing.assert_allclose(test, [[1.55 / 3, .35 / 3], [1.45 / 3, 1.4 / 3]], atol=1e-6)
    # no majority anywhere: the best score of each row, s0 both times
    assert binary.tolist() == [[1, 0], [1, 0]]


def test_jd_ensemble_verb_stack(small_jd_runs):
    from gluonfashion.ensembling.stacking import stack_multilabel
    report, test, binary, thresholds = _small_ensemble(small_jd_runs, "stack")
    # The meta-model's numbers are scikit-learn's; what the verb adds is which rows go in,
    # in which order (b's files list them in reverse), and what is done with the output.
    as_read = lambda x: np.float32(x).astype(np.float64)
    oof, expected = stack_multilabel(np.stack([as_read(SMALL_VAL[m]) for m in "ab"]), np.array(SMALL_TRUTH),
                                     np.stack([as_read(SMALL_TEST[m]) for m in "ab"]), folds=2, seed=0)
    np.testing.assert_allclose(test, expected, atol=1e-6)
    searched, _ = metrics.search_thresholds(oof, SMALL_TRUTH)    # on the cross-fitted output
    np.testing.assert_allclose(thresholds, searched, atol=1e-6)
    np.testing.assert_array_equal(binary, metrics.apply_thresholds(expected, searched))
    assert report["ensemble"]["val_score"] == pytest.approx(
        metrics.mean_fbeta(SMALL_TRUTH, metrics.apply_thresholds(oof, searched)))


def test_jd_ensemble_refuses_models_of_different_rows(jd_runs, tmp_path, capsys):
    # only one fold of a: its rows are half of b's
    assert main(["ensemble", "--runs", str(tmp_path / "jd_a/fold0"), str(tmp_path / "jd_c"),
                 "--out", str(tmp_path / "out")]) == 2
    assert "folds [0] given, but the run has 2 folds" in capsys.readouterr().err
    # the same with a run that has no k-fold config: rows differ
    cfg_path = tmp_path / "jd_a/fold0/best.json"
    record = checkpoint.load_json(cfg_path)
    record["config"]["folds"] = 0
    checkpoint.save_json(cfg_path, record)
    assert main(["ensemble", "--runs", str(tmp_path / "jd_a/fold0"), str(tmp_path / "jd_c"),
                 "--out", str(tmp_path / "out")]) == 2
    assert "cover different rows" in capsys.readouterr().err
    assert main(["ensemble", "--runs", str(tmp_path / "nothing_*")]) == 2
    assert "matches no run folder" in capsys.readouterr().err


def test_xgboost_meta_model_is_optional(tmp_path, capsys):
    try:
        import xgboost  # noqa: F401
        pytest.skip("xgboost is installed")
    except ImportError:
        pass
    assert main(["ensemble", "--runs", str(tmp_path), "--method", "stack", "--meta", "xgboost"]) == 2
    assert "needs the xgboost package" in capsys.readouterr().err


TASK = "collar_design_labels"        # 5 values


def _fashionai_run(path, val, test, root):
    """``val``: [(rel path, ynm, probs)]; ``test``: [(rel path, probs)]."""
    os.makedirs(path)
    write_predictions(os.path.join(path, "val_probs.csv"), [QuestionRow(r, r, TASK) for r, _, _ in val],
                      [p for _, _, p in val])
    with open(os.path.join(path, "val_truth.csv"), "w", newline="") as f:
        csv.writer(f).writerows([r, TASK, ynm] for r, ynm, _ in val)
    write_predictions(os.path.join(path, "test_probs.csv"), [QuestionRow(r, r, TASK) for r, _ in test],
                      [p for _, p in test])
    cfg = {"family": "fashionai", "task": TASK, "data_root": str(root), "question_file": "Tests/question.csv"}
    classes = [f"v{i}" for i in range(5)]
    checkpoint.save_json(os.path.join(path, "best.json"), {"config": cfg, "classes": classes})


def test_fashionai_ensemble_verb_topn(tmp_path, capsys):
    root = tmp_path / "data"
    os.makedirs(root / "Tests")
    test_rows = ["Images/c/t0.jpg", "Images/c/t1.jpg"]
    with open(root / "Tests/question.csv", "w", newline="") as f:
        csv.writer(f).writerows([r, TASK, "?"] for r in test_rows)
    v = [f"Images/c/v{i}.jpg" for i in range(3)]
    ynm = ["ynnnn", "nynnn", "nnynn"]                         # labels 0, 1, 2
    # model A: v0 right (0.6), v1 right (0.5), v2 wrong (argmax 0 at 0.4)
    #   ranked 0.6 hit, 0.5 hit, 0.4 miss -> AP = (1 + 1 + 2/3) / 3 = 8/9
    a_val = [[.6, .1, .1, .1, .1], [.1, .5, .2, .1, .1], [.4, .1, .3, .1, .1]]
    # model B: v0 wrong (argmax 1 at 0.65), v1 right (0.7), v2 right (0.6)
    #   ranked 0.7 hit, 0.65 miss, 0.6 hit -> AP = (1 + 1/2 + 2/3) / 3 = 13/18
    b_val = [[.1, .65, .1, .1, .05], [.1, .7, .1, .05, .05], [.1, .1, .6, .1, .1]]
    a_test = [[.2, .2, .2, .2, .2], [.5, .2, .1, .1, .1]]
    b_test = [[.1, .1, .1, .1, .6], [.1, .1, .1, .6, .1]]
    # B lists its rows in another order: rows are matched by path, not position
    _fashionai_run(tmp_path / "runs/a", list(zip(v, ynm, a_val)), list(zip(test_rows, a_test)), root)
    _fashionai_run(tmp_path / "runs/b", list(zip(v, ynm, b_val))[::-1], list(zip(test_rows, b_test))[::-1],
                   root)

    out = tmp_path / "out"
    assert main(["ensemble", "--runs", str(tmp_path / "runs/*"), "--method", "topn", "--top-n", "1",
                 "--corr-threshold", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert TASK in printed and "not in the top 1" in printed
    assert "checked against " + str(root / "Tests/question.csv") in printed    # from the runs' config

    group = _report(out)["groups"][TASK]
    scores = {os.path.basename(m["name"]): m["val_score"] for m in group["models"]}
    assert scores == pytest.approx({"a": 8 / 9, "b": 13 / 18})
    assert group["ensemble"]["val_score"] == pytest.approx(8 / 9)   # top 1 = model A alone
    # the merged submission: question order, model A's test probabilities
    rows = read_predictions(out / "submission.csv")
    assert [r[0] for r in rows] == test_rows
    np.testing.assert_allclose([r[2] for r in rows], a_test)
    assert os.path.exists(out / f"{TASK}.csv") and os.path.exists(out / "val_probs.csv")

    # mean of both: hand-check one test row, (0.2 + 0.1) / 2 ... (0.2 + 0.6) / 2
    assert main(["ensemble", "--runs", str(tmp_path / "runs/a"), str(tmp_path / "runs/b"),
                 "--corr-threshold", "1", "--out", str(out)]) == 0
    rows = {r[0]: r[2] for r in read_predictions(out / "submission.csv")}
    np.testing.assert_allclose(rows[test_rows[0]], [.15, .15, .15, .15, .4])

    # a run whose validation rows differ is refused
    _fashionai_run(tmp_path / "runs/c", list(zip(v, ynm, a_val))[:2], list(zip(test_rows, a_test)), root)
    assert main(["ensemble", "--runs", str(tmp_path / "runs/*"), "--out", str(out)]) == 2
    assert "cover different rows" in capsys.readouterr().err
