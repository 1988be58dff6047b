"""Which generator version and parameters made a demo dataset.

``gluonfashion demo-data`` skips a dataset whose stamp matches and remakes one whose
stamp differs, so demo data left over from an older kit is never trained on silently.
"""
import json
import os

STAMP_FILE = "demo.json"


def read_stamp(out_dir):
    path = os.path.join(out_dir, STAMP_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def is_current(out_dir, stamp, finished_file):
    """True when ``out_dir`` holds a finished dataset made with exactly ``stamp``."""
    return os.path.exists(os.path.join(out_dir, finished_file)) and read_stamp(out_dir) == stamp


def clear_stamp(out_dir):
    """Call before generating: an interrupted run must not keep the old stamp."""
    path = os.path.join(out_dir, STAMP_FILE)
    if os.path.exists(path):
        os.remove(path)


def write_stamp(out_dir, stamp):
    with open(os.path.join(out_dir, STAMP_FILE), "w", encoding="utf-8") as f:
        json.dump(stamp, f, indent=1, sort_keys=True)
