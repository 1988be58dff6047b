"""Drawing the DeepFashion demo scenes: a person in a cluttered room, one garment of
whose outfit is the labelled item.

Shapes are written in *body units*: x across the figure (0 its centre line), y down
from the top of the head (0) to the floor (1). ``Canvas`` maps them to pixels with a
random size, position and horizontal stretch. A garment is a ``Garment`` (its cut, in
``demo_deepfashion``'s terms) drawn as a mask of polygons, filled with its texture and
fabric, then its parts; the labelled garment's visible pixels give its bounding box.
Everything is drawn with NumPy and OpenCV.
"""
import colorsys

import cv2
import numpy as np

# ------------------------------------------------------------------------ body model

_TORSO = ((0.18, 0.25, 0.38, 0.48, 0.52), (0.105, 0.095, 0.075, 0.10, 0.10))   # y -> half-width
_LEG = ((0.46, 0.60, 0.72, 0.95), (0.05, 0.045, 0.035, 0.022))
_ARM_ROOT, _ARM_LEN = (0.095, 0.19), 0.30
_WAIST, _HIP, _CROTCH = 0.38, 0.48, 0.52


def torso_w(y, ease=0.0):
    return float(np.interp(y, *_TORSO)) + ease


def leg_x(y):
    return 0.05 + 0.006 * max(0.0, y - _HIP) / (0.95 - _HIP)


def arm(side, theta, t0, t1, pad=0.0, bell=0.0, puff=0.0, steps=6):
    """Outline along one arm from ``t0`` to ``t1`` (fractions of shoulder to wrist)."""
    d = np.array([side * np.sin(theta), np.cos(theta)])
    n = np.array([d[1], -d[0]])
    ts = np.linspace(t0, t1, steps)
    w = 0.025 - 0.009 * ts + pad + bell * np.maximum(ts - t1 + 0.35, 0) + puff * np.maximum(0.3 - ts, 0)
    centre = np.array([side * _ARM_ROOT[0], _ARM_ROOT[1]]) + np.outer(ts * _ARM_LEN, d)
    return np.vstack([centre + np.outer(w, n), (centre - np.outer(w, n))[::-1]])


def leg(side, y0, y1, pad=0.0, widen=0.0, steps=7):
    ys = np.linspace(y0, y1, steps)
    w = np.interp(ys, *_LEG) + pad + widen * (ys - y0) / max(y1 - y0, 1e-6)
    cx = side * np.array([leg_x(y) for y in ys])
    return np.vstack([np.column_stack([cx + side * w, ys]), np.column_stack([cx - side * w, ys])[::-1]])


_NECKS = {
    "crew": lambda: _arc(0.155, 0.035, 0.028),
    "scoop": lambda: _arc(0.15, 0.06, 0.07),
    "v": lambda: [(-0.035, 0.155), (0.0, 0.27), (0.035, 0.155)],
    "square": lambda: [(-0.05, 0.16), (-0.05, 0.235), (0.05, 0.235), (0.05, 0.16)],
    "high": lambda: [(-0.03, 0.13), (0.03, 0.13)],
}


def _arc(cy, rx, ry, n=9):
    a = np.linspace(np.pi, 0, n)
    return list(zip(rx * np.cos(a), cy + ry * np.sin(a) - ry * 0.4))


# ------------------------------------------------------------------------ colours

def hsv(h, s, v):
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32) * 255


PALETTES = {
    None: lambda rng: hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9)),
    "pastel": lambda rng: hsv(rng.random(), rng.uniform(0.15, 0.3), rng.uniform(0.88, 1.0)),
    "neon": lambda rng: hsv(rng.choice([0.15, 0.3, 0.83, 0.95, 0.5]) + rng.uniform(-0.03, 0.03), 1.0, 1.0),
    "monochrome": lambda rng: np.full(3, rng.choice([rng.uniform(5, 40), rng.uniform(215, 250)]), np.float32),
    "earthy": lambda rng: hsv(rng.uniform(0.05, 0.16), rng.uniform(0.4, 0.7), rng.uniform(0.3, 0.6)),
    "metallic": lambda rng: hsv(rng.choice([0.12, 0.0]), rng.choice([0.55, 0.0]), rng.uniform(0.7, 0.85)),
}


def contrast(c, rng, min_dist=110.0):
    """A colour at least ``min_dist`` from ``c``."""
    for _ in range(30):
        o = hsv(rng.random(), rng.uniform(0.2, 1.0), rng.uniform(0.1, 1.0))
        if np.linalg.norm(o - c) >= min_dist:
            return o
    return 255.0 - c


# ------------------------------------------------------------------------ canvas

class Canvas:
    """A square image, the figure's placement on it, and polygon masks in body units."""

    def __init__(self, size, rng):
        self.size = size
        self.scale = size * rng.uniform(0.86, 0.95)                 # figure height in pixels
        self.stretch = rng.uniform(1.2, 1.4)                        # figures are narrow: widen them
        self.top = rng.uniform(0.01, 0.99 - self.scale / size) * size
        self.cx = size * rng.uniform(0.38, 0.62)
        self.unit = self.scale * 0.012                              # pattern unit, pixels
        self.img = _background(size, rng)

    def px(self, pts):
        pts = np.asarray(pts, np.float64)
        return np.round(np.column_stack([self.cx + pts[:, 0] * self.scale * self.stretch,
                                         self.top + pts[:, 1] * self.scale])).astype(np.int32)

    def mask(self, polys):
        m = np.zeros((self.size, self.size), np.uint8)
        cv2.fillPoly(m, [self.px(p) for p in polys], 1)
        return m

    def fill(self, polys, colour):
        cv2.fillPoly(self.img, [self.px(p) for p in polys], tuple(float(c) for c in colour))

    def line(self, pts, colour, width=1):
        cv2.polylines(self.img, [self.px(pts)], False, tuple(float(c) for c in colour), width, cv2.LINE_AA)

    def dots(self, pts, colour, radius):
        for x, y in self.px(pts):
            cv2.circle(self.img, (int(x), int(y)), max(1, int(radius)), tuple(float(c) for c in colour), -1,
                       cv2.LINE_AA)

    def finish(self, rng):
        img = self.img * np.float32(rng.uniform(0.85, 1.12))
        img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(2, 6))
        return np.clip(img, 0, 255, out=img).astype(np.uint8)


def _background(size, rng):
    """A wall with a gradient, a floor, furniture-like blocks, frames and a clothes rail."""
    wall, floor = hsv(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.5, 0.95)), \
        hsv(rng.random(), rng.uniform(0, 0.4), rng.uniform(0.2, 0.7))
    ramp = np.linspace(rng.uniform(0.85, 1.0), rng.uniform(0.85, 1.1), size, dtype=np.float32)
    img = np.ones((size, size, 3), np.float32) * wall * ramp[:, None, None]
    horizon = int(size * rng.uniform(0.6, 0.9))
    img[horizon:] = floor
    for _ in range(rng.integers(2, 6)):   # blocks and frames
        x, y = rng.integers(0, size, 2)
        w, h = rng.integers(size // 12, size // 3, 2)
        colour = tuple(float(c) for c in hsv(rng.random(), rng.uniform(0, 0.8), rng.uniform(0.2, 0.95)))
        cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), colour, -1 if rng.random() < 0.6 else 2)
    for _ in range(rng.integers(0, 4)):   # round things
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.circle(img, centre, int(rng.integers(2, size // 10)),
                   tuple(float(c) for c in hsv(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.3, 1))), -1)
    return img


# ------------------------------------------------------------------------ patterns

def _grid(h, w, rng):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return yy + rng.uniform(0, 50), xx + rng.uniform(0, 50)


def _two(c1, c2, on):
    return np.where(on[..., None], c2, c1).astype(np.float32)


def _stamps(h, w, c1, c2, rng, u, spacing, draw):
    out = np.empty((h, w, 3), np.float32)
    out[:] = c1
    n = max(1, int(h * w / (spacing * u) ** 2))
    for x, y in zip(rng.uniform(0, w, n), rng.uniform(0, h, n)):
        draw(out, int(x), int(y), tuple(float(c) for c in c2))
    return out


def pattern(name, h, w, u, c1, c2, rng):
    """An ``h`` x ``w`` RGB float image of texture ``name`` in colours ``c1``, ``c2``."""
    yy, xx = _grid(h, w, rng)
    if name == "striped":
        return _two(c1, c2, (yy // (1.1 * u)) % 2 == 0)
    if name == "wide-striped":
        return _two(c1, c2, (yy // (2.6 * u)) % 2 == 0)
    if name == "pinstriped":
        return _two(c1, c2, xx % (2.0 * u) < max(1.0, 0.35 * u))
    if name == "diagonal-striped":
        return _two(c1, c2, ((xx + yy) // (1.4 * u)) % 2 == 0)
    if name in ("polka-dot", "big-dot"):
        p, r = (2.4 * u, 0.55 * u) if name == "polka-dot" else (4.5 * u, 1.3 * u)
        return _two(c1, c2, ((xx % p) - p / 2) ** 2 + ((yy % p) - p / 2) ** 2 < r * r)
    if name == "gingham":
        a, b = (xx // (1.3 * u)) % 2 == 0, (yy // (1.3 * u)) % 2 == 0
        return _two(c1, c2, a & b) * 1.0 + _two(np.zeros(3), (c2 - c1) * 0.5, a ^ b)
    if name == "plaid":
        a, b = (xx % (4 * u)) < 1.5 * u, (yy % (4 * u)) < 1.5 * u
        thin = ((xx % (4 * u)) // 1 == int(2.7 * u)) | ((yy % (4 * u)) // 1 == int(2.7 * u))
        out = _two(c1, c2, a & b) + _two(np.zeros(3), (c2 - c1) * 0.5, a ^ b)
        out[thin] = 255 - c1
        return out
    if name == "chevron":
        tri = np.abs((xx / (1.5 * u)) % 2 - 1) * 1.5 * u
        return _two(c1, c2, ((yy + tri) // (1.2 * u)) % 2 == 0)
    if name in ("floral", "big-floral"):
        r = 0.45 * u if name == "floral" else 1.3 * u
        centre = contrast(c2, rng, 60)

        def flower(img, x, y, c):
            for a in np.linspace(0, 2 * np.pi, 5, endpoint=False):
                cv2.circle(img, (int(x + r * np.cos(a)), int(y + r * np.sin(a))), max(1, int(r * 0.75)), c, -1)
            cv2.circle(img, (x, y), max(1, int(r * 0.5)), tuple(float(v) for v in centre), -1)
        return _stamps(h, w, c1, c2, rng, u, 3.2 if name == "floral" else 7.0, flower)
    if name == "leopard":
        def spot(img, x, y, c):
            cv2.ellipse(img, (x, y), (int(0.9 * u) + 1, int(0.6 * u) + 1), rng.uniform(0, 180), 0, 360, c,
                        max(1, int(0.35 * u)))
        return _stamps(h, w, c1 * 0.6 + np.array([200, 150, 60]) * 0.4, c2 * 0.3, rng, u, 2.4, spot)
    if name == "camo":
        noise = cv2.resize(rng.random((max(2, int(h / (2.5 * u))), max(2, int(w / (2.5 * u))))).astype(np.float32),
                           (w, h), interpolation=cv2.INTER_CUBIC)
        colours = np.array([[70, 80, 40], [120, 110, 70], [40, 45, 30]], np.float32)
        return colours[np.digitize(noise, [0.4, 0.7])]
    if name == "colorblock":
        return _two(c1, c2, xx - xx.min() > w / 2)
    if name == "ombre":
        t = (np.arange(h, dtype=np.float32) / max(h - 1, 1))[:, None, None]
        return np.broadcast_to(c1 * (1 - t) + c2 * t, (h, w, 3)).astype(np.float32)
    if name == "graphic":
        out = np.empty((h, w, 3), np.float32)
        out[:] = c1
        cx, cy, r = w // 2, int(h * 0.3), max(2, int(min(h, w) * 0.18))
        cv2.circle(out, (cx, cy), r, tuple(float(v) for v in c2), -1)
        cv2.fillPoly(out, [np.array([[cx - r // 2, cy + r // 3], [cx + r // 2, cy + r // 3], [cx, cy - r // 2]],
                                    np.int32)], tuple(float(v) for v in c1))
        return out
    if name == "star-print":
        def star(img, x, y, c):
            cv2.drawMarker(img, (x, y), c, cv2.MARKER_STAR, max(3, int(1.4 * u)), 1)
        return _stamps(h, w, c1, c2, rng, u, 3.0, star)
    if name == "geometric":
        p = 2.5 * u
        return _two(c1, c2, ((xx % p) > (yy % p)) ^ (((xx // p) + (yy // p)) % 2 == 0))
    if name == "tie-dye":
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        rings = np.sin(np.hypot(yy - yy.min() - cy, xx - xx.min() - cx) / (0.9 * u))[..., None]
        return (c1 * (0.5 + 0.5 * rings) + c2 * (0.5 - 0.5 * rings)).astype(np.float32)
    if name == "abstract":
        out = np.empty((h, w, 3), np.float32)
        out[:] = c1
        for _ in range(rng.integers(3, 7)):
            p0, p1 = rng.integers(0, max(w, 2), 2), rng.integers(0, max(h, 2), 2)
            cv2.line(out, (int(p0[0]), int(p1[0])), (int(p0[1]), int(p1[1])),
                     tuple(float(v) for v in (c2 if rng.random() < 0.6 else contrast(c1, rng))),
                     max(1, int(rng.uniform(0.4, 1.2) * u)))
        return out
    raise ValueError(f"unknown texture {name!r}")


# ------------------------------------------------------------------------ fabrics

def fabric(name, layer, under, region, u, rng):
    """Apply fabric ``name`` to ``layer`` (the garment's colours, float RGB) in place;
    returns the mask of pixels the garment shows (holes and sheer cloth let ``under``
    show through)."""
    h, w = region.shape
    yy, xx = _grid(h, w, rng)
    show = region.astype(bool)
    if name == "denim":
        layer *= 0.8 + 0.2 * (((xx + yy) % 3) > 0)[..., None]
    elif name == "leather":
        x0 = rng.uniform(0.2, 0.5) * w
        layer += 70 * np.exp(-((xx - xx.min() - x0) / (0.12 * w + 1)) ** 2)[..., None]
    elif name == "knit":
        layer *= 1 - 0.3 * ((xx % max(2.0, 0.7 * u)) < 1)[..., None]
    elif name in ("lace", "crochet"):
        p, r = (1.4 * u, 0.4 * u) if name == "lace" else (2.6 * u, 0.85 * u)
        show &= ((xx % p) - p / 2) ** 2 + ((yy % p) - p / 2) ** 2 >= r * r
    elif name == "chiffon":
        layer[:] = 0.5 * layer + 0.5 * under
    elif name == "quilted":
        p = 2.2 * u
        layer *= 1 - 0.35 * (((xx + yy) % p < 1) | ((xx - yy) % p < 1))[..., None]
    elif name == "sequin":
        sparkle = rng.random((h, w)) < 0.12
        layer[sparkle] = 255
    elif name == "faux-fur":
        edge = region.astype(bool) & ~cv2.erode(region, np.ones((3, 3), np.uint8),
                                                iterations=max(1, int(0.9 * u))).astype(bool)
        layer[edge] = np.array([235, 225, 205], np.float32) * rng.uniform(0.75, 1.0, (int(edge.sum()), 1))
    elif name == "tweed":
        layer *= rng.uniform(0.65, 1.3, (h, w, 1)).astype(np.float32)
    elif name == "satin":
        layer *= (0.8 + 0.35 * np.sin((xx + yy) / (3.0 * u)))[..., None]
    elif name == "mesh":
        layer *= 1 - 0.6 * ((xx % 3 < 1) & (yy % 3 < 1))[..., None]
    elif name == "corduroy":
        layer *= 1 - 0.25 * ((xx % (1.4 * u)) < 0.6 * u)[..., None]
    elif name == "velvet":
        depth = cv2.distanceTransform(region, cv2.DIST_L2, 3)
        layer *= (0.55 + 0.45 * np.clip(depth / (3 * u), 0, 1))[..., None]
    elif name == "fleece":
        noise = cv2.resize(rng.random((max(2, h // 4), max(2, w // 4))).astype(np.float32), (w, h))
        layer *= (0.85 + 0.3 * noise)[..., None]
    elif name is not None:
        raise ValueError(f"unknown fabric {name!r}")
    return show


def paint(canvas, polys, look_colours, texture, fabric_name, rng, cut_out=()):
    """Fill the garment made of ``polys`` (minus ``cut_out``): texture, then fabric.
    Returns its mask on the canvas."""
    region = canvas.mask(polys)
    if cut_out:
        region &= 1 - canvas.mask(cut_out)
    x0, y0, w, h = cv2.boundingRect(region)
    if not w:
        return region
    y1, x1 = y0 + h, x0 + w
    c1, c2 = look_colours
    sub = region[y0:y1, x0:x1]
    layer = (pattern(texture, y1 - y0, x1 - x0, canvas.unit, c1, c2, rng) if texture
             else np.ones((y1 - y0, x1 - x0, 3), np.float32) * c1)
    layer = np.array(layer, np.float32)
    under = canvas.img[y0:y1, x0:x1]
    show = fabric(fabric_name, layer, under, sub, canvas.unit, rng) & sub.astype(bool)
    # a little shading down the sides gives the garment volume
    layer *= (0.88 + 0.12 * np.sin(np.linspace(0, np.pi, x1 - x0)))[None, :, None]
    under[show] = np.clip(layer[show], 0, 255)
    out = np.zeros_like(region)
    out[y0:y1, x0:x1] = show
    return out | region   # holes count as the garment's area (its box)


# ------------------------------------------------------------------------ the person

def draw_person(canvas, rng, theta):
    """Skin, hair and shoes of a standing figure with arms at ``theta`` from vertical."""
    tones = ((255, 224, 196), (234, 192, 134), (198, 134, 66), (141, 85, 36), (90, 56, 37))
    skin = np.array(tones[rng.integers(len(tones))], np.float32) * rng.uniform(0.9, 1.05)
    hair = hsv(rng.uniform(0.02, 0.1), rng.uniform(0.3, 0.8), rng.uniform(0.05, 0.6))
    body = [leg(side, 0.46, 0.96) for side in (-1, 1)] + [arm(side, theta, 0, 1.05) for side in (-1, 1)]
    body.append([(-torso_w(y), y) for y in (0.18, 0.3, _WAIST, _HIP, _CROTCH)]
                + [(torso_w(y), y) for y in (_CROTCH, _HIP, _WAIST, 0.3, 0.18)])
    body.append([(-0.022, 0.11), (0.022, 0.11), (0.024, 0.185), (-0.024, 0.185)])
    canvas.fill(body, skin)
    canvas.fill([_ellipse((0, 0.065), 0.045, 0.06)], skin)
    canvas.fill([_ellipse((0, 0.04), 0.05, 0.04)], hair)
    shoes = hsv(rng.random(), rng.uniform(0, 0.6), rng.uniform(0.05, 0.5))
    canvas.fill([_ellipse((side * (leg_x(0.97) + 0.012), 0.97), 0.035, 0.018) for side in (-1, 1)], shoes)
    return skin


def _ellipse(centre, rx, ry, n=16):
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([centre[0] + rx * np.cos(a), centre[1] + ry * np.sin(a)])


# ------------------------------------------------------------------------ garment cuts

EASE = {"fitted": 0.004, "regular": 0.015, "loose": 0.035}


def _edge(neck, ease):
    """The top edge of a garment that reaches the shoulders, left to right."""
    xs = torso_w(0.18, ease)
    if neck == "strap":
        side = [(-torso_w(0.26, ease), 0.26), (-0.075, 0.185), (-0.05, 0.18)]
        return side + _arc(0.16, 0.05, 0.06) + [(-x, y) for x, y in reversed(side)]
    if neck == "off":
        return [(-xs - 0.03, 0.225), (xs + 0.03, 0.225)]
    return [(-xs, 0.18)] + list(_NECKS[neck]()) + [(xs, 0.18)]


def _sides(edge, bottom, ease, flare=0.0, flare_from=_HIP, steps=8):
    """Edge, down the right side to ``bottom``, across, up the left side."""
    ys = np.linspace(edge[-1][1], bottom, steps)

    def width(y):
        return torso_w(y, ease) + flare * max(0.0, y - flare_from)
    return list(edge) + [(width(y), y) for y in ys] + [(-width(y), y) for y in ys[::-1]]


def _skirt(top, hem, ease, flare, asymmetric=False, ruffled=False, steps=8):
    ys = np.linspace(top, hem, steps)
    width = [max(torso_w(y, ease), torso_w(top, ease) + flare * (y - top)) for y in ys]
    hem_right = hem - (0.08 if asymmetric else 0.0)
    right = [(w, y if y < hem else hem_right) for w, y in zip(width, ys)]
    left = [(-w, y) for w, y in zip(width[::-1], ys[::-1])]
    bottom = []
    if ruffled:
        xs = np.linspace(width[-1], -width[-1], 13)
        bottom = [(x, np.interp(x, [-width[-1], width[-1]], [hem, hem_right]) + (0.012 if i % 2 else 0))
                  for i, x in enumerate(xs)]
    return right + bottom + left


def _pants(top, hem, ease, legs):
    waist = [(-torso_w(top, ease), top), (torso_w(top, ease), top), (torso_w(_CROTCH, ease), _CROTCH),
             (-torso_w(_CROTCH, ease), _CROTCH)]
    pad, widen = {"skinny": (0.003, 0.0), "straight": (0.012, 0.012), "wide": (0.02, 0.045)}[legs]
    return [waist] + [leg(side, 0.46, hem, pad, widen) for side in (-1, 1)]


def cut_polygons(g, theta):
    """Polygons of garment ``g`` (a dict of its cut), the opening to leave out (front
    of open garments) and the hem line ``(y, half-width)`` of its lowest edge."""
    ease = EASE[g.get("fit", "regular")]
    kind, pieces, opening = g["kind"], [], []
    top_part = kind in ("top", "outer", "dress", "jumpsuit")
    if top_part:
        bottom = g["waist"] if kind in ("dress", "jumpsuit") else g["hem"]
        flare, start = (0.6, 0.4) if "peplum" in g["details"] else (g.get("flare", 0.0), _HIP)
        pieces.append(_sides(_edge(g["neck"], ease), bottom + 0.005, ease, flare, start))
        sleeve = g.get("sleeve", 0)
        if sleeve:
            style = g.get("sleeve_style")
            t0 = 0.15 if g["neck"] == "off" else 0.0
            for side in (-1, 1):
                pieces.append(arm(side, theta, t0, sleeve, pad=0.012 + (0.02 if style == "wide" else 0),
                                  bell=0.08 if style in ("bell", "wide") else 0.0,
                                  puff=0.09 if style == "puff" else 0.0))
        if g.get("open"):
            opening.append([(-0.012, 0.16), (0.012, 0.16), (0.045, g["hem"] + 0.01), (-0.045, g["hem"] + 0.01)])
    if kind == "dress":
        pieces.append(_skirt(g["waist"], g["hem"], ease, g["flare"], "asymmetric" in g["details"],
                             "ruffled" in g["details"]))
    if kind in ("pants", "jumpsuit", "overalls"):
        pieces += _pants(g["waist"], g["hem"], ease, g["legs"])
    if kind == "skirt":
        pieces.append(_skirt(g["waist"], g["hem"], ease, g["flare"], "asymmetric" in g["details"],
                             "ruffled" in g["details"]))
    if kind == "overalls":
        pieces.append([(-0.065, 0.24), (0.065, 0.24), (0.075, g["waist"]), (-0.075, g["waist"])])
        for side in (-1, 1):
            pieces.append([(side * 0.05, 0.24), (side * 0.065, 0.24), (side * 0.09, 0.18), (side * 0.075, 0.18)])
    if kind == "cape":
        pieces.append([(-0.04, 0.15), (0.04, 0.15), (0.1, 0.19), (0.24, g["hem"]), (-0.24, g["hem"]),
                       (-0.1, 0.19)])
    if kind == "kaftan":
        h = g["hem"]
        pieces.append([(-0.035, 0.155), (0.035, 0.155), (0.11, 0.18), (0.22, 0.3), (0.22, 0.37), (0.13, 0.4),
                       (0.17, h), (-0.17, h), (-0.13, 0.4), (-0.22, 0.37), (-0.22, 0.3), (-0.11, 0.18)])
    if "slit" in g["details"]:
        x = torso_w(g["hem"], ease) * 0.5
        opening.append([(x - 0.012, g["hem"] + 0.01), (x + 0.012, g["hem"] + 0.01), (x, g["hem"] - 0.12)])
    all_pts = np.vstack([np.asarray(p, float) for p in pieces])
    low = all_pts[all_pts[:, 1] > all_pts[:, 1].max() - 0.02]
    return pieces, opening, (float(all_pts[:, 1].max()), float(np.abs(low[:, 0]).max()))


# ------------------------------------------------------------------------ parts

def draw_parts(canvas, g, colours, theta, rng):
    """Parts and seam details of garment ``g`` on top of its painted body; returns
    polygons that add to the garment's area (fringe, hood)."""
    c1, c2 = colours
    dark, light, metal = c1 * 0.5, np.minimum(c1 * 0.4 + 160, 255), np.array([200, 200, 190], np.float32)
    parts, details = g["parts"], g["details"]
    hem_y, hem_w = g["hem_line"]
    chest = 0.24 if g["kind"] != "overalls" else 0.27
    waist = g.get("waist", _WAIST) if g["kind"] in ("pants", "skirt", "jumpsuit", "dress", "overalls") else _WAIST
    front_bottom = g["hem"] if g["kind"] in ("top", "outer") else waist
    extra = []
    width = max(1, int(canvas.unit * 0.5))
    lower = g["kind"] in ("pants", "skirt", "overalls")
    if "hood" in parts:
        hood = [_ellipse((0, 0.175), 0.075, 0.035)]
        canvas.fill(hood, c1 * 0.8)
        canvas.fill([_ellipse((0, 0.17), 0.03, 0.015)], c1 * 0.45)
        extra += hood
    if "collar" in parts:
        canvas.fill([[(-0.04, 0.15), (-0.004, 0.175), (-0.03, 0.21)], [(0.04, 0.15), (0.004, 0.175), (0.03, 0.21)]],
                    light if rng.random() < 0.5 else dark)
    if "lapel" in parts:
        canvas.fill([[(-0.035, 0.16), (-0.085, 0.21), (-0.005, 0.3)], [(0.035, 0.16), (0.085, 0.21), (0.005, 0.3)]],
                    dark)
    if "button" in parts:
        ys = np.linspace(waist + 0.015, waist + 0.11, 3) if lower else np.linspace(0.2, front_bottom - 0.02, 5)
        x = 0.052 if g.get("open") else 0.0
        canvas.dots([(x, y) for y in ys], light if c1.mean() < 128 else dark, canvas.unit * 0.45)
    if "zip" in parts:
        y0, y1 = (waist, waist + 0.1) if lower else (0.17, front_bottom)
        canvas.line([(0, y0), (0, y1)], metal, width)
        canvas.fill([[(-0.008, y0), (0.008, y0), (0.008, y0 + 0.025), (-0.008, y0 + 0.025)]], metal)
    if "pocket" in parts:
        y = (waist + 0.05) if lower or g["kind"] in ("dress", "jumpsuit") else front_bottom - 0.07
        for side in (-1, 1):
            canvas.line([(side * 0.035, y), (side * 0.08, y), (side * 0.08, y + 0.05), (side * 0.035, y + 0.05),
                         (side * 0.035, y)], dark, width)
    if "chest-pocket" in parts:
        canvas.fill([[(-0.065, chest), (-0.03, chest), (-0.03, chest + 0.035), (-0.065, chest + 0.035)]], c1 * 0.75)
    if "belt" in parts:
        half = torso_w(waist, 0.02)
        canvas.fill([[(-half, waist - 0.012), (half, waist - 0.012), (half, waist + 0.012), (-half, waist + 0.012)]],
                    dark)
        canvas.fill([[(-0.015, waist - 0.016), (0.015, waist - 0.016), (0.015, waist + 0.016),
                      (-0.015, waist + 0.016)]], metal)
    if "drawstring" in parts:
        y = waist if lower else 0.17
        for side in (-1, 1):
            canvas.line([(side * 0.015, y), (side * 0.02, y + 0.07)], light, width)
    if "cuff" in parts:
        if lower or g["kind"] == "jumpsuit":
            for side in (-1, 1):
                x = side * leg_x(g["hem"])
                canvas.fill([[(x - 0.04, g["hem"] - 0.025), (x + 0.04, g["hem"] - 0.025), (x + 0.04, g["hem"]),
                              (x - 0.04, g["hem"])]], dark)
        if g.get("sleeve", 0) > 0.5:
            for side in (-1, 1):
                canvas.fill([arm(side, theta, g["sleeve"] - 0.1, g["sleeve"], pad=0.016)], dark)
    if "epaulette" in parts:
        for side in (-1, 1):
            canvas.fill([[(side * 0.06, 0.175), (side * 0.105, 0.18), (side * 0.105, 0.195), (side * 0.06, 0.19)]],
                        dark)
    if "bow" in parts:
        canvas.fill([[(0, 0.185), (-0.035, 0.165), (-0.035, 0.205)], [(0, 0.185), (0.035, 0.165), (0.035, 0.205)]],
                    c2)
    if "fringe" in parts:
        xs = np.linspace(-hem_w + 0.01, hem_w - 0.01, max(4, int(hem_w * 60)))
        for x in xs:
            canvas.line([(x, hem_y - 0.005), (x, hem_y + 0.035)], c1 * 0.8, width)
        extra.append([(-hem_w, hem_y - 0.01), (hem_w, hem_y - 0.01), (hem_w, hem_y + 0.035),
                      (-hem_w, hem_y + 0.035)])
    if "stud" in parts:
        y = waist if lower else 0.19
        canvas.dots([(x, y) for x in np.linspace(-0.09, 0.09, 9)], metal, canvas.unit * 0.35)
    if "lace-up" in parts:
        for y in np.linspace(0.19, 0.27, 4):
            canvas.line([(-0.02, y), (0.02, y + 0.02)], light, width)
            canvas.line([(0.02, y), (-0.02, y + 0.02)], light, width)
    if "side-stripe" in parts:
        for side in (-1, 1):
            if lower or g["kind"] == "jumpsuit":
                canvas.line([(side * torso_w(waist + 0.02), waist + 0.02),
                             (side * (leg_x(g["hem"]) + 0.03), g["hem"])], c2, max(2, 2 * width))
            else:
                canvas.line([(side * (torso_w(0.25) - 0.005), 0.25), (side * (torso_w(0.45) + 0.005),
                                                                      g["hem"] - 0.01)], c2, max(2, 2 * width))
    if "patch" in parts:
        y = waist + 0.12 if lower else chest + 0.01
        canvas.fill([_ellipse((0.05, y), 0.018, 0.014)], contrast(c1, rng))
    if "knot" in parts:
        canvas.fill([_ellipse((0.07, waist + 0.015), 0.015, 0.012)], c1 * 0.7)
        canvas.line([(0.07, waist + 0.02), (0.06, waist + 0.09)], c1 * 0.7, max(2, width))
    if "chain" in parts:
        canvas.dots([(x, waist + 0.03 + 0.02 * np.cos(x * 20)) for x in np.linspace(-0.08, 0.08, 11)], metal,
                    canvas.unit * 0.3)
    if "trim" in parts:
        for poly in g["polygons"]:
            cv2.polylines(canvas.img, [canvas.px(poly)], True, tuple(float(v) for v in c2), max(1, width),
                          cv2.LINE_AA)
    if "tiered" in details or "pleated" in details:
        top = waist
        for f in (0.35, 0.68) if "tiered" in details else ():
            y = top + f * (hem_y - top)
            w = max(torso_w(y, 0.015), hem_w * (y - top) / max(hem_y - top, 1e-6))
            canvas.line([(-w, y), (w, y)], dark, max(1, width))
        for x in np.linspace(-0.06, 0.06, 5) if "pleated" in details else ():
            canvas.line([(x, top + 0.02), (x * hem_w / 0.08, hem_y - 0.01)], c1 * 0.7, 1)
    return extra
