"""The training loop: devices, hybridized forward/backward, schedules, validation,
checkpoints and exact resume. What is task-specific comes from an ``objectives`` object.
Recipes plug in here: staged fine-tuning (``staged_finetuning``) and weight averaging (``swa``)."""
import hashlib
import math
import os
import time

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd
from tqdm import tqdm

from . import checkpoint, mixed_precision, staged_finetuning, swa, threads
from .config import changed_keys, comparable_config, save_config
from .data.dataset import make_train_loader
from .devices import describe, resolve_devices
from .distributed import Workers, rows_digest, weights_digest
from .models import build_model, hybridize
from .inference import predict_probs
from .run_folder import RunFolder
from .schedules import lr_at
from .transforms import build_eval_transform


class RunExistsError(RuntimeError):
    """The run folder already holds a training state and neither resume nor fresh was asked."""


class ResumeMismatch(RuntimeError):
    """A resume asked with a config or training data that differ from the saved state's."""


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


def data_fingerprint(cfg, data):
    """A digest of what a run learns from: the training and validation images (relative
    to ``data_root``), their targets and the class names."""
    digest = hashlib.sha256()
    for images, targets in ((data.train_images, data.train_targets), (data.val_images, data.val_targets)):
        digest.update("\n".join(os.path.relpath(p, cfg["data_root"]) for p in images).encode())
        digest.update(np.ascontiguousarray(targets, dtype=np.float32).tobytes())
    digest.update("\n".join(data.class_names).encode())
    return digest.hexdigest()


def _check_resume(state, cfg, data, run_dir):
    """Refuse to continue a state with settings or data that change the result."""
    saved = state.get("fingerprint")
    if saved is None:   # a state of an older version of the kit
        return
    changed = changed_keys(saved["config"], cfg)
    if changed:
        raise ResumeMismatch(f"{run_dir} was trained with other settings: {', '.join(changed)} changed "
                             f"(e.g. {changed[0]}: {saved['config'].get(changed[0])!r} -> {cfg.get(changed[0])!r}); "
                             f"resume with the saved settings, or start over with --fresh")
    if saved["data"] != data_fingerprint(cfg, data):
        raise ResumeMismatch(f"{run_dir}: the training data changed since the saved state (other rows, labels "
                             f"or split); resume with the same data, or start over with --fresh")


def make_trainer(cfg, net, workers=None):
    """One Trainer over every trainable parameter, on the config's kvstore (``workers``:
    the job's, when distributed). Build it before ``staged_finetuning`` freezes the
    backbone, so its parameter set (and saved-state layout) is the same in every stage."""
    params = {k: v for k, v in net.collect_params().items() if v.grad_req != "null"}
    opts = {"learning_rate": lr_at(cfg, 0.0), "wd": cfg["wd"]}
    if cfg["optimizer"] in ("sgd", "nag"):
        opts["momentum"] = cfg["momentum"]
    return gluon.Trainer(params, cfg["optimizer"], opts, **(workers or Workers()).trainer_options(cfg["kvstore"]))


def _seed_epoch(seed, epoch):
    """Seed MXNet's and NumPy's global RNGs per epoch (dropout, any global sampling)."""
    mx.random.seed(seed * 10007 + epoch)
    np.random.seed((seed * 10007 + epoch) % (2 ** 32))


# bn_statistics_need_input_grad: MXNet (1.9, CPU/oneDNN) updates a BatchNorm layer's
# running mean/var in its backward pass, and skips that pass when nothing before the
# layer needs a gradient. A BatchNorm without learnable scale and shift applied to the
# image itself (the first layer of every GluonCV ResNet-v2) would then keep its initial
# statistics forever: training normalises each batch, inference does not, and data whose
# colours are far from the initial statistics collapses in inference mode. Asking for
# the input's gradient makes every layer's backward run, for any backbone; it costs one
# extra data-gradient pass through the first layer.


def _train_epoch(net, loader, trainer, loss_fn, ctx, cfg, epoch, n_images, progress, frozen=False,
                 amp_on=False, batches=None, workers=None):
    """One pass over the training loader; returns the mean training loss. ``frozen``:
    only the head trains, on backbone features computed in inference mode; ``amp_on``:
    the backward pass goes through AMP's loss scaling (``mixed_precision``).
    ``batches``, ``workers``: the loader's ``ShardBatches`` and the job's workers when
    several share the epoch (``n_images``: this worker's rows): each step is then
    normalised by the job's batch and the loss is the mean over every worker's rows."""
    steps = len(batches) if batches is not None else max(1, math.ceil(n_images / (cfg["batch_size"] * len(ctx))))
    totals = [nd.zeros((1,), ctx=c) for c in ctx]   # accumulated on device: no per-batch sync
    previous, seen = None, 0
    bar = tqdm(total=n_images, desc=f"epoch {epoch + 1}/{cfg['epochs']}", unit="img",
               disable=not progress, leave=False)
    for i, (x, y) in enumerate(loader):
        trainer.set_learning_rate(lr_at(cfg, epoch + i / steps))
        xs = gluon.utils.split_and_load(x, ctx, even_split=False)
        ys = gluon.utils.split_and_load(y, ctx, even_split=False)
        for part in xs:
            part.attach_grad()   # see bn_statistics_need_input_grad
        with autograd.record():
            losses = [loss_fn(staged_finetuning.forward(net, a, frozen), b) for a, b in zip(xs, ys)]
            mixed_precision.backward(losses, trainer, amp_on)
        trainer.step(batches.job_batch(i) if batches is not None else x.shape[0])
        for t, l in zip(totals, losses):
            t += l.sum()
        if previous is not None:
            previous.wait_to_read()   # keep one batch in flight, not the whole epoch
        previous, seen = losses[0], seen + x.shape[0]
        bar.update(x.shape[0])
        if (i + 1) % DIVERGENCE_CHECK_EVERY == 0 or (progress and (i + 1) % cfg["log_interval"] == 0):
            running = sum(t.asscalar() for t in totals) / seen   # a sync, one batch in flight
            _check_finite(running, epoch, i)
            if progress:
                bar.set_postfix(loss=f"{running:.4f}")
    bar.close()
    # The last batch's backward (which writes the BatchNorm statistics) may still be
    # queued, and a hybridized network's statistics can be read before it runs: settle
    # everything before validation or a checkpoint reads the weights.
    nd.waitall()
    mean = (workers or Workers()).mean_loss(sum(t.asscalar() for t in totals), seen)
    _check_finite(mean, epoch, None)
    return mean


DIVERGENCE_CHECK_EVERY = 8   # batches between reads of the running loss


def _check_finite(loss, epoch, batch):
    if not math.isfinite(loss):
        where = f"epoch {epoch + 1}" + (f", by batch {batch + 1}" if batch is not None else "")
        raise TrainingDiverged(f"the training loss became {loss} ({where}); nothing of this epoch was saved, "
                               f"the run folder keeps the last good state. Lower lr (or warm up longer), "
                               f"or look for broken labels or images")


def fit(cfg, data, objective, run_dir, resume=False, fresh=False, progress=True, log=print):
    """Train ``objective`` on ``data`` into ``run_dir``; returns the best epoch's record.

    ``resume`` continues from the last completed epoch (same seed and split give the
    same result as an uninterrupted run); ``fresh`` discards an existing state.
    With ``swa_epochs`` the weight average is finished and saved after the last epoch.
    """
    return fit_network(cfg, data, objective, run_dir, resume, fresh, progress, log)[0]


def fit_network(cfg, data, objective, run_dir, resume=False, fresh=False, progress=True, log=print,
                workers=None):
    """``fit``, returning ``(best record, trained network)``: the network (hybridized, its
    graph built) can predict in this process with the run's weights loaded into it
    (``RunFolder(run_dir).load(net=net)``) instead of a new one being built.

    ``workers``: the job's (``distributed.Workers``) when several processes train
    together. Each trains on its shard; worker 0 alone validates and writes ``run_dir``
    (which it has prepared before the others call this), the others read the resume
    state from it and return ``(None, net)``."""
    workers = workers or Workers()
    run = RunFolder(run_dir)
    state, saved = _start_state(run, cfg, data, resume, fresh, workers.writes)
    fingerprint = {"config": comparable_config(cfg), "data": data_fingerprint(cfg, data)}
    workers.require_same("training rows, targets and split", fingerprint["data"])
    progress = progress and workers.writes   # one progress bar per job
    ctx = resolve_devices(cfg["devices"])
    if workers.writes:
        save_config(cfg, run.file(run.CONFIG))
    _seed_epoch(cfg["seed"], -1)
    amp_on = mixed_precision.enable(cfg, ctx)   # before the network is built
    net = build_model(cfg, objective.n_outputs, ctx, log)
    if state:
        net.load_parameters(saved[run.LAST_PARAMS], ctx=ctx)
    if workers.distributed and not state:
        # The head's layers get their shape, and their weights, at the first forward pass:
        # done here, with the RNG as one process has it at its first step, so that every
        # parameter exists when worker 0's weights are sent (Workers.start_trainer).
        _seed_epoch(cfg["seed"], 0)
        net(nd.zeros((1, cfg["image_size"], cfg["image_size"], 3), dtype="uint8", ctx=ctx[0]))
    hybridize(net)
    objective.loss.hybridize()
    trainer = make_trainer(cfg, net, workers)   # before any freezing: see make_trainer
    mixed_precision.init_trainer(trainer, amp_on)
    workers.start_trainer(trainer, net)
    if state:
        trainer.load_states(saved[run.LAST_STATES])

    train_set, batches, loader = make_train_loader(cfg, data.train_images, data.train_targets, len(ctx),
                                                   workers.rank, workers.count)
    eval_tf = build_eval_transform(cfg, "none")

    history = state["history"] if state else []
    best = state["best"] if state else None
    start = start_epoch(state)
    averaged = swa.WeightAverage.load(saved.get(run.SWA_RUNNING),
                                      state.get("swa_snapshots", []) if state else [])
    if workers.writes:
        log(f"[train] {cfg['task']}: {len(data.train_images)} train / {len(data.val_images)} val images, "
            f"{cfg['model']} ({net.weights_source}) at {cfg['image_size']} px on {describe(ctx)}"
            + (f", resuming after epoch {start}" if state else "") + f"; {threads.describe()}")
    if workers.distributed:
        log(_shard_line(workers, batches, start, len(train_set)))
    last_save = time.time()
    for epoch in range(start, cfg["epochs"]):
        _seed_epoch(cfg["seed"], epoch)
        batches.set_epoch(epoch)
        frozen = staged_finetuning.prepare_epoch(net, cfg, epoch)
        message = staged_finetuning.stage_message(cfg, epoch, starting=epoch == start)
        if message and workers.writes:
            log(message)
        t0 = time.time()
        train_loss = _train_epoch(net, loader, trainer, objective.loss, ctx, cfg, epoch,
                                  batches.rows(), progress, frozen, amp_on, batches, workers)
        workers.average_statistics(net)
        train_time = time.time() - t0
        workers.require_same_weights(net, f"after epoch {epoch + 1}")
        if swa.averages_epoch(cfg, epoch + 1):
            averaged.add(net, epoch + 1)
        if not workers.writes:
            continue
        row = {"epoch": epoch + 1, "lr": lr_at(cfg, epoch + 1 - 1e-9), "train_loss": train_loss,
               "train_seconds": round(train_time, 2),
               "train_img_per_s": round((len(train_set) - batches.left_out) / max(train_time, 1e-9), 1)}
        row.update(_validate(net, data, eval_tf, ctx, objective, cfg, progress))
        score = row.get(f"val_{objective.select_metric}", -train_loss)
        history.append(row)
        if best is None or score > best["score"]:
            best = {"score": score, "epoch": epoch + 1, "metrics": row}
            checkpoint.save_params(net, run.file(run.BEST_PARAMS))
            run.write_json(run.BEST_RECORD, {
                **best, "select_metric": objective.select_metric, "problem": objective.kind,
                "objective": objective.saved(),
                "classes": data.class_names, "config": cfg, "data": data.summary,
                "weights_source": net.weights_source})
        checkpoint.write_metrics_csv(run.file(run.METRICS), history)
        # On short demo epochs, writing the optimizer state and redrawing the curves cost
        # as much as training; a resumed run simply redoes the (exactly reproducible)
        # epochs since the last save.
        if epoch + 1 == cfg["epochs"] or time.time() - last_save >= cfg["checkpoint_every_s"]:
            _save_resume_state(run, net, trainer, averaged, history, best, cfg, fingerprint)
            last_save = time.time()
        log(_epoch_line(row))
    if cfg["swa_epochs"]:
        _finish_swa(averaged, net, loader, batches, ctx, data, objective, eval_tf, cfg, run, best,
                    progress, log, workers)
    if workers.distributed:
        log(f"[distributed] {workers} finished: weights {weights_digest(net)}")
    return (best if workers.writes else None), net


def start_epoch(state):
    """The 0-based epoch a run starts with: the epochs a saved state completed, else 0."""
    return state["epoch"] if state else 0


def _start_state(run, cfg, data, resume, fresh, writes):
    """``(state record, {file: path})`` to continue from, or ``(None, {})``. Worker 0
    (``writes``) creates the folder and clears it for ``fresh``."""
    if writes:
        run.create()
    if fresh:
        if writes:
            run.clear_results()
        return None, {}
    if not run.has_state():
        return None, {}
    if not resume:
        raise RunExistsError(f"{run.path} already holds a training state: pass --resume to "
                             f"continue it or --fresh to start over")
    state, saved = run.resume_state()
    _check_resume(state, cfg, data, run.path)
    return state, saved


def _shard_line(workers, batches, epoch, n_rows):
    """Which training rows this worker reads (their count, and a digest of epoch ``epoch``'s)."""
    batches.set_epoch(epoch)
    left = (f"; the last {batches.left_out} rows of each epoch's order sit out (fewer than the workers)"
            if batches.left_out else "")
    return (f"[distributed] {workers}: {batches.rows()} of {n_rows} training rows an epoch, "
            f"{len(batches)} steps of {batches.job_batch(0) if len(batches) else 0} rows over all workers "
            f"(epoch {epoch + 1} rows {rows_digest(batches)}){left}")


def _save_resume_state(run, net, trainer, averaged, history, best, cfg, fingerprint):
    """Everything ``--resume`` reads, saved as one unit (``RunFolder.save_resume_state``)."""
    writers = {run.LAST_PARAMS: net.save_parameters, run.LAST_STATES: trainer.save_states}
    if averaged.count:
        writers[run.SWA_RUNNING] = averaged.save
    run.save_resume_state({"epoch": history[-1]["epoch"], "history": history, "best": best,
                           "swa_snapshots": averaged.epochs, "fingerprint": fingerprint}, writers)
    from . import training_curves   # matplotlib: loaded by training only, not by predict or evaluate
    training_curves.plot_curves(history, run.file(run.CURVES), f"{cfg['task']} ({cfg['model']})")


def _validate(net, data, eval_tf, ctx, objective, cfg, progress):
    """Validation metrics as ``{"val_<name>": value}`` (empty without validation images)."""
    if not data.val_images:
        return {}
    # Thread workers: validation runs every epoch, and a new process pool per call (a
    # fork of the whole training process) costs more than decoding a small val set.
    probs = predict_probs(net, data.val_images, eval_tf, ctx, objective.activation,
                          cfg["batch_size"] * len(ctx), cfg["workers"], "validate", progress,
                          loader="thread")
    return {f"val_{k}": v for k, v in objective.evaluate(probs, data.val_targets).items()}


def _finish_swa(averaged, net, loader, sampler, ctx, data, objective, eval_tf, cfg, run, best,
                progress, log, workers):
    """Load the average, recompute its BatchNorm statistics on the training data (every
    worker on its shard, then their mean), evaluate it and save ``swa.params`` +
    ``swa.json`` (worker 0); logs SWA vs the best epoch."""
    if not averaged.count:
        log("[swa] no epoch was averaged: nothing to save")
        return None
    averaged.copy_to(net)
    # A seed and order of their own, one past the last epoch: resumed runs redo it identically.
    _seed_epoch(cfg["seed"], cfg["epochs"])
    sampler.set_epoch(cfg["epochs"])
    frozen = staged_finetuning.backbone_frozen(cfg, cfg["epochs"] - 1)
    seen = swa.recompute_bn_stats(net, (x for x, _ in loader), ctx, frozen_backbone=frozen)
    workers.average_statistics(net)
    if not workers.writes:
        return None
    metrics = _validate(net, data, eval_tf, ctx, objective, cfg, progress)
    key = f"val_{objective.select_metric}"
    record = {"epochs": averaged.epochs, "metrics": metrics, "select_metric": objective.select_metric,
              "score": metrics.get(key), "bn_samples": seen, "best_epoch": best["epoch"],
              "best_score": best["score"]}
    checkpoint.save_params(net, run.file(run.SWA_PARAMS))
    run.write_json(run.SWA_RECORD, record)
    versus = (f"{objective.select_metric} {metrics[key]:.4f} vs {best['score']:.4f} (epoch {best['epoch']})"
              if key in metrics else "no validation data to compare")
    log(f"[swa] SWA vs best epoch: {versus}; averaged epochs {', '.join(map(str, averaged.epochs))}, "
        f"BatchNorm statistics from {seen} training images -> {run.SWA_PARAMS}")
    return record


def _epoch_line(row):
    parts = [f"epoch {row['epoch']:>3}", f"loss {row['train_loss']:.4f}",
             f"{row['train_img_per_s']:.0f} img/s"]
    parts += [f"{k[4:]} {v:.4f}" for k, v in row.items() if k.startswith("val_")]
    return "[train] " + "  ".join(parts)
