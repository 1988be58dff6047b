"""Input files that are odd or hostile: a byte-order mark, image paths leading out of
the data folder, task names and ids that are paths, and probabilities written with too
few digits to keep confident rows apart."""
import os

import numpy as np
import pytest

from gluonfashion.cli import main
from gluonfashion.data.errors import DataFormatError
from gluonfashion.data.fashionai import (format_probs, read_label_file, read_predictions,
                                         read_question_file, write_predictions)
from gluonfashion.data.jd import read_jd_test, read_jd_train
from gluonfashion.data.paths import file_in, is_inside_path, is_plain_name
from gluonfashion.submission import evaluate, merge
from conftest import write_csv

BOM = "\ufeff"


def _write_text(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return str(path)


def test_a_byte_order_mark_does_not_break_the_first_row(tmp_path):
    labels = _write_text(tmp_path / "base/Annotations/label.csv",
                         BOM + "Images/t/a.jpg,t,ny\r\nImages/t/b.jpg,t,yn\r\n")
    first = read_label_file(labels)[0]
    assert first.rel_path == "Images/t/a.jpg" and first.image == str(tmp_path / "base/Images/t/a.jpg")
    questions = _write_text(tmp_path / "base/Tests/question.csv", BOM + "Images/t/a.jpg,t,?\n")
    assert read_question_file(questions)[0].rel_path == "Images/t/a.jpg"
    probs = _write_text(tmp_path / "t.csv", BOM + "Images/t/a.jpg,t,0.25;0.75\n")
    assert read_predictions(probs)[0][0] == "Images/t/a.jpg"


@pytest.mark.parametrize("rel", ["../../etc/passwd", "/etc/passwd", "Images/../../x.jpg", "C:\\x.jpg",
                                 "..\\..\\x.jpg"])
def test_image_paths_leading_out_of_the_data_folder_are_refused(tmp_path, rel):
    path = tmp_path / "base/Annotations/label.csv"
    write_csv(str(path), [["Images/t/a.jpg", "t", "yn"], [rel, "t", "ny"]])
    with pytest.raises(DataFormatError, match=r"label\.csv:2: expected an image path relative to the data "
                                              r"folder, inside it") as err:
        read_label_file(str(path))
    assert repr(rel) in str(err.value)


def test_paths_that_stay_inside_are_fine(tmp_path):
    path = tmp_path / "base/Annotations/label.csv"
    write_csv(str(path), [["Images/../Images/t/a.jpg", "t", "yn"], ["./Images/t/b.jpg", "t", "ny"]])
    assert [r.rel_path for r in read_label_file(str(path))] == ["Images/../Images/t/a.jpg", "./Images/t/b.jpg"]


@pytest.mark.parametrize("task", ["../evil", "a/b", "..", "a\\b"])
def test_task_names_that_are_paths_are_refused_in_every_fashionai_file(tmp_path, task):
    for name, third in (("label.csv", "yn"), ("question.csv", "?"), ("probs.csv", "0.5;0.5")):
        path = tmp_path / "base/Annotations" / name
        write_csv(str(path), [["Images/t/a.jpg", task, third]])
        reader = {"label.csv": read_label_file, "question.csv": read_question_file,
                  "probs.csv": read_predictions}[name]
        with pytest.raises(DataFormatError, match=rf"{name}:1: expected a task name usable as a file name"):
            reader(str(path))


def test_ensemble_never_writes_outside_its_folder(tmp_path, capsys):
    """A run folder's CSVs name the task '../../evil': before any file is written the
    ensemble stops, naming the file and line (it would write out/../../evil.csv)."""
    run = tmp_path / "runs/x"
    rows = [["Images/t/a.jpg", "../../evil", "0.9;0.1"], ["Images/t/b.jpg", "../../evil", "0.2;0.8"]]
    write_csv(str(run / "val_probs.csv"), rows)
    write_csv(str(run / "test_probs.csv"), rows)
    write_csv(str(run / "val_truth.csv"), [[p, t, "yn" if i == 0 else "ny"] for i, (p, t, _) in enumerate(rows)])
    out = tmp_path / "deep/er/out"
    assert main(["ensemble", "--runs", str(run), "--out", str(out)]) == 2
    assert "val_probs.csv:1: expected a task name usable as a file name" in capsys.readouterr().err
    assert not (tmp_path / "deep/evil.csv").exists() and not out.exists()


def test_output_names_and_paths_helpers():
    assert is_plain_name("skirt_length_labels") and is_plain_name("a..b") and is_plain_name(".hidden")
    assert not any(is_plain_name(n) for n in ("", " ", ".", "..", "a/b", "a\\b", "a\0b"))
    assert is_inside_path("Images/t/a.jpg") and is_inside_path("a/../b")
    assert not any(is_inside_path(p) for p in ("", ".", "a/..", "../a", "/a", "C:a", "C:\\a", "\\\\srv\\a"))
    assert file_in("out", "t.csv") == os.path.join("out", "t.csv")
    with pytest.raises(ValueError, match="task file '../t.csv' cannot be used as a file name"):
        file_in("out", "../t.csv", "task file")


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "..", "a\\b"])
def test_jd_ids_that_are_paths_are_refused(tmp_path, bad_id):
    train = _write_text(tmp_path / "train.txt", f"ok,http://h/1.jpg,0,1\n{bad_id},http://h/2.jpg,1,0\n")
    with pytest.raises(DataFormatError, match=r"train\.txt:2: expected an id usable as a file name"):
        read_jd_train(train, n_labels=None)
    test = _write_text(tmp_path / "test.txt", f"{bad_id},http://h/2.jpg\n")
    with pytest.raises(DataFormatError, match=r"test\.txt:1: expected an id usable as a file name"):
        read_jd_test(test)


def test_probabilities_keep_every_float32_digit():
    # The two largest float32 values below 1: 1 - 2**-24 and 1 - 2**-23. At 6 decimals
    # both were "1.000000"; with 9 significant digits each reads back exactly.
    probs = np.array([1 - 2 ** -24, 1 - 2 ** -23, 2 ** -24, 1e-30], dtype=np.float32)
    text = format_probs(probs)
    assert np.array_equal(np.array(text.split(";"), dtype=np.float32), probs)
    assert len(set(text.split(";")[:2])) == 2


def test_confident_rows_are_ranked_by_their_values_not_their_order(tmp_path):
    """Two rows of one task, both very sure: row 1 (wrong) at 1 - 2**-23, row 2 (right)
    at 1 - 2**-24. Ranked by value: right, wrong -> precision@1 = 1, @2 = 1/2, AP 0.75.
    Rounded to 6 decimals both are 1.000000 and the stable sort keeps file order:
    wrong, right -> 0, 1/2, AP 0.25."""
    q = tmp_path / "Tests/question.csv"
    write_csv(str(q), [["Images/t/1.jpg", "t", "?"], ["Images/t/2.jpg", "t", "?"]])
    rows = read_question_file(str(q))
    top = np.array([1 - 2 ** -23, 1 - 2 ** -24], dtype=np.float32)
    probs = np.stack([top, 1 - top], axis=1)          # value 0 is the argmax of both rows
    os.makedirs(tmp_path / "pred")
    write_predictions(str(tmp_path / "pred/t.csv"), rows, probs)
    merge(str(q), str(tmp_path / "pred"), str(tmp_path / "submission.csv"), log=lambda *_: None)
    answers = tmp_path / "answers.csv"
    write_csv(str(answers), [["Images/t/1.jpg", "t", "ny"], ["Images/t/2.jpg", "t", "yn"]])
    assert evaluate(str(tmp_path / "submission.csv"), str(answers))["t"]["map"] == 0.75
