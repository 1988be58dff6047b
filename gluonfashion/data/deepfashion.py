"""Readers and writers of the DeepFashion Category-and-Attribute Prediction benchmark.

The lists, as distributed (each: a count line, a header line, then one row per entry,
fields separated by any whitespace; image names are paths such as ``img/X/img_1.jpg``):

* ``Anno/list_category_cloth.txt``  ``category_name category_type`` (1 upper, 2 lower,
  3 full body); a name may contain spaces, the type is the last field;
* ``Anno/list_category_img.txt``    ``image_name category_label`` (1-based row of the
  category list);
* ``Anno/list_attr_cloth.txt``      ``attribute_name attribute_type`` (1 texture,
  2 fabric, 3 shape, 4 part, 5 style); names may contain spaces;
* ``Anno/list_attr_img.txt``        ``image_name`` then one value per attribute: 1 present,
  -1 absent, 0 unknown (some releases);
* ``Anno/list_bbox.txt``            ``image_name x_1 y_1 x_2 y_2`` (pixels, upper left and
  lower right corner);
* ``Eval/list_eval_partition.txt``  ``image_name evaluation_status`` (train / val / test).

``Anno/list_landmarks.txt`` is part of the benchmark too; the kit does not use it.

A row that does not have its expected form raises ``DataFormatError`` (file, line and
what was expected). What is wrong with the data as a whole is reported, not fatal: a
count line that disagrees with the rows, images missing from one of the lists or from
the partition (they are left out), repeated images. ``read_benchmark`` joins the lists
and returns those reports with the data.

The kit's own files (written by ``predict``, read by ``evaluate`` and ensembles):

* predictions  ``image_name,categories,attributes``: the 5 best category ids and the 5
  best attribute ids (1-based as in the lists), space-separated, best first;
* scores       ``image_name,c1,...,cC,a1,...,aA``: category probabilities (softmax)
  then attribute probabilities (sigmoid); the header says which column is which;
* truth        ``image_name,category,attributes``: the category id and the ids of the
  present attributes, space-separated (validation truth of a run).
"""
import csv
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from .errors import DataFormatError

__all__ = [
    "CATEGORY_TYPES", "ATTRIBUTE_TYPES", "PARTITIONS", "Benchmark", "read_names", "read_image_values",
    "read_attribute_values", "read_partition", "read_benchmark", "write_list", "top_ids", "write_predictions",
    "read_predictions", "write_scores", "read_scores", "write_truth", "read_truth",
]

CATEGORY_TYPES = {1: "upper", 2: "lower", 3: "full"}
ATTRIBUTE_TYPES = {1: "texture", 2: "fabric", 3: "shape", 4: "part", 5: "style"}
PARTITIONS = ("train", "val", "test")


# ---------------------------------------------------------------- the list layout

def _rows(path):
    """``(declared count, [(line number, text)])`` of a list file: its count line, its
    header line (skipped), then the non-blank rows."""
    with open(path, encoding="utf-8-sig") as f:
        lines = [(n, line.strip()) for n, line in enumerate(f, 1)]
    lines = [(n, text) for n, text in lines if text]
    if not lines:
        raise DataFormatError(path, 1, "a count line, a header line and rows", "an empty file")
    line_no, text = lines[0]
    try:
        declared = int(text)
    except ValueError:
        raise DataFormatError(path, line_no, "the number of rows on the first line", text) from None
    if len(lines) < 2:
        raise DataFormatError(path, line_no + 1, "a header line after the count")
    return declared, lines[2:]


def _count_note(path, declared, found):
    if declared == found:
        return []
    return [f"{path}: the count line says {declared} rows but the file has {found}"]


def _int_field(path, line_no, text, expected, allowed=None):
    try:
        value = int(text)
    except ValueError:
        raise DataFormatError(path, line_no, expected, text) from None
    if allowed is not None and value not in allowed:
        raise DataFormatError(path, line_no, expected, text)
    return value


def read_names(path, types):
    """``(names, types (N,) int, notes)`` of a category or attribute list; ``types``
    maps the allowed type numbers to their names."""
    declared, rows = _rows(path)
    expected = f"a name then its type, one of {', '.join(f'{k} ({v})' for k, v in types.items())}"
    names, kinds = [], []
    for line_no, text in rows:
        fields = text.rsplit(None, 1)
        if len(fields) != 2:
            raise DataFormatError(path, line_no, expected, text)
        names.append(fields[0])
        kinds.append(_int_field(path, line_no, fields[1], expected, types))
    if not names:
        raise DataFormatError(path, None, "at least one row after the header")
    return names, np.array(kinds, dtype=np.int64), _count_note(path, declared, len(names))


def _first_seen(path, names, line_numbers):
    """Refuse an image listed twice, naming both lines."""
    seen = {}
    for name, line_no in zip(names, line_numbers):
        if name in seen:
            raise DataFormatError(path, line_no, f"each image once ({name} is also on line {seen[name]})")
        seen[name] = line_no


def read_image_values(path, n_values, expected, parse):
    """``(image names, [parsed values], notes)`` of a list with one row per image: the
    name then ``n_values`` fields, ``parse(fields) -> value`` (raising ``ValueError``
    on a bad field); ``expected`` describes a row for errors."""
    declared, rows = _rows(path)
    names, values, line_numbers = [], [], []
    for line_no, text in rows:
        fields = text.split()
        if len(fields) != n_values + 1:
            raise DataFormatError(path, line_no, expected, text)
        try:
            values.append(parse(fields[1:]))
        except ValueError:
            raise DataFormatError(path, line_no, expected, text) from None
        names.append(fields[0])
        line_numbers.append(line_no)
    _first_seen(path, names, line_numbers)
    return names, values, _count_note(path, declared, len(names))


def read_attribute_values(path, n_attributes):
    """``(image names, values (N, A) int8, notes)`` of ``list_attr_img.txt``: 1 present,
    -1 absent, 0 unknown. Rows are parsed with NumPy (the real list has a million
    values per thousand images); a bad row is read again to name what is wrong."""
    declared, rows = _rows(path)
    expected = f"an image name then {n_attributes} attribute values, each 1, -1 or 0"
    names, line_numbers = [], []
    values = np.empty((len(rows), n_attributes), dtype=np.int8)
    for i, (line_no, text) in enumerate(rows):
        parts = text.split(None, 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)   # fromstring's note on a bad field
            row = np.fromstring(parts[1], dtype=np.int64, sep=" ") if len(parts) == 2 else np.empty(0)
        if row.size != n_attributes or not np.isin(row, (-1, 0, 1)).all():
            fields = parts[1].split() if len(parts) == 2 else []
            bad = next((f for f in fields if f not in ("1", "-1", "0")), None)
            raise DataFormatError(path, line_no, expected, f"{len(fields)} values" if bad is None else bad)
        values[i] = row
        names.append(parts[0])
        line_numbers.append(line_no)
    _first_seen(path, names, line_numbers)
    return names, values, _count_note(path, declared, len(names))


# ---------------------------------------------------------------- the joined benchmark

@dataclass
class Benchmark:
    """The lists of one benchmark folder, joined on the image name.

    ``images`` are the images present in every list (category, attributes, box,
    partition), in the order of the category list; ``category`` is 0-based;
    ``attributes`` holds 1 / -1 / 0 (unknown); ``boxes`` are ``x1 y1 x2 y2``.
    ``notes`` are the reports of what was wrong with the data as a whole.
    """
    categories: list
    category_types: np.ndarray
    attributes: list
    attribute_types: np.ndarray
    images: list
    category: np.ndarray
    values: np.ndarray
    boxes: np.ndarray
    partition: np.ndarray
    notes: list = field(default_factory=list)

    def rows(self, partition):
        """Indices of the images of one partition (``train``, ``val`` or ``test``)."""
        return np.flatnonzero(self.partition == partition)

    def truth(self, rows):
        """``(len(rows), C + A)`` 0/1: the one-hot category then the present attributes."""
        out = np.zeros((len(rows), len(self.categories) + len(self.attributes)), dtype=np.uint8)
        out[np.arange(len(rows)), self.category[rows]] = 1
        out[:, len(self.categories):] = self.values[rows] == 1
        return out


def read_partition(path):
    """``(image names, statuses, notes)`` of ``list_eval_partition.txt``."""
    return read_image_values(path, 1, f"an image name then its evaluation status, one of {', '.join(PARTITIONS)}",
                             lambda f: _one_of(f[0], PARTITIONS))


def _missing_note(what, names, present):
    missing = [n for n in names if n not in present]
    if not missing:
        return []
    return [f"{len(missing)} images of the category list are not in {what} (e.g. {missing[0]}): left out"]


def read_benchmark(paths, zero_means="unknown"):
    """Read and join the lists named by ``paths`` (keys ``category_names``,
    ``categories``, ``attribute_names``, ``attributes``, ``boxes``, ``partition``).

    ``zero_means``: ``unknown`` (0 stays 0, masked in the loss) or ``absent`` (0 is
    read as -1, for a release that writes absent attributes as 0).
    """
    categories, category_types, notes = read_names(paths["category_names"], CATEGORY_TYPES)
    attributes, attribute_types, more = read_names(paths["attribute_names"], ATTRIBUTE_TYPES)
    notes += more
    n_cat = len(categories)
    cat_names, cat_labels, more = read_image_values(
        paths["categories"], 1, f"an image name then its category label, 1..{n_cat}",
        lambda f: _in_range(int(f[0]), 1, n_cat))
    notes += more
    attr_names, values, more = read_attribute_values(paths["attributes"], len(attributes))
    notes += more
    if zero_means == "absent":
        values[values == 0] = -1
    box_names, boxes, more = read_image_values(
        paths["boxes"], 4, "an image name then x_1 y_1 x_2 y_2, integers with x_1 < x_2 and y_1 < y_2",
        _box)
    notes += more
    part_names, parts, more = read_partition(paths["partition"])
    notes += more

    attr_at = {n: i for i, n in enumerate(attr_names)}
    box_at = {n: i for i, n in enumerate(box_names)}
    part_at = {n: i for i, n in enumerate(part_names)}
    notes += _missing_note(paths["attributes"], cat_names, attr_at)
    notes += _missing_note(paths["boxes"], cat_names, box_at)
    notes += _missing_note(f"the partition {paths['partition']}", cat_names, part_at)
    listed = set(cat_names)
    unlabelled = [n for n in part_names if n not in listed]
    if unlabelled:
        notes.append(f"{len(unlabelled)} images of {paths['partition']} have no category "
                     f"(e.g. {unlabelled[0]}): left out")
    keep = [i for i, n in enumerate(cat_names) if n in attr_at and n in box_at and n in part_at]
    images = [cat_names[i] for i in keep]
    return Benchmark(
        categories, category_types, attributes, attribute_types, images,
        np.array([cat_labels[i] - 1 for i in keep], dtype=np.int64),
        values[[attr_at[n] for n in images]] if images else np.zeros((0, len(attributes)), np.int8),
        np.array([boxes[box_at[n]] for n in images], dtype=np.int64).reshape(-1, 4),
        np.array([parts[part_at[n]] for n in images], dtype=object), notes)


def _in_range(value, low, high):
    if not low <= value <= high:
        raise ValueError(value)
    return value


def _one_of(text, allowed):
    if text not in allowed:
        raise ValueError(text)
    return text


def _box(fields):
    x1, y1, x2, y2 = (int(f) for f in fields)
    if x1 >= x2 or y1 >= y2:
        raise ValueError(fields)
    return x1, y1, x2, y2


def write_list(path, header, rows):
    """A list in the benchmark's layout: the count, the header, then the rows (fields
    joined by spaces, the first one padded as in the distributed files)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    width = max([len(str(r[0])) for r in rows] + [0]) + 2
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"{len(rows)}\n{header}\n")
        for first, *rest in rows:
            f.write(f"{str(first):<{width}}{' '.join(str(v) for v in rest)}\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------- the kit's files

def top_ids(scores, k):
    """1-based ids of the ``k`` highest scores of each row, best first (ties: lower id)."""
    k = min(k, scores.shape[1])
    return np.argsort(-scores, axis=1, kind="stable")[:, :k] + 1


def _write_csv(path, rows):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    os.replace(tmp, path)


def _read_csv(path, header, n_fields=None):
    """Rows (after the header) of a kit file, each with the header's field count."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][:len(header)] != header:
        raise DataFormatError(path, 1, f"the header {','.join(header)}{',...' if n_fields is None else ''}",
                              ",".join(rows[0]) if rows else "an empty file")
    width = n_fields or len(rows[0])
    for line_no, row in enumerate(rows[1:], 2):
        if len(row) != width:
            raise DataFormatError(path, line_no, f"{width} comma-separated fields", ",".join(row))
    return rows[0], rows[1:]


def write_predictions(path, images, scores, n_categories, k=5):
    """``image_name,categories,attributes``: the ``k`` best ids of each, best first."""
    cats, atts = top_ids(scores[:, :n_categories], k), top_ids(scores[:, n_categories:], k)
    _write_csv(path, [("image_name", "categories", "attributes")] + [
        (name, " ".join(map(str, c)), " ".join(map(str, a))) for name, c, a in zip(images, cats, atts)])


def _id_list(path, line_no, text, what):
    try:
        return [int(v) for v in text.split()]
    except ValueError:
        raise DataFormatError(path, line_no, f"space-separated {what} ids", text) from None


def read_predictions(path):
    """``(image names, [category ids], [attribute ids])`` of a predictions file."""
    _, rows = _read_csv(path, ["image_name", "categories", "attributes"], 3)
    return ([r[0] for r in rows], [_id_list(path, n, r[1], "category") for n, r in enumerate(rows, 2)],
            [_id_list(path, n, r[2], "attribute") for n, r in enumerate(rows, 2)])


def write_scores(path, images, scores, n_categories):
    """``image_name,c1..cC,a1..aA`` with one probability per column."""
    n_attributes = scores.shape[1] - n_categories
    header = (["image_name"] + [f"c{i}" for i in range(1, n_categories + 1)]
              + [f"a{i}" for i in range(1, n_attributes + 1)])
    _write_csv(path, [header] + [[name] + [f"{v:.6g}" for v in row] for name, row in zip(images, scores)])


def read_scores(path):
    """``(image names, scores (N, C + A) float32, n_categories)`` of a scores file."""
    header, rows = _read_csv(path, ["image_name"])
    columns = header[1:]
    n_cat = sum(1 for c in columns if c.startswith("c"))
    wanted = [f"c{i}" for i in range(1, n_cat + 1)] + [f"a{i}" for i in range(1, len(columns) - n_cat + 1)]
    if columns != wanted or not n_cat:
        raise DataFormatError(path, 1, "the header image_name,c1,...,cC,a1,...,aA", ",".join(header))
    scores = np.empty((len(rows), len(columns)), dtype=np.float32)
    for i, row in enumerate(rows):
        try:
            scores[i] = [float(v) for v in row[1:]]
        except ValueError:
            raise DataFormatError(path, i + 2, "a probability per column", ",".join(row)) from None
    if not np.all(np.isfinite(scores)):
        raise DataFormatError(path, None, "finite probabilities")
    return [r[0] for r in rows], scores, n_cat


def write_truth(path, images, truth, n_categories):
    """``image_name,category,attributes`` from a 0/1 truth matrix (``Benchmark.truth``)."""
    cats = truth[:, :n_categories].argmax(axis=1) + 1
    _write_csv(path, [("image_name", "category", "attributes")] + [
        (name, int(c), " ".join(str(i + 1) for i in np.flatnonzero(row[n_categories:])))
        for name, c, row in zip(images, cats, truth)])


def read_truth(path, n_categories, n_attributes):
    """``(image names, truth (N, C + A) uint8)`` of a truth file."""
    _, rows = _read_csv(path, ["image_name", "category", "attributes"], 3)
    truth = np.zeros((len(rows), n_categories + n_attributes), dtype=np.uint8)
    for i, (line_no, row) in enumerate(zip(range(2, len(rows) + 2), rows)):
        category = _id_list(path, line_no, row[1], "category")
        attributes = _id_list(path, line_no, row[2], "attribute")
        if (len(category) != 1 or not 1 <= category[0] <= n_categories
                or any(not 1 <= a <= n_attributes for a in attributes)):
            raise DataFormatError(path, line_no, f"a category id in 1..{n_categories} and attribute ids in "
                                  f"1..{n_attributes}", ",".join(row))
        truth[i, category[0] - 1] = 1
        truth[i, [n_categories + a - 1 for a in attributes]] = 1
    return [r[0] for r in rows], truth
