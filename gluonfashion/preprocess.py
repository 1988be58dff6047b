"""The network's first layer: uint8 NHWC batches from the loader -> normalised float32
NCHW, on the device, with the statistics the backbone's weights expect."""
from mxnet import nd
from mxnet.gluon import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Preprocess(nn.HybridBlock):
    """uint8 NHWC in [0, 255] -> float32 NCHW normalised with ``mean``/``std`` (per RGB
    channel, in [0, 1] units; default: ImageNet's)."""

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.mean = self.params.get_constant("mean", nd.array(mean).reshape((1, 3, 1, 1)) * 255)
            self.scale = self.params.get_constant("scale", 1.0 / (nd.array(std).reshape((1, 3, 1, 1)) * 255))

    def hybrid_forward(self, F, x, mean, scale):
        x = F.transpose(F.cast(x, "float32"), axes=(0, 3, 1, 2))
        return F.broadcast_mul(F.broadcast_sub(x, mean), scale)
