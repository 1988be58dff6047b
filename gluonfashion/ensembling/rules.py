"""How ensemble members are scored and how an ensemble's output is decided, by kind of
label: one value per row (scored by the FashionAI AP), thresholded multi-label
tags (mean F2 after per-label thresholds, the JD rule) or a category with ranked
attributes (top-k scores, the DeepFashion rule). A task family picks one; ``methods``
are the combiners that make sense for it."""
import numpy as np

from .. import metrics
from . import combiners


class SingleLabelRules:
    """One task: models scored by the competition AP; no thresholds."""
    metric = "AP (FashionAI)"
    per_column_selection = False
    methods = combiners.METHODS

    def model_scores(self, val, truth):
        """Validation AP per model: the pruning order, the weights and the top-N selection."""
        ap = np.array([metrics.fashionai_ap(p, truth) for p in val])
        return {"score": ap, "select": ap, "vote_thresholds": None}

    def evaluate(self, method, n_models, val_out, test_out, truth):
        """AP and BasicPrecision of the ensembled validation probabilities."""
        return {"val_score": metrics.fashionai_ap(val_out, truth),
                "val_basic_precision": metrics.basic_precision(val_out, truth)}


class ThresholdedRules:
    """Multi-label tags: mean F2 after per-label thresholds and min..max labels per row."""
    per_column_selection = True
    methods = combiners.METHODS

    def __init__(self, min_positive=1, max_positive=5):
        self.bounds = {"min_positive": min_positive, "max_positive": max_positive}
        self.metric = (f"mean F2 (per-style thresholds searched on validation, {min_positive}.."
                       f"{max_positive} styles per image)")

    def model_scores(self, val, truth):
        """Per model: its own thresholds (its votes), per-style F2 at them (the weights
        and the top-N selection) and the mean F2 with 1..5 post-processing (pruning order)."""
        searched = [metrics.search_thresholds(p, truth) for p in val]
        thresholds = np.array([t for t, _ in searched])
        score = np.array([metrics.thresholded_fbeta(p, truth, t, **self.bounds)["mean"]
                          for p, t in zip(val, thresholds)])
        return {"score": score, "select": np.array([f2 for _, f2 in searched]), "vote_thresholds": thresholds}

    def evaluate(self, method, n_models, val_out, test_out, truth):
        """Thresholds for the ensembled probabilities, the validation F2 they reach and
        the test submission they give (1..5 styles per image)."""
        # vote: the decision is the majority, not a searched cut
        thresholds = (np.full(val_out.shape[1], combiners.majority_threshold(n_models)) if method == "vote"
                      else None)
        scores = metrics.thresholded_fbeta(val_out, truth, thresholds, **self.bounds)
        return {"val_score": scores["mean"], "val_f2_per_style": scores["per_label"],
                "thresholds": scores["thresholds"],
                "test_binary": metrics.apply_thresholds(test_out, scores["thresholds"], **self.bounds)}


class TopKRules:
    """A category and ranked attributes in one score vector: models scored by the mean of
    category top-3 accuracy and attribute recall@3 (``metrics.category_attribute_scores``);
    outputs are ranked, never thresholded, so there is no vote to take."""
    per_column_selection = False
    methods = tuple(m for m in combiners.METHODS if m != "vote")
    metric = "top-3 score (mean of category top-3 accuracy and attribute recall@3)"

    def __init__(self, n_categories):
        self.n_categories = n_categories

    def _score(self, probs, truth):
        return metrics.category_attribute_scores(probs, truth, self.n_categories)

    def model_scores(self, val, truth):
        score = np.array([self._score(p, truth)["top3_score"] for p in val])
        return {"score": score, "select": score, "vote_thresholds": None}

    def evaluate(self, method, n_models, val_out, test_out, truth):
        scores = self._score(val_out, truth)
        return {"val_score": scores.pop("top3_score"), **{f"val_{k}": v for k, v in scores.items()}}
