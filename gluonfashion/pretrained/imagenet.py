"""The 1000 ImageNet-1k class names, in the order of the classifiers' outputs."""
import functools

import numpy as np
from gluoncv.data import ImageNet1kAttr
from mxnet import nd

from ..preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess
from ..transforms import EvalTransform


@functools.lru_cache(maxsize=1)
def imagenet_classes():
    """Short class names, index = output unit (e.g. 281 ``tabby``, 967 ``espresso``);
    from the list GluonCV ships (``gluoncv.data.ImageNet1kAttr``), so no download."""
    return tuple(ImageNet1kAttr().classes)


def classify(net, image, k=5, size=224, resize_to=256):
    """The ``k`` most probable ImageNet classes of one RGB uint8 photo (HxWx3) under a
    pretrained network with its 1000-class ``output`` (e.g. ``efficientnet_lite0``):
    ``[(class index, class name, probability), ...]``, best first. The photo gets the
    kit's evaluation crop (short side ``resize_to``, centre ``size``) and the input
    normalisation the network's weights expect."""
    preprocess = Preprocess(getattr(net, "input_mean", IMAGENET_MEAN), getattr(net, "input_std", IMAGENET_STD))
    preprocess.initialize()
    crop = EvalTransform(size, resize_to)(np.asarray(image))
    probs = nd.softmax(net(preprocess(nd.array(crop[None], dtype="uint8")))).asnumpy()[0]
    names = imagenet_classes()
    return [(int(i), names[i], float(probs[i])) for i in np.argsort(-probs)[:k]]
