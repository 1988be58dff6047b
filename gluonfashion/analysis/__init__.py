"""Looking at data, metrics and mistakes: the helpers the tutorial notebooks call.

* data summaries: per-task value counts, JD label frequency and co-occurrence;
* figures: class balance bars, image grids, co-occurrence heat map, confusion matrix;
* metrics explained: the per-k precision table behind the FashionAI AP;
* error analysis: confusion matrix, most confident mistakes, class activation maps;
* speed: imperative vs hybridized images/s of a network;
* ``notebook_setup``: fast-mode detection, working folder and demo data for notebooks.

Everything returns numpy arrays, pandas tables or matplotlib figures, so the same
functions work in a notebook, a script or a test.
"""
import os
import tempfile
import warnings
from dataclasses import dataclass, field

import numpy as np

FAST_ENV = "GLUONFASHION_FAST"          # "1": notebooks run on tiny data, 1 epoch (CI)
FAST_DIR_ENV = "GLUONFASHION_FAST_DIR"  # where fast mode puts its data and runs (default: a temp folder)

# Config overrides of fast mode: one short epoch, no loader processes to start.
FAST_OVERRIDES = {"epochs": 1, "batch_size": 16, "warmup_epochs": 0, "workers": 0}
# Size of the fast-mode demo datasets (all eight FashionAI tasks, a few images each).
FAST_FASHIONAI = {"train_per_value": 6, "test_per_value": 2, "image_size": 96}
FAST_JD = {"n_train": 160, "n_test": 20, "image_size": 96}

DEMO_FASHIONAI_ROOT = "data/demo/fashionai"
DEMO_JD_ROOT = "data/demo/jd"


# ------------------------------------------------------------------ notebook setup

def is_fast_mode():
    """True when ``GLUONFASHION_FAST`` asks for the quick version (tests, CI)."""
    return os.environ.get(FAST_ENV, "").strip().lower() not in ("", "0", "false", "no")


def find_repo_root(start=None):
    """The folder holding ``configs/fashionai`` at or above ``start`` (default: cwd).

    Notebooks run with ``tutorial/`` as working folder; the configs and the relative
    paths of the kit (``data/...``, ``runs/...``) start at the repository root.
    """
    here = os.path.abspath(start or os.getcwd())
    while True:
        if os.path.isdir(os.path.join(here, "configs", "fashionai")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            raise FileNotFoundError(f"no configs/fashionai folder at or above {start or os.getcwd()}: "
                                    f"start the notebook inside the gluonfashion repository")
        here = parent


@dataclass
class NotebookEnv:
    """Where a notebook reads and writes, and the config overrides of its mode."""
    fast: bool
    repo_root: str
    fashionai_root: str
    jd_root: str
    runs_dir: str
    overrides: dict = field(default_factory=dict)

    def config_overrides(self, **settings):
        """``(key, value)`` pairs for ``load_config``: the notebook's ``settings``, with
        the fast mode's overrides winning (CI must stay quick whatever a notebook asks)."""
        return list({**settings, **self.overrides}.items())


def _enable_inline_figures(dpi):
    """Show figures inline in Jupyter. Importing the kit selects the Agg backend (it
    writes PNGs during training), so the inline backend is switched back on here."""
    import matplotlib
    from .. import plots  # noqa: F401  (its matplotlib.use("Agg") must run first)
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
        shell.run_line_magic("matplotlib", "inline")
    matplotlib.rcParams.update({"figure.dpi": dpi, "savefig.dpi": dpi, "figure.max_open_warning": 0})


def ensure_fashionai_demo(root, fast=False):
    """Generate the FashionAI demo data into ``root`` unless it is there and current."""
    from ..data.demo_data import ensure_demo
    ensure_demo("fashionai", root, progress=False, **(FAST_FASHIONAI if fast else {}))
    return root


def ensure_jd_demo(root, fast=False):
    """Generate the JD demo data into ``root`` unless it is there and current."""
    from ..data.demo_data import ensure_demo
    ensure_demo("jd", root, progress=False, **(FAST_JD if fast else {}))
    return root


def _checked_root(path, demo_path, need, generate):
    """``path`` itself; the demo data is generated when ``path`` is the demo folder and
    empty, any other missing folder is an error (real data is never invented)."""
    if path is None or not need:
        return path
    if os.path.normpath(path) == os.path.normpath(demo_path):
        return generate(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: put the data there or fix the path cell")
    return path


def notebook_setup(fashionai_root=DEMO_FASHIONAI_ROOT, jd_root=None, runs_dir="runs/tutorial",
                   need=("fashionai",), dpi=72):
    """Prepare a tutorial notebook; returns a ``NotebookEnv``.

    Moves to the repository root (paths in the notebooks are relative to it), switches
    on inline figures and quietens library warnings. In full mode the roots are used as
    given and the demo data is generated when a demo folder is missing. In fast mode
    (``GLUONFASHION_FAST=1``) tiny demo datasets and the runs go to a temporary folder
    (``GLUONFASHION_FAST_DIR`` when set, so several notebooks can share them) and
    ``env.overrides`` shortens training to one epoch.

    ``need``: which datasets the notebook reads (``"fashionai"``, ``"jd"``).
    """
    root = find_repo_root()
    os.chdir(root)
    warnings.filterwarnings("ignore", module="gluoncv")
    warnings.filterwarnings("ignore", category=UserWarning, module="mxnet")
    _enable_inline_figures(dpi)
    fast = is_fast_mode()
    if fast:
        base = os.environ.get(FAST_DIR_ENV) or tempfile.mkdtemp(prefix="gluonfashion_fast_")
        fashionai_root = os.path.join(base, "fashionai")
        jd_root = os.path.join(base, "jd")
        runs_dir = os.path.join(base, "runs")
        if "fashionai" in need:
            ensure_fashionai_demo(fashionai_root, fast=True)
        if "jd" in need:
            ensure_jd_demo(jd_root, fast=True)
        overrides = dict(FAST_OVERRIDES)
    else:
        fashionai_root = _checked_root(fashionai_root, DEMO_FASHIONAI_ROOT, "fashionai" in need,
                                       ensure_fashionai_demo)
        jd_root = _checked_root(jd_root, DEMO_JD_ROOT, "jd" in need, ensure_jd_demo)
        overrides = {}
    return NotebookEnv(fast, root, fashionai_root, jd_root, runs_dir, overrides)


# ------------------------------------------------------------------ data summaries

def fashionai_value_counts(rows):
    """Per task, how many rows have each value as ``y`` and as ``m``.

    ``rows``: ``LabelRow`` objects (``read_label_file``). Returns
    ``{task: {"y": array (C,), "m": array (C,)}}`` in order of first appearance.
    """
    counts = {}
    for r in rows:
        c = counts.setdefault(r.task, {"y": np.zeros(len(r.ynm), int), "m": np.zeros(len(r.ynm), int)})
        c["y"][r.label] += 1
        c["m"] += np.array([ch == "m" for ch in r.ynm])
    return counts


def examples_per_value(labels, per_value, seed=0):
    """Up to ``per_value`` random indices of each class, class by class: ``{class: [i, ...]}``."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    picked = {}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        picked[int(c)] = sorted(rng.choice(idx, min(per_value, len(idx)), replace=False).tolist())
    return picked


def cooccurrence(y):
    """``(L, L)`` counts: entry (a, b) = images carrying both label a and label b
    (the diagonal holds each label's count)."""
    y = np.asarray(y, dtype=np.int64)
    return y.T @ y


def conditional_cooccurrence(y):
    """``(L, L)`` shares: entry (a, b) = P(label b | label a); rows of absent labels are 0."""
    both = cooccurrence(y).astype(float)
    counts = np.diag(both).copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = both / counts[:, None]
    share[counts == 0] = 0.0
    return share


def jd_image_path(root, image_id, url, images_dir="images"):
    """Where to read a JD image: the downloaded copy when present, else a local
    ``file://`` URL (the demo's source images), else the download location."""
    local = os.path.join(root, images_dir, f"{image_id}.jpg")
    if not os.path.exists(local) and url.startswith("file://"):
        from urllib.parse import unquote, urlparse
        return unquote(urlparse(url).path)
    return local


# ------------------------------------------------------------------ figures

def _plt():
    import matplotlib.pyplot as plt
    return plt


def plot_class_balance(counts, value_names=None, ncols=4):
    """One horizontal bar chart per task: rows whose ``y`` is each value, with the
    ``m`` (maybe) marks of that value stacked in a lighter shade.

    ``counts``: ``fashionai_value_counts`` output; ``value_names``: ``{task: names}``.
    """
    plt = _plt()
    tasks = list(counts)
    nrows = -(-len(tasks) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.7 * nrows), squeeze=False)
    for ax, task in zip(axes.flat, tasks):
        y, m = counts[task]["y"], counts[task]["m"]
        names = (value_names or {}).get(task) or [str(i) for i in range(len(y))]
        pos = np.arange(len(y))
        ax.barh(pos, y, color="tab:blue", label="y")
        ax.barh(pos, m, left=y, color="tab:blue", alpha=0.3, label="m")
        ax.set_yticks(pos)
        ax.set_yticklabels(names, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"{task} ({int(y.sum())})", fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def image_grid(images, titles=None, ncols=8, size=1.5, title_size=7, suptitle=None, row_labels=None):
    """Show images (HxWx3 uint8 arrays, or paths) in a grid with optional titles;
    ``None`` leaves a cell empty (e.g. to keep one row per task). ``row_labels`` are
    written left of each row."""
    plt = _plt()
    from ..data.images import decode_image
    images = [decode_image(im) if isinstance(im, str) else im for im in images]
    ncols = max(1, min(ncols, len(images)))
    nrows = max(1, -(-len(images) // ncols))
    lines = max((t.count("\n") + 1 for t in titles), default=0) if titles else 0
    row_height = size + lines * title_size / 55          # room for multi-line titles
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, row_height * nrows + 0.2), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images) and images[i] is not None:
            ax.imshow(images[i])
            if titles:
                ax.set_title(titles[i], fontsize=title_size)
    for ax, label in zip(axes[:, 0], row_labels or []):
        ax.text(-0.06, 0.5, label, transform=ax.transAxes, ha="right", va="center", fontsize=title_size + 1)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_jpeg(fig, quality=85):
    """Display a figure as JPEG and close it: photo grids are several times smaller
    than as PNG, which keeps notebooks saved with their outputs light."""
    import io
    from IPython.display import Image
    buf = io.BytesIO()
    fig.savefig(buf, format="jpeg", pil_kwargs={"quality": quality})
    _plt().close(fig)
    return Image(data=buf.getvalue(), format="jpeg")


def plot_label_frequency(y, names, log=True):
    """Bar chart of how many images carry each label (log scale shows rare ones)."""
    plt = _plt()
    counts = np.asarray(y).sum(axis=0)
    order = np.argsort(-counts, kind="stable")
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.bar(range(len(counts)), counts[order], color="tab:purple")
    ax.set_xticks(range(len(counts)))
    ax.set_xticklabels([names[i] for i in order], rotation=45, ha="right", fontsize=8)
    for x, c in enumerate(counts[order]):
        ax.text(x, c, str(int(c)), ha="center", va="bottom", fontsize=7)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("images")
    ax.set_title(f"label frequency ({len(y)} images)")
    fig.tight_layout()
    return fig


def _heatmap(ax, values, row_names, col_names, fmt, cmap, vmax=None):
    im = ax.imshow(values, cmap=cmap, vmin=0, vmax=vmax)
    ax.set_xticks(range(len(col_names)))
    ax.set_xticklabels(col_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(row_names)))
    ax.set_yticklabels(row_names, fontsize=8)
    top = vmax if vmax is not None else (values.max() or 1)
    for (i, j), v in np.ndenumerate(values):
        if v:
            ax.text(j, i, fmt(v), ha="center", va="center", fontsize=6.5,
                    color="white" if v > 0.6 * top else "black")
    return im


def plot_cooccurrence(y, names, conditional=True):
    """Heat map of label co-occurrence: P(column | row) when ``conditional``, else counts."""
    plt = _plt()
    values = conditional_cooccurrence(y) if conditional else cooccurrence(y)
    fig, ax = plt.subplots(figsize=(7.5, 6.2))
    fmt = (lambda v: f"{v:.2f}".lstrip("0")) if conditional else (lambda v: str(int(v)))
    im = _heatmap(ax, values, names, names, fmt, "Blues", 1.0 if conditional else None)
    ax.set_xlabel("... also has this style" if conditional else "style")
    ax.set_ylabel("an image with this style ..." if conditional else "style")
    ax.set_title("P(column | row)" if conditional else "images with both styles")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ metrics explained

def ap_table(probs, labels, names=None):
    """The FashionAI AP, step by step: one row per sample in ranking order.

    Columns: the sample's index, its confidence (top probability), the predicted and
    true value, whether it is a hit and precision@k of the first k rows. The mean of
    the last column is ``metrics.fashionai_ap(probs, labels)``.
    """
    import pandas as pd
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    confidence = probs.max(axis=1)
    order = np.argsort(-confidence, kind="stable")      # the same stable order as the metric
    pred = probs.argmax(axis=1)
    hits = (pred == labels)[order]
    name = (lambda i: names[i]) if names else int
    return pd.DataFrame({
        "k": np.arange(1, len(order) + 1),
        "sample": order,
        "confidence": confidence[order].round(3),
        "predicted": [name(pred[i]) for i in order],
        "true": [name(labels[i]) for i in order],
        "hit": hits,
        "precision@k": (np.cumsum(hits) / np.arange(1, len(order) + 1)).round(4),
    }).set_index("k")


# ------------------------------------------------------------------ error analysis

def confusion_matrix(labels, preds, n_classes=None):
    """``(C, C)`` counts: entry (t, p) = samples of true class t predicted as p."""
    labels, preds = np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)
    if labels.shape != preds.shape or labels.ndim != 1:
        raise ValueError(f"labels and preds must be (N,) arrays of the same length, got "
                         f"{labels.shape} and {preds.shape}")
    n = n_classes or int(max(labels.max(initial=-1), preds.max(initial=-1)) + 1)
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    return cm


def plot_confusion(cm, names, normalize=True, title=None):
    """Confusion matrix heat map; ``normalize`` shows each true class's row as shares
    (recall on the diagonal), so small and large classes read alike."""
    plt = _plt()
    cm = np.asarray(cm)
    totals = cm.sum(axis=1, keepdims=True)
    values = np.divide(cm, np.maximum(totals, 1)) if normalize else cm
    side = 2.2 + 0.55 * len(names)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    fmt = (lambda v: f"{v:.2f}".lstrip("0")) if normalize else (lambda v: str(int(v)))
    im = _heatmap(ax, values, [f"{n} ({int(t)})" for n, t in zip(names, totals[:, 0])], names, fmt,
                  "Oranges", 1.0 if normalize else None)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (images)")
    accuracy = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(title or f"confusion matrix (accuracy {accuracy:.3f})")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    return fig


def top_confusions(cm, names, k=5):
    """The ``k`` largest off-diagonal cells of a confusion matrix, as a table."""
    import pandas as pd
    cm = np.asarray(cm)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    cells = [(int(off[t, p]), t, p) for t, p in zip(*np.nonzero(off))]
    cells.sort(key=lambda c: (-c[0], c[1], c[2]))
    totals = cm.sum(axis=1)
    return pd.DataFrame([{"true": names[t], "predicted": names[p], "images": n,
                          "share of true": round(n / totals[t], 3)} for n, t, p in cells[:k]])


def most_confident_mistakes(probs, labels, k=None):
    """Indices of wrongly predicted samples, most confident (highest top probability)
    first; at most ``k``. Ties keep input order."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    wrong = np.flatnonzero(probs.argmax(axis=1) != labels)
    order = wrong[np.argsort(-probs[wrong].max(axis=1), kind="stable")]
    return order if k is None else order[:k]


@dataclass
class ValPredictions:
    """A run's saved validation predictions (``val_probs.csv``) with their truth."""
    images: list        # absolute image paths
    rel_paths: list     # as in the label file
    ynm: list           # label strings (``m`` marks kept)
    probs: np.ndarray   # (N, C), with the run's test-time augmentation
    labels: np.ndarray  # (N,) index of the ``y`` value
    classes: list       # value names

    @property
    def preds(self):
        return self.probs.argmax(axis=1)


def load_val_predictions(run_dir):
    """``ValPredictions`` of a finished FashionAI run (written at the end of ``train``)."""
    import csv
    from .. import checkpoint
    from ..data.fashionai import csv_root, read_predictions
    from ..workflows.fashionai import label_files
    record = checkpoint.load_json(os.path.join(run_dir, "best.json"))
    with open(os.path.join(run_dir, "val_truth.csv"), newline="", encoding="utf-8") as f:
        truth = [row for row in csv.reader(f) if row]
    preds = read_predictions(os.path.join(run_dir, "val_probs.csv"))
    if [(r[0], r[1]) for r in truth] != [(p[0], p[1]) for p in preds]:
        raise ValueError(f"{run_dir}: val_probs.csv and val_truth.csv list different images")
    roots = [csv_root(p) for p in label_files(record["config"])]

    def locate(rel):   # image paths are relative to the root of the label file they came from
        found = [os.path.join(r, rel) for r in roots if os.path.exists(os.path.join(r, rel))]
        return found[0] if found else os.path.join(roots[0], rel)

    ynm = [r[2] for r in truth]
    return ValPredictions([locate(r[0]) for r in truth], [r[0] for r in truth], ynm,
                          np.stack([p[2] for p in preds]), np.array([s.index("y") for s in ynm]),
                          list(record["classes"]))


# ------------------------------------------------------------------ class activation maps

@dataclass
class ActivationMaps:
    """Where the network looks: one map per image, for one class per image."""
    maps: np.ndarray       # (N, H, W) in [0, 1], at the network input size
    raw: np.ndarray        # (N, h, w) before normalising and upsampling
    classes: np.ndarray    # (N,) the class each map explains
    probs: np.ndarray      # (N, C) softmax of the network's output
    method: str            # "cam" or "gradcam"


def _children(block):
    return [block[i] for i in range(len(block))]


def _context(net):
    return next(iter(net.collect_params().values())).list_ctx()[0]


def _feature_maps(net, x, layer=None):
    """Run ``net.preprocess`` and ``net.features`` block by block; return the output of
    block ``layer`` (an index into ``net.features``) and the blocks after it.

    ``layer=None`` takes the last output that still has a spatial extent (h x w > 1):
    for resnet_v2 the final BN + ReLU, just before the global average pooling, i.e. the
    maps the classifier's weights apply to."""
    h = net.preprocess(x)
    layers = _children(net.features)
    found = None
    for i, block in enumerate(layers):
        h = block(h)
        if h.ndim == 4 and h.shape[2] * h.shape[3] > 1 and (layer is None or i == layer % len(layers)):
            found = (i, h)
    if found is None:
        raise ValueError(f"no spatial feature map {'' if layer is None else f'at block {layer} '}"
                         f"for input {tuple(x.shape)}; use a larger image or another block")
    return found[1], layers[found[0] + 1:]


def _dense_classifier(net, tail):
    """The final Dense layer when everything between the maps and it is averaging or
    reshaping (so CAM is exact), else None."""
    from mxnet.gluon import nn
    passive = (nn.GlobalAvgPool2D, nn.Flatten, nn.Dropout)
    head = _children(net.head)
    if isinstance(head[-1], nn.Dense) and all(isinstance(b, passive) for b in tail + head[:-1]):
        return head[-1]
    return None


def feature_shapes(net, image_size):
    """``[(index, block name, output shape)]`` of ``net.features`` for one image of
    ``image_size``: where the resolution halves, and which blocks a CAM can explain."""
    from mxnet import nd
    h = net.preprocess(nd.zeros((1, image_size, image_size, 3), dtype="uint8", ctx=_context(net)))
    shapes = []
    for i, block in enumerate(_children(net.features)):
        h = block(h)
        shapes.append((i, type(block).__name__, tuple(h.shape[1:])))
    return shapes


def _forward_tail(net, tail, h):
    for layer in tail:
        h = layer(h)
    return net.head(h)


def _normalise(raw):
    """Each map scaled to [0, 1] (flat maps become 0)."""
    low = raw.min(axis=(1, 2), keepdims=True)
    span = raw.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (raw - low) / np.where(span > 0, span, 1), 0.0).astype(np.float32)


def class_activation_maps(net, batch, classes=None, method="auto", layer=None):
    """Class activation maps of a ``FashionNet`` for a uint8 NHWC batch.

    ``cam`` (Zhou et al., 2016): the last feature maps weighted by the output layer's
    weights of the class, sum_k w[c, k] * A_k(x, y). Exact for the ``dense`` head: the
    class score is the spatial mean of this map plus the bias. ``gradcam`` (Selvaraju
    et al., 2017): the maps weighted by the spatially averaged gradient of the class
    score, then ReLU; it works for any head (e.g. ``fc_bn``). ``auto`` uses ``cam``
    when the head allows it, else ``gradcam``.

    ``classes``: the class to explain per image (default: the predicted one).
    ``layer``: which block of ``net.features`` to explain (default: the last with a
    spatial map). An earlier block gives finer but less class-specific maps, always
    with Grad-CAM (the layers in between are not linear).
    Returns ``ActivationMaps`` with maps upsampled to the input size.
    """
    import cv2
    from mxnet import autograd, nd
    ctx = _context(net)
    x = nd.array(np.asarray(batch), ctx=ctx, dtype="uint8")
    maps, tail = _feature_maps(net, x, layer)
    logits = _forward_tail(net, tail, maps)
    probs = nd.softmax(logits, axis=-1).asnumpy()
    classes = probs.argmax(axis=1) if classes is None else np.broadcast_to(np.asarray(classes), (len(probs),))
    dense = _dense_classifier(net, tail)
    if method == "auto":
        method = "cam" if dense is not None else "gradcam"
    if method == "cam":
        if dense is None:
            raise ValueError("plain CAM needs a dense head right after global pooling; use method='gradcam'")
        weights = nd.take(dense.weight.data(ctx), nd.array(classes, ctx=ctx))      # (N, K)
        raw = (maps * weights.expand_dims(2).expand_dims(3)).sum(axis=1)
    elif method == "gradcam":
        maps.attach_grad()
        with autograd.record(train_mode=False):
            score = nd.pick(_forward_tail(net, tail, maps), nd.array(classes, ctx=ctx), axis=1)
        score.backward()   # samples are independent (BN in inference mode): one backward for all
        weights = maps.grad.mean(axis=(2, 3))
        raw = nd.relu((maps * weights.expand_dims(2).expand_dims(3)).sum(axis=1))
    else:
        raise ValueError(f"method must be auto, cam or gradcam; got {method!r}")
    raw = raw.asnumpy()
    size = (x.shape[2], x.shape[1])
    upsampled = np.stack([cv2.resize(m, size, interpolation=cv2.INTER_LINEAR) for m in _normalise(raw)])
    return ActivationMaps(_normalise(upsampled), raw, np.asarray(classes), probs, method)


def overlay_map(image, heat, alpha=0.45, cmap="jet"):
    """``image`` (HxWx3 uint8) with ``heat`` ([0, 1], any size) blended on top in colour."""
    import cv2
    from matplotlib import colormaps
    heat = cv2.resize(np.asarray(heat, dtype=np.float32), (image.shape[1], image.shape[0]),
                      interpolation=cv2.INTER_LINEAR)
    colour = colormaps[cmap](np.clip(heat, 0, 1))[..., :3] * 255
    return np.clip((1 - alpha) * image + alpha * colour, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------ speed

def compare_hybridize(cfg, batch_size=4, batches=5, warmup=2, repeat=2):
    """Training and prediction images/s of ``cfg``'s network, imperative vs hybridized.

    Both networks are built the same way (random weights) and timed on one in-memory
    batch with the engine's own training step and the predictor's forward pass, so
    only the execution mode differs. Measurements alternate and the best of
    ``repeat`` is kept (a shared machine only ever slows a run down). Returns a
    pandas table, one row per mode, plus the speed-up.
    """
    import pandas as pd
    from ..bench import N_OUTPUTS, memory_batch, predict_rate, repeat_batch, train_rate
    from ..devices import resolve_devices
    from ..engine import make_trainer
    from ..models import build_model, hybridize
    from ..problems import SingleLabel
    cfg = {**cfg, "batch_size": batch_size, "pretrained": False, "allow_random_init": True}
    ctx = resolve_devices(cfg["devices"])[:1]
    batch = memory_batch(cfg, batch_size)
    setups = {}
    for mode in ("imperative", "hybridized"):
        net = build_model(cfg, N_OUTPUTS, ctx, log=lambda *a: None)
        problem = SingleLabel(N_OUTPUTS)
        if mode == "hybridized":
            hybridize(net)
            problem.loss.hybridize()
        setups[mode] = (net, make_trainer(cfg, net), problem)
    rates = {mode: {"train img/s": 0.0, "predict img/s": 0.0} for mode in setups}
    for _ in range(repeat):
        for mode, (net, trainer, problem) in setups.items():
            source = repeat_batch(batch, warmup + batches)
            t = _images_per_s(train_rate(net, trainer, problem.loss, ctx, cfg, source, warmup, batches))
            p = _images_per_s(predict_rate(net, ctx, problem.activation, repeat_batch(batch, warmup + batches),
                                           warmup, batches))
            rates[mode]["train img/s"] = max(rates[mode]["train img/s"], t)
            rates[mode]["predict img/s"] = max(rates[mode]["predict img/s"], p)
    table = pd.DataFrame(rates).T.round(1)
    table.loc["speed-up"] = (table.loc["hybridized"] / table.loc["imperative"]).round(2)
    return table


def _images_per_s(rate):
    """bench's rate functions return images/s, or (images/s, CPU ms per image)."""
    return rate[0] if isinstance(rate, tuple) else rate


# ------------------------------------------------------------------ runs a notebook trains or reuses

# Settings that change how a run is executed, not what it learns: two configs that
# differ only here describe the same run.
RUNTIME_KEYS = ("workers", "loader", "devices", "log_interval", "checkpoint_every_s", "download_workers",
                "submission_dir")


def _comparable_config(cfg):
    """``cfg`` without the runtime keys, with tuples as lists (as saved in best.json)."""
    import json
    return json.loads(json.dumps({k: v for k, v in cfg.items() if k not in RUNTIME_KEYS}))


def _workflow(family):
    from ..workflows import fashionai, jd
    return jd if family == "jd" else fashionai


def finished_run(cfg):
    """True when ``cfg``'s run folder holds a run trained to the end with the same
    settings (runtime keys aside): all epochs done, validation predictions written and,
    with ``swa_epochs``, the SWA weights saved."""
    from .. import checkpoint
    from ..config import output_dir
    run_dir = output_dir(cfg)
    needed = ["best.json", "state.json"] + (["val_probs.csv"] if cfg["val_fraction"] or cfg["folds"] else [])
    needed += ["swa.params"] if cfg["swa_epochs"] else []
    if not all(os.path.exists(os.path.join(run_dir, name)) for name in needed):
        return False
    if checkpoint.load_json(os.path.join(run_dir, "state.json")).get("epoch") != cfg["epochs"]:
        return False
    saved = checkpoint.load_json(os.path.join(run_dir, "best.json")).get("config", {})
    return _comparable_config(saved) == _comparable_config(cfg)


def _newest_weights(run_dir):
    times = [os.path.getmtime(os.path.join(run_dir, f)) for f in ("best.params", "swa.params", "val_probs.csv")
             if os.path.exists(os.path.join(run_dir, f))]
    return max(times, default=0.0)


def train_or_reuse(cfg, predict=True, log=print):
    """Train ``cfg``'s run, or reuse it when ``finished_run(cfg)``; returns ``(run_dir, reused)``.

    Notebooks share runs this way: a later notebook asking for the same settings gets
    the earlier notebook's run instead of training it again, and a run whose settings
    changed is trained afresh. With ``predict`` the test set is predicted too (the
    run's ``test_probs.csv``, needed by ensembles), unless an up-to-date one exists;
    the submission-style files go to ``<run_dir>/predictions``, not ``submission/``.
    """
    from ..config import output_dir
    workflow = _workflow(cfg["family"])
    run_dir = output_dir(cfg)
    reused = finished_run(cfg)
    if reused:
        log(f"[reuse] {run_dir}: a finished run with these settings is there, not retrained")
    else:
        workflow.train(cfg, fresh=True, progress=False, log=log)
    test_probs = os.path.join(run_dir, "test_probs.csv")
    if predict and (not os.path.exists(test_probs) or os.path.getmtime(test_probs) < _newest_weights(run_dir)):
        workflow.predict(run_dir, out_dir=os.path.join(run_dir, "predictions"), progress=False, log=log)
    return run_dir, reused


# ------------------------------------------------------------------ scoring runs: TTA, weights

@dataclass
class EvalSet:
    """Images with their truth: value indices ``(N,)`` or 0/1 styles ``(N, L)``."""
    images: list
    truth: np.ndarray
    keys: list = field(default_factory=list)   # rel paths (FashionAI) or ids (JD)


def _run_record(run_dir):
    from .. import checkpoint
    return checkpoint.load_json(os.path.join(run_dir, "best.json"))


def fashionai_test_set(cfg):
    """The test images of ``cfg``'s task with their answers (``answers_file``), in
    question-file order; ``None`` when the config names no answers file or it is absent."""
    from ..data.fashionai import read_question_file
    answers = cfg.get("answers_file") and os.path.join(cfg["data_root"], cfg["answers_file"])
    if not answers or not os.path.exists(answers):
        return None
    truth = _answer_labels(answers)
    rows = read_question_file(os.path.join(cfg["data_root"], cfg["question_file"]), {cfg["task"]})
    return EvalSet([r.image for r in rows], np.array([truth[(r.rel_path, r.task)] for r in rows]),
                   [r.rel_path for r in rows])


def _answer_labels(answers_path):
    """``{(rel_path, task): index of the y value}`` of a FashionAI answers file (checked
    like a label file; only the keys are used, so the file may sit anywhere)."""
    from ..data.fashionai import read_label_file
    return {(r.rel_path, r.task): r.label for r in read_label_file(answers_path)}


def jd_test_set(cfg):
    """JD test images with their answers (``answers_file``), in ``test.txt`` order;
    ``None`` without answers."""
    from ..data.jd import read_jd_answers, read_jd_test
    from ..workflows.jd import image_paths
    answers = cfg.get("answers_file") and os.path.join(cfg["data_root"], cfg["answers_file"])
    if not answers or not os.path.exists(answers):
        return None
    ids, _ = read_jd_test(os.path.join(cfg["data_root"], cfg["test_file"]))
    answer_ids, y = read_jd_answers(answers, n_labels=None)
    position = {i: k for k, i in enumerate(answer_ids)}
    return EvalSet(image_paths(cfg, ids), y[[position[i] for i in ids]], list(ids))


def run_eval_sets(run_dir):
    """``{"val": EvalSet, "test": EvalSet}`` of a finished run: its validation images
    (the saved split) and, when the data has answers, the test images."""
    from ..data.jd import read_jd_answers
    from ..workflows.jd import image_paths
    record = _run_record(run_dir)
    cfg = record["config"]
    if record["problem"] == "single":
        val = load_val_predictions(run_dir)
        sets = {"val": EvalSet(val.images, val.labels, val.rel_paths), "test": fashionai_test_set(cfg)}
    else:
        ids, y = read_jd_answers(os.path.join(run_dir, "val_truth.csv"), n_labels=None)
        sets = {"val": EvalSet(image_paths(cfg, ids), y, list(ids)), "test": jd_test_set(cfg)}
    return {name: s for name, s in sets.items() if s is not None}


def predict_images(run_dir, images, tta=None, which=None):
    """Probabilities ``(N, C)`` of a run for image paths, with test-time augmentation
    ``tta`` (``none``, ``flip``, ``ten_crop``; default the run's) and weights ``which``
    (``best``, ``swa``, ``last``; default the run's ``predict_weights``)."""
    from ..predict import predict_probs
    from ..problems import MultiLabel, SingleLabel
    from ..runs import load_run
    from ..transforms import build_eval_transform
    net, cfg, record, ctx = load_run(run_dir, which, log=lambda *a: None)
    transform = build_eval_transform(cfg, tta or cfg["tta"])
    activation = SingleLabel.activation if record["problem"] == "single" else MultiLabel.activation
    return predict_probs(net, images, transform, ctx, activation, max(1, cfg["batch_size"] // transform.n_crops),
                         cfg["workers"], progress=False)


def score_predictions(val_probs, val_truth, test_probs=None, test_truth=None, min_positive=1, max_positive=5):
    """The competition metrics of validation (and test) probabilities, as a dict.

    Single-label (``truth`` of shape ``(N,)``): AP and accuracy of each set.
    Multi-label (``(N, L)``): per-style thresholds are searched on validation, as the
    JD workflow does, so the validation mean F2 is optimistic; the test mean F2 uses
    those thresholds (and 1..5 styles per image), plus a fixed 0.5 for comparison.
    """
    from .. import metrics
    val_truth = np.asarray(val_truth)
    sets = [("val", val_probs, val_truth)] + ([("test", test_probs, np.asarray(test_truth))]
                                            if test_probs is not None else [])
    out = {}
    if val_truth.ndim == 1:
        for name, probs, truth in sets:
            out[f"{name} AP"] = metrics.fashionai_ap(probs, truth)
            out[f"{name} accuracy"] = metrics.basic_precision(probs, truth)
        return out
    thresholds, _ = metrics.search_thresholds(val_probs, val_truth)
    bounds = {"min_positive": min_positive, "max_positive": max_positive}
    for name, probs, truth in sets:
        out[f"{name} mean F2"] = metrics.mean_fbeta(truth, metrics.apply_thresholds(probs, thresholds, **bounds))
        out[f"{name} mean F2 @0.5"] = metrics.mean_fbeta(truth, metrics.apply_thresholds(probs, 0.5, **bounds))
    return out


def evaluate_run(run_dir, tta=None, which=None):
    """Predict a run's validation and test images with ``tta`` and weights ``which``
    (see ``predict_images``) and score them (``score_predictions``); also returns the
    number of crops per image (the prediction cost relative to no TTA)."""
    from ..transforms import EvalTransform
    sets = run_eval_sets(run_dir)
    cfg = _run_record(run_dir)["config"]
    probs = {name: predict_images(run_dir, s.images, tta, which) for name, s in sets.items()}
    scores = score_predictions(probs["val"], sets["val"].truth, probs.get("test"),
                               sets["test"].truth if "test" in sets else None,
                               cfg.get("min_positive", 1), cfg.get("max_positive", 5))
    return {**scores, "crops": EvalTransform.N_CROPS[tta or cfg["tta"]]}


def score_test_probs(run_dir, probs_path=None, thresholds_path=None):
    """Test score of a probability file (default: the run's ``test_probs.csv``) against
    the answers named by the run's config: FashionAI ``{"test AP", "test accuracy"}``
    (mean over the tasks in the file), JD ``{"test mean F2"}`` with the thresholds of
    ``thresholds_path`` (default: the run's ``thresholds.json``)."""
    from .. import metrics
    from ..data.fashionai import read_predictions
    record = _run_record(run_dir)
    cfg = record["config"]
    probs_path = probs_path or os.path.join(run_dir, "test_probs.csv")
    answers = os.path.join(cfg["data_root"], cfg["answers_file"])
    if record["problem"] == "single":
        truth = _answer_labels(answers)
        per_task = {}
        for rel, task, probs, _ in read_predictions(probs_path):
            per_task.setdefault(task, ([], []))
            per_task[task][0].append(probs)
            per_task[task][1].append(truth[(rel, task)])
        aps = [metrics.fashionai_ap(np.stack(p), np.array(t)) for p, t in per_task.values()]
        accs = [metrics.basic_precision(np.stack(p), np.array(t)) for p, t in per_task.values()]
        return {"test AP": float(np.mean(aps)), "test accuracy": float(np.mean(accs))}
    from ..workflows.jd import evaluate
    result = evaluate(probs_path, answers, thresholds_path or os.path.join(run_dir, "thresholds.json"),
                      cfg["min_positive"], cfg["max_positive"])
    return {"test mean F2": float(np.mean(result["f2_tuned"]))}


def compare_ensembles(run_dirs, methods=("mean", "vote", "weighted", "topn"), out_root="runs/tutorial/ensembles",
                      top_n=1, corr_threshold=1.0, **options):
    """Each run alone and each ensemble method, on validation and test: a table.

    Calls ``workflows.ensemble.run_ensemble`` once per method (outputs in
    ``<out_root>/<method>``) and scores every test file against the answers
    (``score_test_probs``). Validation scores are those of the ensemble report, one
    rule for models and ensembles (FashionAI AP; JD mean F2 with thresholds searched on
    validation, hence optimistic, and for ``weighted``/``topn`` chosen on the same
    rows). ``corr_threshold=1`` keeps every model, so all methods combine the same
    ones. Several FashionAI tasks: one row per task and model, ensembles averaged over
    tasks. A k-fold model is scored on test by its first fold's file.
    Returns ``(table, reports)``.
    """
    import pandas as pd
    from ..workflows.ensemble import run_ensemble
    reports = {method: run_ensemble(list(run_dirs), method=method, out_dir=os.path.join(out_root, method),
                                    top_n=top_n, corr_threshold=corr_threshold, log=lambda *a: None, **options)
               for method in methods}
    first = next(iter(reports.values()))
    jd = first["family"] == "jd"
    metric = "mean F2" if jd else "AP"
    rows = {}
    for group_name, group in first["groups"].items():
        for model in group["models"]:
            name = model["name"] if len(first["groups"]) == 1 else f"{group_name}: {model['name']}"
            rows[f"model: {name}"] = {f"val {metric}": model["val_score"],
                                      f"test {metric}": score_test_probs(model["runs"][0])[f"test {metric}"]}
    for method, report in reports.items():
        out = report["out_dir"]
        if jd:
            test = score_test_probs(run_dirs[0], os.path.join(out, "jd_test_probs.csv"),
                                    os.path.join(out, "thresholds.json"))[f"test {metric}"]
        else:
            test = float(np.mean([score_test_probs(group["models"][0]["runs"][0], os.path.join(out, f"{task}.csv"))
                                  ["test AP"] for task, group in report["groups"].items()]))
        rows[f"ensemble: {method}"] = {f"val {metric}": report["val_score"]["ensemble"], f"test {metric}": test}
    return pd.DataFrame(rows).T, reports


def plot_val_curves(runs, metric="val_map", title=None):
    """Validation ``metric`` per epoch of several runs (``{name: run_dir}``), from their
    ``metrics.csv``; a run with SWA adds its averaged model as a star after the last epoch."""
    import pandas as pd
    from .. import checkpoint
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for i, (name, run_dir) in enumerate(runs.items()):
        history = pd.read_csv(os.path.join(run_dir, "metrics.csv"))
        line, = ax.plot(history["epoch"], history[metric], marker=".", label=name)
        swa_path = os.path.join(run_dir, "swa.json")
        if os.path.exists(swa_path):
            swa = checkpoint.load_json(swa_path)
            value = swa["metrics"].get(metric)
            if value is not None:
                ax.plot([history["epoch"].max() + 0.5], [value], marker="*", markersize=12, color=line.get_color(),
                        linestyle="none", label=f"{name}: SWA of epochs {swa['epochs'][0]}-{swa['epochs'][-1]}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or f"{metric} per epoch")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ augmentation gallery

def augmentation_examples(images, cfg=None, seed=0):
    """Every training augmentation of ``transforms.augmentation_gallery(cfg)`` applied to
    each image: ``(grid, titles, row_labels)`` for ``image_grid``, one row per image.

    The first column is the evaluation input (short side resized, centre crop), the
    last is the config's complete training transform; each random step draws from a
    generator seeded by ``(seed, row)``, so the figure is reproducible.
    """
    from ..config import DEFAULTS
    from ..data.images import decode_image
    from ..transforms import augmentation_gallery, build_eval_transform
    cfg = {**DEFAULTS, **(cfg or {})}
    steps = augmentation_gallery(cfg)
    to_input = build_eval_transform(cfg, "none")
    grid, titles = [], []
    for row, image in enumerate(images):
        img = decode_image(image) if isinstance(image, str) else image
        grid.append(to_input(img))
        for name, step in steps:
            rng = np.random.default_rng([seed, row])
            out = step(img, rng)
            # steps that do not crop are shown on the evaluation input's framing
            grid.append(out if out.shape[:2] == (cfg["image_size"],) * 2 else to_input(out))
        titles += ["eval input"] + [name for name, _ in steps]
    return grid, titles, [f"image {i + 1}" for i in range(len(images))]


# ------------------------------------------------------------------ multi-label losses and F2 explained

def multilabel_loss_terms(probs, targets, label_counts, losses=("bce", "wbce", "focal"), names=None,
                          params=None):
    """Each label's loss term for ONE image under several multi-label losses.

    ``probs``, ``targets``: ``(L,)``; ``label_counts``: positives per label in the
    training set (WBCE's weights); ``params``: ``{loss: {kwarg: value}}`` for
    ``losses.make_multilabel_loss`` (e.g. ``{"wbce": {"alpha": 1.5}, "focal": {"gamma": 2}}``).
    The library's loss blocks compute the terms: with ``batch_axis=1`` their mean runs
    over the (single) sample instead of over the labels. A last row ``mean`` holds the
    image's loss (the mean over labels, what training minimises).
    """
    import pandas as pd
    from mxnet import nd
    from ..losses import make_multilabel_loss
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-6, 1 - 1e-6)
    targets = np.asarray(targets, dtype=np.float32)
    logits = nd.array(np.log(probs / (1 - probs))[None, :])
    label = nd.array(targets[None, :])
    table = pd.DataFrame({"p": probs.round(3), "y": targets.astype(int)},
                         index=names or [f"label_{i}" for i in range(len(probs))])
    for name in losses:
        block = make_multilabel_loss(name, label_counts, batch_axis=1, **(params or {}).get(name, {}))
        table[name] = block(logits, label).asnumpy()
    means = table[list(losses)].mean()
    table.loc["mean"] = [np.nan, np.nan] + list(means)
    return table


def precision_recall_table(probs, y_true, thresholds):
    """One label's precision, recall, F1 and F2 when predicting ``prob >= t``, per
    threshold ``t``: why a lower threshold suits F2 (recall counts 4x as much as precision)."""
    import pandas as pd
    from .. import metrics
    probs, y_true = np.asarray(probs, dtype=float).ravel(), np.asarray(y_true).astype(int).ravel()
    rows = []
    for t in thresholds:
        pred = (probs >= t).astype(int)
        tp, fp = int((pred & y_true).sum()), int((pred & (1 - y_true)).sum())
        fn = int(y_true.sum()) - tp
        f1, f2 = (float(metrics.fbeta_per_label(y_true[:, None], pred[:, None], beta)[0]) for beta in (1.0, 2.0))
        rows.append({"threshold": t, "predicted": int(pred.sum()), "TP": tp, "FP": fp, "FN": fn,
                     "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1), "F1": f1, "F2": f2})
    return pd.DataFrame(rows).set_index("threshold").round(3)


def fbeta_curves(probs, y_true, thresholds=None, beta=2.0):
    """``(thresholds, scores)``: F-beta of every label (columns of ``scores``) when
    predicting ``prob >= t``, for each threshold ``t`` (rows), without the 1..5
    per-image rule (as ``metrics.search_thresholds`` scores them)."""
    from .. import metrics
    thresholds = np.linspace(0.01, 0.99, 99) if thresholds is None else np.asarray(thresholds)
    y_true = np.asarray(y_true).astype(int)
    scores = np.stack([metrics.fbeta_per_label(y_true, (np.asarray(probs) >= t).astype(int), beta)
                       for t in thresholds])
    return thresholds, scores


def plot_fbeta_curves(probs, y_true, names, labels, searched=None, beta=2.0):
    """F-beta against threshold for the ``labels`` (indices) chosen, with each label's
    searched threshold (``searched``, e.g. ``metrics.search_thresholds``) marked and 0.5
    drawn dashed."""
    plt = _plt()
    thresholds, scores = fbeta_curves(probs, y_true, beta=beta)
    counts = np.asarray(y_true).sum(axis=0)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for j in labels:
        line, = ax.plot(thresholds, scores[:, j], label=f"{names[j]} ({int(counts[j])} positives)")
        if searched is not None:
            from .. import metrics
            value = metrics.fbeta_per_label(np.asarray(y_true)[:, [j]].astype(int),
                                            (np.asarray(probs)[:, [j]] >= searched[j]).astype(int), beta)[0]
            ax.plot([searched[j]], [value], marker="o", color=line.get_color())
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("threshold")
    ax.set_ylabel(f"F{beta:g}")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"F{beta:g} against the threshold (dots: searched thresholds)")
    fig.tight_layout()
    return fig
