"""FashionAI flow: label CSVs -> checked images -> split -> training -> per-task predictions."""
import csv
import os

import numpy as np

from .. import checkpoint, tasks
from ..config import output_dir
from ..data.fashionai import QuestionRow, read_label_files, read_question_file, write_predictions
from ..data.images import check_images
from ..data.split import load_split, save_split, stratified_split
from ..engine import TrainData, fit_network
from ..losses import soft_targets
from ..predict import predict_probs
from ..problems import SingleLabel
from ..runs import load_run
from ..transforms import build_eval_transform

IMAGE_CHECK_CACHE = "image_check.json"   # in the run folder; see data.images.check_images


def label_files(cfg):
    """The label files a config names; warm-up files are skipped when absent."""
    root = cfg["data_root"]
    files = [os.path.join(root, f) for f in cfg["label_files"]]
    files += [p for p in (os.path.join(root, f) for f in cfg["extra_label_files"]) if os.path.exists(p)]
    return files


def report_image_problems(problems, path, log):
    """Count and list unusable images before training, and save the full list."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("image", "problem")] + problems)
    log(f"[data] {len(problems)} images skipped (missing or undecodable), listed in {path}:")
    for image, reason in problems[:10]:
        log(f"         {image}: {reason}")
    if len(problems) > 10:
        log(f"         ... and {len(problems) - 10} more")


def checked_images(cfg, images, run_dir, progress=True, log=print):
    """``check_images`` with the config's mode, remembering results in the run folder's
    ``image_check.json`` (kept by ``--fresh``): later runs check only new or changed files."""
    counts = {}
    ok, problems = check_images(images, cfg["image_check"], max(cfg["workers"], 2), progress,
                                cache=os.path.join(run_dir, IMAGE_CHECK_CACHE), counts=counts)
    if counts.get("cached"):
        log(f"[data] image check: {counts['checked']} images checked, {counts['cached']} unchanged since "
            f"an earlier check ({IMAGE_CHECK_CACHE})")
    return ok, problems


def prepare_data(cfg, run_dir, progress=True, log=print):
    """Rows of the configured task, image check, soft targets and the saved split."""
    task = cfg["task"]
    if not task:
        raise ValueError("config has no task: set `task:` in the YAML or --set task=<name>")
    files = label_files(cfg)
    rows = read_label_files(files, task)
    if not rows:
        raise ValueError(f"no rows for task {task!r} in {', '.join(files)}")
    names = cfg["value_names"] or tasks.value_names(task, len(rows[0].ynm))
    if len(names) != len(rows[0].ynm):
        raise ValueError(f"value_names has {len(names)} names but {task} labels have {len(rows[0].ynm)} values")
    ok, problems = checked_images(cfg, [r.image for r in rows], run_dir, progress, log)
    if problems:
        report_image_problems(problems, os.path.join(run_dir, "image_problems.csv"), log)
        rows = [r for r, good in zip(rows, ok) if good]
    targets = soft_targets([r.ynm for r in rows], cfg["maybe_share"])
    keys = [r.rel_path for r in rows]
    split_path = os.path.join(run_dir, "split.json")
    if os.path.exists(split_path):
        train_idx, val_idx = _indices_of(load_split(split_path), keys, split_path)
    else:
        train_idx, val_idx = stratified_split([r.label for r in rows], cfg["val_fraction"], cfg["seed"])
        save_split(split_path, [keys[i] for i in train_idx], [keys[i] for i in val_idx],
                   seed=cfg["seed"], val_fraction=cfg["val_fraction"], files=files)
    info = {"label_files": files, "rows": len(rows) + len(problems), "skipped_images": len(problems),
            "train": len(train_idx), "val": len(val_idx),
            "val_rows": [(rows[i].rel_path, rows[i].task, rows[i].ynm) for i in val_idx]}
    return TrainData([rows[i].image for i in train_idx], targets[train_idx],
                     [rows[i].image for i in val_idx], targets[val_idx], names, info)


def _indices_of(split, keys, path):
    position = {k: i for i, k in enumerate(keys)}
    missing = [k for k in split["train"] + split["val"] if k not in position]
    if missing:
        raise ValueError(f"{path}: {len(missing)} images of the saved split are not in the data "
                         f"(e.g. {missing[0]}); use --fresh with a new output_dir to re-split")
    return (np.array([position[k] for k in split["train"]], dtype=np.int64),
            np.array([position[k] for k in split["val"]], dtype=np.int64))


def train(cfg, resume=False, fresh=False, progress=True, log=print, then_predict=False):
    """Train one FashionAI task; returns ``(run_dir, best record)``. ``then_predict``:
    also write the question file's predictions (as ``predict`` with the run's
    defaults), with the network already in memory."""
    run_dir = output_dir(cfg)
    os.makedirs(run_dir, exist_ok=True)
    if fresh and os.path.exists(os.path.join(run_dir, "split.json")):
        os.remove(os.path.join(run_dir, "split.json"))
    data = prepare_data(cfg, run_dir, progress, log)
    best, net = fit_network(cfg, data, SingleLabel(len(data.class_names)), run_dir, resume, fresh,
                            progress, log)
    if data.val_images or then_predict:
        run = load_run(run_dir, log=log, net=net)   # the prediction weights, into the trained network
        if data.val_images:
            write_val_predictions(run_dir, data, progress, log, run)
        if then_predict:
            predict(run_dir, progress=progress, log=log, run=run)
    return run_dir, best


def write_val_predictions(run_dir, data, progress=True, log=print, run=None):
    """Validation probabilities of the best checkpoint (with the run's TTA) and the
    matching truth, next to the checkpoint: the inputs of ensembles and error analysis.
    ``run``: ``load_run``'s result when the caller has it.

    ``val_probs.csv`` rows ``path,task,p1;p2;...``; ``val_truth.csv`` rows ``path,task,ynm``.
    """
    net, cfg, _, ctx = run or load_run(run_dir, log=log)
    transform = build_eval_transform(cfg, cfg["tta"])
    probs = predict_probs(net, data.val_images, transform, ctx, SingleLabel.activation,
                          max(1, cfg["batch_size"] // transform.n_crops), cfg["workers"], "val probs", progress)
    rows = [QuestionRow(image, rel, task) for image, (rel, task, _) in zip(data.val_images, data.info["val_rows"])]
    write_predictions(os.path.join(run_dir, "val_probs.csv"), rows, probs)
    with open(os.path.join(run_dir, "val_truth.csv"), "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(data.info["val_rows"])
    return probs


def predict(run_dir, question_file=None, tta=None, out_dir=None, devices=None, weights=None,
            progress=True, log=print, run=None):
    """Write ``<out_dir>/<task>.csv`` for the task's rows of the question file.
    ``run``: ``load_run``'s result when the caller has it (``weights`` and ``devices``
    are then ignored)."""
    net, cfg, record, ctx = run or load_run(run_dir, weights, devices=devices, log=log)
    task = cfg["task"]
    question_file = question_file or os.path.join(cfg["data_root"], cfg["question_file"])
    rows = read_question_file(question_file, {task})
    if not rows:
        raise ValueError(f"{question_file}: no rows for task {task}")
    tta = tta or cfg["tta"]
    transform = build_eval_transform(cfg, tta)
    batch = max(1, cfg["batch_size"] * len(ctx) // transform.n_crops)
    probs = predict_probs(net, [r.image for r in rows], transform, ctx, SingleLabel.activation,
                          batch, cfg["workers"], f"predict {task} ({tta})", progress)
    out_dir = out_dir or cfg["submission_dir"]
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{task}.csv")
    write_predictions(path, rows, probs)
    write_predictions(os.path.join(run_dir, "test_probs.csv"), rows, probs)   # kept with the run
    checkpoint.save_json(os.path.join(run_dir, "predict.json"),
                         {"question_file": question_file, "tta": tta, "rows": len(rows), "output": path})
    log(f"[predict] {task}: {len(rows)} rows, tta={tta} -> {path}")
    return path
