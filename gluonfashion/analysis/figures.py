"""The notebooks' figures: class balance, image grids, heat maps, confusion matrix,
validation curves and F-beta curves; each function returns a matplotlib figure."""
import io
import os

import numpy as np
import pandas as pd

from .. import checkpoint, metrics
from ..data.images import decode_image
from .data_views import conditional_cooccurrence, cooccurrence
from .metrics_explained import fbeta_curves


def _plt():
    # deferred: pyplot loads with the first figure, not in processes that only train or score
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
    from IPython.display import Image   # deferred: IPython exists only in notebooks
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


def _draw_curves(ax, runs, metric, legend=True):
    """``metric`` per epoch of every run of ``runs`` on ``ax``; SWA models as stars."""
    for name, run_dir in runs.items():
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
    if legend:
        ax.legend(fontsize=8)


def plot_val_curves(runs, metric="val_map", title=None):
    """Validation ``metric`` per epoch of several runs (``{name: run_dir}``), from their
    ``metrics.csv``; a run with SWA adds its averaged model as a star after the last epoch."""
    fig, ax = _plt().subplots(figsize=(6.4, 3.4))
    _draw_curves(ax, runs, metric)
    ax.set_title(title or f"{metric} per epoch")
    fig.tight_layout()
    return fig


def plot_curves_side_by_side(runs, metrics=("train_loss", "val_loss", "val_accuracy"), title=None, log_loss=True):
    """One panel per column of ``metrics.csv`` in ``metrics``, every run of ``runs``
    (``{name: run_dir}``) in each, so runs compare on the same axes; losses on a log
    scale (``log_loss``), where a fall from 2 to 0.01 stays readable."""
    fig, axes = _plt().subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.2), squeeze=False)
    for i, (ax, metric) in enumerate(zip(axes[0], metrics)):
        _draw_curves(ax, runs, metric, legend=i == len(metrics) - 1)
        if log_loss and metric.endswith("loss"):
            ax.set_yscale("log")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


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
