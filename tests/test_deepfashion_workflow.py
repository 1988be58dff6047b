"""DeepFashion end to end on tiny generated data: the CLI's train -> predict -> evaluate,
and an ensemble of two runs."""
import os

import numpy as np
import pytest

from gluonfashion.cli import main
from gluonfashion.config import load_config
from gluonfashion.data.deepfashion import read_predictions, read_scores
from gluonfashion.data.demo_deepfashion import generate_deepfashion_demo
from gluonfashion.ensembling.workflow import run_ensemble
from gluonfashion.families import get_family

CONFIG = "configs/deepfashion/deepfashion.yaml"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("deepfashion")
    generate_deepfashion_demo(str(root / "data"), n_train=48, n_val=16, n_test=16, image_size=64, seed=3,
                              progress=False)
    overrides = {"data_root": root / "data", "model": "resnet18_v2", "pretrained": False, "allow_random_init": True,
                 "image_size": 32, "resize_short": 32, "crop_side": 40, "epochs": 1, "batch_size": 16,
                 "workers": 0, "devices": "cpu", "output_dir": root / "runs/{task}",
                 "submission_dir": root / "submission"}
    args = [a for key, value in overrides.items() for a in ("--set", f"{key}={value}")]
    return root, ["--config", CONFIG, "--profile", "demo", *args]


def _lists(root):
    """Category ids (1-based) of every image, read straight from the list."""
    with open(root / "data/Anno/list_category_img.txt") as f:
        return {name: int(label) for name, label in (line.split() for line in f.read().splitlines()[2:])}


def test_train_predict_evaluate_verbs(tiny, capsys):
    root, args = tiny
    assert main(["train", *args, "--quiet", "--predict"]) == 0
    assert "top3_score" in capsys.readouterr().out
    assert main(["predict", *args, "--quiet", "--tta", "none", "--out", str(root / "plain")]) == 0
    names, cats, atts = read_predictions(root / "plain/deepfashion_predictions.csv")
    score_names, scores, n_cat = read_scores(root / "plain/deepfashion_scores.csv")
    assert len(names) == 16 and names == score_names and n_cat == 30 and scores.shape == (16, 130)
    # the top-5 ids are the 5 best scores of each part, best first, 1-based
    assert cats[0] == (np.argsort(-scores[0, :30], kind="stable")[:5] + 1).tolist()
    assert atts[0] == (np.argsort(-scores[0, 30:], kind="stable")[:5] + 1).tolist()

    assert main(["evaluate", *args, "--submission", str(root / "plain/deepfashion_scores.csv")]) == 0
    table = capsys.readouterr().out
    for row in ("category accuracy", "attribute recall, all", "attribute recall, texture", "attribute recall, style"):
        assert row in table
    # top-1 accuracy worked out here from the scores and the category list
    labels = _lists(root)
    top1 = np.mean([scores[i, :30].argmax() + 1 == labels[n] for i, n in enumerate(names)])
    assert f"|     16 | {top1:.4f} |" in table


def test_ensemble_of_two_runs_averages_their_scores(tiny, tmp_path, capsys):
    root, args = tiny
    run_a = str(root / "runs/deepfashion")
    if not os.path.exists(os.path.join(run_a, "test_probs.csv")):
        assert main(["train", *args, "--quiet", "--predict"]) == 0
    run_b = str(root / "runs/deepfashion_b")
    assert main(["train", *args, "--quiet", "--predict", "--set", "seed=7", "--set", f"output_dir={run_b}"]) == 0
    report = run_ensemble([run_a, run_b], method="mean", out_dir=str(tmp_path / "ens"), corr_threshold=1.0,
                          log=lambda *a: None)
    names, ensembled, _ = read_scores(tmp_path / "ens/deepfashion_scores.csv")
    each = [read_scores(os.path.join(r, "test_probs.csv")) for r in (run_a, run_b)]
    assert names == each[0][0] == each[1][0]
    np.testing.assert_allclose(ensembled, (each[0][1] + each[1][1]) / 2, atol=2e-6)
    assert os.path.exists(tmp_path / "ens/deepfashion_predictions.csv")
    assert 0 <= get_family("deepfashion").ensemble_test_score(report) <= 1
    assert main(["ensemble", "--runs", run_a, run_b, "--method", "vote", "--out", str(tmp_path / "v")]) == 2
    assert "does not apply to DeepFashion runs" in capsys.readouterr().err


def test_the_split_is_the_partition_file_not_folds(tiny, tmp_path):
    root, _ = tiny
    cfg = load_config(CONFIG, [("data_root", str(root / "data")), ("folds", 3)], profile="demo")
    with pytest.raises(ValueError, match="its split is the partition file"):
        get_family("deepfashion").prepare_data(cfg, None, progress=False, log=lambda *a: None)


def test_image_labels_rank_categories_and_attributes_apart():
    class Run:   # what image_labels reads of a run folder
        def record(self):
            return {"objective": {"n_categories": 3}, "classes": ["tee", "skirt", "dress", "striped", "denim"]}

    probs = np.array([[0.2, 0.7, 0.1, 0.4, 0.9]])
    [labels] = get_family("deepfashion").image_labels(probs, Run(), top=2)
    # categories by their softmax share, attributes by their own sigmoid: never mixed
    assert labels == {"category": [("skirt", 0.7), ("tee", 0.2)],
                      "attributes": [("denim", 0.9), ("striped", 0.4)]}


def test_the_served_network_of_a_deepfashion_run_keeps_its_split_activation():
    # export builds its graph from the run record; the category/attribute split must
    # survive into the symbolic graph, not only the imperative prediction path
    import math

    from mxnet import nd
    from mxnet.gluon import nn

    from gluonfashion.objectives import activation_for
    from gluonfashion.serving.graph import ServedNet

    class Logits(nn.HybridBlock):   # stands in for the network: its input are the logits
        def hybrid_forward(self, F, x):
            return x

    served = ServedNet(Logits(), activation_for({"problem": "category_attributes", "objective": {"n_categories": 2}}))
    served.hybridize()
    out = served(nd.array([[0.0, math.log(3), 0.0, math.log(3)]])).asnumpy()
    # softmax(0, ln 3) = (1/4, 3/4); sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4
    np.testing.assert_allclose(out, [[0.25, 0.75, 0.5, 0.75]], rtol=1e-6)
