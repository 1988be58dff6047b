"""Staged fine-tuning: train the new head on a frozen backbone first, then unfreeze.

Stage 1 (the first ``head_only_epochs`` epochs) freezes the backbone completely:

- its parameters get ``grad_req='null'``: no gradient is computed for them and the
  Trainer skips them, so neither the update, momentum nor weight decay can move them
  (and no optimizer state is created for them);
- it runs in inference mode, outside the autograd graph (``frozen_features``): its
  BatchNorm layers normalise with, and keep, their running statistics and its dropout
  is off, i.e. the backbone is a fixed feature extractor. The head still trains in
  training mode (its BatchNorm and dropout behave as usual).

Stage 2 sets ``grad_req='write'`` again and the whole network trains, the backbone
with its learning rate scaled by ``backbone_lr_mult`` (Gluon's ``Parameter.lr_mult``;
e.g. 0.1 so pretrained features move slowly). ``backbone_lr_mult: 0`` keeps the
backbone frozen, as in stage 1, for the whole run.

One Trainer holds every trainable parameter in both stages (build it before freezing):
its parameter list, hence the layout of its saved states, is then the same in every
epoch, and ``--resume`` in either stage rebuilds it identically.
"""
from mxnet import autograd


def backbone_frozen(cfg, epoch):
    """Whether the backbone is frozen during 0-based ``epoch``."""
    return epoch < cfg["head_only_epochs"] or float(cfg["backbone_lr_mult"]) == 0


def staged(cfg):
    """Whether the config asks for staging at all (else the backbone is left alone)."""
    return cfg["head_only_epochs"] > 0 or float(cfg["backbone_lr_mult"]) != 1


def backbone_params(net):
    """The backbone parameters staging switches: those trainable when first asked
    (BatchNorm running statistics, or anything a model froze itself, are left alone)."""
    if not hasattr(net, "staged_params"):
        net.staged_params = [p for p in net.features.collect_params().values() if p.grad_req != "null"]
    return net.staged_params


def set_backbone_trainable(net, trainable):
    """Switch gradients of the backbone on or off."""
    for param in backbone_params(net):
        param.grad_req = "write" if trainable else "null"


def set_backbone_lr_mult(net, mult):
    for param in backbone_params(net):
        param.lr_mult = float(mult)


def prepare_epoch(net, cfg, epoch):
    """Put the backbone in the state of ``epoch``'s stage; returns whether it is frozen."""
    if not staged(cfg):
        return False
    frozen = backbone_frozen(cfg, epoch)
    set_backbone_trainable(net, not frozen)
    set_backbone_lr_mult(net, cfg["backbone_lr_mult"])
    return frozen


def frozen_features(net, x):
    """Backbone features in inference mode and outside any autograd recording."""
    with autograd.pause(train_mode=False):
        return net.features(net.preprocess(x))


def forward(net, x, frozen):
    """The training forward pass: the whole network, or the head on frozen features."""
    return net.head(frozen_features(net, x)) if frozen else net(x)


def stage_message(cfg, epoch, starting=False):
    """A log line when ``epoch`` starts a new stage (or the run starts or resumes with
    staging configured), else None."""
    if not staged(cfg):
        return None
    frozen = backbone_frozen(cfg, epoch)
    if not starting and epoch > 0 and frozen == backbone_frozen(cfg, epoch - 1):
        return None
    if frozen:
        until = "the whole run" if float(cfg["backbone_lr_mult"]) == 0 else f"epoch {cfg['head_only_epochs']}"
        return f"[stage] epoch {epoch + 1}: head only, backbone frozen until {until}"
    return f"[stage] epoch {epoch + 1}: all layers train, backbone lr x{float(cfg['backbone_lr_mult']):g}"
