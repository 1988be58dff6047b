"""Readers and writers for the JD Fashion-Challenge style files.

Formats (one row per image, comma-separated, no quoting):

* ``train.txt``      ``id,url,l1,...,l13``   labels 0/1 in the order of ``JD_STYLES``
* ``test.txt``       ``id,url``
* submission / answers ``id,l1,...,l13``     0/1
* probabilities      ``id,p1,...,p13``       floats in [0, 1], with a header
  ``id,<style names>`` (written by the kit, e.g. for ensembling)

Ids name the image files (``<id>.jpg``), so an id with a path separator, or ``.`` or
``..``, is a bad row. Blank lines (including a trailing newline) are skipped anywhere. An optional header is
recognised on the first non-blank line only, and only when it cannot be a data row: its
first field is ``id`` (any case) and either one of its value fields does not parse as a
value (for example ``id,url,sports,...``) or, for ``test.txt``, it is exactly ``id,url``.
Any other bad row raises :class:`DataFormatError` naming the file and line.

The label count is 13 by default; ``n_labels=None`` infers it from the first data row,
for user datasets with another number of labels (every row must then agree).
"""
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from ..tasks import JD_STYLES
from .errors import DataFormatError
from .paths import is_plain_name

__all__ = [
    "read_jd_train", "read_jd_test", "read_jd_answers", "read_jd_probabilities",
    "write_jd_train", "write_jd_test", "write_jd_submission", "write_jd_probabilities",
    "atomic_write_text", "style_names",
]


# --------------------------------------------------------------------------- reading

def _parse_binary(text):
    if text not in ("0", "1"):
        raise ValueError(text)
    return int(text)


def _parse_probability(text):
    value = float(text)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(text)
    return value


def _is_header(fields, n_text, parse_value):
    """True when the first line is a header that cannot be mistaken for a data row."""
    if fields[0].lower() != "id":
        return False
    values = fields[n_text:]
    if not values:  # id,url only: a header when the url column is literally "url"
        return [f.lower() for f in fields] == ["id", "url"]
    for v in values:
        try:
            parse_value(v)
        except ValueError:
            return True
    return False


def _layout(n_text, n_labels, value_desc):
    """Human-readable row layout for error messages, e.g. 'id,url and 13 labels 0/1'."""
    text = "id,url" if n_text == 2 else "id"
    return f"{text} and {n_labels} {value_desc}" if n_labels else text


def _read_table(path, n_text, n_labels, parse_value, value_desc):
    """Read rows of ``n_text`` text fields (id first) followed by ``n_labels`` values.

    ``n_labels=None`` takes the count from the first data row. Returns
    ``(text_columns, values, n_labels)``: ``n_text`` lists of strings and the list of
    parsed value rows. Checks column counts, value syntax, unique ids, non-empty fields.
    """
    columns = [[] for _ in range(n_text)]
    values, first_line_of = [], {}
    header_possible = True
    with open(path, encoding="utf-8-sig", newline="") as f:
        for line_no, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            fields = [x.strip() for x in line.split(",")]
            if header_possible:
                header_possible = False
                if _is_header(fields, n_text, parse_value):
                    continue
            if n_labels is None:
                n_labels = len(fields) - n_text
                if n_labels < 1:
                    raise DataFormatError(
                        path, line_no, f"{_layout(n_text, 0, '')} and at least one "
                        f"column of {value_desc}", got=line)
            n_cols = n_text + n_labels
            if len(fields) != n_cols:
                raise DataFormatError(
                    path, line_no, f"{n_cols} comma-separated fields "
                    f"({_layout(n_text, n_labels, value_desc)})", got=line)
            for text, name in zip(fields[:n_text], ("id", "url")):
                if not text:
                    raise DataFormatError(path, line_no, f"a non-empty {name}", got=line)
            row_id = fields[0]
            if not is_plain_name(row_id):
                raise DataFormatError(path, line_no, "an id usable as a file name (images are "
                                      "<id>.jpg): no path separator, not '.' or '..'", got=line)
            if row_id in first_line_of:
                raise DataFormatError(
                    path, line_no, f"unique ids (id {row_id!r} is already on line "
                    f"{first_line_of[row_id]})", got=line)
            first_line_of[row_id] = line_no
            try:
                values.append([parse_value(v) for v in fields[n_text:]])
            except ValueError:
                raise DataFormatError(
                    path, line_no, f"{value_desc} in columns {n_text + 1}..{n_cols}",
                    got=line) from None
            for column, text in zip(columns, fields):
                column.append(text)
    return columns, values, (n_labels or 0)


def _read_labels(path, n_text, n_labels):
    columns, values, n = _read_table(path, n_text, n_labels, _parse_binary, "labels 0/1")
    labels = np.array(values, dtype=np.uint8).reshape(len(values), n)
    return columns, labels


def read_jd_train(path, n_labels=13):
    """Read ``train.txt`` rows ``id,url,l1..lL``.

    Returns ``(ids, urls, labels)`` with ``labels`` a ``uint8`` array of shape (N, L).
    ``n_labels=None`` infers L from the first data row.
    """
    (ids, urls), labels = _read_labels(path, 2, n_labels)
    return ids, urls, labels


def read_jd_test(path):
    """Read ``test.txt`` rows ``id,url``; returns ``(ids, urls)``."""
    (ids, urls), _, _ = _read_table(path, 2, 0, _parse_binary, "")
    return ids, urls


def read_jd_answers(path, n_labels=13):
    """Read a submission or an answer file, rows ``id,l1..lL`` (0/1).

    Returns ``(ids, labels)`` with ``labels`` a ``uint8`` array of shape (N, L).
    """
    (ids,), labels = _read_labels(path, 1, n_labels)
    return ids, labels


def read_jd_probabilities(path, n_labels=None):
    """Read a probability file, rows ``id,p1..pL`` (header optional).

    Returns ``(ids, probs)`` with ``probs`` a ``float32`` array of shape (N, L); L is
    inferred from the data unless ``n_labels`` is given.
    """
    (ids,), values, n = _read_table(
        path, 1, n_labels, _parse_probability, "probabilities in [0, 1]")
    return ids, np.array(values, dtype=np.float32).reshape(len(values), n)


# --------------------------------------------------------------------------- writing

def atomic_write_text(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same folder.

    ``os.replace`` is atomic, so a reader sees either the old file or the complete new
    one, never a half-written file (e.g. after Ctrl-C during a long prediction run).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def style_names(n_labels):
    """Column names for ``n_labels`` labels: the JD styles for 13, generic otherwise."""
    return list(JD_STYLES) if n_labels == len(JD_STYLES) else [
        f"label_{i}" for i in range(n_labels)]


def _check_text_column(values, name):
    for v in values:
        v = str(v)
        if not v or any(c in v for c in ",\r\n"):
            raise ValueError(f"{name} {v!r} is empty or contains a comma or newline")


def _check_ids(ids, n_rows):
    if len(ids) != n_rows:
        raise ValueError(f"{len(ids)} ids for {n_rows} rows")
    _check_text_column(ids, "id")
    if len(set(map(str, ids))) != len(ids):
        raise ValueError("ids are not unique")


def _check_urls(urls, n_rows):
    if len(urls) != n_rows:
        raise ValueError(f"{len(urls)} urls for {n_rows} rows")
    _check_text_column(urls, "url")


def _as_matrix(values):
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-d (N, L) array, got shape {values.shape}")
    return values


def _as_binary(binary):
    binary = _as_matrix(binary)
    if not np.isin(binary, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    return binary.astype(np.uint8)


def _write_rows(path, rows, header=None):
    lines = ([",".join(header)] if header else []) + [",".join(r) for r in rows]
    atomic_write_text(path, "".join(line + "\n" for line in lines))


def write_jd_train(path, ids, urls, labels):
    """Write ``train.txt`` rows ``id,url,l1..lL`` (atomically)."""
    labels = _as_binary(labels)
    _check_ids(ids, len(labels))
    _check_urls(urls, len(labels))
    _write_rows(path, ([str(i), str(u)] + [str(v) for v in row]
                       for i, u, row in zip(ids, urls, labels)))


def write_jd_test(path, ids, urls):
    """Write ``test.txt`` rows ``id,url`` (atomically)."""
    _check_ids(ids, len(urls))
    _check_urls(urls, len(urls))
    _write_rows(path, ([str(i), str(u)] for i, u in zip(ids, urls)))


def write_jd_submission(path, ids, binary):
    """Write a submission (or answer file), rows ``id,l1..lL`` with ints 0/1."""
    binary = _as_binary(binary)
    _check_ids(ids, len(binary))
    _write_rows(path, ([str(i)] + [str(v) for v in row] for i, row in zip(ids, binary)))


def write_jd_probabilities(path, ids, probs, names=None):
    """Write rows ``id,p1..pL`` under a header ``id,<names>`` (JD style names for 13).

    Values are written with 9 significant digits, enough to read every float32 back
    exactly: searched thresholds sit exactly on observed probabilities, so rounding
    would flip the boundary sample when the saved thresholds are applied again.
    """
    probs = _as_matrix(probs).astype(np.float64)
    if not (np.isfinite(probs).all() and (probs >= 0).all() and (probs <= 1).all()):
        raise ValueError("probabilities must be finite and in [0, 1]")
    _check_ids(ids, len(probs))
    names = style_names(probs.shape[1]) if names is None else list(names)
    if len(names) != probs.shape[1]:
        raise ValueError(f"{len(names)} names for {probs.shape[1]} columns")
    _check_text_column(names, "name")
    _write_rows(path, ([str(i)] + [f"{p:.9g}" for p in row] for i, row in zip(ids, probs)),
                header=["id"] + names)
