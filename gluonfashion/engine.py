"""The training loop: devices, hybridized forward/backward, schedules, validation,
checkpoints and exact resume. Task-specific parts come from a ``problems`` object."""
import math
import os
import time
from dataclasses import dataclass, field

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd
from tqdm import tqdm

from . import checkpoint, plots
from .config import save_config
from .data.dataset import ImageDataset, SeededShuffleSampler, make_loader
from .devices import describe, resolve_devices
from .models import build_model, hybridize
from .predict import predict_probs
from .schedules import lr_at
from .transforms import build_eval_transform, build_train_transform


@dataclass
class TrainData:
    """Image paths and target arrays of the two parts of a split."""
    train_images: list
    train_targets: np.ndarray
    val_images: list
    val_targets: np.ndarray
    class_names: list
    info: dict = field(default_factory=dict)   # counts and reports, saved in best.json


class RunExistsError(RuntimeError):
    """The run folder already holds a training state and neither resume nor fresh was asked."""


def make_trainer(cfg, net):
    params = {k: v for k, v in net.collect_params().items() if v.grad_req != "null"}
    opts = {"learning_rate": lr_at(cfg, 0.0), "wd": cfg["wd"]}
    if cfg["optimizer"] in ("sgd", "nag"):
        opts["momentum"] = cfg["momentum"]
    return gluon.Trainer(params, cfg["optimizer"], opts)


def _seed_epoch(seed, epoch):
    """Seed MXNet's and NumPy's global RNGs per epoch (dropout, any global sampling)."""
    mx.random.seed(seed * 10007 + epoch)
    np.random.seed((seed * 10007 + epoch) % (2 ** 32))


def _train_epoch(net, loader, trainer, loss_fn, ctx, cfg, epoch, n_images, progress):
    """One pass over the training loader; returns the mean training loss."""
    steps = max(1, math.ceil(n_images / (cfg["batch_size"] * len(ctx))))
    totals = [nd.zeros((1,), ctx=c) for c in ctx]   # accumulated on device: no per-batch sync
    previous, seen = None, 0
    bar = tqdm(total=n_images, desc=f"epoch {epoch + 1}/{cfg['epochs']}", unit="img",
               disable=not progress, leave=False)
    for i, (x, y) in enumerate(loader):
        trainer.set_learning_rate(lr_at(cfg, epoch + i / steps))
        xs = gluon.utils.split_and_load(x, ctx, even_split=False)
        ys = gluon.utils.split_and_load(y, ctx, even_split=False)
        with autograd.record():
            losses = [loss_fn(net(a), b) for a, b in zip(xs, ys)]
        autograd.backward(losses)
        trainer.step(x.shape[0])
        for t, l in zip(totals, losses):
            t += l.sum()
        if previous is not None:
            previous.wait_to_read()   # keep one batch in flight, not the whole epoch
        previous, seen = losses[0], seen + x.shape[0]
        bar.update(x.shape[0])
        if (i + 1) % cfg["log_interval"] == 0:
            bar.set_postfix(loss=f"{sum(t.asscalar() for t in totals) / seen:.4f}")
    bar.close()
    return sum(t.asscalar() for t in totals) / max(seen, 1)


def fit(cfg, data, problem, run_dir, resume=False, fresh=False, progress=True, log=print):
    """Train ``problem`` on ``data`` into ``run_dir``; returns the best epoch's record.

    ``resume`` continues from the last completed epoch (same seed and split give the
    same result as an uninterrupted run); ``fresh`` discards an existing state.
    """
    os.makedirs(run_dir, exist_ok=True)
    state_path = os.path.join(run_dir, "state.json")
    state = None
    if checkpoint.has_state(run_dir):
        if resume:
            state = checkpoint.load_json(state_path)
        elif fresh:
            os.remove(state_path)
        else:
            raise RunExistsError(f"{run_dir} already holds a training state: pass --resume to "
                                 f"continue it or --fresh to start over")
    ctx = resolve_devices(cfg["devices"])
    save_config(cfg, os.path.join(run_dir, "config.yaml"))
    _seed_epoch(cfg["seed"], -1)
    net = build_model(cfg, problem.n_outputs, ctx, log)
    if state:
        net.load_parameters(os.path.join(run_dir, "last.params"), ctx=ctx)
    hybridize(net)
    problem.loss.hybridize()
    trainer = make_trainer(cfg, net)
    if state:
        trainer.load_states(os.path.join(run_dir, "last.states"))

    train_set = ImageDataset(data.train_images, data.train_targets, build_train_transform(cfg))
    sampler = SeededShuffleSampler(len(train_set), cfg["seed"])
    loader = make_loader(train_set, cfg["batch_size"] * len(ctx), cfg["workers"], sampler)
    eval_tf = build_eval_transform(cfg, "none")

    history = state["history"] if state else []
    best = state["best"] if state else None
    start = state["epoch"] if state else 0   # epochs completed = next 0-based index
    log(f"[train] {cfg['task']}: {len(data.train_images)} train / {len(data.val_images)} val images, "
        f"{cfg['model']} at {cfg['image_size']} px on {describe(ctx)}"
        + (f", resuming after epoch {start}" if state else ""))
    for epoch in range(start, cfg["epochs"]):
        _seed_epoch(cfg["seed"], epoch)
        sampler.set_epoch(epoch)
        t0 = time.time()
        train_loss = _train_epoch(net, loader, trainer, problem.loss, ctx, cfg, epoch,
                                  len(train_set), progress)
        train_time = time.time() - t0
        row = {"epoch": epoch + 1, "lr": lr_at(cfg, epoch + 1 - 1e-9), "train_loss": train_loss,
               "train_seconds": round(train_time, 2),
               "train_img_per_s": round(len(train_set) / max(train_time, 1e-9), 1)}
        if data.val_images:
            probs = predict_probs(net, data.val_images, eval_tf, ctx, problem.activation,
                                  cfg["batch_size"] * len(ctx), cfg["workers"], "validate", progress)
            row.update({f"val_{k}": v for k, v in problem.evaluate(probs, data.val_targets).items()})
        score = row.get(f"val_{problem.select_metric}", -train_loss)
        history.append(row)
        if best is None or score > best["score"]:
            best = {"score": score, "epoch": epoch + 1, "metrics": row}
            checkpoint.save_params(net, os.path.join(run_dir, "best.params"))
            checkpoint.save_json(os.path.join(run_dir, "best.json"), {
                **best, "select_metric": problem.select_metric, "problem": problem.kind,
                "classes": data.class_names, "config": cfg, "data": data.info})
        checkpoint.save_params(net, os.path.join(run_dir, "last.params"))
        checkpoint.save_trainer(trainer, os.path.join(run_dir, "last.states"))
        checkpoint.save_json(state_path, {"epoch": epoch + 1, "history": history, "best": best})
        checkpoint.write_metrics_csv(os.path.join(run_dir, "metrics.csv"), history)
        plots.plot_curves(history, os.path.join(run_dir, "curves.png"), f"{cfg['task']} ({cfg['model']})")
        log(_epoch_line(row))
    return best


def _epoch_line(row):
    parts = [f"epoch {row['epoch']:>3}", f"loss {row['train_loss']:.4f}",
             f"{row['train_img_per_s']:.0f} img/s"]
    parts += [f"{k[4:]} {v:.4f}" for k, v in row.items() if k.startswith("val_")]
    return "[train] " + "  ".join(parts)
