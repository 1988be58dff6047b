"""DeepFashion lists: reading and joining them, bad rows, the kit's files, box crops."""
import os

import numpy as np
import pytest

from gluonfashion.data import crops as crops_module
from gluonfashion.data.crops import crop_path, cut, make_crops
from gluonfashion.data.deepfashion import (read_benchmark, read_predictions, read_scores, read_truth, write_list,
                                           write_predictions, write_scores, write_truth)
from gluonfashion.data.errors import DataFormatError
from gluonfashion.families.deepfashion import loss_targets

CATEGORY_ROWS = [("a.jpg", 1), ("b.jpg", 2), ("c.jpg", 1), ("d.jpg", 2)]
ATTRIBUTE_ROWS = [("a.jpg", 1, -1, 0), ("b.jpg", -1, 1, 1), ("c.jpg", 1, 1, -1), ("d.jpg", -1, -1, -1)]
BOX_ROWS = [("a.jpg", 1, 2, 5, 6), ("b.jpg", 0, 0, 4, 4), ("c.jpg", 2, 2, 8, 9), ("d.jpg", 0, 0, 3, 3)]
PARTITION_ROWS = [("a.jpg", "train"), ("b.jpg", "val"), ("c.jpg", "test")]     # d.jpg is in none


def write_benchmark(root, **replace):
    """A benchmark folder; ``replace`` swaps one list's rows (key: category, attributes, ...)."""
    lists = {
        "category_names": ("Anno/list_category_cloth.txt", "category_name  category_type", [("Tee", 1), ("Skirt", 2)]),
        "attribute_names": ("Anno/list_attr_cloth.txt", "attribute_name  attribute_type",
                            [("striped", 1), ("denim", 2), ("long sleeve", 3)]),
        "categories": ("Anno/list_category_img.txt", "image_name  category_label", CATEGORY_ROWS),
        "attributes": ("Anno/list_attr_img.txt", "image_name  attribute_labels", ATTRIBUTE_ROWS),
        "boxes": ("Anno/list_bbox.txt", "image_name  x_1  y_1  x_2  y_2", BOX_ROWS),
        "partition": ("Eval/list_eval_partition.txt", "image_name  evaluation_status", PARTITION_ROWS),
    }
    paths = {}
    for key, (rel, header, rows) in lists.items():
        paths[key] = os.path.join(root, rel)
        write_list(paths[key], header, replace.get(key, rows))
    return paths


def test_lists_are_joined_on_the_image_name_and_problems_reported(tmp_path):
    paths = write_benchmark(tmp_path)
    with open(paths["categories"]) as f:
        lines = f.read().split("\n")
    with open(paths["categories"], "w") as f:     # a count line that disagrees with the 4 rows
        f.write("\n".join(["5"] + lines[1:]))
    bench = read_benchmark(paths)
    assert bench.images == ["a.jpg", "b.jpg", "c.jpg"]          # d.jpg has no partition: left out
    assert bench.attributes == ["striped", "denim", "long sleeve"]  # names may contain spaces
    assert bench.category.tolist() == [0, 1, 0]                 # 1-based labels, 0-based here
    assert bench.values.tolist() == [[1, -1, 0], [-1, 1, 1], [1, 1, -1]]
    assert bench.boxes.tolist()[2] == [2, 2, 8, 9]
    assert bench.rows("val").tolist() == [1] and bench.rows("test").tolist() == [2]
    notes = " | ".join(bench.notes)
    assert "the count line says 5 rows but the file has 4" in notes
    assert "1 images of the category list are not in the partition" in notes and "d.jpg" in notes
    # truth: one-hot category, then present attributes; the unknown (0) is not present
    assert bench.truth(np.array([0, 1])).tolist() == [[1, 0, 1, 0, 0], [0, 1, 0, 1, 1]]
    # loss targets: present 1, absent 0, unknown -1
    assert loss_targets(bench, np.array([0])).tolist() == [[1, 0, 1, 0, -1]]
    assert read_benchmark(paths, zero_means="absent").values[0].tolist() == [1, -1, -1]


@pytest.mark.parametrize("key, rows, where, expected", [
    ("attributes", [("a.jpg", 1, 2, 0)] + ATTRIBUTE_ROWS[1:], "list_attr_img.txt:3", "got '2'"),
    ("attributes", [("a.jpg", 1, -1)] + ATTRIBUTE_ROWS[1:], "list_attr_img.txt:3", "3 attribute values, each 1, -1 or 0, got '2 values'"),
    ("categories", CATEGORY_ROWS[:1] + [("b.jpg", 3)] + CATEGORY_ROWS[2:], "list_category_img.txt:4",
     "category label, 1..2"),
    ("boxes", [("a.jpg", 5, 2, 1, 6)] + BOX_ROWS[1:], "list_bbox.txt:3", "x_1 < x_2"),
    ("partition", [("a.jpg", "dev")] + PARTITION_ROWS[1:], "list_eval_partition.txt:3", "train, val, test"),
    ("category_names", [("Tee",), ("Skirt", 2)], "list_category_cloth.txt:3", "a name then its type"),
    ("category_names", [("Tee", 4), ("Skirt", 2)], "list_category_cloth.txt:3", "3 (full)"),
    ("boxes", BOX_ROWS + [("a.jpg", 1, 2, 5, 6)], "list_bbox.txt:7", "each image once (a.jpg is also on line 3)"),
])
def test_a_bad_row_names_file_line_and_what_was_expected(tmp_path, key, rows, where, expected):
    paths = write_benchmark(tmp_path, **{key: rows})
    with pytest.raises(DataFormatError) as err:
        read_benchmark(paths)
    assert where in str(err.value) and expected in str(err.value)


def test_a_count_line_that_is_no_number(tmp_path):
    paths = write_benchmark(tmp_path)
    with open(paths["boxes"]) as f:
        text = f.read()
    with open(paths["boxes"], "w") as f:
        f.write("many" + text[text.index("\n"):])
    with pytest.raises(DataFormatError, match=r"list_bbox.txt:1: expected the number of rows on the first line"):
        read_benchmark(paths)


def test_predictions_scores_and_truth_files_round_trip(tmp_path):
    scores = np.array([[0.1, 0.7, 0.2, 0.9, 0.3, 0.5, 0.1, 0.6, 0.2],
                       [0.5, 0.3, 0.2, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]], np.float32)   # 3 categories, 6 attributes
    write_predictions(tmp_path / "p.csv", ["x.jpg", "y.jpg"], scores, 3)
    names, cats, atts = read_predictions(tmp_path / "p.csv")
    # x: categories by score 0.7 (id 2), 0.2 (3), 0.1 (1); attributes 0.9 (1), 0.6 (5), 0.5 (3), 0.3 (2), 0.2 (6)
    assert names == ["x.jpg", "y.jpg"] and cats[0] == [2, 3, 1] and atts[0] == [1, 5, 3, 2, 6]
    # y: attributes 0.6 (6), 0.5 (5), 0.4 (4), 0.3 (3), then 0.2 twice: the lower id (2) first
    assert atts[1] == [6, 5, 4, 3, 2]
    write_scores(tmp_path / "s.csv", names, scores, 3)
    back_names, back, n_cat = read_scores(tmp_path / "s.csv")
    assert back_names == names and n_cat == 3 and np.allclose(back, scores)
    truth = np.array([[0, 1, 0, 1, 0, 0, 0, 1, 0], [1, 0, 0, 0, 0, 0, 0, 0, 0]], np.uint8)
    write_truth(tmp_path / "t.csv", names, truth, 3)
    assert open(tmp_path / "t.csv").read().splitlines()[1:] == ["x.jpg,2,1 5", "y.jpg,1,"]
    assert np.array_equal(read_truth(tmp_path / "t.csv", 3, 6)[1], truth)
    with open(tmp_path / "bad.csv", "w") as f:
        f.write("image_name,c1,a1,c2\nx.jpg,0.1,0.2,0.3\n")
    with pytest.raises(DataFormatError, match="bad.csv:1: expected the header image_name,c1,...,cC,a1,...,aA"):
        read_scores(tmp_path / "bad.csv")


def test_cut_widens_clips_and_resizes():
    img = np.tile(np.arange(10, dtype=np.uint8)[None, :, None], (8, 1, 3))   # 8 x 10, value = column
    crop, outside = cut(img, (2, 1, 6, 5), side=0)
    assert crop.shape == (4, 4, 3) and crop[0, :, 0].tolist() == [2, 3, 4, 5] and not outside
    # margin 0.25 of a 4 x 4 box: one pixel more on every side -> columns 1..6, rows 0..5
    crop, outside = cut(img, (2, 1, 6, 5), side=0, margin=0.25)
    assert crop.shape == (6, 6, 3) and crop[0, :, 0].tolist() == [1, 2, 3, 4, 5, 6] and not outside
    # a margin that passes the edge is clipped, and the box itself is inside: no report
    crop, outside = cut(img, (0, 0, 10, 8), side=0, margin=0.25)
    assert crop.shape == (8, 10, 3) and not outside
    crop, outside = cut(img, (-3, 2, 4, 12), side=0)         # clipped to columns 0..3, rows 2..7
    assert crop.shape == (6, 4, 3) and outside
    assert cut(img, (12, 0, 15, 3), side=0) == (None, True)   # nothing of it inside the image
    assert cut(img, (2, 1, 6, 5), side=7)[0].shape == (7, 7, 3)


def test_crops_are_made_once_reported_and_named_by_their_box(tmp_path, monkeypatch):
    import cv2
    os.makedirs(tmp_path / "img")
    cv2.imwrite(str(tmp_path / "img/a.jpg"), np.full((20, 30, 3), 128, np.uint8))
    names, boxes = ["img/a.jpg", "img/missing.jpg", "img/a.jpg"], np.array([[2, 2, 12, 10], [0, 0, 5, 5],
                                                                             [20, 5, 40, 15]])
    result = make_crops(str(tmp_path), names, boxes, str(tmp_path / "crops"), side=16, workers=2, progress=False)
    assert result.ok.tolist() == [True, False, True]
    assert result.problems[0][0] == "img/missing.jpg" and "not found" in result.problems[0][1]
    assert result.clipped == ["img/a.jpg"]                    # the third box reaches past x = 30
    assert result.paths[0] == crop_path(str(tmp_path / "crops/s16_m0"), "img/a.jpg", (2, 2, 12, 10))
    assert result.paths[0].endswith("img/a_2_2_12_10.jpg")
    assert cv2.imread(result.paths[0]).shape == (16, 16, 3)

    def no_second_decode(*args):
        raise AssertionError("an existing crop was made again")
    monkeypatch.setattr(crops_module, "decode_image", no_second_decode)
    again = make_crops(str(tmp_path), names[:1], boxes[:1], str(tmp_path / "crops"), side=16, progress=False)
    assert again.ok.tolist() == [True] and again.paths == result.paths[:1]
