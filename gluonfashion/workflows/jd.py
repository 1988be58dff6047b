"""JD flow: train.txt/test.txt -> downloaded images -> multi-label training ->
per-style thresholds -> 0/1 submission plus raw probabilities."""
import os

import numpy as np

from .. import checkpoint, metrics
from ..config import output_dir
from ..data.download import download_images
from ..data.jd import (read_jd_answers, read_jd_probabilities, read_jd_test, read_jd_train, style_names,
                       write_jd_probabilities, write_jd_submission)
from ..data.sampling import resample_indices
from ..data.split import load_split, multilabel_folds, save_split
from ..engine import TrainData, fit_network
from ..predict import predict_probs
from ..problems import MultiLabel
from ..runs import load_run
from ..transforms import build_eval_transform
from .fashionai import checked_images, report_image_problems


def _path(cfg, key):
    return os.path.join(cfg["data_root"], cfg[key])


def image_paths(cfg, ids):
    return [os.path.join(_path(cfg, "images_dir"), f"{i}.jpg") for i in ids]


def download(cfg, progress=True, log=print):
    """Fetch the images of train.txt and test.txt into ``images_dir``; returns the report."""
    ids, urls = [], []
    for key, reader in (("train_file", lambda p: read_jd_train(p, n_labels=None)[:2]),
                        ("test_file", read_jd_test)):
        if os.path.exists(_path(cfg, key)):
            more_ids, more_urls = reader(_path(cfg, key))
            ids += more_ids
            urls += more_urls
    if not ids:
        raise FileNotFoundError(f"neither {_path(cfg, 'train_file')} nor {_path(cfg, 'test_file')} exists")
    report = download_images(ids, urls, _path(cfg, "images_dir"), workers=cfg["download_workers"],
                             progress=progress)
    report_path = os.path.join(cfg["data_root"], "download_report.csv")
    report.write(report_path)
    log(f"[download] {report.summary()}; report: {report_path}")
    return report


def _split(cfg, ids, y, run_dir):
    """Validation mask from the saved split, or a seeded multi-label-aware fold split."""
    split_path = os.path.join(run_dir, "split.json")
    if os.path.exists(split_path):
        val_ids = set(load_split(split_path)["val"])
        return np.array([i in val_ids for i in ids])
    # Without k-fold, the validation part is one fold of round(1 / val_fraction).
    folds = cfg["folds"]
    if not folds and cfg["val_fraction"] > 0:
        folds = max(2, int(round(1 / cfg["val_fraction"])))
    if not folds:
        is_val = np.zeros(len(ids), dtype=bool)
    else:
        is_val = multilabel_folds(y, folds, cfg["seed"]) == cfg["fold"]
    save_split(split_path, [i for i, v in zip(ids, is_val) if not v], [i for i, v in zip(ids, is_val) if v],
               seed=cfg["seed"], folds=folds, fold=cfg["fold"])
    return is_val


def prepare_data(cfg, run_dir, progress=True, log=print):
    ids, _, y = read_jd_train(_path(cfg, "train_file"), n_labels=None)
    images = image_paths(cfg, ids)
    ok, problems = checked_images(cfg, images, run_dir, progress, log)
    if problems:
        report_image_problems(problems, os.path.join(run_dir, "image_problems.csv"), log)
        ids, images, y = [i for i, g in zip(ids, ok) if g], [p for p, g in zip(images, ok) if g], y[ok]
    if not ids:
        raise FileNotFoundError(f"none of the {len(ok)} images of {_path(cfg, 'train_file')} could be read "
                                f"from {_path(cfg, 'images_dir')}: fetch them with `gluonfashion download`")
    is_val = _split(cfg, ids, y, run_dir)
    train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    picked = train_idx[resample_indices(y[train_idx], cfg["seed"], cfg["rare_frequency"],
                                        cfg["rare_repeat"], cfg["frequent_keep"])]
    names = cfg["value_names"] or style_names(y.shape[1])
    info = {"rows": len(ids) + len(problems), "skipped_images": len(problems), "train": len(train_idx),
            "train_after_resampling": len(picked), "val": len(val_idx),
            "train_label_counts": y[train_idx].sum(0).tolist(), "val_ids": [ids[i] for i in val_idx]}
    return TrainData([images[i] for i in picked], y[picked].astype(np.float32),
                     [images[i] for i in val_idx], y[val_idx].astype(np.float32), names, info)


def make_problem(cfg, label_counts, n_samples):
    """The multi-label problem with the configured loss; label counts drive the weights."""
    counts = np.asarray(label_counts)
    params = {"wbce": {"alpha": cfg["wbce_alpha"]}, "focal": {"gamma": cfg["focal_gamma"]},
              "cost_sensitive": {"fn_weights": _fn_weights(cfg, counts, n_samples)}}.get(cfg["loss"], {})
    return MultiLabel(len(counts), cfg["loss"], label_counts=counts, **params)


def _fn_weights(cfg, counts, n_samples):
    """Cost-sensitive loss: labels rarer than ``rare_frequency`` weigh misses ``fn_weight``x."""
    weights = np.ones(len(counts), dtype=np.float32)
    weights[counts / max(n_samples, 1) < cfg["rare_frequency"]] = cfg["fn_weight"]
    return weights


def train(cfg, resume=False, fresh=False, progress=True, log=print, then_predict=False):
    """Train the multi-label model, then search per-style thresholds on validation.

    Writes ``thresholds.json`` and the validation (out-of-fold) probabilities
    ``val_probs.csv`` next to the checkpoint. ``then_predict``: also predict the test
    images (as ``predict`` with the run's defaults), with the network already in memory.
    """
    run_dir = output_dir(cfg)
    os.makedirs(run_dir, exist_ok=True)
    if fresh and os.path.exists(os.path.join(run_dir, "split.json")):
        os.remove(os.path.join(run_dir, "split.json"))
    data = prepare_data(cfg, run_dir, progress, log)
    problem = make_problem(cfg, data.info["train_label_counts"], data.info["train"])
    best, net = fit_network(cfg, data, problem, run_dir, resume, fresh, progress, log)
    if data.val_images or then_predict:
        run = load_run(run_dir, log=log, net=net)   # the prediction weights, into the trained network
        if data.val_images:
            search_and_save_thresholds(run_dir, data, progress, log, run)
        if then_predict:
            predict(run_dir, progress=progress, log=log, run=run)
    return run_dir, best


def search_and_save_thresholds(run_dir, data, progress=True, log=print, run=None):
    net, cfg, record, ctx = run or load_run(run_dir, log=log)
    transform = build_eval_transform(cfg, cfg["tta"])
    probs = predict_probs(net, data.val_images, transform, ctx, MultiLabel.activation,
                          max(1, cfg["batch_size"] // transform.n_crops), cfg["workers"], "val probs", progress)
    y = data.val_targets.astype(np.uint8)
    thresholds, _ = metrics.search_thresholds(probs, y, beta=2.0)
    bounds = {"min_positive": cfg["min_positive"], "max_positive": cfg["max_positive"]}
    tuned = metrics.mean_fbeta(y, metrics.apply_thresholds(probs, thresholds, **bounds))
    fixed = metrics.mean_fbeta(y, metrics.apply_thresholds(probs, 0.5, **bounds))
    write_jd_probabilities(os.path.join(run_dir, "val_probs.csv"), data.info["val_ids"], probs, data.class_names)
    write_jd_submission(os.path.join(run_dir, "val_truth.csv"), data.info["val_ids"], y)
    checkpoint.save_json(os.path.join(run_dir, "thresholds.json"), {
        "thresholds": thresholds, "classes": data.class_names, "val_mf2_tuned": tuned,
        "val_mf2_fixed_0.5": fixed, "tta": cfg["tta"], **bounds})
    log(f"[thresholds] validation mean F2: {fixed:.4f} at 0.5 -> {tuned:.4f} with per-style thresholds")
    return thresholds


def predict(run_dir, out_dir=None, tta=None, devices=None, weights=None, progress=True, log=print, run=None):
    """Probabilities for test.txt, then 0/1 rows with the run's thresholds (1..5 per image).

    Writes ``<out_dir>/jd_submission.csv`` and ``<out_dir>/jd_test_probs.csv``.
    ``run``: ``load_run``'s result when the caller has it (``weights`` and ``devices``
    are then ignored).
    """
    net, cfg, record, ctx = run or load_run(run_dir, weights, devices=devices, log=log)
    ids, _ = read_jd_test(_path(cfg, "test_file"))
    tta = tta or cfg["tta"]
    transform = build_eval_transform(cfg, tta)
    probs = predict_probs(net, image_paths(cfg, ids), transform, ctx, MultiLabel.activation,
                          max(1, cfg["batch_size"] // transform.n_crops), cfg["workers"],
                          f"predict jd ({tta})", progress)
    saved = checkpoint.load_json(os.path.join(run_dir, "thresholds.json"))
    binary = metrics.apply_thresholds(probs, np.array(saved["thresholds"]), cfg["min_positive"],
                                      cfg["max_positive"])
    out_dir = out_dir or cfg["submission_dir"]
    os.makedirs(out_dir, exist_ok=True)
    write_jd_probabilities(os.path.join(out_dir, "jd_test_probs.csv"), ids, probs, record["classes"])
    write_jd_probabilities(os.path.join(run_dir, "test_probs.csv"), ids, probs, record["classes"])
    sub = os.path.join(out_dir, "jd_submission.csv")
    write_jd_submission(sub, ids, binary)
    log(f"[predict] jd: {len(ids)} images, tta={tta} -> {sub} (+ jd_test_probs.csv)")
    return sub


def evaluate(probs_path, answers_path, thresholds_path, min_positive=1, max_positive=5):
    """Per-style F2 on the answers with the saved thresholds and with a fixed 0.5."""
    ids, probs = read_jd_probabilities(probs_path)
    names = style_names(probs.shape[1])
    answer_ids, truth = read_jd_answers(answers_path, n_labels=probs.shape[1])
    order = {i: k for k, i in enumerate(answer_ids)}
    missing = [i for i in ids if i not in order]
    if missing or len(ids) != len(answer_ids):
        raise ValueError(f"{probs_path} and {answers_path} cover different ids (e.g. {(missing or ['?'])[0]})")
    truth = truth[[order[i] for i in ids]]
    thresholds = np.array(checkpoint.load_json(thresholds_path)["thresholds"])
    tuned = metrics.fbeta_per_label(truth, metrics.apply_thresholds(probs, thresholds, min_positive, max_positive))
    fixed = metrics.fbeta_per_label(truth, metrics.apply_thresholds(probs, 0.5, min_positive, max_positive))
    return {"styles": names, "f2_tuned": tuned, "f2_fixed": fixed, "support": truth.sum(0),
            "thresholds": thresholds}


def evaluate_for_config(cfg, probs_path, thresholds_path=None, answers_path=None):
    """``evaluate`` with the config's 1..5 bounds; by default its answers file and the
    run's thresholds."""
    if not (answers_path or cfg["answers_file"]):
        raise ValueError("no answers to score against: the config has no answers_file")
    thresholds_path = thresholds_path or os.path.join(output_dir(cfg), "thresholds.json")
    return evaluate(probs_path, answers_path or _path(cfg, "answers_file"), thresholds_path,
                    cfg["min_positive"], cfg["max_positive"])
