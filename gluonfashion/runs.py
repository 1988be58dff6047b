"""Loading a finished run folder back for prediction or analysis."""
import os

from . import checkpoint
from .devices import resolve_devices
from .models import build_model, hybridize


def load_run(run_dir, which=None, devices=None, log=print, net=None):
    """``(net, cfg, record, ctx)`` from ``run_dir``: the network with ``<which>.params``
    loaded, its config, and ``best.json``. ``which`` is ``best``, ``swa`` (SWA average,
    BN statistics recomputed) or ``last``; default: the run's ``predict_weights``.

    ``net``: the network this process has just trained into ``run_dir``
    (``engine.fit_network``, on the run's devices): the weights are loaded into it,
    instead of a new network being built, initialised and its graph traced again."""
    from .swa import weights_for_prediction
    record_path = os.path.join(run_dir, "best.json")
    if not os.path.exists(record_path):
        raise FileNotFoundError(f"{run_dir}: no best.json — has this run finished an epoch?")
    which = weights_for_prediction(run_dir, which)
    record = checkpoint.load_json(record_path)
    cfg = dict(record["config"])
    cfg["pretrained"] = False     # the weights come from the run, not the zoo
    ctx = resolve_devices(devices or cfg["devices"])
    path = os.path.join(run_dir, f"{which}.params")
    if net is not None:
        net.load_parameters(path, ctx=ctx)
        return net, cfg, record, ctx
    net = build_model(cfg, len(record["classes"]), ctx, log)
    net.load_parameters(path, ctx=ctx)
    return hybridize(net), cfg, record, ctx
