"""What differs between single-label attribute tasks and multi-label style tagging:
the loss, the output activation and the validation metrics. The engine, loaders and
prediction code are shared and only talk to a problem through this interface."""
import numpy as np
from mxnet import nd

from . import metrics


class SingleLabel:
    """FashionAI-style task: softmax over C values, soft targets from y/m/n strings."""

    kind = "single"
    select_metric = "map"          # best checkpoint = highest validation mAP

    def __init__(self, n_classes):
        from .losses import SoftTargetCrossEntropy
        self.n_outputs = n_classes
        self.loss = SoftTargetCrossEntropy()

    @staticmethod
    def activation(logits):
        return nd.softmax(logits, axis=-1)

    def evaluate(self, probs, targets):
        """Validation metrics from probabilities and the (soft) targets."""
        labels = np.argmax(targets, axis=1)
        eps = 1e-12
        return {
            "loss": float(-np.mean(np.sum(targets * np.log(probs + eps), axis=1))),
            "accuracy": metrics.basic_precision(probs, labels),
            "map": metrics.fashionai_ap(probs, labels),
        }


class MultiLabel:
    """JD-style tagging: one sigmoid per style, F2 after per-style thresholds."""

    kind = "multi"
    select_metric = "mf2"          # mean F2 with thresholds searched on validation

    def __init__(self, n_labels, loss="bce", label_counts=None, beta=2.0, **loss_params):
        from .losses import make_multilabel_loss
        self.n_outputs, self.beta = n_labels, beta
        self.loss = make_multilabel_loss(loss, label_counts=label_counts, **loss_params)

    @staticmethod
    def activation(logits):
        return nd.sigmoid(logits)

    def evaluate(self, probs, targets):
        y = (targets > 0.5).astype(np.uint8)
        eps = 1e-7
        p = np.clip(probs, eps, 1 - eps)
        thresholds, _ = metrics.search_thresholds(probs, y, beta=self.beta)
        return {
            "loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
            "mf2_fixed": metrics.mean_fbeta(y, metrics.apply_thresholds(probs, np.full(y.shape[1], 0.5)), self.beta),
            "mf2": metrics.mean_fbeta(y, metrics.apply_thresholds(probs, thresholds), self.beta),
        }
