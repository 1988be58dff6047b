"""Backbones from the GluonCV model zoo (or ``gluonfashion.pretrained``, e.g.
``efficientnet_lite0``) with a new head, plus pretrained-weight handling.

The network takes uint8 NHWC batches straight from the loader; ``Preprocess`` casts,
transposes and normalises them on the device with the statistics the backbone's
weights expect: the backbone's ``input_mean`` / ``input_std`` when it has them, else
the ImageNet mean/std the zoo's weights use.
"""
import os
import socket

import mxnet as mx
from gluoncv.model_zoo import get_model, model_store
from mxnet import init, nd
from mxnet.gluon import nn

from .preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess
from .pretrained import MODELS


class PretrainedWeightsMissing(RuntimeError):
    """The zoo's ImageNet weights are not in the cache and could not be downloaded
    (or a bundled model's weights package is not installed)."""


class FashionNet(nn.HybridBlock):
    """``Preprocess -> zoo features -> head``; ``features`` and ``head`` stay separate
    so recipes can freeze or slow down the backbone. ``mean``/``std``: the input
    normalisation of the backbone's weights (``Preprocess``)."""

    def __init__(self, features, head, mean=IMAGENET_MEAN, std=IMAGENET_STD, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.preprocess = Preprocess(mean, std)
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
    root = os.path.join(os.environ.get("MXNET_HOME", os.path.join("~", ".mxnet")), "models")
    file_name = f"{name}-{model_store.short_hash(name)}.params"
    return os.path.join(os.path.expanduser(root), file_name)


def load_bundled_model(name, pretrained):
    """A ``gluonfashion.pretrained`` network (e.g. ``efficientnet_lite0``), with the
    weights its package installs when ``pretrained``; ``PretrainedWeightsMissing`` when
    that package is not installed."""
    if not pretrained:
        return MODELS[name](pretrained=False)
    try:
        return MODELS[name](pretrained=True)
    except FileNotFoundError as exc:
        raise PretrainedWeightsMissing(f"ImageNet weights for {name} are not available: {exc}; "
                                       f"or set pretrained: false") from None


def load_zoo_model(name, pretrained):
    """The zoo network, with ImageNet weights when ``pretrained``. Names of
    ``gluonfashion.pretrained.MODELS`` (``efficientnet_lite0``) come from there instead.

    Raises ``PretrainedWeightsMissing`` with the file to place when weights are wanted
    but neither cached nor downloadable (e.g. offline).
    """
    if name in MODELS:
        return load_bundled_model(name, pretrained)
    if not pretrained:
        return get_model(name, pretrained=False)
    try:
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


def load_backbone_params(features, path, ctx=mx.cpu()):
    """Load ``features``' weights from ``path``: either a backbone file saved with
    ``net.features.save_parameters(path)``, or a whole ``FashionNet`` file of a run
    (``best.params``, ``last.params``, ``swa.params``), whose ``features.*`` entries are
    taken and the rest (head, preprocess) ignored. Every backbone parameter must be in
    the file with its shape, and nothing else of the backbone may be; else ``ValueError``
    naming the parameters. ``features`` must be initialised (shapes known).

    To make a backbone file from a finished run (any model, same ``model:`` name)::

        from gluonfashion.run_folder import load_run
        net, cfg, record, ctx = load_run("runs/demo/skirt_length_labels")
        net.features.save_parameters("skirt_backbone.params")

    or point ``pretrained:`` at the run's ``best.params`` directly."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"pretrained: {path} does not exist")
    loaded = nd.load(path)
    if not isinstance(loaded, dict):
        raise ValueError(f"pretrained: {path} is not a Gluon .params file (no parameter names)")
    if any(k.startswith("features.") for k in loaded):
        loaded = {k[len("features."):]: v for k, v in loaded.items() if k.startswith("features.")}
    params = features._collect_params_with_prefix()
    missing = sorted(set(params) - set(loaded))
    extra = sorted(set(loaded) - set(params))
    wrong = [f"{k} {tuple(loaded[k].shape)} vs {tuple(p.shape)}" for k, p in params.items()
             if k in loaded and tuple(loaded[k].shape) != tuple(p.shape)]
    if missing or extra or wrong:
        problems = [f"{label}: {', '.join(items[:8])}{' ...' if len(items) > 8 else ''}"
                    for label, items in (("missing in the file", missing), ("not in the backbone", extra),
                                         ("shape (file vs backbone)", wrong)) if items]
        raise ValueError(f"pretrained: {path} does not fit this model's backbone ({'; '.join(problems)}); "
                         f"is it from the same model?")
    for k, p in params.items():
        p.set_data(loaded[k].astype(p.dtype).as_in_context(ctx))


def build_model(cfg, n_outputs, ctx, log=print):
    """Backbone + new head, initialised on ``ctx`` (a list of contexts).

    ``cfg["pretrained"]``: ``true`` (zoo ImageNet weights, or the bundled ones of a
    ``gluonfashion.pretrained`` model), ``false`` (random init) or the path of a
    ``.params`` file with the backbone's weights (``load_backbone_params``).
    ``net.weights_source`` says in words which weights the network started from.
    """
    source = cfg["pretrained"]
    path = os.path.expanduser(source) if isinstance(source, str) else None
    pretrained = bool(source) and path is None
    if path is not None and not os.path.isfile(path):   # an explicit file never falls back to random init
        raise FileNotFoundError(f"pretrained: {path} does not exist (expected a .params file with the "
                                f"backbone's weights, see models.load_backbone_params)")
    try:
        zoo = load_zoo_model(cfg["model"], pretrained)
    except PretrainedWeightsMissing as exc:
        if not cfg["allow_random_init"]:
            raise
        log(f"[model] {exc}\n[model] allow_random_init is set: starting {cfg['model']} from random weights")
        zoo, pretrained = load_zoo_model(cfg["model"], False), False
        weights_source = "random init (pretrained weights missing)"
    else:
        weights_source = (getattr(zoo, "weights_source", f"GluonCV zoo {cfg['model']}") if pretrained
                          else path or "random init")
    if not hasattr(zoo, "features"):
        raise ValueError(f"model {cfg['model']!r} has no 'features' block; pick a classification model")
    features = zoo.features
    if not pretrained:
        features.initialize(init.Xavier(magnitude=2), ctx=mx.cpu())
    # A probe forward tells whether the features end in a map (needs pooling) or a vector
    # (it also completes deferred initialisation, so a backbone file can be shape-checked).
    probe = features(nd.zeros((1, 3, cfg["image_size"], cfg["image_size"])))
    if path is not None:
        load_backbone_params(features, path)
    head = make_head(n_outputs, cfg["head"], cfg["head_hidden"], cfg["dropout"], pool=probe.ndim == 4)
    net = FashionNet(features, head, mean=getattr(zoo, "input_mean", IMAGENET_MEAN),
                     std=getattr(zoo, "input_std", IMAGENET_STD))
    net.preprocess.initialize(ctx=mx.cpu())
    head.initialize(init.Xavier(), ctx=mx.cpu())
    net.collect_params().reset_ctx(ctx)
    net.pretrained = pretrained or path is not None
    net.weights_source = weights_source
    return net


def hybridize(net):
    """Static graph with static memory: shapes are fixed per batch size."""
    net.hybridize(static_alloc=True, static_shape=True)
    return net


# oneDNN's graph fusion: convolution, BatchNorm (folded into the weights) and activation,
# and residual sums, run as one operator each. Inference only: the fused graph has no
# backward and keeps the running statistics fixed.
FUSION_BACKEND = "MKLDNN"


def fusion_available(ctx):
    """Whether prediction on ``ctx`` (a list of contexts) can use oneDNN's fusion: every
    device a CPU and MXNet built with oneDNN."""
    return all(c.device_type == "cpu" for c in ctx) and mx.runtime.Features().is_enabled("MKLDNN")


def hybridize_for_prediction(net, ctx):
    """``hybridize`` for a network that will only predict: on a CPU with oneDNN, the
    graph is fused as well (outputs equal float32's to rounding; resnet50_v2 at 224 px
    predicts about 1.2x faster, efficientnet_lite0 about 3x: docs/performance.md).
    The fused operators fold BatchNorm into the weights when the graph is built: after
    changing parameters in place (``set_data``), call this again (``load_parameters``
    gives the parameters new arrays, which the graph does pick up). The network must
    not be trained afterwards without ``hybridize(net)`` first."""
    if fusion_available(ctx):
        net.hybridize(backend=FUSION_BACKEND, static_alloc=True, static_shape=True)
    else:
        hybridize(net)
    return net
