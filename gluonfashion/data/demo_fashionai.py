"""Synthetic FashionAI-style demo data: small garment drawings in the real file layout.

The real FashionAI data cannot ship with the kit, so this module draws a stand-in that
trains end to end offline on a laptop CPU. Every task's value lives in the *geometry*
of a stylised figure:

* lengths (skirt, coat, pant, sleeve) are hem positions relative to body landmarks
  (waist, knee, ankle, wrist) of a drawn figure;
* designs (collar, lapel, neck, neckline) are distinct shapes around the neck;
* "Invisible" frames the picture so that the relevant body region is out of view.

Colours, fabric patterns, background, framing, small rotations, pixel noise and JPEG
quality are drawn independently of the label, so a model has to look at shapes.

Shapes are written in *body units*: x runs across the figure (0 is its centre line), y
runs down from the top of the head (0) to the floor (1). A ``_Canvas`` maps them to
pixels with a random zoom, shift and rotation.

Every image is seeded from ``(seed, task, split, index)``, so a run is byte-identical to
another with the same arguments and does not depend on the order of generation.
"""
import colorsys
import csv
import os
import zlib

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ..tasks import FASHIONAI_TASKS

# Bump when the drawings or labels change: `gluonfashion demo-data` then remakes old data.
GENERATOR_VERSION = 2
INVISIBLE = "Invisible"
_SPLITS = {"train": 0, "test": 1}   # part of each image's seed
_SS = 2            # shapes are drawn at twice the size and downsampled: cheap anti-aliasing
_LEAN = 0.3        # an image labelled with an 'm' neighbour moves this far towards it

# ----------------------------------------------------------------------- body model

_SHOULDER_Y, _WAIST_Y, _HIP_Y, _ANKLE_Y = 0.178, 0.375, 0.48, 0.95
_TORSO_Y = (0.178, 0.235, 0.30, 0.38, 0.48, 0.52)      # torso half-width by height
_TORSO_W = (0.105, 0.092, 0.083, 0.068, 0.097, 0.098)
_LEG_Y = (0.46, 0.60, 0.72, 0.80, 0.95)                # leg half-width by height
_LEG_W = (0.048, 0.045, 0.032, 0.035, 0.021)
_ARM_ROOT = (0.09, 0.188)                              # shoulder joint of the right arm
_ARM_LEN = 0.29                                        # shoulder joint to wrist
_HEAD = ((0.0, 0.065), 0.046, 0.06)                    # centre, half-width, half-height

# Framing of each shot: centre x, centre y, side of the square (body units) and a
# horizontal stretch: full-length shots widen the figure, which would otherwise fill
# only a narrow strip of a square image.
_VIEWS = {
    "lower": (0.0, 0.685, 0.80, 1.4),   # waist to floor: skirts and pants
    "coat": (0.0, 0.605, 0.99, 1.5),    # shoulders to floor: coats
    "upper": (0.0, 0.35, 0.56, 1.0),    # chin to thigh, arms in full: sleeves
    "bust": (0.0, 0.18, 0.42, 1.0),     # head and chest: nothing below the waist shows
    "chest": (0.0, 0.30, 0.17, 1.0),    # chest close-up: the arms are out of frame
    "neck": (0.0, 0.175, 0.28, 1.0),    # collar and neck designs
    "lapel": (0.0, 0.225, 0.31, 1.0),
    "neckline": (0.0, 0.225, 0.38, 1.0),
    "legs": (0.0, 0.735, 0.66, 1.3),    # hips to floor: the neck is out of frame
}


def _torso_w(y, ease=0.0, flare=0.0):
    """Half-width of the torso (plus a garment's ease, flaring out below the hip)."""
    return float(np.interp(y, _TORSO_Y, _TORSO_W)) + ease + flare * max(0.0, y - _HIP_Y)


def _leg_x(y, side, stance):
    """Centre line of one leg; ``stance`` spreads the feet apart."""
    k = max(0.0, y - _HIP_Y) / (_ANKLE_Y - _HIP_Y)
    return side * (0.05 - 0.006 * k + stance * k)


def _arc(centre, rx, ry, a0=np.pi, a1=0.0, n=11):
    """Points of an elliptic arc; the default runs left, through the bottom, to the right."""
    a = np.linspace(a0, a1, n)
    return list(zip(centre[0] + rx * np.cos(a), centre[1] + ry * np.sin(a)))


def _ellipse(centre, rx, ry, axis=(1.0, 0.0), n=20):
    """Closed ellipse with its ``rx`` half-axis along the unit vector ``axis``."""
    u = np.asarray(axis, float)
    v = np.array([-u[1], u[0]])
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)[:, None]
    return list(map(tuple, np.asarray(centre) + np.cos(a) * rx * u + np.sin(a) * ry * v))


def _mirror(pts):
    """The same outline on the other side of the body (keeps left-to-right order)."""
    return [(-x, y) for x, y in reversed(pts)]


def _quad(p0, p1, w):
    """A thin band of half-width ``w`` from ``p0`` to ``p1`` (straps, bands)."""
    d = np.subtract(p1, p0, dtype=float)
    n = np.array([-d[1], d[0]]) / np.hypot(*d) * w
    return [tuple(p0 + n), tuple(p1 + n), tuple(p1 - n), tuple(p0 - n)]


def _arm_frame(side, theta):
    """Shoulder joint, unit direction down the arm and its unit normal."""
    d = np.array([side * np.sin(theta), np.cos(theta)])
    return np.array([side * _ARM_ROOT[0], _ARM_ROOT[1]]), d, np.array([d[1], -d[0]])


def _arm_band(side, theta, t0, t1, pad=0.0, flare=0.0, steps=6):
    """Outline along one arm from ``t0`` to ``t1`` (fractions of shoulder-to-wrist);
    sleeves are arm bands with some ``pad``, extra-long ones ``flare`` past the wrist."""
    root, d, n = _arm_frame(side, theta)
    ts = np.linspace(t0, t1, steps)
    w = 0.025 - 0.009 * np.clip(ts, 0, 1) + pad + flare * np.maximum(ts - 1, 0)
    centre = root + np.outer(ts * _ARM_LEN, d)
    offset = np.outer(w, n)
    return list(map(tuple, centre + offset)) + list(map(tuple, (centre - offset)[::-1]))


def _hand(side, theta):
    """An open hand hanging below the wrist, along the arm."""
    root, d, _ = _arm_frame(side, theta)
    return _ellipse(root + d * _ARM_LEN * 1.12, 0.037, 0.016, axis=d, n=14)


def _leg(side, stance, y0, y1, pad=0.0, steps=8):
    """Outline of one leg between heights y0 and y1; a trouser leg (``pad`` > 0) is
    as wide as the knee below it, so its hem stands off the calf and ankle."""
    ys = np.linspace(y0, y1, steps)
    w = np.interp(ys, _LEG_Y, _LEG_W)
    if pad:
        w = np.maximum(w, _LEG_W[2]) + pad
    cx = np.array([_leg_x(y, side, stance) for y in ys])
    inner = cx - side * w
    inner = np.maximum(inner, 0.002) if side > 0 else np.minimum(inner, -0.002)
    return list(zip(cx + side * w, ys)) + list(zip(inner, ys))[::-1]


def _bodice(edge, hem, ease=0.0, flare=0.0, steps=7):
    """Outline of a torso garment: its top ``edge`` (left to right, ending on the body's
    sides), down the right side to ``hem``, across and up the left side."""
    def side(y0, sign):
        return [(sign * _torso_w(y, ease, flare), y) for y in np.linspace(y0, hem, steps)]
    return list(edge) + side(edge[-1][1], 1) + side(edge[0][1], -1)[::-1]


def _shoulders(cut, ease=0.006):
    """Top edge of a garment that covers the shoulders, with the neckline ``cut``."""
    w = _torso_w(_SHOULDER_Y, ease)
    return [(-w, _SHOULDER_Y)] + list(cut) + [(w, _SHOULDER_Y)]


def _across(y, middle=(), ease=0.006):
    """Top edge of a garment that starts below the shoulders (strapless tops, skirts)."""
    w = _torso_w(y, ease)
    return [(-w, y)] + list(middle) + [(w, y)]


_CUTS = {  # neckline cuts, left to right between the shoulders
    "crew": _arc((0, 0.156), 0.032, 0.032),
    "round": _arc((0, 0.160), 0.050, 0.065),
    "scoop": _arc((0, 0.164), 0.066, 0.050),
    "v": [(-0.035, 0.158), (0, 0.25), (0.035, 0.158)],
    "deep_v": [(-0.035, 0.158), (0, 0.35), (0.035, 0.158)],
    "small_v": [(-0.028, 0.156), (0, 0.205), (0.028, 0.156)],
    "square": [(-0.047, 0.163), (-0.047, 0.235), (0.047, 0.235), (0.047, 0.163)],
    "boat": [(-0.085, 0.169), (0.085, 0.169)],
    "jacket": [(-0.03, 0.158), (0, 0.32), (0.03, 0.158)],
    "jewel": _arc((0, 0.158), 0.045, 0.075),
    "coat": [(-0.03, 0.158), (0, 0.25), (0.03, 0.158)],
}
_TANK_SIDE = [(-_torso_w(0.245, 0.006), 0.245), (-0.075, 0.21), (-0.062, 0.175), (-0.04, 0.166)]
_TANK = _TANK_SIDE + _arc((0, 0.166), 0.04, 0.04) + _mirror(_TANK_SIDE)

# ---------------------------------------------------------------------- colours, canvas

_SKIN_TONES = np.array([(255, 224, 196), (234, 192, 134), (198, 134, 66), (141, 85, 36),
                        (90, 56, 37)], float)
_HAIR = [(20, 16, 14), (70, 45, 25), (130, 90, 50), (210, 180, 110), (150, 60, 30), (160, 160, 160)]
_GRID = [np.zeros((2, 0, 0), np.float32)]


def _grid(n):
    """Pixel coordinates (rows, columns) of an image of at least n x n (cached and
    shared by every image of a run)."""
    if _GRID[0].shape[1] < n:
        _GRID[0] = np.mgrid[0:n, 0:n].astype(np.float32)
    return _GRID[0]


def _colour(rng, avoid=(), min_dist=80.0):
    """A random colour (a fifth of them grey) at least ``min_dist`` away from ``avoid``."""
    for _ in range(60):
        if rng.random() < 0.2:
            c = np.full(3, rng.uniform(15, 240))
        else:
            c = 255 * np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.25, 0.95),
                                                   rng.uniform(0.3, 0.97)))
        if all(np.linalg.norm(c - np.asarray(a)) >= min_dist for a in avoid):
            break
    return tuple(int(v) for v in c)


class _Paint:
    """A fabric: flat ``colour`` or a ``pattern`` of it with a second shade, and the
    darker ``edge`` colour of its outline."""

    def __init__(self, colour, edge=0.45, pattern=None):
        self.colour, self.pattern = tuple(colour), pattern
        self.edge = tuple(int(v * edge) for v in colour)

    def texture(self, box):
        """The fabric over ``box`` (left, top, right, bottom) of the canvas."""
        x0, y0, x1, y1 = box
        if self.pattern is None:
            return Image.new("RGB", (x1 - x0, y1 - y0), self.colour)
        kind, period, angle, second = self.pattern
        yy, xx = _grid(max(x1, y1))
        yy, xx = yy[y0:y1, x0:x1], xx[y0:y1, x0:x1]
        u = (xx * np.cos(angle) + yy * np.sin(angle)) / period
        v = (yy * np.cos(angle) - xx * np.sin(angle)) / period
        if kind == "stripes":
            on = (u % 1) < 0.45
        elif kind == "dots":
            on = ((u % 1) - 0.5) ** 2 + ((v % 1) - 0.5) ** 2 < 0.06
        else:  # checks
            on = (np.floor(u) + np.floor(v)) % 2 == 0
        arr = np.where(on[..., None], np.asarray(second, np.uint8),
                       np.asarray(self.colour, np.uint8))
        return Image.fromarray(arr)


def _shade(colour, amount):
    """``colour`` moved ``amount`` towards mid-grey: a second tone of the same cloth."""
    sign = -1 if sum(colour) > 380 else 1
    return tuple(int(v) for v in np.clip(np.asarray(colour) + sign * amount, 0, 255))


def _paint(rng, size, colour):
    """Fabric in ``colour``: plain, stripes, dots or checks at a random scale and angle."""
    kind = ("plain", "stripes", "dots", "checks")[rng.integers(4)]
    period = rng.uniform(0.05, 0.10) * size
    angle = rng.uniform(0, np.pi)
    second = _shade(colour, rng.uniform(25, 50))
    return _Paint(colour, pattern=None if kind == "plain" else (kind, period, angle, second))


def _background(rng, size, colour):
    """Backdrop: plain, a gradient, soft blotches, or a wall with a darker floor."""
    arr = np.empty((size, size, 3), np.float32)
    arr[:] = colour
    kind = rng.integers(4)
    if kind == 1:
        ramp = np.linspace(-1, 1, size, dtype=np.float32) * rng.uniform(10, 30)
        arr += ramp[:, None, None] if rng.random() < 0.5 else ramp[None, :, None]
    elif kind == 2:
        blotches = Image.fromarray(rng.normal(0, 18, (5, 5)).astype(np.float32))
        arr += np.asarray(blotches.resize((size, size), Image.BICUBIC))[..., None]
        arr += rng.normal(0, 4, 3).astype(np.float32)
    elif kind == 3:
        arr[int(rng.uniform(0.55, 0.95) * size):] *= rng.uniform(0.7, 0.9)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


class _Canvas:
    """A supersampled image onto which shapes are drawn in body units."""

    def __init__(self, size, view, rng, background):
        self.size = size * _SS
        cx, cy, span, stretch = view
        self.px = self.size / span * rng.uniform(0.92, 1.06)     # pixels per body unit
        a = np.deg2rad(rng.uniform(-4, 4))
        rotate = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        self._m = self.px * rotate @ np.diag([stretch, 1.0])
        shift = rng.uniform(-0.04, 0.04, 2) * self.size
        self._t = self.size / 2 + shift - self._m @ np.array([cx, cy])
        self.img = _background(rng, self.size, background)
        self.draw = ImageDraw.Draw(self.img)
        self._ring = np.ones((3 * _SS + 1,) * 2, np.uint8)    # outline: 1.5 px after downsampling

    def xy(self, pts):
        """Body-unit points to pixel coordinates."""
        return [tuple(p) for p in np.asarray(pts, float) @ self._m.T + self._t]

    def garment(self, polys, paint):
        """Fill the union of ``polys`` with the paint's fabric and outline it once."""
        mask = Image.new("L", (self.size, self.size), 0)
        draw = ImageDraw.Draw(mask)
        for p in polys:
            draw.polygon(self.xy(p), fill=255)
        box = mask.getbbox()
        if box is None:         # entirely out of frame
            return
        # work on the garment's bounding box (plus the outline) only: it is much faster
        r = len(self._ring) // 2
        box = (max(box[0] - r, 0), max(box[1] - r, 0),
               min(box[2] + r, self.size), min(box[3] + r, self.size))
        inside = mask.crop(box)
        self.img.paste(paint.texture(box), box, inside)
        inside = np.asarray(inside)
        ring = cv2.dilate(inside, self._ring) - inside
        self.img.paste(paint.edge, box, Image.fromarray(ring))

    def line(self, pts, colour, width=0.004):
        self.draw.line(self.xy(pts), fill=colour, width=max(1, round(width * self.px)),
                       joint="curve")

    def dot(self, centre, r, colour):
        self.draw.polygon(self.xy(_ellipse(centre, r, r, n=10)), fill=colour)

    def finish(self, rng):
        """Downsample, add sensor noise; JPEG quality is chosen when saving."""
        img = self.img.resize((self.size // _SS,) * 2, Image.BOX)
        sigma = rng.uniform(0, 7)
        arr = np.asarray(img, np.float32) + rng.normal(0, sigma, (img.height, img.width, 3))
        return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))


# ----------------------------------------------------------------------------- figure

def _palette(rng, size):
    """Skin, backdrop and garment colours, each garment contrasting with its neighbours."""
    skin = tuple(_SKIN_TONES[rng.integers(5)] * rng.uniform(0.92, 1.05))
    skin = tuple(int(min(v, 255)) for v in skin)
    bg = _colour(rng, [skin], 70)
    top = _colour(rng, [bg, skin])
    bottom = _colour(rng, [bg, skin, top], 70)
    coat = _colour(rng, [bg, skin, top, bottom], 60)
    trim = _colour(rng, [top, coat, skin], 70)
    pal = {name: _paint(rng, size, c) for name, c in
           (("top", top), ("bottom", bottom), ("coat", coat), ("trim", trim))}
    # Lapels and knitted necks are often the garment's own cloth, set off by a shade.
    pal["lapel"] = _Paint(_shade(coat, 45)) if rng.random() < 0.5 else pal["trim"]
    pal["top_shade"] = _Paint(_shade(top, 45))
    pal["skin"] = _Paint(skin, edge=0.6)
    hair = np.clip(np.asarray(_HAIR[rng.integers(len(_HAIR))]) * rng.uniform(0.85, 1.15), 0, 255)
    pal["hair"] = _Paint(tuple(int(v) for v in hair), edge=0.5)
    pal["shoes"] = _Paint(_colour(rng, [bg], 50), edge=0.5)
    pal["bg"] = bg
    return pal


def _base_outfit(rng):
    """A random everyday outfit; each task then overrides the part it is about."""
    return {
        "top_edge": _shoulders(_CUTS[rng.choice(["crew", "round", "v", "boat", "scoop"])]),
        "top_hem": 0.40,
        "sleeve": float(rng.choice([0.0, 0.35, 0.55, 0.95])),
        "sleeve_from": -0.08,
        "top_parts": [],             # extra pieces of the top's cloth (straps, bands)
        "bottom": (str(rng.choice(["skirt", "pants"])), rng.uniform(0.6, 0.98)),  # or None
        "bottom_flare": rng.uniform(0.08, 0.22),
        "coat": None,                # (hem, flare, cut)
        "pieces": [],                # (polygons, paint name) drawn over the garments
        "lines": [],                 # (points, paint name, width) seams, folds, placket
        "dots": [],                  # (centre, radius, paint name) buttons
        "pose": (np.deg2rad(rng.uniform(18, 28)), rng.uniform(0.015, 0.035)),
        "hair": int(rng.integers(4)),
    }


def _draw_body(c, pal, outfit):
    """Skin (one silhouette, outlined once), hair and shoes."""
    theta, stance = outfit["pose"]
    hair = outfit["hair"]
    if hair in (2, 3):   # hair behind the head: a bob or a bun
        c.garment([_ellipse((0, 0.075), 0.058, 0.065)] if hair == 2
                  else [_ellipse((0, 0.0), 0.03, 0.026)], pal["hair"])
    parts = [_leg(s, stance, 0.46, 0.955) for s in (-1, 1)]
    parts += [_bodice(_shoulders([(-0.022, 0.16), (0.022, 0.16)], 0.0), 0.52)]
    parts += [[(-0.022, 0.10), (0.022, 0.10), (0.024, 0.17), (-0.024, 0.17)]]
    parts += [_arm_band(s, theta, -0.05, 1.0) for s in (-1, 1)]
    parts += [_hand(s, theta) for s in (-1, 1)] + [_ellipse(*_HEAD)]
    c.garment(parts, pal["skin"])
    if hair:
        c.garment([_arc(_HEAD[0], 0.05, 0.066, np.pi, 2 * np.pi)], pal["hair"])
    for s in (-1, 1):
        x = _leg_x(_ANKLE_Y, s, stance)
        c.garment([[(x - 0.022, 0.935), (x + 0.022, 0.935), (x + s * 0.008 + 0.03, 1.0),
                    (x + s * 0.008 - 0.03, 1.0)]], pal["shoes"])


def _draw_figure(c, pal, outfit):
    """Body, then top, bottom, coat and details: later layers cover earlier ones."""
    _draw_body(c, pal, outfit)
    theta = outfit["pose"][0]
    top = [_bodice(outfit["top_edge"], outfit["top_hem"], 0.006)] + outfit["top_parts"]
    if outfit["sleeve"] > 0.07:
        top += [_arm_band(s, theta, outfit["sleeve_from"], outfit["sleeve"], 0.008, 0.05)
                for s in (-1, 1)]
    c.garment(top, pal["top"])

    kind, hem = outfit["bottom"] or (None, None)
    if kind == "skirt":
        waist = [(-_torso_w(_WAIST_Y, 0.004), _WAIST_Y), (_torso_w(_WAIST_Y, 0.004), _WAIST_Y)]
        c.garment([_bodice(waist, hem, 0.004, outfit["bottom_flare"])], pal["bottom"])
    elif kind == "pants":
        stance = outfit["pose"][1]
        hips = _bodice(_across(_WAIST_Y, ease=0.005), 0.53, 0.005)
        c.garment([hips] + [_leg(s, stance, 0.47, hem, 0.009) for s in (-1, 1)], pal["bottom"])

    if outfit["coat"]:
        hem, flare, cut = outfit["coat"]
        body = _bodice(_shoulders(_CUTS[cut], 0.018), hem, 0.018, flare)
        c.garment([body] + [_arm_band(s, theta, -0.08, 0.97, 0.012) for s in (-1, 1)], pal["coat"])
        opening = max(y for _, y in _CUTS[cut])
        c.line([(0, opening), (0, hem)], pal["coat"].edge)
        for y in np.arange(opening + 0.03, min(hem, 0.62) - 0.02, 0.07):
            c.dot((0.012, y), 0.006, pal["coat"].edge)

    for polys, name in outfit["pieces"]:
        c.garment(polys, pal[name])
    for pts, name, width in outfit["lines"]:
        c.line(pts, pal[name].edge, width)
    for centre, r, name in outfit["dots"]:
        c.dot(centre, r, pal[name].edge)


# ----------------------------------------------------------------------- length tasks

# Hem positions: body-unit heights for skirts, pants and coats, fractions of the arm
# (shoulder 0, wrist 1) for sleeves. Neighbours differ by about a tenth of the figure.
_LENGTHS = {
    "skirt_length_labels": ("skirt", "lower", "bust", {
        "Short Length": 0.58, "Knee Length": 0.695, "Midi Length": 0.80,
        "Ankle Length": 0.89, "Floor Length": 1.0}),
    "pant_length_labels": ("pants", "lower", "bust", {
        "Short Pant": 0.565, "Mid Length": 0.675, "3/4 Length": 0.78,
        "Cropped Pant": 0.87, "Full Length": 0.975}),
    "coat_length_labels": ("coat", "coat", "bust", {
        "High Waist Length": 0.33, "Regular Length": 0.44, "Long Length": 0.545,
        "Micro Length": 0.64, "Knee Length": 0.735, "Midi Length": 0.83,
        "Ankle&Floor Length": 0.97}),
    "sleeve_length_labels": ("sleeve", "upper", "chest", {
        "Sleeveless": 0.0, "Cup Sleeves": 0.17, "Short Sleeves": 0.36, "Elbow Sleeves": 0.54,
        "3/4 Sleeves": 0.71, "Wrist Length": 0.88, "Long Sleeves": 1.07,
        "Extra Long Sleeves": 1.55}),
}


def _length_scene(task, value, toward, rng):
    part, view, hidden_view, levels = _LENGTHS[task]
    outfit = _base_outfit(rng)
    if value == INVISIBLE:
        # the garment is there, but its hem is out of frame
        level, view = float(rng.choice(list(levels.values()))), hidden_view
    else:
        level = levels[value]
        if toward is not None:
            level += _LEAN * (levels[toward] - level)
    if part == "coat":
        outfit["coat"] = (level, rng.uniform(0.06, 0.16), "coat")
        # a tunic underneath: a single edge, and the legs stay bare below it
        outfit["top_hem"], outfit["bottom"] = 0.53, None
    elif part == "sleeve":
        outfit["sleeve"] = level
        if level <= 0.07:
            outfit["top_edge"] = _TANK
    else:
        outfit["bottom"] = (part, level)
    return view, outfit


# ----------------------------------------------------------------------- design tasks

def _pair(left):
    """A left piece and its mirror image (collars and lapels come in pairs)."""
    return [left, _mirror(left)]


def _rib_band():
    """A knitted band round the neckline, with ribs across it."""
    outer = _arc((0, 0.156), 0.042, 0.044)
    inner = _arc((0, 0.156), 0.030, 0.030)
    ticks = [([(0.030 * np.cos(a), 0.156 + 0.030 * np.sin(a)),
               (0.042 * np.cos(a), 0.156 + 0.044 * np.sin(a))], "trim", 0.003)
             for a in np.linspace(np.pi, 0, 13)]
    return outer + inner[::-1], ticks


def _ruffle():
    """A frill flaring out from the neckline to a scalloped top edge."""
    xs = np.linspace(-0.062, 0.062, 13)
    top = [(x, 0.122 + (0.016 if i % 2 else 0.0)) for i, x in enumerate(xs)]
    pleats = [([(x, 0.128), (x * 0.55, 0.17)], "top_shade", 0.003) for x in xs[1:-1:2]]
    return top + [(0.035, 0.172), (-0.035, 0.172)], pleats


def _tube(top_y, folds):
    """A close-fitting neck tube from ``top_y`` down to the neckline, with fold lines."""
    poly = [(-0.034, top_y), (0.034, top_y), (0.037, 0.172), (-0.037, 0.172)]
    lines = [([(-0.035, y), (0.035, y)], "top_shade", 0.003)
             for y in np.linspace(top_y, 0.172, folds + 2)[1:-1]]
    return poly, lines


def _drapes():
    """Concentric cowl folds hanging in a wide scoop neckline."""
    return [(_arc((0, 0.172), 0.058 - 0.008 * k, 0.03 + 0.022 * k), "top", 0.009) for k in range(3)]


_RIB, _RIB_TICKS = _rib_band()
_RUFFLE, _RUFFLE_PLEATS = _ruffle()
_TURTLE, _TURTLE_FOLDS = _tube(0.106, 3)
_LOW_TURTLE, _LOW_TURTLE_FOLDS = _tube(0.148, 1)
_BUTTONS = [((0.0, y), 0.006, "top") for y in (0.23, 0.28, 0.33)]
_SHAWL_INNER = [(-0.03, 0.156), (-0.004, 0.318)]
_NOTCH_LAPEL = [(-0.022, 0.2), (-0.004, 0.318), (-0.095, 0.212), (-0.062, 0.2)]
_NOTCH_COLLAR = [(-0.03, 0.156), (-0.048, 0.148), (-0.082, 0.184), (-0.024, 0.194)]


def _shawl(bulge, top_x):
    """A lapel rolling from the neck to the top button without a notch; ``bulge`` sets
    how far out its outer edge swings (plus-size shawls nearly reach the shoulder)."""
    t = np.linspace(0, 1, 9)[:, None]
    p0, p1, p2 = np.array([-0.004, 0.318]), np.array([bulge, 0.20]), np.array([top_x, 0.152])
    outer = (1 - t) ** 2 * p0 + 2 * t * (1 - t) * p1 + t ** 2 * p2
    return _SHAWL_INNER + list(map(tuple, outer[1:]))


# Each design: the top's neckline cut (or full top edge), sleeves (None keeps the random
# ones), extra cloth of the top, pieces drawn over it with their paint, lines and dots.
_DESIGNS = {
    "collar_design_labels": ("neck", {
        "Shirt Collar": dict(cut="small_v", pieces=[(_pair(
            [(-0.03, 0.148), (-0.004, 0.205), (-0.056, 0.232), (-0.06, 0.172)]) +
            [[(-0.03, 0.14), (0.03, 0.14), (0.032, 0.162), (-0.032, 0.162)]], "trim")],
            lines=[([(0, 0.205), (0, 0.40)], "top", 0.003)], dots=_BUTTONS),
        "Peter Pan": dict(cut="crew", pieces=[([_ellipse((-0.032, 0.18), 0.034, 0.027),
                                                _ellipse((0.032, 0.18), 0.034, 0.027)], "trim")]),
        "Puritan Collar": dict(cut="crew", pieces=[(_pair(
            [(-0.03, 0.148), (-0.092, 0.176), (-0.1, 0.238), (-0.088, 0.256),
             (-0.004, 0.262), (-0.004, 0.17)]), "trim")]),
        "Rib Collar": dict(cut=_arc((0, 0.156), 0.042, 0.044), pieces=[([_RIB], "trim")],
                           lines=_RIB_TICKS),
    }),
    "lapel_design_labels": ("lapel", {
        # collar and lapel are separate pieces: the notch is the gap between them
        "Notched": dict(jacket="jacket",
                        pieces=[(_pair(_NOTCH_LAPEL) + _pair(_NOTCH_COLLAR), "lapel")]),
        "Collarless": dict(jacket="jewel", lines=[(_CUTS["jewel"], "lapel", 0.006)]),
        "Shawl Collar": dict(jacket="jacket", pieces=[(_pair(_shawl(-0.075, -0.048)), "lapel")]),
        "Plus Size Shawl": dict(jacket="jacket", pieces=[(_pair(_shawl(-0.16, -0.075)), "lapel")]),
    }),
    "neck_design_labels": ("neck", {
        "Turtle Neck": dict(cut="crew", pieces=[([_TURTLE], "top_shade")], lines=_TURTLE_FOLDS),
        "Ruffle Semi-High Collar": dict(cut="crew", pieces=[([_RUFFLE], "top_shade")],
                                        lines=_RUFFLE_PLEATS),
        "Low Turtle Neck": dict(cut="crew", pieces=[([_LOW_TURTLE], "top_shade")],
                                lines=_LOW_TURTLE_FOLDS),
        "Draped Collar": dict(cut="scoop", lines=_drapes()),
    }),
    "neckline_design_labels": ("neckline", {
        "Strapless Neck": dict(edge=_across(0.245), sleeve=0.0),
        "Deep V Neckline": dict(cut="deep_v"),
        "Straight Neck": dict(cut="boat"),
        "V Neckline": dict(cut="v"),
        "Square Neckline": dict(cut="square"),
        # a straight band across both upper arms, the shoulders bare above it
        "Off Shoulder": dict(edge=_across(0.205), sleeve=0.42, sleeve_from=0.07,
                             off_shoulder=True),
        "Round Neckline": dict(cut="round"),
        "Sweat Heart Neck": dict(sleeve=0.0, edge=_across(0.235, [
            (-0.075, 0.214), (-0.05, 0.205), (-0.025, 0.214), (0, 0.252), (0.025, 0.214),
            (0.05, 0.205), (0.075, 0.214)]),
            parts=_pair(_quad((-0.05, 0.21), (-0.05, 0.168), 0.004))),
        "One Shoulder Neckline": dict(sleeve=0.0, one_shoulder=True, edge=[
            (-_torso_w(_SHOULDER_Y, 0.006), _SHOULDER_Y), (-0.045, 0.166),
            (_torso_w(0.255, 0.006), 0.255)]),
    }),
}


def _off_shoulder_band(theta):
    """A band across both upper arms, giving the off-shoulder top its straight edge."""
    x = _ARM_ROOT[0] + 0.035 * np.tan(theta) + 0.035 / np.cos(theta)
    return [(-x, 0.205), (x, 0.205), (x, 0.24), (-x, 0.24)]


def _design_scene(task, value, toward, rng):
    view, designs = _DESIGNS[task]
    outfit = _base_outfit(rng)
    if value == INVISIBLE:
        return "legs", outfit      # the neck is out of frame
    spec = designs[value]
    if spec.get("jacket"):
        outfit["coat"] = (0.56, 0.1, spec["jacket"])     # the jacket's neckline cut
    if "cut" in spec:
        cut = spec["cut"]
        outfit["top_edge"] = _shoulders(_CUTS[cut] if isinstance(cut, str) else cut)
    if "edge" in spec:
        edge = spec["edge"]
        if spec.get("one_shoulder") and rng.random() < 0.5:
            edge = _mirror(edge)
        outfit["top_edge"] = edge
    if "sleeve" in spec:
        outfit["sleeve"] = spec["sleeve"]
    outfit["sleeve_from"] = spec.get("sleeve_from", outfit["sleeve_from"])
    outfit["top_parts"] = list(spec.get("parts", []))
    if spec.get("off_shoulder"):
        outfit["top_parts"].append(_off_shoulder_band(outfit["pose"][0]))
    outfit["pieces"] = list(spec.get("pieces", []))
    outfit["lines"] = list(spec.get("lines", []))
    outfit["dots"] = list(spec.get("dots", []))
    return view, outfit


# Plausible confusions for the 'm' (maybe) labels of design tasks; length tasks use the
# neighbouring lengths.
_CONFUSIONS = {
    "collar_design_labels": {"Shirt Collar": ["Peter Pan"],
                             "Peter Pan": ["Shirt Collar", "Puritan Collar"],
                             "Puritan Collar": ["Peter Pan"], "Rib Collar": ["Peter Pan"]},
    "lapel_design_labels": {"Notched": ["Shawl Collar"], "Collarless": ["Shawl Collar"],
                            "Shawl Collar": ["Notched", "Plus Size Shawl"],
                            "Plus Size Shawl": ["Shawl Collar"]},
    "neck_design_labels": {"Turtle Neck": ["Low Turtle Neck"],
                           "Ruffle Semi-High Collar": ["Low Turtle Neck"],
                           "Low Turtle Neck": ["Turtle Neck", "Ruffle Semi-High Collar"],
                           "Draped Collar": ["Ruffle Semi-High Collar"]},
    "neckline_design_labels": {
        "Strapless Neck": ["Off Shoulder", "Sweat Heart Neck"], "Deep V Neckline": ["V Neckline"],
        "Straight Neck": ["Square Neckline"], "V Neckline": ["Deep V Neckline", "Round Neckline"],
        "Square Neckline": ["Straight Neck", "Round Neckline"], "Off Shoulder": ["Strapless Neck"],
        "Round Neckline": ["V Neckline", "Square Neckline"],
        "Sweat Heart Neck": ["Strapless Neck"], "One Shoulder Neckline": ["Strapless Neck"]},
}


def _neighbours(task, value):
    """Values a labeller could plausibly hesitate towards (never Invisible)."""
    if value == INVISIBLE:
        return []
    if task in _LENGTHS:
        levels = _LENGTHS[task][3]
        order = sorted(levels, key=levels.get)
        i = order.index(value)
        return order[max(i - 1, 0):i] + order[i + 1:i + 2]
    return list(_CONFUSIONS[task][value])


# ------------------------------------------------------------------------- public API

def render_example(task, value_index, rng, image_size=128, toward=None):
    """Draw one demo image of value ``value_index`` of FashionAI ``task``.

    ``rng`` is a ``numpy.random.Generator``; everything but the label-carrying geometry
    (colours, fabric, backdrop, framing, pose, noise) is drawn from it. ``toward`` (a
    value index) nudges a length a little towards that neighbour, as for 'm' labels.
    """
    names = FASHIONAI_TASKS[task]
    if not 0 <= value_index < len(names):
        raise ValueError(f"task {task!r} has {len(names)} values, not index {value_index}")
    value = names[value_index]
    toward = None if toward is None else names[toward]
    scene = _length_scene if task in _LENGTHS else _design_scene
    view, outfit = scene(task, value, toward, rng)
    pal = _palette(rng, image_size * _SS)
    canvas = _Canvas(image_size, _VIEWS[view], rng, pal["bg"])
    _draw_figure(canvas, pal, outfit)
    return canvas.finish(rng)


def _task_key(task):
    """A stable integer for a task name (``hash`` changes between processes)."""
    return zlib.crc32(task.encode("utf-8"))


def _example(task, split, index, value, seed, image_size, maybe_rate):
    """One image and its ynm label string, seeded only by (seed, task, split, index)."""
    rng = np.random.default_rng([seed, _task_key(task), _SPLITS[split], index])
    names = FASHIONAI_TASKS[task]
    ynm = ["n"] * len(names)
    ynm[value] = "y"
    toward = None
    maybe = rng.random() < maybe_rate            # drawn always, so images stay stable
    nbrs = _neighbours(task, names[value])
    if maybe and nbrs:
        toward = names.index(nbrs[rng.integers(len(nbrs))])
        ynm[toward] = "m"
    img = render_example(task, value, rng, image_size, toward=toward)
    return img, "".join(ynm), int(rng.integers(60, 96))


def _write_csv(path, rows):
    """Write via a temporary file and rename, so a file is either whole or absent."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    os.replace(tmp, path)


def generate_fashionai_demo(out_dir, train_per_value=100, test_per_value=12, image_size=128,
                            maybe_rate=0.1, seed=0, tasks=None, progress=True):
    """Write a synthetic FashionAI-format dataset under ``out_dir``.

    Layout (as in the real data): ``Images/<task>/{train,test}_NNNNN.jpg``,
    ``Annotations/label.csv`` (train rows ``path,task,ynm``), ``Tests/question.csv``
    (test rows ``path,task,?``) and ``answers.csv`` (test rows with their labels).
    The CSVs are written last, ``label.csv`` the very last, and any from an earlier run
    are removed first, so an interrupted run never looks finished.

    ``tasks`` is a list of FashionAI task names (default: all eight). ``maybe_rate`` is
    the share of visible-value rows that also mark a neighbouring value 'm'. Returns a
    summary: ``out_dir``, per-task ``{"values", "train", "test"}`` counts and totals.
    """
    from tqdm import tqdm

    tasks = list(FASHIONAI_TASKS) if tasks is None else list(tasks)
    unknown = [t for t in tasks if t not in FASHIONAI_TASKS]
    if unknown:
        raise ValueError(f"unknown FashionAI tasks {unknown}; known: {list(FASHIONAI_TASKS)}")
    out_dir = os.path.abspath(str(out_dir))
    csv_paths = {name: os.path.join(out_dir, *name.split("/"))
                 for name in ("Annotations/label.csv", "Tests/question.csv", "answers.csv")}
    for path in csv_paths.values():
        if os.path.exists(path):
            os.remove(path)

    plan = []
    for task in tasks:
        n = len(FASHIONAI_TASKS[task])
        for split, per_value in (("train", train_per_value), ("test", test_per_value)):
            # shuffled so that file order says nothing about the label
            values = np.repeat(np.arange(n), per_value)
            np.random.default_rng([seed, _task_key(task), _SPLITS[split]]).shuffle(values)
            plan += [(task, split, i, int(v)) for i, v in enumerate(values)]

    rows = {"train": [], "test": []}
    summary = {task: {"values": len(FASHIONAI_TASKS[task]), "train": 0, "test": 0}
               for task in tasks}
    for task in tasks:
        os.makedirs(os.path.join(out_dir, "Images", task), exist_ok=True)
    for task, split, index, value in tqdm(plan, desc="demo images", disable=not progress):
        img, ynm, quality = _example(task, split, index, value, seed, image_size, maybe_rate)
        rel = f"Images/{task}/{split}_{index:05d}.jpg"
        img.save(os.path.join(out_dir, rel), quality=quality)
        rows[split].append((rel, task, ynm))
        summary[task][split] += 1

    _write_csv(csv_paths["answers.csv"], rows["test"])
    _write_csv(csv_paths["Tests/question.csv"], [(rel, task, "?") for rel, task, _ in rows["test"]])
    _write_csv(csv_paths["Annotations/label.csv"], rows["train"])
    return {"out_dir": out_dir, "image_size": image_size, "tasks": summary,
            "train": len(rows["train"]), "test": len(rows["test"])}
