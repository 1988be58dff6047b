"""FashionAI CSV parsing, bad-row reports, merge and submission checks."""
import os

import numpy as np
import pytest

from gluonfashion.data.errors import DataFormatError
from gluonfashion.data.fashionai import (read_label_file, read_label_files, read_question_file,
                                         write_predictions)
from gluonfashion.submission import SubmissionError, evaluate, merge, validate
from conftest import write_csv


def test_label_rows_and_image_root(tmp_path):
    path = tmp_path / "base/Annotations/label.csv"
    write_csv(str(path), [["Images/skirt_length_labels/a.jpg", "skirt_length_labels", "nnymnn"],
                          ["Images/collar_design_labels/b.jpg", "collar_design_labels", "ynnnn"]])
    rows = read_label_file(str(path))
    assert rows[0].label == 2 and rows[0].ynm == "nnymnn"
    assert rows[0].image == str(tmp_path / "base/Images/skirt_length_labels/a.jpg")
    assert [r.task for r in read_label_file(str(path), {"collar_design_labels"})] == ["collar_design_labels"]


@pytest.mark.parametrize("row, expected", [
    (["a.jpg", "t", "nnnn"], "exactly one 'y'"),
    (["a.jpg", "t", "nyyn"], "exactly one 'y'"),
    (["a.jpg", "t", "nyxn"], "exactly one 'y'"),
    (["a.jpg", "t"], "3 columns"),
    (["a.jpg", "t", "nyn"], "4 values for task t"),
])
def test_bad_rows_name_file_line_and_expectation(tmp_path, row, expected):
    path = tmp_path / "Annotations/label.csv"
    write_csv(str(path), [["ok.jpg", "t", "nynn"], row])
    with pytest.raises(DataFormatError, match=expected) as err:
        read_label_file(str(path))
    assert "label.csv:2" in str(err.value)


def test_several_label_files_and_duplicates(tmp_path):
    base, web = tmp_path / "base/Annotations/label.csv", tmp_path / "web/Annotations/label.csv"
    write_csv(str(base), [["Images/t/a.jpg", "t", "yn"]])
    write_csv(str(web), [["Images/t/a.jpg", "t", "ny"]])   # a different image: other root
    assert len(read_label_files([str(base), str(web)], "t")) == 2
    with pytest.raises(DataFormatError, match="each image once"):
        read_label_files([str(base), str(base)], "t")


def test_question_rows_need_a_question_mark(tmp_path):
    path = tmp_path / "Tests/question.csv"
    write_csv(str(path), [["Images/t/a.jpg", "t", "?"], ["Images/t/b.jpg", "t", "0.5"]])
    with pytest.raises(DataFormatError, match=r"question.csv:2: expected 3 columns: image path, task, '\?'"):
        read_question_file(str(path))


@pytest.fixture
def two_tasks(tmp_path):
    q = tmp_path / "Tests/question.csv"
    write_csv(str(q), [["Images/a/1.jpg", "a", "?"], ["Images/b/1.jpg", "b", "?"], ["Images/a/2.jpg", "a", "?"]])
    rows = read_question_file(str(q))
    pred = tmp_path / "pred"
    pred.mkdir()
    write_predictions(str(pred / "a.csv"), [rows[2], rows[0]], [[0.2, 0.8], [0.9, 0.1]])
    write_predictions(str(pred / "b.csv"), [rows[1]], [[0.1, 0.3, 0.6]])
    return q, pred, rows


def test_merge_keeps_question_order_and_validates(two_tasks, tmp_path):
    q, pred, _ = two_tasks
    out = tmp_path / "submission.csv"
    merge(str(q), str(pred), str(out), log=lambda *_: None)
    lines = out.read_text().splitlines()
    assert [l.split(",")[0] for l in lines] == ["Images/a/1.jpg", "Images/b/1.jpg", "Images/a/2.jpg"]
    assert lines[0].endswith(",0.9;0.1")     # 9 significant digits, no trailing zeros
    validate(str(out), str(q))
    answers = tmp_path / "answers.csv"
    write_csv(str(answers), [["Images/a/1.jpg", "a", "yn"], ["Images/a/2.jpg", "a", "yn"], ["Images/b/1.jpg", "b", "nny"]])
    table = evaluate(str(out), str(answers))
    assert table["a"]["basic_precision"] == 0.5 and table["b"]["basic_precision"] == 1.0


def test_merge_refuses_missing_task_rows_and_bad_probabilities(two_tasks, tmp_path):
    q, pred, rows = two_tasks
    out = tmp_path / "submission.csv"
    write_predictions(str(pred / "a.csv"), [rows[0]], [[0.9, 0.1]])
    with pytest.raises(SubmissionError, match="1 question rows have no prediction"):
        merge(str(q), str(pred), str(out), log=lambda *_: None)
    assert not out.exists()
    write_predictions(str(pred / "a.csv"), [rows[0], rows[2]], [[0.9, 0.3], [0.5, 0.5]])
    with pytest.raises(DataFormatError, match="a.csv:1: expected probabilities summing to 1"):
        merge(str(q), str(pred), str(out), log=lambda *_: None)
    write_predictions(str(pred / "a.csv"), [rows[0], rows[2], rows[0]], [[1, 0], [0, 1], [1, 0]])
    with pytest.raises(DataFormatError, match="each question row once"):
        merge(str(q), str(pred), str(out), log=lambda *_: None)
    write_predictions(str(pred / "a.csv"), [rows[0], rows[2]], [[np.nan, 1], [0, 1]])
    with pytest.raises(DataFormatError, match="finite"):
        merge(str(q), str(pred), str(out), log=lambda *_: None)
    os.remove(pred / "b.csv")
    write_predictions(str(pred / "a.csv"), [rows[0], rows[2]], [[1, 0], [0, 1]])
    with pytest.raises(SubmissionError, match="no predictions for task b"):
        merge(str(q), str(pred), str(out), log=lambda *_: None)


def test_evaluate_applies_the_m_rule_from_the_answers(two_tasks, tmp_path):
    q, pred, _ = two_tasks
    out = tmp_path / "submission.csv"
    merge(str(q), str(pred), str(out), log=lambda *_: None)
    answers = tmp_path / "answers.csv"
    # Task a: 1.jpg answered 0 (0.9) and right; 2.jpg answered 1 (0.8), its `y` is 0.
    write_csv(str(answers), [["Images/a/1.jpg", "a", "yn"], ["Images/a/2.jpg", "a", "ym"],
                             ["Images/b/1.jpg", "b", "nny"]])
    table = evaluate(str(out), str(answers))
    # 2.jpg was answered with its `m` value: not counted, so task a is 1 of 1 right
    # (without the rule: 1 of 2, AP (1 + 1/2) / 2 = 0.75).
    assert table["a"] == {"map": 1.0, "basic_precision": 1.0, "n": 2, "m_skipped": 1}
    assert table["b"]["m_skipped"] == 0
