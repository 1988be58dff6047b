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
    from . import plots  # noqa: F401  (its matplotlib.use("Agg") must run first)
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
        shell.run_line_magic("matplotlib", "inline")
    matplotlib.rcParams.update({"figure.dpi": dpi, "savefig.dpi": dpi, "figure.max_open_warning": 0})


def ensure_fashionai_demo(root, fast=False):
    """Generate the FashionAI demo data into ``root`` unless its label.csv exists."""
    if not os.path.exists(os.path.join(root, "Annotations", "label.csv")):
        from .data.demo_fashionai import generate_fashionai_demo
        generate_fashionai_demo(root, progress=False, **(FAST_FASHIONAI if fast else {}))
    return root


def ensure_jd_demo(root, fast=False):
    """Generate the JD demo data into ``root`` unless its train.txt exists."""
    if not os.path.exists(os.path.join(root, "train.txt")):
        from .data.demo_jd import generate_jd_demo
        generate_jd_demo(root, progress=False, **(FAST_JD if fast else {}))
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
    from .data.images import decode_image
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
    from . import checkpoint
    from .data.fashionai import csv_root, read_predictions
    from .workflows.fashionai import label_files
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
    from .bench import N_OUTPUTS, memory_batch, predict_rate, repeat_batch, train_rate
    from .devices import resolve_devices
    from .engine import make_trainer
    from .models import build_model, hybridize
    from .problems import SingleLabel
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
            t = train_rate(net, trainer, problem.loss, ctx, cfg, source, warmup, batches)
            p = predict_rate(net, ctx, problem.activation, repeat_batch(batch, warmup + batches), warmup, batches)
            rates[mode]["train img/s"] = max(rates[mode]["train img/s"], t)
            rates[mode]["predict img/s"] = max(rates[mode]["predict img/s"], p)
    table = pd.DataFrame(rates).T.round(1)
    table.loc["speed-up"] = (table.loc["hybridized"] / table.loc["imperative"]).round(2)
    return table
