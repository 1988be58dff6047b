"""Synthetic DeepFashion-format demo data: whole-body scenes, one labelled garment each.

The real Category-and-Attribute benchmark needs registration, so this module writes a
small stand-in in exactly its layout (``Anno/``, ``Eval/``, ``img/``; see
``data.deepfashion``) with the properties that make the real task what it is:

* 30 categories of the three types (upper, lower, full body), told apart by their cut
  (sleeves, hem, legs, opening, hood, lapels, ...), with long-tailed frequencies;
* 100 attributes of the five types, each a visible cue: 20 textures (stripes, dots,
  checks, florals, ...), 15 fabrics (denim twill, leather sheen, knit ribs, lace holes,
  sheer cloth, ...), 30 shapes (sleeve and hem length, fit, flare, neckline, tiers,
  ...), 20 parts (pockets, buttons, zips, belts, collars, ...) and 15 styles (colour
  palettes, and looks made of other attributes: sporty, punk, preppy, ...);
* a long tail (the most frequent attributes on about half the images, the rarest on
  well under one in a hundred); attributes implied by the category (jeans are denim,
  hoodies have hoods); attributes that never co-occur (one texture, one fabric, one
  palette, one sleeve length, hood / collar / lapels, zip / buttons);
* scenes: a person in a room with furniture and frames; the labelled garment is worn
  with others (a top over labelled trousers, trousers under a labelled top) and its box
  covers its visible pixels.

Every image is seeded from ``(seed, index)``: a set is byte-identical to another made
with the same arguments, and image i does not depend on how many others are made.
"""
import os

import cv2
import numpy as np
from tqdm import tqdm

from . import demo_deepfashion_scene as scene
from .deepfashion import write_list

# Bump when the drawings or labels change: `gluonfashion demo-data` then remakes old data.
GENERATOR_VERSION = 1

TEXTURES = ["striped", "floral", "polka-dot", "graphic", "plaid", "colorblock", "wide-striped", "gingham",
            "abstract", "diagonal-striped", "leopard", "camo", "big-floral", "chevron", "pinstriped", "big-dot",
            "tie-dye", "geometric", "ombre", "star-print"]
FABRICS = ["knit", "denim", "chiffon", "lace", "leather", "satin", "fleece", "corduroy", "velvet", "quilted",
           "mesh", "tweed", "crochet", "sequin", "faux-fur"]
SHAPES = ["sleeveless", "short-sleeve", "elbow-sleeve", "long-sleeve", "cropped", "mini", "knee-length", "midi",
          "maxi", "fitted", "loose", "a-line", "flared", "pencil", "skinny", "wide-leg", "v-neck", "crew-neck",
          "square-neck", "off-shoulder", "high-neck", "puff-sleeve", "bell-sleeve", "tiered", "peplum",
          "asymmetric", "ruffled", "pleated", "slit", "high-waisted"]
PARTS = ["pocket", "button", "zip", "belt", "collar", "cuff", "drawstring", "trim", "hood", "lapel", "patch", "bow",
         "side-stripe", "chest-pocket", "stud", "lace-up", "knot", "epaulette", "fringe", "chain"]
PALETTES = ["pastel", "monochrome", "earthy", "neon", "metallic"]
STYLES = PALETTES + ["sporty", "minimal", "romantic", "summer", "preppy", "boho", "punk", "party", "military",
                     "western"]
ATTRIBUTES = ([(a, 1) for a in TEXTURES] + [(a, 2) for a in FABRICS] + [(a, 3) for a in SHAPES]
              + [(a, 4) for a in PARTS] + [(a, 5) for a in STYLES])

_PART_P = [0.3, 0.25, 0.15, 0.12, 0.12, 0.1, 0.08, 0.07, 0.06, 0.05, 0.05, 0.04, 0.04, 0.04, 0.03, 0.02, 0.02,
           0.02, 0.015, 0.01]
_SOLID_FABRICS = {"denim", "leather", "sequin", "faux-fur", "velvet", "corduroy"}   # no printed texture on these
_NECKWEAR = ("hood", "collar", "lapel")         # at most one of these
_CLOSURES = ("zip", "button")                   # and of these

# name, type (1 upper, 2 lower, 3 full body), cut (tuples: one is drawn), implied attributes;
# from the most to the least frequent (the weights fall as 1 / (rank + 3)).
CATEGORIES = [
    ("Dress", 3, dict(kind="dress", neck=("crew", "v", "scoop", "square", "off", "strap"), sleeve=(0, .3, .6, 1),
                      hem=(.6, .72, .82), flare=(.03, .18, .35), fit=("fitted", "regular")), ()),
    ("Tee", 1, dict(kind="top", neck=("crew", "v"), sleeve=(.3,), hem=(.5, .55), fit=("regular", "loose")),
     ("short-sleeve",)),
    ("Blouse", 1, dict(kind="top", neck=("v", "scoop", "crew", "square"), sleeve=(.3, .6, 1), hem=(.48, .52),
                       fit=("loose", "regular")), ()),
    ("Shorts", 2, dict(kind="pants", legs=("straight", "wide"), hem=(.6, .64)), ()),
    ("Tank", 1, dict(kind="top", neck=("strap",), sleeve=(0,), hem=(.5, .55), fit=("fitted", "regular")),
     ("sleeveless",)),
    ("Skirt", 2, dict(kind="skirt", hem=(.6, .72, .82, .95), flare=(.02, .15, .3)), ()),
    ("Jeans", 2, dict(kind="pants", legs=("skinny", "straight", "wide"), hem=(.95,)), ("denim", "pocket")),
    ("Sweater", 1, dict(kind="top", neck=("crew", "v"), sleeve=(1,), hem=(.5, .55), fit=("loose", "regular")),
     ("knit", "long-sleeve")),
    ("Cardigan", 1, dict(kind="outer", neck=("v",), sleeve=(1,), hem=(.55, .62), open=True), ("knit", "button")),
    ("Romper", 3, dict(kind="jumpsuit", neck=("crew", "v", "strap", "square"), sleeve=(0, .3), hem=(.6,),
                       legs=("straight", "wide")), ()),
    ("Jumpsuit", 3, dict(kind="jumpsuit", neck=("crew", "v", "strap"), sleeve=(0, .3, 1), hem=(.95,),
                         legs=("straight", "wide")), ()),
    ("Button-Down", 1, dict(kind="top", neck=("v",), sleeve=(.6, 1), hem=(.52, .58)), ("collar", "button")),
    ("Hoodie", 1, dict(kind="top", neck=("crew",), sleeve=(1,), hem=(.5, .55), fit=("loose",)),
     ("hood", "drawstring", "long-sleeve")),
    ("Blazer", 1, dict(kind="outer", neck=("v",), sleeve=(1,), hem=(.56, .6), fit=("fitted", "regular"), open=True),
     ("lapel", "button")),
    ("Leggings", 2, dict(kind="pants", legs=("skinny",), hem=(.88, .95), fit=("fitted",)), ("skinny", "fitted")),
    ("Coat", 3, dict(kind="outer", neck=("v",), sleeve=(1,), hem=(.72, .82), flare=(.05, .15)),
     ("collar", "button", "long-sleeve")),
    ("Crop Top", 1, dict(kind="top", neck=("crew", "square", "strap"), sleeve=(0, .3), hem=(.32, .35),
                         fit=("fitted", "regular")), ("cropped",)),
    ("Joggers", 2, dict(kind="pants", legs=("straight",), hem=(.93,)), ("cuff", "drawstring")),
    ("Turtleneck", 1, dict(kind="top", neck=("high",), sleeve=(1,), hem=(.5,), fit=("fitted",)),
     ("high-neck", "fitted")),
    ("Bomber", 1, dict(kind="top", neck=("crew",), sleeve=(1,), hem=(.44,)), ("zip", "cuff")),
    ("Culottes", 2, dict(kind="pants", legs=("wide",), hem=(.8,)), ("wide-leg",)),
    ("Kimono", 3, dict(kind="outer", neck=("v",), sleeve=(.6,), sleeve_style="wide", hem=(.72,), open=True),
     ("bell-sleeve", "belt")),
    ("Parka", 1, dict(kind="top", neck=("crew",), sleeve=(1,), hem=(.6, .64), fit=("loose",)), ("hood", "zip")),
    ("Gown", 3, dict(kind="dress", neck=("strap", "off"), sleeve=(0,), hem=(.97,), flare=(.35,), fit=("fitted",)),
     ("maxi", "flared")),
    ("Cutoffs", 2, dict(kind="pants", legs=("straight",), hem=(.58,)), ("denim", "fringe")),
    ("Overalls", 3, dict(kind="overalls", legs=("straight", "wide"), hem=(.95,)), ("chest-pocket",)),
    ("Poncho", 1, dict(kind="cape", hem=(.55, .62)), ()),
    ("Sarong", 2, dict(kind="skirt", hem=(.82, .9), flare=(.1,)), ("asymmetric", "knot")),
    ("Kaftan", 3, dict(kind="kaftan", hem=(.92,)), ()),
    ("Chinos", 2, dict(kind="pants", legs=("straight",), hem=(.95,)), ("pocket", "cuff")),
]
_CATEGORY_P = 1.0 / (np.arange(len(CATEGORIES)) + 3)
_CATEGORY_P /= _CATEGORY_P.sum()


def _zipf(n, s=1.1):
    p = 1.0 / (np.arange(1, n + 1) ** s)
    return p / p.sum()


# ------------------------------------------------------------------------ labels

def _cut(cut, rng):
    """One concrete cut: a value drawn from every tuple of the category's cut."""
    g = {k: (v[rng.integers(len(v))] if isinstance(v, tuple) else v) for k, v in cut.items()}
    g.setdefault("fit", "regular")
    g["details"], g["parts"] = set(), set()
    if g["kind"] in ("pants", "skirt", "dress", "jumpsuit", "overalls"):
        g["waist"] = 0.38
    return g


def _applicable(kind, g):
    """Parts and details a garment of this cut can carry."""
    sleeves = g.get("sleeve", 0) > 0
    upper = kind in ("top", "outer", "dress", "jumpsuit")
    parts = {"pocket", "belt", "patch", "trim", "chain", "stud"} if kind not in ("cape", "kaftan") else {"trim",
                                                                                                         "fringe"}
    if upper:
        parts |= {"button", "zip", "collar", "hood", "lapel", "bow", "lace-up", "chest-pocket", "epaulette",
                  "drawstring", "side-stripe"}
        if g["neck"] in ("off", "strap"):
            parts -= {"collar", "hood", "lapel", "epaulette"}
    if kind in ("pants", "jumpsuit", "overalls"):
        parts |= {"cuff", "drawstring", "side-stripe", "zip"}
    if sleeves and g["sleeve"] > 0.5:
        parts.add("cuff")
    if kind in ("skirt", "dress", "top", "outer", "cape", "kaftan") or g.get("hem", 0) < 0.7:
        parts.add("fringe")
    if kind in ("skirt", "dress"):
        parts |= {"knot", "button", "zip"}
    details = set()
    if kind in ("skirt", "dress"):
        details |= {"tiered", "ruffled", "pleated", "slit", "asymmetric"}
    if kind in ("skirt", "pants"):
        details.add("high-waisted")
    if kind == "top" and g["hem"] > 0.45:
        details.add("peplum")
    if sleeves and not g.get("sleeve_style"):
        details |= {"puff-sleeve", "bell-sleeve"}
    return parts, details


_DETAIL_P = {"tiered": 0.08, "ruffled": 0.1, "pleated": 0.08, "slit": 0.05, "asymmetric": 0.04, "peplum": 0.07,
             "puff-sleeve": 0.08, "bell-sleeve": 0.05, "high-waisted": 0.15}


def _shape_attributes(g):
    """Shape attributes that follow from the cut."""
    out = set(g["details"])
    if "sleeve" in g and g["kind"] not in ("cape", "kaftan", "pants", "skirt", "overalls"):
        out.add({0: "sleeveless", .3: "short-sleeve", .6: "elbow-sleeve", 1: "long-sleeve"}[g["sleeve"]])
    if g["kind"] in ("skirt", "dress", "kaftan") or (g["kind"] == "outer" and g["hem"] > 0.7):
        hem = g["hem"]
        out.add("mini" if hem < 0.66 else "knee-length" if hem < 0.77 else "midi" if hem < 0.88 else "maxi")
    if g["kind"] == "top" and g["hem"] < 0.4:
        out.add("cropped")
    if g["fit"] in ("fitted", "loose"):
        out.add(g["fit"])
    flare = g.get("flare")
    if g["kind"] in ("skirt", "dress") and flare is not None:
        out.add("pencil" if flare < 0.05 else "a-line" if flare < 0.3 else "flared")
    legs = g.get("legs")
    if legs in ("skinny", "wide"):
        out.add("skinny" if legs == "skinny" else "wide-leg")
    neck = {"v": "v-neck", "crew": "crew-neck", "square": "square-neck", "off": "off-shoulder", "high": "high-neck"}
    if g.get("neck") in neck and g["kind"] != "outer":
        out.add(neck[g["neck"]])
    if g.get("sleeve_style") == "wide":
        out.add("bell-sleeve")
    return out


def _styles(a, texture, fabric, palette):
    """Style attributes: the palette, and looks made of other attributes."""
    rules = {
        "sporty": "side-stripe" in a or {"hood", "drawstring"} <= a,
        "minimal": texture is None and fabric is None and not a & set(PARTS) and palette in (None, "monochrome"),
        "romantic": bool({"bow", "ruffled"} & a) or fabric == "lace",
        "summer": bool({"sleeveless", "short-sleeve"} & a) and (palette == "pastel" or texture in ("floral",
                                                                                                   "big-floral")),
        "preppy": texture in ("gingham", "plaid") and bool({"collar", "button"} & a),
        "boho": "fringe" in a or (texture in ("floral", "big-floral") and "loose" in a),
        "punk": "stud" in a or "chain" in a or (fabric == "leather" and "zip" in a),
        "party": fabric in ("sequin", "velvet") or palette == "metallic",
        "military": texture == "camo" or "epaulette" in a,
        "western": "fringe" in a and fabric in ("denim", "leather"),
    }
    return ({palette} if palette else set()) | {name for name, on in rules.items() if on}


def sample_look(rng):
    """One labelled garment: its category index, concrete cut, texture, fabric, palette
    and the set of its attribute names."""
    category = int(rng.choice(len(CATEGORIES), p=_CATEGORY_P))
    _, _, cut, implied = CATEGORIES[category]
    g = _cut(cut, rng)
    implied = set(implied)
    parts_ok, details_ok = _applicable(g["kind"], g)
    g["parts"] = {p for p in implied if p in PARTS}
    for part, p in zip(PARTS, _PART_P):
        if part in parts_ok and rng.random() < p:
            g["parts"].add(part)
    for group in (_NECKWEAR, _CLOSURES):
        present = [p for p in group if p in g["parts"]]
        keep = [p for p in present if p in implied] or present[:1]
        g["parts"] -= set(present) - set(keep[:1])
    if g.get("neck") == "high":
        g["parts"] -= set(_NECKWEAR)
    # Sorted: a set of strings iterates in an order that changes from process to process
    # (hash randomisation), and each detail takes a random draw.
    g["details"] = {d for d in sorted(details_ok) if rng.random() < _DETAIL_P[d]} | (implied & set(_DETAIL_P))
    if "puff-sleeve" in g["details"] and "bell-sleeve" in g["details"]:
        g["details"].discard("bell-sleeve")
    g["sleeve_style"] = g.get("sleeve_style") or next((d.split("-")[0] for d in sorted(g["details"]) if "sleeve" in d), None)
    if "high-waisted" in g["details"]:
        g["waist"] = 0.33

    fabric = next((f for f in FABRICS if f in implied), None)
    if fabric is None and rng.random() < 0.45:
        fabric = FABRICS[rng.choice(len(FABRICS), p=_zipf(len(FABRICS)))]
    texture = None
    if fabric not in _SOLID_FABRICS and rng.random() < 0.5:
        texture = TEXTURES[rng.choice(len(TEXTURES), p=_zipf(len(TEXTURES)))]
    palette = None
    if fabric not in ("denim", "leather") and rng.random() < 0.5:
        palette = PALETTES[rng.choice(len(PALETTES), p=_zipf(len(PALETTES)))]
    attributes = _shape_attributes(g) | set(g["parts"]) | (implied & set(SHAPES))
    attributes |= {a for a in (texture, fabric) if a}
    attributes |= _styles(attributes, texture, fabric, palette)
    return {"category": category, "cut": g, "texture": texture, "fabric": fabric, "palette": palette,
            "attributes": attributes}


# ------------------------------------------------------------------------ scenes

def _colours(look, rng):
    c1 = scene.PALETTES[look["palette"]](rng)
    if look["fabric"] == "denim":
        c1 = scene.hsv(0.6 + rng.uniform(-0.02, 0.02), rng.uniform(0.35, 0.6), rng.uniform(0.3, 0.7))
    elif look["fabric"] == "leather":
        c1 = scene.hsv(rng.uniform(0.03, 0.1), rng.uniform(0.3, 0.7), rng.uniform(0.08, 0.3))
    elif look["fabric"] == "lace":
        c1 = np.array([240, 235, 225], np.float32) * rng.uniform(0.85, 1.0)
    c2 = scene.PALETTES[look["palette"]](rng) if look["palette"] else scene.contrast(c1, rng)
    if np.linalg.norm(c2 - c1) < 80:
        c2 = scene.contrast(c1, rng)
    return c1, c2


def _plain(kind, rng, **cut):
    """An unlabelled garment of the outfit: plain or lightly patterned."""
    g = dict(kind=kind, fit="regular", details=set(), parts=set(), **cut)
    c1 = scene.PALETTES[None](rng)
    texture = TEXTURES[rng.integers(4)] if rng.random() < 0.2 else None
    return g, (c1, scene.contrast(c1, rng)), texture


def _draw(canvas, g, colours, texture, fabric, theta, rng):
    g["polygons"], opening, g["hem_line"] = scene.cut_polygons(g, theta)
    region = scene.paint(canvas, g["polygons"], colours, texture, fabric, rng, opening)
    extra = scene.draw_parts(canvas, g, colours, theta, rng) if g["parts"] or g["details"] else []
    return region | canvas.mask(extra) if extra else region


def render(look, rng, size):
    """The scene of ``look``: ``(RGB uint8 image, box x1 y1 x2 y2 of the labelled garment)``."""
    canvas = scene.Canvas(size, rng)
    theta = rng.uniform(0.12, 0.3)
    scene.draw_person(canvas, rng, theta)
    g, ctype = look["cut"], CATEGORIES[look["category"]][1]
    colours = _colours(look, rng)
    if ctype == 1:   # trousers or a skirt under the labelled top
        kind = "pants" if rng.random() < 0.7 else "skirt"
        under = _plain(kind, rng, waist=0.38, hem=0.95 if kind == "pants" else 0.75, legs="straight", flare=0.1)
        _draw(canvas, *under, None, theta, rng)
    if g["kind"] == "outer":   # what shows in the opening
        _draw(canvas, *_plain("top", rng, neck="crew", sleeve=0.3, hem=0.5), None, theta, rng)
    region = _draw(canvas, g, colours, look["texture"], look["fabric"], theta, rng)
    if ctype == 2:   # a top over the labelled trousers or skirt hides their waist
        top, tcolours, texture = _plain("top", rng, neck="crew", sleeve=(0.3, 1.0)[rng.integers(2)],
                                        hem=0.46 + 0.04 * rng.random())
        region &= 1 - _draw(canvas, top, tcolours, texture, None, theta, rng)
    x, y, w, h = cv2.boundingRect(region)
    jitter = rng.integers(-2, 3, 4)    # annotators' boxes are not pixel-exact
    box = (max(0, x + jitter[0]), max(0, y + jitter[1]), min(size, x + w + jitter[2]), min(size, y + h + jitter[3]))
    return canvas.finish(rng), tuple(int(v) for v in box)


# ------------------------------------------------------------------------ the dataset

def example(index, seed, size, unknown_rate=0.0):
    """Image ``index`` of a set: ``(image, box, category index, attribute values 1/-1/0)``."""
    rng = np.random.default_rng([seed, index])
    look = sample_look(rng)
    values = np.where([name in look["attributes"] for name, _ in ATTRIBUTES], 1, -1).astype(np.int8)
    unknown = rng.random(len(values)) < unknown_rate       # drawn always: images do not depend on the rate
    values[unknown] = 0
    img, box = render(look, rng, size)
    return img, box, look["category"], values


def generate_deepfashion_demo(out_dir, n_train=2000, n_val=300, n_test=400, image_size=160, unknown_rate=0.01,
                              seed=0, progress=True):
    """Write a synthetic DeepFashion-format dataset under ``out_dir``: ``img/`` and the
    lists of ``Anno/`` and ``Eval/`` (written last, ``list_category_img.txt`` the very
    last, so an interrupted run never looks finished). ``unknown_rate``: share of
    attribute values written as 0 (unknown, as in some releases). Returns a summary."""
    out_dir = os.path.abspath(str(out_dir))
    last = os.path.join(out_dir, "Anno", "list_category_img.txt")
    if os.path.exists(last):
        os.remove(last)
    n = n_train + n_val + n_test
    statuses = ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    rows = {"category": [], "attributes": [], "bbox": [], "partition": []}
    counts = np.zeros(len(ATTRIBUTES), np.int64)
    for i in tqdm(range(n), desc="demo images", disable=not progress):
        img, box, category, values = example(i, seed, image_size, unknown_rate)
        name = f"img/batch_{i // 500:03d}/img_{i + 1:08d}.jpg"
        path = os.path.join(out_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        quality = 70 + (i * 7919) % 26
        cv2.imwrite(path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        rows["category"].append((name, category + 1))
        rows["attributes"].append((name, *values.tolist()))
        rows["bbox"].append((name, *box))
        rows["partition"].append((name, statuses[i]))
        counts += values == 1
    anno = os.path.join(out_dir, "Anno")
    write_list(os.path.join(anno, "list_category_cloth.txt"), "category_name  category_type",
               [(name, ctype) for name, ctype, _, _ in CATEGORIES])
    write_list(os.path.join(anno, "list_attr_cloth.txt"), "attribute_name  attribute_type", ATTRIBUTES)
    write_list(os.path.join(anno, "list_attr_img.txt"), "image_name  attribute_labels", rows["attributes"])
    write_list(os.path.join(anno, "list_bbox.txt"), "image_name  x_1  y_1  x_2  y_2", rows["bbox"])
    write_list(os.path.join(out_dir, "Eval", "list_eval_partition.txt"), "image_name  evaluation_status",
               rows["partition"])
    write_list(last, "image_name  category_label", rows["category"])
    return {"out_dir": out_dir, "image_size": image_size, "train": n_train, "val": n_val, "test": n_test,
            "categories": len(CATEGORIES), "attributes": len(ATTRIBUTES),
            "attribute_share": dict(zip([a for a, _ in ATTRIBUTES], (counts / max(n, 1)).round(4).tolist()))}
