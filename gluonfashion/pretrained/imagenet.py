"""The 1000 ImageNet-1k class names, in the order of the classifiers' outputs."""
import functools


@functools.lru_cache(maxsize=1)
def imagenet_classes():
    """Short class names, index = output unit (e.g. 281 ``tabby``, 967 ``espresso``);
    from the list GluonCV ships (``gluoncv.data.ImageNet1kAttr``), so no download."""
    from gluoncv.data import ImageNet1kAttr
    return tuple(ImageNet1kAttr().classes)
