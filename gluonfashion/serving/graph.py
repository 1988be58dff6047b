"""The network as it is served: uint8 images in, probabilities out; the batches it is
fed; the images an export is checked and calibrated on."""
import numpy as np
from mxnet.gluon import nn

from ..families import family_of
from ..inference import prediction_loader
from ..models import hybridize
from ..objectives import activation_for
from ..transforms import build_eval_transform

INPUT_NAME = "data"      # what Gluon's ``export`` calls the single input


class ServedNet(nn.HybridBlock):
    """A run's network (``Preprocess -> features -> head``) followed by its output
    activation: uint8 NHWC batches in, probabilities ``(N, C)`` out."""

    def __init__(self, net, activation, **kwargs):
        super().__init__(**kwargs)
        self.net, self._activation = net, activation

    @classmethod
    def of(cls, loaded):
        """The served network of a ``LoadedRun``, hybridized."""
        return hybridize(cls(loaded.net, activation_for(loaded.record)))

    def hybrid_forward(self, F, x):
        return self._activation(self.net(x), F)


def image_batches(cfg, images, batch_size=None):
    """uint8 batches ``(B, H, W, 3)`` of ``images``, in order, as the kit's prediction
    loader makes them without test-time augmentation (short side resized, centre crop)."""
    transform = build_eval_transform(cfg, "none")
    loader = prediction_loader(images, transform, batch_size or cfg["batch_size"], cfg["workers"], cfg["loader"])
    return [batch for batch, _ in loader]


def probabilities(predict, batches):
    """``(N, C)`` numpy probabilities of ``predict(batch)`` (NDArray or numpy) over ``batches``."""
    parts = [predict(batch) for batch in batches]
    return np.concatenate([p if isinstance(p, np.ndarray) else p.asnumpy() for p in parts])


def reference_images(run, n):
    """Up to ``n`` images the run was validated on, evenly spread over its validation
    set (else its test set): what an export is checked against and INT8 calibrated on."""
    sets = family_of(run.config()).eval_sets(run)
    for name in ("val", "test"):
        images = sets[name].images if name in sets else []
        if images:
            return images[::max(1, len(images) // n)][:n]
    raise ValueError(f"{run.path}: no validation or test images to check and calibrate with "
                     f"(train with val_fraction > 0, or give the data an answers file)")


def label_agreement(family, run, probs_a, probs_b):
    """Share of images whose top label (single-label) or label set (multi-label, the
    run's thresholds) is the same under both probability arrays."""
    a, b = (family.image_labels(p, run, top=1) for p in (probs_a, probs_b))
    names = lambda labels: {heading: sorted(name for name, _ in values) for heading, values in labels.items()}
    same = [names(x) == names(y) for x, y in zip(a, b)]
    return float(np.mean(same)) if same else float("nan")
