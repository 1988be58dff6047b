"""Backbones from the GluonCV model zoo with a new head, plus pretrained-weight handling.

The network takes uint8 NHWC batches straight from the loader; ``Preprocess`` casts,
transposes and normalises them on the device (ImageNet statistics, as the zoo's
pretrained weights expect).
"""
import os
import socket

import mxnet as mx
from mxnet import init, nd
from mxnet.gluon import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PretrainedWeightsMissing(RuntimeError):
    """The zoo's ImageNet weights are not in the cache and could not be downloaded."""


class Preprocess(nn.HybridBlock):
    """uint8 NHWC in [0, 255] -> float32 NCHW normalised with ImageNet mean/std."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.mean = self.params.get_constant("mean", nd.array(IMAGENET_MEAN).reshape((1, 3, 1, 1)) * 255)
            self.scale = self.params.get_constant("scale", 1.0 / (nd.array(IMAGENET_STD).reshape((1, 3, 1, 1)) * 255))

    def hybrid_forward(self, F, x, mean, scale):
        x = F.transpose(F.cast(x, "float32"), axes=(0, 3, 1, 2))
        return F.broadcast_mul(F.broadcast_sub(x, mean), scale)


class FashionNet(nn.HybridBlock):
    """``Preprocess -> zoo features -> head``; ``features`` and ``head`` stay separate
    so recipes can freeze or slow down the backbone."""

    def __init__(self, features, head, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.preprocess = Preprocess()
        self.features, self.head = features, head
        self.register_child(features, "features")
        self.register_child(head, "head")

    def hybrid_forward(self, F, x):
        return self.head(self.features(self.preprocess(x)))


def make_head(n_outputs, kind="dense", hidden=256, dropout=0.0, pool=False, prefix="head_"):
    """The new output layers: ``dense`` (one FC) or ``fc_bn`` (FC -> BN -> ReLU -> FC,
    the JD first-place head). ``pool`` adds global average pooling for backbones whose
    features end in a feature map."""
    head = nn.HybridSequential(prefix=prefix)
    with head.name_scope():
        if pool:
            head.add(nn.GlobalAvgPool2D())
        head.add(nn.Flatten())
        if kind == "fc_bn":
            head.add(nn.Dense(hidden, use_bias=False), nn.BatchNorm(), nn.Activation("relu"))
        elif kind != "dense":
            raise ValueError(f"head must be dense or fc_bn; got {kind!r}")
        if dropout:
            head.add(nn.Dropout(dropout))
        head.add(nn.Dense(n_outputs))
    return head


def weights_file(name):
    """Where GluonCV keeps (or would download) the ImageNet weights of ``name``."""
    from gluoncv.model_zoo import model_store
    root = os.path.join(os.environ.get("MXNET_HOME", os.path.join("~", ".mxnet")), "models")
    file_name = f"{name}-{model_store.short_hash(name)}.params"
    return os.path.join(os.path.expanduser(root), file_name)


def load_zoo_model(name, pretrained):
    """The zoo network, with ImageNet weights when ``pretrained``.

    Raises ``PretrainedWeightsMissing`` with the file to place when weights are wanted
    but neither cached nor downloadable (e.g. offline).
    """
    from gluoncv.model_zoo import get_model
    if not pretrained:
        return get_model(name, pretrained=False)
    try:
        from gluoncv.model_zoo import model_store
        model_store.short_hash(name)
    except (KeyError, ValueError):
        raise PretrainedWeightsMissing(f"the GluonCV model zoo has no pretrained weights for {name!r}") from None
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)   # offline machines should fail fast, not hang
    try:
        return get_model(name, pretrained=True)
    except Exception as exc:  # noqa: BLE001 - any download failure gets one clear message
        path = weights_file(name)
        raise PretrainedWeightsMissing(
            f"ImageNet weights for {name} are not available ({exc.__class__.__name__}). "
            f"Place the file {os.path.basename(path)} in {os.path.dirname(path)}/ "
            f"(from the GluonCV model zoo, on a machine with internet: "
            f"python -c \"import gluoncv; gluoncv.model_zoo.get_model('{name}', pretrained=True)\"), "
            f"or set pretrained: false") from None
    finally:
        socket.setdefaulttimeout(previous)


def build_model(cfg, n_outputs, ctx, log=print):
    """Zoo backbone + new head, initialised on ``ctx`` (a list of contexts)."""
    pretrained = bool(cfg["pretrained"])
    try:
        zoo = load_zoo_model(cfg["model"], pretrained)
    except PretrainedWeightsMissing as exc:
        if not cfg["allow_random_init"]:
            raise
        log(f"[model] {exc}\n[model] allow_random_init is set: starting {cfg['model']} from random weights")
        zoo, pretrained = load_zoo_model(cfg["model"], False), False
    if not hasattr(zoo, "features"):
        raise ValueError(f"model {cfg['model']!r} has no 'features' block; pick a classification model")
    features = zoo.features
    if not pretrained:
        features.initialize(init.Xavier(magnitude=2), ctx=mx.cpu())
    # A probe forward tells whether the features end in a map (needs pooling) or a vector.
    probe = features(nd.zeros((1, 3, cfg["image_size"], cfg["image_size"])))
    head = make_head(n_outputs, cfg["head"], cfg["head_hidden"], cfg["dropout"], pool=probe.ndim == 4)
    net = FashionNet(features, head)
    net.preprocess.initialize(ctx=mx.cpu())
    head.initialize(init.Xavier(), ctx=mx.cpu())
    net.collect_params().reset_ctx(ctx)
    net.pretrained = pretrained
    return net


def hybridize(net):
    """Static graph with static memory: shapes are fixed per batch size."""
    net.hybridize(static_alloc=True, static_shape=True)
    return net
