"""Where a network looks: class activation maps (CAM, Grad-CAM) of a FashionNet, drawn
over the images."""
from dataclasses import dataclass

import cv2
import numpy as np
from matplotlib import colormaps
from mxnet import autograd, nd
from mxnet.gluon import nn


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
    passive = (nn.GlobalAvgPool2D, nn.Flatten, nn.Dropout)
    head = _children(net.head)
    if isinstance(head[-1], nn.Dense) and all(isinstance(b, passive) for b in tail + head[:-1]):
        return head[-1]
    return None


def feature_shapes(net, image_size):
    """``[(index, block name, output shape)]`` of ``net.features`` for one image of
    ``image_size``: where the resolution halves, and which blocks a CAM can explain."""
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
    heat = cv2.resize(np.asarray(heat, dtype=np.float32), (image.shape[1], image.shape[0]),
                      interpolation=cv2.INTER_LINEAR)
    colour = colormaps[cmap](np.clip(heat, 0, 1))[..., :3] * 255
    return np.clip((1 - alpha) * image + alpha * colour, 0, 255).astype(np.uint8)
