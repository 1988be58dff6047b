"""Stochastic weight averaging (Izmailov et al., "Averaging weights leads to wider
optima and better generalization", 2018).

With ``swa_epochs: K`` the weights at the end of each of the last K epochs are
averaged (equal weights). With ``lr_schedule: cyclic`` and ``cycle_mode: triangular``
only the ends of cycles that fall within the last K epochs are averaged: the points
where the learning rate is at ``lr_min`` (as in the paper's cyclic variant).

During training the running average lives in ``swa_running.params`` (written
atomically, like ``last.params``) and the averaged epochs in ``state.json``
(``swa_snapshots``), so ``--resume`` continues the average exactly. At the end:

1. the average is loaded into the network;
2. its BatchNorm running statistics are recomputed (an average of weights does not
   come with matching statistics): one pass over the training data (seeded like an
   extra epoch), in training mode, without any weight update; each BatchNorm layer's
   statistics become the cumulative, sample-weighted average of its per-batch input
   mean and variance over the pass (what PyTorch's ``update_bn`` does with
   ``momentum=None``), measured by hooks rather than read from MXNet's momentum-blended
   running statistics (see ``recompute_bn_stats``);
3. it is evaluated on validation with the epochs' metrics and saved as ``swa.params``
   with ``swa.json`` (metrics, averaged epochs, comparison with the best epoch).

``RunFolder(run_dir).load(which="swa")`` then loads it like ``best`` or ``last``.
"""
import mxnet as mx
from mxnet import autograd, gluon, nd

from . import checkpoint, staged_finetuning
from .models import hybridize
from .schedules import is_cycle_end

def averages_epoch(cfg, epochs_done):
    """Whether the weights after ``epochs_done`` completed epochs join the average."""
    k = cfg["swa_epochs"]
    if not k or epochs_done <= cfg["epochs"] - k:
        return False
    triangular = cfg["lr_schedule"] == "cyclic" and cfg["cycle_mode"] == "triangular"
    return is_cycle_end(cfg, epochs_done) if triangular else True


def snapshot_epochs(cfg):
    """The 1-based epochs whose end-of-epoch weights are averaged."""
    return [e for e in range(1, cfg["epochs"] + 1) if averages_epoch(cfg, e)]


def _named_params(net):
    # The structural names save_parameters uses, so the averages load with load_parameters.
    return net._collect_params_with_prefix()


class WeightAverage:
    """Equal-weight running mean of a network's parameters, kept on the CPU."""

    def __init__(self, epochs=(), average=None):
        self.epochs, self.average = list(epochs), average

    @property
    def count(self):
        return len(self.epochs)

    def add(self, net, epoch):
        """Fold the current weights (first device's copy) in as the snapshot of ``epoch``."""
        self.epochs.append(epoch)
        current = {k: p.list_data()[0].copyto(mx.cpu()) for k, p in _named_params(net).items()}
        if self.average is None:
            self.average = current
            return
        for key, value in current.items():
            avg = self.average[key]
            avg += (value - avg) / self.count   # incremental mean: no sum to overflow

    def save(self, path):
        checkpoint.atomic_write(path, lambda tmp: nd.save(tmp, self.average))

    @classmethod
    def load(cls, path, epochs):
        """The average saved at ``path`` after the given snapshot ``epochs`` (none: empty)."""
        if epochs and not path:
            raise RuntimeError(f"the saved state averaged epochs {epochs} but holds no running average; "
                               f"start over with --fresh")
        return cls(epochs, nd.load(path) if epochs else None)

    def copy_to(self, net):
        for key, param in _named_params(net).items():
            param.set_data(self.average[key])


def _tracks_stats(block):
    """A BatchNorm-like block that normalises with batch statistics in training mode."""
    kwargs = getattr(block, "_kwargs", None)
    return (hasattr(block, "running_mean") and hasattr(block, "running_var") and isinstance(kwargs, dict)
            and "momentum" in kwargs and not kwargs.get("use_global_stats"))


def bn_layers(block):
    found = []
    block.apply(lambda b: found.append(b) if _tracks_stats(b) else None)
    return found


class _BatchMoments:
    """Forward pre-hook on a BatchNorm layer: sums the per-channel mean and variance of
    the layer's input over batches, weighted by batch size, on the first device."""

    def __init__(self, layer, device):
        self.layer, self.device, self.samples = layer, device, 0
        self.mean = self.var = None
        self.handle = layer.register_forward_pre_hook(self)

    def __call__(self, layer, inputs):
        x = inputs[0]
        axis = layer._kwargs["axis"] % x.ndim
        mean, var = nd.moments(x, axes=tuple(a for a in range(x.ndim) if a != axis))
        n = x.shape[0]
        mean, var = (mean * n).as_in_context(self.device), (var * n).as_in_context(self.device)
        self.mean = mean if self.mean is None else self.mean + mean
        self.var = var if self.var is None else self.var + var
        self.samples += n

    def apply(self):
        """Write the averages into the layer's running statistics (if it saw data)."""
        self.handle.detach()
        if self.samples:
            self.layer.running_mean.set_data(self.mean / self.samples)
            self.layer.running_var.set_data(self.var / self.samples)


def recompute_bn_stats(net, batches, ctx, frozen_backbone=False):
    """Recompute BatchNorm running statistics from ``batches`` (uint8 NHWC NDArrays)
    without touching the weights; returns the number of samples seen.

    The network runs in training mode, imperatively, with a hook on each BatchNorm
    layer measuring its input's per-channel mean and (biased) variance: the layers
    see exactly what they see in training (inputs normalised by batch statistics
    upstream), the result is a cumulative average over the pass whatever the layers'
    momentum, and it does not depend on where an implementation updates its running
    statistics (MXNet's CPU BatchNorm does it in the backward pass, cuDNN in the
    forward). With ``frozen_backbone`` the backbone runs in inference mode and only
    the head's statistics are recomputed: a frozen backbone keeps its own.
    """
    layers = bn_layers(net.head if frozen_backbone else net)
    if not layers:
        return 0
    net.hybridize(False)   # hooks only fire in imperative mode
    hooks = [_BatchMoments(layer, ctx[0]) for layer in layers]
    seen = 0
    try:
        for x in batches:
            with autograd.train_mode():
                for part in gluon.utils.split_and_load(x, ctx, even_split=False):
                    staged_finetuning.forward(net, part, frozen_backbone)
            seen += x.shape[0]
    finally:
        for hook in hooks:
            hook.apply()
        hybridize(net)
    return seen
