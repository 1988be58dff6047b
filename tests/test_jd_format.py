"""JD file formats: round trips, tolerated variations and located errors for bad rows."""
import numpy as np
import pytest

from gluonfashion.data.errors import DataFormatError
from gluonfashion.data.jd import (
    read_jd_answers, read_jd_probabilities, read_jd_test, read_jd_train,
    write_jd_probabilities, write_jd_submission, write_jd_test, write_jd_train)
from gluonfashion.tasks import JD_STYLES

IDS = ["a1", "b2", "c3"]
URLS = ["http://x/a1.jpg", "https://x/b2.jpg", "file:///tmp/c3.jpg"]
LABELS = np.array([[1] + [0] * 12, [0, 1] * 6 + [1], [0] * 12 + [1]], dtype=np.uint8)


def _row(i, labels, url=True):
    return ",".join([IDS[i]] + ([URLS[i]] if url else []) + [str(v) for v in labels])


def test_train_round_trip(tmp_path):
    path = tmp_path / "train.txt"
    write_jd_train(path, IDS, URLS, LABELS)
    ids, urls, labels = read_jd_train(path)
    assert ids == IDS and urls == URLS
    assert labels.dtype == np.uint8 and labels.shape == (3, 13)
    np.testing.assert_array_equal(labels, LABELS)


def test_test_and_submission_round_trip(tmp_path):
    write_jd_test(tmp_path / "test.txt", IDS, URLS)
    assert read_jd_test(tmp_path / "test.txt") == (IDS, URLS)
    write_jd_submission(tmp_path / "sub.txt", IDS, LABELS.astype(bool))
    ids, labels = read_jd_answers(tmp_path / "sub.txt")
    assert ids == IDS
    np.testing.assert_array_equal(labels, LABELS)
    assert (tmp_path / "sub.txt").read_text().splitlines()[1] == _row(1, LABELS[1], url=False)


def test_probabilities_round_trip_with_header(tmp_path):
    probs = np.random.default_rng(0).random((3, 13))
    path = tmp_path / "probs.txt"
    write_jd_probabilities(path, IDS, probs)
    assert path.read_text().splitlines()[0] == ",".join(["id"] + JD_STYLES)
    ids, back = read_jd_probabilities(path)
    assert ids == IDS and back.dtype == np.float32
    np.testing.assert_allclose(back, probs, atol=1e-6)


def test_other_label_counts(tmp_path):
    path = tmp_path / "user.txt"
    write_jd_train(path, IDS, URLS, LABELS[:, :4])
    ids, _, labels = read_jd_train(path, n_labels=None)
    assert labels.shape == (3, 4)
    with pytest.raises(DataFormatError):
        read_jd_train(path)  # 13 expected by default
    write_jd_probabilities(tmp_path / "p.txt", IDS, np.full((3, 2), 0.5))
    assert (tmp_path / "p.txt").read_text().startswith("id,label_0,label_1\n")
    assert read_jd_probabilities(tmp_path / "p.txt")[1].shape == (3, 2)


def test_header_blank_lines_and_crlf_are_tolerated(tmp_path):
    path = tmp_path / "train.txt"
    header = ",".join(["id", "url"] + JD_STYLES)
    text = "\r\n".join([header, _row(0, LABELS[0]), "", _row(1, LABELS[1]), "  "]) + "\r\n\n"
    path.write_text(text, newline="")
    ids, _, labels = read_jd_train(path)
    assert ids == IDS[:2] and labels.shape == (2, 13)
    (tmp_path / "test.txt").write_text("ID,URL\na1,http://x/a1.jpg\n")
    assert read_jd_test(tmp_path / "test.txt") == (["a1"], ["http://x/a1.jpg"])


def test_a_data_row_with_id_named_id_is_not_a_header(tmp_path):
    path = tmp_path / "answers.txt"
    path.write_text("id," + ",".join(["1"] * 13) + "\n")
    assert read_jd_answers(path)[0] == ["id"]


BAD_TRAIN_ROWS = {
    "too few columns": ("z9,http://x/z9.jpg,1,0", "15 comma-separated fields"),
    "label not 0/1": ("z9,http://x/z9.jpg," + ",".join(["2"] + ["0"] * 12), "labels 0/1"),
    "empty url": ("z9,," + ",".join(["1"] * 13), "non-empty url"),
    "empty id": (",http://x," + ",".join(["1"] * 13), "non-empty id"),
    "duplicate id": (_row(0, LABELS[1]), "already on line 1"),
}


@pytest.mark.parametrize("case", sorted(BAD_TRAIN_ROWS))
def test_bad_train_row_names_file_and_line(tmp_path, case):
    bad, expected = BAD_TRAIN_ROWS[case]
    path = tmp_path / "train.txt"
    path.write_text(_row(0, LABELS[0]) + "\n\n" + bad + "\n")
    with pytest.raises(DataFormatError) as info:
        read_jd_train(path)
    assert info.value.line == 3
    assert f"{path}:3" in str(info.value) and expected in str(info.value)


def test_bad_rows_in_the_other_files(tmp_path):
    cases = [
        (read_jd_test, "a1,http://x/a1.jpg,extra\n", "2 comma-separated fields"),
        (read_jd_answers, "a1," + ",".join(["1"] * 12) + "\n", "14 comma-separated"),
        (read_jd_probabilities, "a1,0.5,1.5\n", "probabilities in [0, 1]"),
        (read_jd_probabilities, "a1,0.5,nan\n", "probabilities in [0, 1]"),
    ]
    for k, (reader, text, expected) in enumerate(cases):
        path = tmp_path / f"bad{k}.txt"
        path.write_text(text)
        with pytest.raises(DataFormatError) as info:
            reader(path)
        assert f"{path}:1" in str(info.value) and expected in str(info.value)


def test_inferred_label_count_must_agree(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("a,http://x/a,1,0,1\nb,http://x/b,1,0\n")
    with pytest.raises(DataFormatError, match=r"train.txt:2: expected 5 comma-separated"):
        read_jd_train(path, n_labels=None)


def test_writers_reject_bad_input_and_leave_no_file(tmp_path):
    with pytest.raises(ValueError, match="0 or 1"):
        write_jd_submission(tmp_path / "s.txt", IDS, LABELS * 2)
    with pytest.raises(ValueError, match="comma"):
        write_jd_submission(tmp_path / "s.txt", ["a,b", "c", "d"], LABELS)
    with pytest.raises(ValueError, match="not unique"):
        write_jd_submission(tmp_path / "s.txt", ["a", "a", "b"], LABELS)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        write_jd_probabilities(tmp_path / "p.txt", IDS, LABELS * 1.5)
    assert list(tmp_path.iterdir()) == []


def test_writes_replace_atomically_without_temp_files(tmp_path):
    path = tmp_path / "sub.txt"
    path.write_text("old\n")
    write_jd_submission(path, IDS, LABELS)
    assert read_jd_answers(path)[0] == IDS
    assert [p.name for p in tmp_path.iterdir()] == ["sub.txt"]
