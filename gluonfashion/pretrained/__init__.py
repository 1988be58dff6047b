"""Pretrained networks that are not in the GluonCV model zoo, with weights that install
with a package (no download at run time).

``MODELS`` maps a config ``model:`` name to its constructor
``(pretrained=False, ctx=None) -> HybridBlock`` with GluonCV's ``features`` / ``output``
split; a network built with ``pretrained=True`` carries ``weights_source``.
"""
from .efficientnet_lite import EfficientNetLite0, efficientnet_lite0
from .imagenet import classify, imagenet_classes

MODELS = {"efficientnet_lite0": efficientnet_lite0}

__all__ = ["MODELS", "EfficientNetLite0", "classify", "efficientnet_lite0", "imagenet_classes"]
