"""Batched inference with test-time augmentation stacked into the batch."""
import numpy as np
from mxnet import gluon, nd
from tqdm import tqdm

from .data.dataset import ImageDataset, PackedDataset, make_loader


def forward_probs(net, batch, ctx, activation):
    """Probabilities for one uint8 batch ``(B, H, W, 3)`` or ``(B, crops, H, W, 3)``.

    Crops are flattened into the batch so a ten-crop batch is one forward pass;
    the crops' probabilities are averaged. Returns an NDArray (B, C) on ctx[0].
    """
    n_crops = batch.shape[1] if batch.ndim == 5 else 1
    flat = batch.reshape((-1,) + batch.shape[-3:])
    parts = gluon.utils.split_and_load(flat, ctx, even_split=False) if len(ctx) > 1 else [flat.as_in_context(ctx[0])]
    probs = nd.concat(*[activation(net(x)).as_in_context(ctx[0]) for x in parts], dim=0)
    return probs.reshape((-1, n_crops, probs.shape[-1])).mean(axis=1)


def prediction_loader(images, transform, batch_size=64, workers=2, loader="process", decode_side="auto",
                      pack=None):
    """A loader of ``transform``ed images in order (targets are dummies).

    Images come from ``pack`` (a ``PackReader``) when given, else from the files;
    ``decode_side="auto"`` decodes JPEG files at the reduced scale that still covers
    the transform's short-side resize (``resize_to``): the same crops for less work.
    """
    targets = np.zeros(len(images))
    if pack is not None:
        dataset = PackedDataset(pack, images, targets, transform)
    else:
        if decode_side == "auto":
            decode_side = getattr(transform, "resize_to", None)
        dataset = ImageDataset(images, targets, transform, decode_side)
    return make_loader(dataset, batch_size, workers, thread_pool=loader == "thread")


def predict_batches(net, batches, ctx, activation, bar=None):
    """Probabilities (N, C) as NDArray for an iterable of ``(batch, _)`` pairs."""
    outputs = []
    for batch, _ in batches:
        outputs.append(forward_probs(net, batch, ctx, activation))
        if len(outputs) > 2:
            # Back-pressure: MXNet runs asynchronously, so without this wait the
            # loop would queue every batch of the test set in memory.
            outputs[-3].wait_to_read()
        if bar is not None:
            bar.update(batch.shape[0])
    if not outputs:
        return None
    probs = nd.concat(*outputs, dim=0)
    probs.wait_to_read()
    return probs


def predict_probs(net, images, transform, ctx, activation, batch_size=64, workers=2,
                  desc="predict", progress=True, decode_side="auto", loader="process", pack=None):
    """Probabilities (N, C) for image paths, in order, with ``transform``'s crops.

    ``loader`` (``process`` or ``thread`` workers) and ``pack``: see ``prediction_loader``;
    ``data.dataset.loader_options(cfg)`` gives both from a config."""
    batches = prediction_loader(images, transform, batch_size, workers, loader, decode_side, pack)
    with tqdm(total=len(images), desc=desc, unit="img", disable=not progress, leave=False) as bar:
        probs = predict_batches(net, batches, ctx, activation, bar)
    if probs is None:
        return np.zeros((0, 0), dtype=np.float32)
    return probs.asnumpy()   # one host sync at the end
