"""Make the demo datasets when they are missing or out of date.

Each dataset folder gets a stamp (``demo.json``): the generator's version and every
parameter it ran with. A folder whose stamp matches is used as it is; any other is
generated again, so demo data left over from an older kit is never trained on silently.
"""
import inspect
import json
import os

from ..checkpoint import load_json, save_json
from . import demo_deepfashion, demo_fashionai, demo_jd

STAMP_FILE = "demo.json"
# family -> (generator, its version, the file it writes last)
GENERATORS = {
    "fashionai": (demo_fashionai.generate_fashionai_demo, demo_fashionai.GENERATOR_VERSION,
                  "Annotations/label.csv"),
    "jd": (demo_jd.generate_jd_demo, demo_jd.GENERATOR_VERSION, "answers.txt"),
    "deepfashion": (demo_deepfashion.generate_deepfashion_demo, demo_deepfashion.GENERATOR_VERSION,
                    "Anno/list_category_img.txt"),
}


def stamp_of(family, params):
    """Version plus every parameter, defaults included, so equal stamps mean equal data."""
    generate, version, _ = GENERATORS[family]
    bound = inspect.signature(generate).bind("out", **params)
    bound.apply_defaults()
    args = {k: v for k, v in bound.arguments.items() if k not in ("out_dir", "progress")}
    return json.loads(json.dumps({"generator": version, **args}))   # as it reads back from disk


def read_stamp(out_dir):
    path = os.path.join(out_dir, STAMP_FILE)
    return load_json(path) if os.path.exists(path) else None


def ensure_demo(family, out_dir, force=False, progress=True, **params):
    """Generate ``family``'s demo data into ``out_dir`` unless it is there and current.

    Returns the generator's summary, or None when the folder was up to date.
    """
    generate, _, finished = GENERATORS[family]
    stamp = stamp_of(family, params)
    current = read_stamp(out_dir)
    if not force and os.path.exists(os.path.join(out_dir, finished)) and current == stamp:
        return None
    if current is None and os.path.isdir(out_dir) and os.listdir(out_dir):
        # Not a folder this generator made: it may be the user's own data (e.g. --out data).
        raise FileExistsError(f"{out_dir} holds files that are not demo data (no {STAMP_FILE}): the demo "
                              f"generator writes only into an empty folder or its own; choose another --out")
    stamp_path = os.path.join(out_dir, STAMP_FILE)
    if os.path.exists(stamp_path):
        os.remove(stamp_path)          # an interrupted run must not keep the old stamp
    summary = generate(out_dir, progress=progress, **params)
    save_json(stamp_path, stamp)
    return summary
