"""How much hybridizing speeds a network up: training and prediction images/s, imperative
vs hybridized."""
import pandas as pd

from ..speed.bench import predict_rate, train_rate
from ..speed.measuring import N_OUTPUTS, memory_batch, repeat_batch
from ..devices import resolve_devices
from ..engine import make_trainer
from ..models import build_model, hybridize
from ..objectives import SingleLabel


def compare_hybridize(cfg, batch_size=4, batches=5, warmup=2, repeat=2):
    """Training and prediction images/s of ``cfg``'s network, imperative vs hybridized.

    Both networks are built the same way (random weights) and timed on one in-memory
    batch with the engine's own training step and the predictor's forward pass, so
    only the execution mode differs. Measurements alternate and the best of
    ``repeat`` is kept (a shared machine only ever slows a run down). Returns a
    pandas table, one row per mode, plus the speed-up.
    """
    cfg = {**cfg, "batch_size": batch_size, "pretrained": False, "allow_random_init": True}
    ctx = resolve_devices(cfg["devices"])[:1]
    batch = memory_batch(cfg, batch_size)
    setups = {}
    for mode in ("imperative", "hybridized"):
        net = build_model(cfg, N_OUTPUTS, ctx, log=lambda *a: None)
        problem = SingleLabel(N_OUTPUTS)
        if mode == "hybridized":
            hybridize(net)
            problem.loss.hybridize()
        setups[mode] = (net, make_trainer(cfg, net), problem)
    rates = {mode: {"train img/s": 0.0, "predict img/s": 0.0} for mode in setups}
    for _ in range(repeat):
        for mode, (net, trainer, problem) in setups.items():
            source = repeat_batch(batch, warmup + batches)
            t = _images_per_s(train_rate(net, trainer, problem.loss, ctx, cfg, source, warmup, batches))
            p = _images_per_s(predict_rate(net, ctx, problem.activation, repeat_batch(batch, warmup + batches),
                                           warmup, batches))
            rates[mode]["train img/s"] = max(rates[mode]["train img/s"], t)
            rates[mode]["predict img/s"] = max(rates[mode]["predict img/s"], p)
    table = pd.DataFrame(rates).T.round(1)
    table.loc["speed-up"] = (table.loc["hybridized"] / table.loc["imperative"]).round(2)
    return table


def _images_per_s(rate):
    """bench's rate functions return images/s, or (images/s, CPU ms per image)."""
    return rate[0] if isinstance(rate, tuple) else rate
