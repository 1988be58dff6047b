"""What a network is trained to do: single-label attribute values or multi-label style
tags. An objective holds the loss, the output activation and the validation metrics;
the engine, loaders and prediction code are shared and only talk to an objective."""
import numpy as np
from mxnet import nd

from . import metrics
from .losses import SoftTargetCrossEntropy, make_multilabel_loss


class SingleLabel:
    """FashionAI-style task: softmax over C values, soft targets from y/m/n strings."""

    kind = "single"
    select_metric = "map"          # best checkpoint = highest validation mAP
    outputs = "softmax: one probability per value, summing to 1"

    def __init__(self, n_classes):
        self.n_outputs = n_classes
        self.loss = SoftTargetCrossEntropy()

    @staticmethod
    def activation(logits, F=nd):
        """Probabilities from logits; ``F``: ``mxnet.nd`` or, inside a graph, ``mxnet.sym``."""
        return F.softmax(logits, axis=-1)

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
    outputs = "sigmoid: one independent probability per label"

    def __init__(self, n_labels, loss="bce", label_counts=None, beta=2.0, min_positive=1, max_positive=5,
                 **loss_params):
        self.n_outputs, self.beta = n_labels, beta
        self.bounds = {"min_positive": min_positive, "max_positive": max_positive}
        self.loss = make_multilabel_loss(loss, label_counts=label_counts, **loss_params)

    @staticmethod
    def activation(logits, F=nd):
        return F.sigmoid(logits)

    def evaluate(self, probs, targets):
        y = (targets > 0.5).astype(np.uint8)
        eps = 1e-7
        p = np.clip(probs, eps, 1 - eps)
        scores = metrics.thresholded_fbeta(probs, y, beta=self.beta, **self.bounds)
        return {
            "loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
            "mf2_fixed": scores["mean_fixed"],
            "mf2": scores["mean"],
        }


OBJECTIVES = {cls.kind: cls for cls in (SingleLabel, MultiLabel)}


def objective_class(kind):
    """The objective a run record names (``best.json``'s ``problem``)."""
    if kind not in OBJECTIVES:
        raise ValueError(f"unknown objective {kind!r}; known: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[kind]
