"""Synthetic JD-format style data: garment drawings whose 13 styles are visibly drawn.

The real JD set needs registration and downloading, so this module writes a small
stand-in in exactly the JD formats, with the properties that make the real task hard:

* multi-label, 1..5 positive styles per image;
* strong imbalance (``sports`` about 0.4% of images, ``simple`` over half of them);
* exclusive styles (Japanese / Korean / Western / British never co-occur) and implied
  ones (OL/commuting -> lady/elegant 99%).

Each style is a visible cue (see ``STYLE_CUES``); colours, background, scale, position,
garment proportions, mirroring and pixel noise are drawn independently of the labels.
The images are written to ``<out_dir>/source`` and ``train.txt`` / ``test.txt`` point at
them with ``file://`` URLs, so the kit's downloader runs on the demo exactly as on the
real data. Everything is deterministic: image ``i`` uses its own RNG seeded by
``(seed, i)``, so the train part does not change with ``n_test`` and vice versa.
"""
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from ..tasks import JD_STYLES
from .jd import write_jd_submission, write_jd_test, write_jd_train

# Bump when the drawings or labels change: `gluonfashion demo-data` then remakes old data.
GENERATOR_VERSION = 1

__all__ = ["generate_jd_demo", "render_styles", "sample_jd_demo_labels", "STYLE_CUES"]

(SPORTS, CASUAL, OL, JAPANESE, KOREAN, WESTERN, BRITISH, GIRLISH, LADY, SIMPLE, NATURAL,
 STREET, ETHNIC) = range(13)

STYLE_CUES = {
    "sports": "a hood behind the neck and two stripes down each side of the body",
    "casual": "two patch pockets with flaps at the hips",
    "OL/commuting": "blazer lapels forming a V, and buttons down the front",
    "Japanese": "polka-dot fabric",
    "Korean": "horizontal (Breton) stripes",
    "Western": "wide diagonal stripes",
    "British": "tartan check",
    "girlish": "a bow at the neckline",
    "lady/elegant": "a belted, cinched waist over a flared A-line hem",
    "simple": "no appliques (every non-simple garment carries small scattered appliques)",
    "natural": "a large flower on the chest",
    "street/punk": "studs along the shoulders and a chain across the waist",
    "national/ethnic": "an embroidered zigzag border along the hem",
}

# At most one of these per image, with these probabilities (the rest: none of them).
REGIONS = (JAPANESE, KOREAN, WESTERN, BRITISH)
REGION_P = (0.06, 0.30, 0.12, 0.03)
# Exactly every SPORTS_PERIOD-th image is sports, so even a small train set holds a
# few and the largest/smallest label ratio is reliably >= 100 (real data: ~480).
SPORTS_PERIOD = 250
MAX_POSITIVES = 5
# Styles that may be dropped when an image would carry more than MAX_POSITIVES.
DROPPABLE = (CASUAL, GIRLISH, SIMPLE, NATURAL)
SUPERSAMPLE = 2  # draw at 2x and downscale: smooth edges at small sizes


# --------------------------------------------------------------------------- labels

def _image_rng(seed, index):
    return np.random.default_rng([seed, index])


def _is_sports(seed, index):
    """Every SPORTS_PERIOD-th index, from a seed-dependent offset."""
    offset = int(np.random.default_rng([seed, 2 ** 32]).integers(SPORTS_PERIOD))
    return (index + offset) % SPORTS_PERIOD == 0


def _sample_styles(rng, sports):
    """Draw one image's 13 labels with the co-occurrence rules of the real data."""
    y = np.zeros(len(JD_STYLES), dtype=np.uint8)
    region = rng.choice(len(REGIONS) + 1, p=list(REGION_P) + [1 - sum(REGION_P)])
    if region < len(REGIONS):
        y[REGIONS[region]] = 1
    cute_region = y[JAPANESE] or y[KOREAN]
    if sports:  # sportswear: never office or elegant
        y[SPORTS] = 1
        y[CASUAL] = rng.random() < 0.8
    else:
        y[OL] = rng.random() < 0.09
        y[LADY] = rng.random() < (0.99 if y[OL] else 0.20)
        y[CASUAL] = rng.random() < (0.08 if y[OL] else 0.45)
    y[GIRLISH] = rng.random() < (0.35 if cute_region else 0.10)
    y[SIMPLE] = rng.random() < 0.5
    y[NATURAL] = rng.random() < 0.10
    y[STREET] = rng.random() < 0.05
    y[ETHNIC] = rng.random() < 0.025
    if not y.any():
        y[SIMPLE] = 1
    while y.sum() > MAX_POSITIVES:
        y[rng.choice([s for s in DROPPABLE if y[s]])] = 0
    return y


def sample_jd_demo_labels(n, seed=0, start=0):
    """Labels (uint8, shape (n, 13)) of demo images ``start..start+n-1``, without drawing.

    Identical to the labels :func:`generate_jd_demo` writes (train images are indices
    ``0..n_train-1``, test images follow).
    """
    labels = np.zeros((n, len(JD_STYLES)), dtype=np.uint8)
    for row, index in enumerate(range(start, start + n)):
        labels[row] = _sample_styles(_image_rng(seed, index), _is_sports(seed, index))
    return labels


# --------------------------------------------------------------------------- colours

def _luma(c):
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _contrasting(rng, ref, min_diff=80):
    """A random colour whose brightness differs from ``ref`` by at least ``min_diff``."""
    for _ in range(50):
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        if abs(_luma(c) - _luma(ref)) >= min_diff:
            return c
    return (0, 0, 0) if _luma(ref) > 127 else (255, 255, 255)


def _shade(c, factor):
    return tuple(int(min(255, v * factor)) for v in c)


# --------------------------------------------------------------------------- geometry

class _Garment:
    """Garment coordinates (u, v): u across, v down, 1 unit = ``size`` pixels.

    The neck is at v = 0.08 and the hem at v = ``length``; a hood reaches v = -0.08.
    Proportions are random but independent of the styles, except where a style is a cut
    (lady: cinched waist and flared hem; sports: hood).
    """
    TOP = -0.08

    def __init__(self, rng, styles, canvas):
        self.length = rng.uniform(0.72, 0.96)
        self.shoulder = rng.uniform(0.17, 0.22)
        self.neck = rng.uniform(0.06, 0.08)
        self.neck_depth = rng.uniform(0.04, 0.12)
        self.sleeve = rng.uniform(0.12, 0.5)
        if LADY in styles:
            self.waist = rng.uniform(0.09, 0.11)
            self.hem = rng.uniform(0.30, 0.36)
        else:
            self.waist = rng.uniform(0.14, 0.17)
            self.hem = self.waist + rng.uniform(0.0, 0.07)
        # Fit the whole garment (hood to hem, sleeve to sleeve) at a random scale/place.
        height = self.length - self.TOP
        width = 2 * self._sleeve_reach()
        # The larger extent decides the scale, so wide sleeves never leave the canvas.
        self.size = canvas * rng.uniform(0.62, 0.95) / max(height, width)
        span_u = (0.5 - self._sleeve_reach(), 0.5 + self._sleeve_reach())
        self.x0 = rng.uniform(-span_u[0] * self.size, canvas - span_u[1] * self.size)
        self.y0 = rng.uniform(-self.TOP * self.size, canvas - self.length * self.size)

    def _sleeve_reach(self):
        return max(self.shoulder + 0.45 * self.sleeve + 0.02, self.hem)

    def p(self, u, v):
        return (self.x0 + u * self.size, self.y0 + v * self.size)

    def d(self, length):
        return max(1, round(length * self.size))

    def pts(self, uvs):
        return [self.p(u, v) for u, v in uvs]

    def box(self, u, v, ru, rv=None):
        rv = ru if rv is None else rv
        return [self.p(u - ru, v - rv), self.p(u + ru, v + rv)]

    def side(self, sign, inset):
        """Polyline down one side of the body (shoulder, waist, hem), ``inset`` inwards."""
        return self.pts([(0.5 + sign * (w - inset), v) for w, v in (
            (self.shoulder, 0.14), (self.waist, 0.46), (self.hem, self.length))])

    def body(self):
        return self.side(-1, 0) + self.side(1, 0)[::-1]

    def sleeves(self):
        """The two sleeve quadrilaterals, slanting out and down from the shoulders."""
        out = []
        for sign in (-1, 1):
            top = (0.5 + sign * self.shoulder, 0.14)
            pit = (0.5 + sign * (self.shoulder - 0.03), 0.30)
            du, dv = sign * 0.45 * self.sleeve, 0.89 * self.sleeve
            out.append(self.pts([top, (top[0] + du, top[1] + dv),
                                 (pit[0] + du, pit[1] + dv), pit]))
        return out


# --------------------------------------------------------------------------- drawing

def _background(rng, n):
    """A two-colour linear gradient in a random direction."""
    a, b = (rng.integers(0, 256, 3).astype(np.float32) for _ in range(2))
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:n, 0:n] / max(n - 1, 1)
    t = (np.cos(angle) * xx + np.sin(angle) * yy)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    img = a * (1 - t[..., None]) + b * t[..., None]
    return Image.fromarray(img.astype(np.uint8)), tuple(int(v) for v in (a + b) / 2)


def _mask(g, styles, n):
    """The garment silhouette: body, sleeves, optional hood, minus the neckline."""
    mask = Image.new("L", (n, n), 0)
    draw = ImageDraw.Draw(mask)
    if SPORTS in styles:  # hood: an arch behind the neck (its inside is cut out below)
        draw.ellipse(g.box(0.5, 0.06, 0.15, 0.14), fill=255)
    draw.polygon(g.body(), fill=255)
    for sleeve in g.sleeves():
        draw.polygon(sleeve, fill=255)
    neck_r = g.neck + (0.03 if SPORTS in styles else 0)
    draw.ellipse(g.box(0.5, 0.08, neck_r, g.neck_depth), fill=0)
    return mask


def _region_pattern(draw, g, style, rng, colour, n):
    """Fabric print of the (exclusive) regional style, over the whole canvas."""
    step = g.size
    if style == JAPANESE:  # polka dots on a staggered grid
        r, pitch = 0.03 * step, 0.1 * step
        for row, y in enumerate(np.arange(0, n + pitch, pitch)):
            for x in np.arange((row % 2) * pitch / 2, n + pitch, pitch):
                draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    elif style == KOREAN:  # horizontal stripes
        pitch = 0.09 * step
        for y in np.arange(rng.uniform(0, pitch), n, pitch):
            draw.rectangle([0, y, n, y + 0.04 * step], fill=colour)
    elif style == WESTERN:  # wide diagonal stripes
        pitch, w = 0.16 * step, 0.07 * step
        for x in np.arange(-n, n, pitch):
            draw.polygon([(x, 0), (x + w, 0), (x + w + n, n), (x + n, n)], fill=colour)
    elif style == BRITISH:  # tartan: crossing bands plus thin lines in a second colour
        pitch, w = 0.14 * step, 0.04 * step
        thin = _contrasting(rng, colour, 60)
        for t in np.arange(rng.uniform(0, pitch), n, pitch):
            draw.rectangle([t, 0, t + w, n], fill=colour)
            draw.rectangle([0, t, n, t + w], fill=colour)
            draw.line([(t + pitch / 2, 0), (t + pitch / 2, n)], fill=thin, width=g.d(0.012))
            draw.line([(0, t + pitch / 2), (n, t + pitch / 2)], fill=thin, width=g.d(0.012))


def _fabric_details(draw, g, styles, rng, base):
    """Cues drawn on the fabric (clipped to the silhouette afterwards)."""
    if LADY in styles:  # belt with a buckle at the cinched waist
        belt = _contrasting(rng, base)
        draw.rectangle([g.p(0, 0.43), g.p(1, 0.49)], fill=belt)
        draw.rectangle(g.box(0.5, 0.46, 0.04, 0.04), outline=_contrasting(rng, belt),
                       width=g.d(0.015))
    if ETHNIC in styles:  # embroidered band with a zigzag along the hem
        band = _contrasting(rng, base)
        stitch = _contrasting(rng, band)
        top, bottom = g.length - 0.13, g.length
        draw.rectangle([g.p(0, top), g.p(1, bottom)], fill=band)
        zig = [(u, top + 0.03 if k % 2 else bottom - 0.03)
               for k, u in enumerate(np.arange(0, 1.0, 0.05))]
        draw.line(g.pts(zig), fill=stitch, width=g.d(0.025))
    if CASUAL in styles:  # two patch pockets with flaps
        pocket = _contrasting(rng, base, 60)
        for u in (0.5 - 0.09, 0.5 + 0.09):
            draw.rectangle(g.box(u, 0.62, 0.06, 0.06), fill=pocket,
                           outline=_shade(pocket, 0.5), width=g.d(0.01))
            draw.rectangle(g.box(u, 0.57, 0.065, 0.018), fill=_shade(pocket, 0.6))
    if SPORTS in styles:  # two stripes down each side
        stripe = _contrasting(rng, base, 100)
        for sign in (-1, 1):
            for inset in (0.03, 0.065):
                draw.line(g.side(sign, inset), fill=stripe, width=g.d(0.022), joint="curve")
    if OL in styles:  # blazer lapels: a dark V from the neck to mid-chest
        lapel = _contrasting(rng, base, 90)
        for sign in (-1, 1):
            draw.polygon(g.pts([(0.5 + sign * g.neck, 0.06), (0.5 + sign * 0.01, 0.42),
                                (0.5 + sign * (g.neck + 0.09), 0.24),
                                (0.5 + sign * (g.neck + 0.05), 0.17)]), fill=lapel)
    if SIMPLE not in styles:  # scattered small appliques (what "simple" garments lack)
        for _ in range(int(rng.integers(3, 6))):
            u, v = 0.5 + rng.uniform(-0.14, 0.14), rng.uniform(0.2, g.length - 0.08)
            r = rng.uniform(0.035, 0.05)
            sides = int(rng.integers(3, 5))
            angle = rng.uniform(0, 2 * np.pi)
            corners = [(u + r * np.cos(angle + 2 * np.pi * k / sides),
                        v + r * np.sin(angle + 2 * np.pi * k / sides)) for k in range(sides)]
            draw.polygon(g.pts(corners), fill=_contrasting(rng, base, 70))


def _overlay_details(draw, g, styles, rng, base):
    """Cues drawn on top of the composed image (may cross the neckline)."""
    if OL in styles:  # buttons below the lapels
        button = _contrasting(rng, base, 90)
        for v in (0.48, 0.58):
            draw.ellipse(g.box(0.5, v, 0.025), fill=button)
    if NATURAL in styles:  # a flower: five petals round a centre
        petal = _contrasting(rng, base, 80)
        cu, cv = 0.5 + 0.1, 0.31
        for k in range(5):
            a = 2 * np.pi * k / 5
            draw.ellipse(g.box(cu + 0.055 * np.cos(a), cv + 0.055 * np.sin(a), 0.042),
                         fill=petal)
        draw.ellipse(g.box(cu, cv, 0.03), fill=_contrasting(rng, petal, 80))
    if GIRLISH in styles:  # a bow at the bottom of the neckline
        bow = _contrasting(rng, base, 80)
        v = 0.08 + g.neck_depth
        for sign in (-1, 1):
            draw.polygon(g.pts([(0.5, v), (0.5 + sign * 0.14, v - 0.08),
                                (0.5 + sign * 0.14, v + 0.08)]), fill=bow)
        draw.ellipse(g.box(0.5, v, 0.032), fill=_shade(bow, 0.6))
    if STREET in styles:  # studs on the shoulders and a chain drooping across the waist
        metal = _contrasting(rng, base, 90)
        for sign in (-1, 1):
            for t in np.linspace(0.15, 0.95, 4):
                u = 0.5 + sign * (g.neck + t * (g.shoulder - g.neck))
                draw.ellipse(g.box(u, 0.08 + t * 0.06 + 0.025, 0.03), fill=metal,
                             outline=_shade(metal, 0.4))
        links = [(0.5 + g.waist * np.cos(a), 0.5 + 0.13 * np.sin(a))
                 for a in np.linspace(0, np.pi, 13)]
        for k, (u, v) in enumerate(links):
            draw.ellipse(g.box(u, v, 0.034 if k % 2 else 0.02, 0.02 if k % 2 else 0.034),
                         outline=metal, width=g.d(0.018))


def render_styles(style_indices, rng, image_size=128):
    """Draw one garment showing the styles ``style_indices`` (indices into JD_STYLES).

    ``rng`` is a ``numpy.random.Generator`` (or a seed) that picks everything the styles
    do not decide: colours, background, proportions, scale, position, mirroring, noise.
    Returns an RGB ``PIL.Image`` of ``image_size`` x ``image_size``.
    """
    rng = np.random.default_rng(rng)
    styles = {int(s) for s in style_indices}
    n = image_size * SUPERSAMPLE
    canvas, bg_colour = _background(rng, n)
    g = _Garment(rng, styles, n)
    base = _contrasting(rng, bg_colour, 60)
    fabric = Image.new("RGB", (n, n), base)
    draw = ImageDraw.Draw(fabric)
    pattern = [s for s in REGIONS if s in styles]
    if pattern:
        _region_pattern(draw, g, pattern[0], rng, _contrasting(rng, base, 70), n)
    _fabric_details(draw, g, styles, rng, base)
    canvas.paste(fabric, (0, 0), _mask(g, styles, n))
    _overlay_details(ImageDraw.Draw(canvas), g, styles, rng, base)
    if rng.random() < 0.5:
        canvas = canvas.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img = np.asarray(canvas.resize((image_size, image_size), Image.Resampling.BOX),
                     dtype=np.float32)
    img += rng.normal(0, rng.uniform(0, 8), img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


# --------------------------------------------------------------------------- dataset

def _label_stats(labels):
    counts = labels.sum(axis=0).astype(int)
    ratio = float(counts.max() / counts.min()) if counts.min() > 0 else float("inf")
    return {name: int(c) for name, c in zip(JD_STYLES, counts)}, ratio


def generate_jd_demo(out_dir, n_train=1200, n_test=300, image_size=128, seed=0,
                     progress=True):
    """Write a JD-format demo dataset under ``out_dir``.

    Layout: ``source/<id>.jpg`` (the images, standing in for the web server),
    ``train.txt`` (``id,url,13 x 0/1``) and ``test.txt`` (``id,url``) with ``file://``
    URLs to those images, and ``answers.txt`` (``id,13 x 0/1``) for the test ids.
    Returns a summary dict: paths, sizes, per-style train counts, the largest/smallest
    label-count ratio (``inf`` when a style has no train image, as happens for tiny
    ``n_train``), mean positives per image and the time taken.
    """
    start = time.monotonic()
    out = Path(out_dir).resolve()
    # Images fetched from an earlier demo dataset have the same names as the new ones.
    shutil.rmtree(out / "images", ignore_errors=True)
    (out / "download_report.csv").unlink(missing_ok=True)
    source = out / "source"
    source.mkdir(parents=True, exist_ok=True)
    n = n_train + n_test
    ids = [f"jd{i:06d}" for i in range(n)]
    urls = [(source / f"{i}.jpg").as_uri() for i in ids]
    labels = np.zeros((n, len(JD_STYLES)), dtype=np.uint8)
    for i in tqdm(range(n), desc="JD demo images", unit="img", disable=not progress):
        rng = _image_rng(seed, i)
        labels[i] = _sample_styles(rng, _is_sports(seed, i))
        img = render_styles(np.flatnonzero(labels[i]), rng, image_size)
        img.save(source / f"{ids[i]}.jpg", quality=92)
    write_jd_train(out / "train.txt", ids[:n_train], urls[:n_train], labels[:n_train])
    write_jd_test(out / "test.txt", ids[n_train:], urls[n_train:])
    write_jd_submission(out / "answers.txt", ids[n_train:], labels[n_train:])
    train_counts, ratio = _label_stats(labels[:n_train])
    return {
        "out_dir": str(out), "source_dir": str(source),
        "train_file": str(out / "train.txt"), "test_file": str(out / "test.txt"),
        "answers_file": str(out / "answers.txt"),
        "n_train": n_train, "n_test": n_test, "image_size": image_size, "seed": seed,
        "train_counts": train_counts, "imbalance_ratio": ratio,
        "mean_positives": float(labels[:n_train].sum(axis=1).mean()) if n_train else 0.0,
        "seconds": time.monotonic() - start,
    }
