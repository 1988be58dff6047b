"""A run's training curves (``curves.png``): loss, validation metrics and learning rate per epoch."""
import os

# Figures are drawn on an Agg canvas directly: importing this module must not switch
# the global matplotlib backend (notebooks keep their inline figures).
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def plot_curves(history, path, title=""):
    """Loss, validation metrics and learning rate per epoch, side by side."""
    epochs = [h["epoch"] for h in history]
    metric_keys = [k for k in history[0] if k.startswith("val_") and k != "val_loss"]
    fig = Figure(figsize=(13, 3.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    axes[0].plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    if "val_loss" in history[0]:
        axes[0].plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
    axes[0].set_title("loss")
    for k in metric_keys:
        axes[1].plot(epochs, [h[k] for h in history], "o-", label=k[4:])
    axes[1].set_title("validation metrics")
    axes[2].plot(epochs, [h["lr"] for h in history], "o-")
    axes[2].set_title("learning rate (end of epoch)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=90)
    os.replace(tmp, path)
