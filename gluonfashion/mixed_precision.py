"""Mixed precision training with MXNet AMP (``amp: float16`` on GPUs, ``bfloat16`` on CPUs).

AMP rewrites the network's operators to compute in the low-precision type where that
is safe, keeps float32 master weights (checkpoints stay float32, so prediction needs no
AMP), and with float16 scales the loss dynamically so small gradients do not underflow.
``amp.init()`` patches MXNet for the whole process: call ``enable`` before the network
is built, once per process.
"""
from mxnet import autograd


class AmpUnavailable(ValueError):
    """The configured precision cannot run on the chosen devices."""


def enable(cfg, ctx):
    """Turn AMP on for this process when the config asks; returns whether it is on."""
    dtype = cfg["amp"]
    if dtype == "none":
        return False
    on_gpu = all(c.device_type == "gpu" for c in ctx)
    if dtype == "float16" and not on_gpu:
        raise AmpUnavailable("amp: float16 needs GPUs (float16 kernels); on a CPU use amp: bfloat16 "
                             "(oneDNN) or amp: none")
    from mxnet.contrib import amp
    amp.init(target_dtype=dtype)
    return True


def init_trainer(trainer, on):
    """Give the trainer AMP's dynamic loss scaling (call once, after it is built)."""
    if on:
        from mxnet.contrib import amp
        amp.init_trainer(trainer)


def backward(losses, trainer, on):
    """``autograd.backward`` of the per-device losses, through AMP's loss scaling when on.
    Call inside ``autograd.record()``."""
    if not on:
        autograd.backward(losses)
        return
    from mxnet.contrib import amp
    with amp.scale_loss(losses, trainer) as scaled:
        autograd.backward(scaled)
