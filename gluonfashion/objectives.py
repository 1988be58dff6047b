"""What a network is trained to do: single-label attribute values, multi-label style
tags, or a category and attributes from one output vector. An objective holds the
loss, the output activation and the validation metrics; the engine, loaders and
prediction code are shared and only talk to an objective.

A run's record (``best.json``) names its objective (``problem``: the ``kind``) and
keeps what the activation needs (``objective``: ``saved()``), so prediction rebuilds
the activation from the record alone (``activation_for``)."""
import numpy as np
from mxnet import nd

from . import metrics
from .losses import CategoryAttributeLoss, SoftTargetCrossEntropy, make_multilabel_loss


class Objective:
    """What every objective has besides its loss, activation and ``evaluate``."""

    kind = None
    select_metric = None

    def saved(self):
        """What a run record keeps to rebuild the activation (JSON values)."""
        return {}

    @classmethod
    def activation_of(cls, saved):
        """The activation of a run whose record kept ``saved``."""
        return cls.activation


class SingleLabel(Objective):
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


class MultiLabel(Objective):
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


def split_activation(n_categories):
    """Softmax over the first ``n_categories`` outputs, sigmoid over the rest."""
    def activation(logits, F=nd):
        return F.concat(F.softmax(F.slice_axis(logits, axis=-1, begin=0, end=n_categories), axis=-1),
                        F.sigmoid(F.slice_axis(logits, axis=-1, begin=n_categories, end=None)), dim=-1)
    return activation


class CategoryAndAttributes(Objective):
    """DeepFashion: one category (softmax) and many attributes (sigmoids) from one output
    vector of ``n_categories + n_attributes`` logits (``losses.CategoryAttributeLoss``).

    Targets are ``(N, C + A)``: the one-hot category, then 1 / 0 / -1 (unknown) per
    attribute. The best epoch is the one with the highest ``top3_score``, the mean of
    category top-3 accuracy and attribute recall@3 (``metrics.category_attribute_scores``).
    """

    kind = "category_attributes"
    select_metric = "top3_score"
    outputs = ("softmax over the first n_categories values (the category), then one independent "
               "sigmoid per attribute")

    def __init__(self, n_categories, n_attributes, category_weight=1.0, attribute_weight=20.0, pos_weight=1.0,
                 neg_weight=0.1):
        self.n_categories, self.n_outputs = n_categories, n_categories + n_attributes
        self.loss = CategoryAttributeLoss(n_categories, category_weight, attribute_weight, pos_weight, neg_weight)
        self.activation = split_activation(n_categories)

    def saved(self):
        return {"n_categories": self.n_categories}

    @classmethod
    def activation_of(cls, saved):
        return split_activation(saved["n_categories"])

    def evaluate(self, probs, targets):
        """The benchmark's scores and the loss of the logits these probabilities come from."""
        eps = 1e-7
        p = np.clip(probs, eps, 1 - eps)
        n = self.n_categories
        logits = np.concatenate([np.log(p[:, :n]), np.log(p[:, n:]) - np.log1p(-p[:, n:])], axis=1)
        loss = self.loss(nd.array(logits), nd.array(targets)).mean().asscalar()
        scores = metrics.category_attribute_scores(probs, targets, n)
        return {"loss": float(loss), **scores}


OBJECTIVES = {cls.kind: cls for cls in (SingleLabel, MultiLabel, CategoryAndAttributes)}


def objective_class(kind):
    """The objective a run record names (``best.json``'s ``problem``)."""
    if kind not in OBJECTIVES:
        raise ValueError(f"unknown objective {kind!r}; known: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[kind]


def activation_for(record):
    """The output activation of a run, from its record (``best.json``)."""
    return objective_class(record["problem"]).activation_of(record.get("objective", {}))
