"""The helpers notebook 07 uses on DeepFashion runs, against values worked out by hand:
per-image top-k figures, their means with 95 % intervals, paired differences, the loss
taken apart per output, the top-k table, a run's test scores in test-set order and the
notebooks' DeepFashion demo data."""
import math
import os

import numpy as np
import pandas as pd
import pytest

from gluonfashion import analysis, metrics
from gluonfashion.checkpoint import save_json
from gluonfashion.config import load_config
from gluonfashion.data.deepfashion import write_scores
from gluonfashion.families.deepfashion import benchmark

# 4 images, 4 categories, then 6 attributes (types 1, 1, 2, 2, 3, 3)
SCORES = np.array([[0.70, 0.10, 0.15, 0.05, 0.80, 0.10, 0.05, 0.30, 0.60, 0.20],
                   [0.05, 0.35, 0.55, 0.05, 0.20, 0.90, 0.10, 0.15, 0.05, 0.40],
                   [0.40, 0.30, 0.20, 0.10, 0.10, 0.05, 0.70, 0.20, 0.15, 0.60],
                   [0.10, 0.10, 0.60, 0.20, 0.30, 0.20, 0.10, 0.10, 0.10, 0.10]])
TRUTH = np.array([[1, 0, 0, 0, 1, 0, 0, 0, 1, 0],
                  [0, 1, 0, 0, 0, 1, 0, 1, 0, 1],
                  [0, 0, 0, 1, 0, 0, 1, 1, 1, 1],
                  [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]])
TYPES = np.array([1, 1, 2, 2, 3, 3])


def test_per_image_topk_by_hand():
    # categories ranked: image 1 -> 0, 2, 1; image 2 -> 2, 1, 0 (0 and 3 tie: the lower id);
    # image 3 -> 0, 1, 2 (its category 3 is last); image 4 -> 2, 3, 0
    assert metrics.topk_hits(SCORES[:, :4], [0, 1, 3, 2], 1).tolist() == [True, False, False, True]
    assert metrics.topk_hits(SCORES[:, :4], [0, 1, 3, 2], 3).tolist() == [True, True, False, True]
    # attributes ranked: image 1 -> 0, 4, 3 (present 0, 4: 2 of 2); image 2 -> 1, 5, 0
    # (present 1, 3, 5: 2 of 3); image 3 -> 2, 5, 3 (present 2, 3, 4, 5: 3 of 4); image 4 has none
    shares = metrics.topk_recall_per_image(SCORES[:, 4:], TRUTH[:, 4:], 3)
    assert shares[:3] == pytest.approx([1, 2 / 3, 3 / 4]) and math.isnan(shares[3])
    assert metrics.topk_recall(SCORES[:, 4:], TRUTH[:, 4:], 3) == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)

    table = analysis.topk_per_image(SCORES, TRUTH, 4, TYPES, category_ks=(1, 3), recall_ks=(1,))
    assert list(table.columns) == ["category top-1", "category top-3", "attribute recall@1", "texture recall@1",
                                   "fabric recall@1", "shape recall@1"]
    # recall@1 per image: image 1's best attribute 0 is present (1/2), image 2's 1 (1/3), image 3's 2 (1/4)
    assert table["attribute recall@1"].tolist()[:3] == pytest.approx([1 / 2, 1 / 3, 1 / 4])
    # texture = attributes 0, 1: image 1 best 0 (1 of 1), image 2 best 1 (1 of 1), image 3 none present
    assert table["texture recall@1"].tolist()[:2] == [1.0, 1.0] and table["texture recall@1"].isna().tolist()[2:] \
        == [True, True]
    # fabric = attributes 2, 3: image 2 best 3 (0.15 > 0.10; present) 1 of 1; image 3 best 2 (present) 1 of 2
    assert table["fabric recall@1"].tolist()[1:3] == [1.0, 0.5]
    # the means are the benchmark's figures
    scores = metrics.category_attribute_scores(SCORES, TRUTH, 4, TYPES)
    assert table["category top-1"].mean() == scores["category_top1"] == 0.5
    assert table["category top-3"].mean() == scores["category_top3"] == 0.75
    full = analysis.topk_per_image(SCORES, TRUTH, 4, TYPES)
    assert full["attribute recall@3"].mean() == pytest.approx(scores["attribute_recall3"])
    assert full["shape recall@5"].mean() == pytest.approx(scores["by_type"][3][5])


def test_mean_interval_and_paired_difference_by_hand():
    # shares 0.5, 1, 0, 0.5 (and a NaN, left out): mean 0.5, sd (n - 1) sqrt(0.5 / 3) = 0.408248,
    # half 1.96 * 0.408248 / 2 = 0.400083
    row = analysis.mean_interval(np.array([0.5, 1.0, np.nan, 0.0, 0.5]))
    assert row["value"] == 0.5 and row["images"] == 4
    assert (row["95 % low"], row["95 % high"]) == pytest.approx((0.099917, 0.900083), abs=1e-6)
    # bool values: the Wilson interval of 3 of 4 (as in test_comparisons): [0.30064, 0.95442]
    row = analysis.mean_interval(np.array([True, True, False, True]))
    assert row["value"] == 0.75 and row["images"] == 4
    assert (row["95 % low"], row["95 % high"]) == pytest.approx((0.30064, 0.95442), abs=1e-4)
    # paired: differences 0, 1, 0, 1 -> mean 0.5, sd sqrt(1 / 3) = 0.577350, half 1.96 * 0.577350 / 2 = 0.565803
    diff = analysis.paired_difference(np.array([True, True, False, True]), np.array([True, False, False, False]))
    assert diff["value"] == 0.5 and diff["images"] == 4
    assert (diff["95 % low"], diff["95 % high"]) == pytest.approx((-0.065803, 1.065803), abs=1e-6)
    # one value: no spread to estimate, NaN bounds
    assert math.isnan(analysis.mean_interval(np.array([0.3]))["95 % low"])
    table = analysis.interval_table(pd.DataFrame({"a": [True, True, False, True], "b": [0.5, 1.0, 0.0, 0.5]}))
    assert table.loc["a", "value"] == 0.75 and table.loc["b", "95 % high"] == pytest.approx(0.900083, abs=1e-6)


def test_loss_terms_of_one_image_by_hand():
    # categories: logits 2, 1, 0 -> softmax 0.665241, 0.244728, 0.090031; the first is true:
    # CE = ln(e^2 + e + 1) - 2 = 0.407606. Attributes at logits 0, 2, -1, 3 with targets
    # 1, 0, unknown, 1: ln 2 = 0.693147; 0.1 * softplus(2) = 0.212693; 0; softplus(-3) = 0.048587;
    # mean over the 4: 0.238607. Loss 1 * CE + 20 * mean = 5.179740; with w_s 1: 0.646213.
    terms, totals = analysis.category_attribute_loss_terms(
        [2, 1, 0, 0, 2, -1, 3], [1, 0, 0, 1, 0, -1, 1], 3, {"thesis": (1, 20), "equal": (1, 1)})
    assert list(terms.index) == ["c1", "c2", "c3", "a1", "a2", "a3", "a4"]
    assert terms["probability"].tolist() == pytest.approx([0.665241, 0.244728, 0.090031, 0.5, 0.880797, 0.268941,
                                                           0.952574], abs=1e-6)
    assert terms["term"].tolist() == pytest.approx([0.407606, 0, 0, 0.693147, 0.212693, 0, 0.048587], abs=1e-5)
    assert totals.tolist() == pytest.approx([0.407606, 0.238607, 5.179740, 0.646213], abs=1e-5)
    assert list(totals.index)[2:] == ["loss, thesis (w_c 1, w_s 20)", "loss, equal (w_c 1, w_s 1)"]


def test_topk_table_by_hand():
    table = analysis.topk_table(SCORES, TRUTH, 4, 3, ["Tee", "Skirt", "Dress", "Jeans"],
                                ["striped", "floral", "denim", "knit", "long", "pocket"])
    assert table["top-3 categories"].tolist() == ["Tee, Dress, Skirt", "Dress, Skirt, Tee", "Tee, Skirt, Dress",
                                                  "Dress, Jeans, Tee"]
    assert table["hit"].tolist() == [True, True, False, True]
    assert table["present"].tolist() == ["striped, long", "floral, knit, pocket", "denim, knit, long, pocket", ""]
    assert table["found"].tolist() == ["2 of 2", "2 of 3", "3 of 4", "0 of 0"]
    assert table["recall@3"].tolist()[:3] == pytest.approx([1, 2 / 3, 3 / 4])


def test_plot_interval_bars_draws_one_bar_per_run_and_row():
    tables = {name: pd.DataFrame({"value": [0.5, 0.7], "95 % low": [0.4, 0.6], "95 % high": [0.6, 0.8]},
                                 index=["x", "y"]) for name in ("a", "b")}
    fig = analysis.plot_interval_bars(tables, rows=["y"], title="t")
    bars = fig.axes[0].patches
    assert len(bars) == 2 and [b.get_height() for b in bars] == [0.7, 0.7]


@pytest.fixture(scope="module")
def fast_deepfashion(tmp_path_factory):
    base = tmp_path_factory.mktemp("nb_fast")
    root = analysis.ensure_deepfashion_demo(str(base / "deepfashion"), fast=True)
    cfg = load_config("configs/deepfashion/deepfashion.yaml",
                      [("data_root", root), ("output_dir", str(base / "run")), ("workers", 0)], profile="demo")
    return base, root, cfg


def test_fast_deepfashion_demo_is_tiny(fast_deepfashion):
    _, root, cfg = fast_deepfashion
    bench = benchmark(cfg)
    sizes = analysis.FAST_DEEPFASHION
    assert [int((bench.partition == p).sum()) for p in ("train", "val", "test")] == \
        [sizes["n_train"], sizes["n_val"], sizes["n_test"]]
    assert (len(bench.categories), len(bench.attributes)) == (30, 100)


def test_category_attribute_test_reorders_the_saved_scores(fast_deepfashion):
    base, _, cfg = fast_deepfashion
    bench = benchmark(cfg)
    rows = bench.rows("test")
    names = [bench.images[i] for i in rows]
    n_cat = len(bench.categories)
    scores = np.random.default_rng(0).random((len(rows), n_cat + len(bench.attributes))).astype(np.float32)
    run = base / "run"
    os.makedirs(run, exist_ok=True)
    save_json(str(run / "best.json"), {"config": cfg})
    order = np.arange(len(rows))[::-1]                      # saved in reverse: the helper restores test order
    write_scores(str(run / "test_probs.csv"), [names[i] for i in order], scores[order], n_cat)
    got, truth, n, types = analysis.category_attribute_test(str(run))
    assert n == n_cat and got == pytest.approx(scores, abs=1e-6)
    assert (truth[:, :n_cat].argmax(axis=1) == bench.category[rows]).all()
    assert (truth[:, n_cat:] == (bench.values[rows] == 1)).all() and (types == bench.attribute_types).all()
    write_scores(str(run / "test_probs.csv"), names[1:], scores[1:], n_cat)
    with pytest.raises(ValueError, match="lacks 1 of the"):
        analysis.category_attribute_test(str(run))
