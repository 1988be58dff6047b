"""Real data, not the synthetic demo: scikit-learn's 1,797 hand-written digit scans
(shipped with the package, offline) as a FashionAI-format task the kit has never seen,
trained with the CLI verbs and the shipped demo profile only, against a classical
baseline measured here on the same split."""
import os
import shutil

import cv2
import numpy as np
import pytest
import yaml

from gluonfashion.cli import main
from gluonfashion.submission import evaluate
from conftest import write_csv

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASK = "handwritten_digit"


@pytest.fixture(scope="module")
def digits_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    index = np.arange(len(digits.target))
    train, test = train_test_split(index, test_size=0.3, stratify=digits.target, random_state=0)
    return digits, train, test


def _write_task(root, digits, train, test):
    """Images as 32 px grey-scale PNGs (the scans are 8x8, values 0..16), label and
    question CSVs in the FashionAI layout, and the answers."""
    os.makedirs(root / "Images" / TASK)
    rows = {}
    for i in np.concatenate([train, test]):
        rel = f"Images/{TASK}/{i:04d}.png"
        scan = (digits.images[i] * (255 / 16)).astype(np.uint8)
        cv2.imwrite(str(root / rel), cv2.resize(scan, (32, 32), interpolation=cv2.INTER_LINEAR))
        rows[i] = [rel, TASK, "".join("y" if v == digits.target[i] else "n" for v in range(10))]
    write_csv(str(root / "Annotations/label.csv"), [rows[i] for i in train])
    write_csv(str(root / "Tests/question.csv"), [[rows[i][0], TASK, "?"] for i in test])
    write_csv(str(root / "answers.csv"), [rows[i] for i in test])


def test_kit_beats_a_pixel_classifier_on_real_digit_scans(digits_split, tmp_path):
    from sklearn.linear_model import LogisticRegression
    digits, train, test = digits_split
    x, y = digits.data / 16.0, digits.target
    baseline = LogisticRegression(max_iter=2000).fit(x[train], y[train]).score(x[test], y[test])
    assert 0.9 < baseline < 0.99       # about 0.96: a strong bar on this data

    data = tmp_path / "digits"
    _write_task(data, digits, train, test)
    configs = tmp_path / "configs"
    os.makedirs(configs)
    shutil.copy(os.path.join(REPO, "configs/fashionai/demo.yaml"), configs / "demo.yaml")   # the shipped profile
    (configs / f"{TASK}.yaml").write_text(yaml.safe_dump({
        "task": TASK, "data_root": str(data), "answers_file": "answers.csv",
        "image_size": 32, "resize_short": 32, "epochs": 8,
        "output_dir": str(tmp_path / "runs/{task}"), "submission_dir": str(tmp_path / "submission")}))
    common = ["--config", str(configs / f"{TASK}.yaml"), "--profile", "demo"]
    submission = str(tmp_path / "submission/submission.csv")
    assert main(["train", *common, "--quiet"]) == 0
    assert main(["predict", *common, "--quiet"]) == 0
    assert main(["merge", *common, "--out", submission]) == 0
    assert main(["evaluate", *common, "--submission", submission]) == 0

    scores = evaluate(submission, str(data / "answers.csv"))[TASK]
    assert scores["n"] == len(test)
    print(f"digits: kit accuracy {scores['basic_precision']:.4f} (mAP {scores['map']:.4f}), "
          f"logistic regression on pixels {baseline:.4f}")
    assert scores["basic_precision"] > baseline
