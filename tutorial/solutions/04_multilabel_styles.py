"""Worked solutions to the exercises at the end of 04_multilabel_styles.ipynb.

    python tutorial/solutions/04_multilabel_styles.py                      # reuses the notebook's WBCE run
    GLUONFASHION_FAST=1 python tutorial/solutions/04_multilabel_styles.py  # tiny data, one epoch

Exercise 3 needs the weighted-BCE run of the notebook (runs/tutorial/jd_styles_wbce):
it is reused when the notebook trained it, and trained here otherwise (a few minutes on
a 2-core CPU; seconds in fast mode).
"""
import os

import numpy as np
import pandas as pd

from gluonfashion import analysis, checkpoint, metrics
from gluonfashion.config import load_config
from gluonfashion.data.jd import read_jd_answers, read_jd_probabilities
from gluonfashion.families import get_family

SETTINGS = {"epochs": 5}     # as in the notebook, so its run is reused


def focal_factors():
    """Exercise 1: how fast focal loss silences easy elements, for several gammas."""
    p_right = np.array([0.95, 0.6, 0.4, 0.1])          # probability given to the right answer
    bce = -np.log(p_right)
    table = pd.DataFrame({f"gamma {g}": (1 - p_right) ** g * bce for g in (0, 1, 2, 5)},
                         index=[f"p_t = {p}" for p in p_right])
    print("Exercise 1: focal term (1 - p_t)^gamma * BCE; gamma 0 is plain BCE")
    print(table.round(4).to_string(), "\n")
    # The notebook's Korean row (p = 0.60 on an absent style, so p_t = 0.40) under gamma 2:
    # 0.6^2 * -ln(0.4) = 0.36 * 0.9163 = 0.3299, as the library's focal column says.
    terms = analysis.multilabel_loss_terms([0.6], [0], np.array([10]), params={"focal": {"gamma": 2.0}})
    return table, float(terms["focal"].iloc[0])


def best_thresholds():
    """Exercise 2: the threshold each F-beta prefers on the notebook's ten-image example."""
    probs = np.array([[0.95], [0.80], [0.70], [0.60], [0.45], [0.40], [0.30], [0.20], [0.10], [0.05]])
    truth = np.array([[1], [1], [0], [1], [0], [0], [0], [1], [0], [0]])
    best = {beta: metrics.search_thresholds(probs, truth, beta=beta) for beta in (0.5, 1.0, 2.0)}
    for beta, (threshold, score) in best.items():
        print(f"Exercise 2: F{beta:g} is best at threshold {threshold[0]:.2f} (F = {score[0]:.3f})")
    print()
    return {beta: float(t[0]) for beta, (t, _) in best.items()}


def positives_rule(env):
    """Exercise 3: what the 1-to-5 rule changes on the WBCE run's test images."""
    cfg = load_config("configs/jd/styles_wbce.yaml",
                      env.config_overrides(data_root=env.jd_root, output_dir=os.path.join(env.runs_dir, "{task}"),
                                           **SETTINGS), profile="demo")
    get_family("jd").download(cfg, progress=False, log=lambda *a: None)
    run, _ = analysis.train_or_reuse(cfg, log=lambda *a: None)
    ids, probs = read_jd_probabilities(os.path.join(run, "test_probs.csv"))
    answer_ids, truth = read_jd_answers(os.path.join(env.jd_root, cfg["answers_file"]), n_labels=probs.shape[1])
    truth = truth[[answer_ids.index(i) for i in ids]]
    thresholds = np.array(checkpoint.load_json(os.path.join(run, "thresholds.json"))["thresholds"])
    above = (probs >= thresholds).sum(axis=1)
    plain = metrics.thresholded_fbeta(probs, truth, thresholds, min_positive=0, max_positive=None)["mean"]
    ruled = metrics.thresholded_fbeta(probs, truth, thresholds, min_positive=1, max_positive=5)["mean"]
    print(f"Exercise 3: of {len(ids)} test images, {int((above == 0).sum())} have no style above its threshold "
          f"(the rule adds their best one) and {int((above > 5).sum())} have more than five (the rule cuts them); "
          f"test mean F2 {plain:.4f} without the rule, {ruled:.4f} with it")
    return above, plain, ruled


def main():
    env = analysis.notebook_setup(fashionai_root=None, jd_root=analysis.DEMO_JD_ROOT, need=("jd",))
    table, korean = focal_factors()
    assert abs(korean - 0.3299) < 1e-4 and abs(table.loc["p_t = 0.4", "gamma 2"] - 0.3299) < 1e-4
    best = best_thresholds()
    # By hand: F1 is best tagging the top 4 (P = R = 0.75), F2 tagging the top 8 (P = 0.5, R = 1,
    # F2 = 5 * 0.5 / (4 * 0.5 + 1) = 0.833), F0.5 tagging the top 2 (P = 1, R = 0.5, F0.5 = 0.833).
    assert best == {0.5: 0.80, 1.0: 0.60, 2.0: 0.20}
    above, plain, ruled = positives_rule(env)
    assert len(above) > 0 and 0.0 <= plain <= 1.0 and 0.0 <= ruled <= 1.0


if __name__ == "__main__":
    main()
