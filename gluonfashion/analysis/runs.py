"""Runs the notebooks train or reuse, and their scores: validation and test sets with
answers, predictions with a chosen TTA and weights, the competition metrics, ensembles.
(``gluonfashion.runs`` is another module: it loads a run folder back.)"""
import json
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import checkpoint, metrics
from ..config import output_dir
from ..data.fashionai import read_label_file, read_predictions, read_question_file
from ..data.jd import read_jd_answers, read_jd_test
from ..predict import predict_probs
from ..problems import MultiLabel, SingleLabel
from ..runs import load_run
from ..transforms import EvalTransform, build_eval_transform
from ..workflows import fashionai, jd
from ..workflows.ensemble import run_ensemble
from ..workflows.jd import evaluate, image_paths
from .error_analysis import load_val_predictions


# ------------------------------------------------------------------ runs a notebook trains or reuses

# Settings that change how a run is executed, not what it learns: two configs that
# differ only here describe the same run.
RUNTIME_KEYS = ("workers", "loader", "devices", "log_interval", "checkpoint_every_s", "download_workers",
                "submission_dir")


def _comparable_config(cfg):
    """``cfg`` without the runtime keys, with tuples as lists (as saved in best.json)."""
    return json.loads(json.dumps({k: v for k, v in cfg.items() if k not in RUNTIME_KEYS}))


def _workflow(family):
    return jd if family == "jd" else fashionai


def finished_run(cfg):
    """True when ``cfg``'s run folder holds a run trained to the end with the same
    settings (runtime keys aside): all epochs done, validation predictions written and,
    with ``swa_epochs``, the SWA weights saved."""
    run_dir = output_dir(cfg)
    needed = ["best.json", "state.json"] + (["val_probs.csv"] if cfg["val_fraction"] or cfg["folds"] else [])
    needed += ["swa.params"] if cfg["swa_epochs"] else []
    if not all(os.path.exists(os.path.join(run_dir, name)) for name in needed):
        return False
    if checkpoint.load_json(os.path.join(run_dir, "state.json")).get("epoch") != cfg["epochs"]:
        return False
    saved = checkpoint.load_json(os.path.join(run_dir, "best.json")).get("config", {})
    return _comparable_config(saved) == _comparable_config(cfg)


def _newest_weights(run_dir):
    times = [os.path.getmtime(os.path.join(run_dir, f)) for f in ("best.params", "swa.params", "val_probs.csv")
             if os.path.exists(os.path.join(run_dir, f))]
    return max(times, default=0.0)


def train_or_reuse(cfg, predict=True, log=print):
    """Train ``cfg``'s run, or reuse it when ``finished_run(cfg)``; returns ``(run_dir, reused)``.

    Notebooks share runs this way: a later notebook asking for the same settings gets
    the earlier notebook's run instead of training it again, and a run whose settings
    changed is trained afresh. With ``predict`` the test set is predicted too (the
    run's ``test_probs.csv``, needed by ensembles), unless an up-to-date one exists;
    the submission-style files go to ``<run_dir>/predictions``, not ``submission/``.
    """
    workflow = _workflow(cfg["family"])
    run_dir = output_dir(cfg)
    reused = finished_run(cfg)
    if reused:
        log(f"[reuse] {run_dir}: a finished run with these settings is there, not retrained")
    else:
        workflow.train(cfg, fresh=True, progress=False, log=log)
    test_probs = os.path.join(run_dir, "test_probs.csv")
    if predict and (not os.path.exists(test_probs) or os.path.getmtime(test_probs) < _newest_weights(run_dir)):
        workflow.predict(run_dir, out_dir=os.path.join(run_dir, "predictions"), progress=False, log=log)
    return run_dir, reused


# ------------------------------------------------------------------ scoring runs: TTA, weights

@dataclass
class EvalSet:
    """Images with their truth: value indices ``(N,)`` or 0/1 styles ``(N, L)``."""
    images: list
    truth: np.ndarray
    keys: list = field(default_factory=list)   # rel paths (FashionAI) or ids (JD)


def _run_record(run_dir):
    return checkpoint.load_json(os.path.join(run_dir, "best.json"))


def fashionai_test_set(cfg):
    """The test images of ``cfg``'s task with their answers (``answers_file``), in
    question-file order; ``None`` when the config names no answers file or it is absent."""
    answers = cfg.get("answers_file") and os.path.join(cfg["data_root"], cfg["answers_file"])
    if not answers or not os.path.exists(answers):
        return None
    truth = _answer_labels(answers)
    rows = read_question_file(os.path.join(cfg["data_root"], cfg["question_file"]), {cfg["task"]})
    return EvalSet([r.image for r in rows], np.array([truth[(r.rel_path, r.task)] for r in rows]),
                   [r.rel_path for r in rows])


def _answer_labels(answers_path):
    """``{(rel_path, task): index of the y value}`` of a FashionAI answers file (checked
    like a label file; only the keys are used, so the file may sit anywhere)."""
    return {(r.rel_path, r.task): r.label for r in read_label_file(answers_path)}


def jd_test_set(cfg):
    """JD test images with their answers (``answers_file``), in ``test.txt`` order;
    ``None`` without answers."""
    answers = cfg.get("answers_file") and os.path.join(cfg["data_root"], cfg["answers_file"])
    if not answers or not os.path.exists(answers):
        return None
    ids, _ = read_jd_test(os.path.join(cfg["data_root"], cfg["test_file"]))
    answer_ids, y = read_jd_answers(answers, n_labels=None)
    position = {i: k for k, i in enumerate(answer_ids)}
    return EvalSet(image_paths(cfg, ids), y[[position[i] for i in ids]], list(ids))


def run_eval_sets(run_dir):
    """``{"val": EvalSet, "test": EvalSet}`` of a finished run: its validation images
    (the saved split) and, when the data has answers, the test images."""
    record = _run_record(run_dir)
    cfg = record["config"]
    if record["problem"] == "single":
        val = load_val_predictions(run_dir)
        sets = {"val": EvalSet(val.images, val.labels, val.rel_paths), "test": fashionai_test_set(cfg)}
    else:
        ids, y = read_jd_answers(os.path.join(run_dir, "val_truth.csv"), n_labels=None)
        sets = {"val": EvalSet(image_paths(cfg, ids), y, list(ids)), "test": jd_test_set(cfg)}
    return {name: s for name, s in sets.items() if s is not None}


def predict_images(run_dir, images, tta=None, which=None):
    """Probabilities ``(N, C)`` of a run for image paths, with test-time augmentation
    ``tta`` (``none``, ``flip``, ``ten_crop``; default the run's) and weights ``which``
    (``best``, ``swa``, ``last``; default the run's ``predict_weights``)."""
    net, cfg, record, ctx = load_run(run_dir, which, log=lambda *a: None)
    transform = build_eval_transform(cfg, tta or cfg["tta"])
    activation = SingleLabel.activation if record["problem"] == "single" else MultiLabel.activation
    return predict_probs(net, images, transform, ctx, activation, max(1, cfg["batch_size"] // transform.n_crops),
                         cfg["workers"], progress=False)


def score_predictions(val_probs, val_truth, test_probs=None, test_truth=None, min_positive=1, max_positive=5):
    """The competition metrics of validation (and test) probabilities, as a dict.

    Single-label (``truth`` of shape ``(N,)``): AP and accuracy of each set.
    Multi-label (``(N, L)``): per-style thresholds are searched on validation, as the
    JD workflow does, so the validation mean F2 is optimistic; the test mean F2 uses
    those thresholds (and 1..5 styles per image), plus a fixed 0.5 for comparison.
    """
    val_truth = np.asarray(val_truth)
    sets = [("val", val_probs, val_truth)] + ([("test", test_probs, np.asarray(test_truth))]
                                            if test_probs is not None else [])
    out = {}
    if val_truth.ndim == 1:
        for name, probs, truth in sets:
            out[f"{name} AP"] = metrics.fashionai_ap(probs, truth)
            out[f"{name} accuracy"] = metrics.basic_precision(probs, truth)
        return out
    thresholds, _ = metrics.search_thresholds(val_probs, val_truth)
    bounds = {"min_positive": min_positive, "max_positive": max_positive}
    for name, probs, truth in sets:
        out[f"{name} mean F2"] = metrics.mean_fbeta(truth, metrics.apply_thresholds(probs, thresholds, **bounds))
        out[f"{name} mean F2 @0.5"] = metrics.mean_fbeta(truth, metrics.apply_thresholds(probs, 0.5, **bounds))
    return out


def evaluate_run(run_dir, tta=None, which=None):
    """Predict a run's validation and test images with ``tta`` and weights ``which``
    (see ``predict_images``) and score them (``score_predictions``); also returns the
    number of crops per image (the prediction cost relative to no TTA)."""
    sets = run_eval_sets(run_dir)
    cfg = _run_record(run_dir)["config"]
    probs = {name: predict_images(run_dir, s.images, tta, which) for name, s in sets.items()}
    scores = score_predictions(probs["val"], sets["val"].truth, probs.get("test"),
                               sets["test"].truth if "test" in sets else None,
                               cfg.get("min_positive", 1), cfg.get("max_positive", 5))
    return {**scores, "crops": EvalTransform.N_CROPS[tta or cfg["tta"]]}


def score_test_probs(run_dir, probs_path=None, thresholds_path=None):
    """Test score of a probability file (default: the run's ``test_probs.csv``) against
    the answers named by the run's config: FashionAI ``{"test AP", "test accuracy"}``
    (mean over the tasks in the file), JD ``{"test mean F2"}`` with the thresholds of
    ``thresholds_path`` (default: the run's ``thresholds.json``)."""
    record = _run_record(run_dir)
    cfg = record["config"]
    probs_path = probs_path or os.path.join(run_dir, "test_probs.csv")
    answers = os.path.join(cfg["data_root"], cfg["answers_file"])
    if record["problem"] == "single":
        truth = _answer_labels(answers)
        per_task = {}
        for rel, task, probs, _ in read_predictions(probs_path):
            per_task.setdefault(task, ([], []))
            per_task[task][0].append(probs)
            per_task[task][1].append(truth[(rel, task)])
        aps = [metrics.fashionai_ap(np.stack(p), np.array(t)) for p, t in per_task.values()]
        accs = [metrics.basic_precision(np.stack(p), np.array(t)) for p, t in per_task.values()]
        return {"test AP": float(np.mean(aps)), "test accuracy": float(np.mean(accs))}
    result = evaluate(probs_path, answers, thresholds_path or os.path.join(run_dir, "thresholds.json"),
                      cfg["min_positive"], cfg["max_positive"])
    return {"test mean F2": float(np.mean(result["f2_tuned"]))}


def compare_ensembles(run_dirs, methods=("mean", "vote", "weighted", "topn"), out_root="runs/tutorial/ensembles",
                      top_n=1, corr_threshold=1.0, **options):
    """Each run alone and each ensemble method, on validation and test: a table.

    Calls ``workflows.ensemble.run_ensemble`` once per method (outputs in
    ``<out_root>/<method>``) and scores every test file against the answers
    (``score_test_probs``). Validation scores are those of the ensemble report, one
    rule for models and ensembles (FashionAI AP; JD mean F2 with thresholds searched on
    validation, hence optimistic, and for ``weighted``/``topn`` chosen on the same
    rows). ``corr_threshold=1`` keeps every model, so all methods combine the same
    ones. Several FashionAI tasks: one row per task and model, ensembles averaged over
    tasks. A k-fold model is scored on test by its first fold's file.
    Returns ``(table, reports)``.
    """
    reports = {method: run_ensemble(list(run_dirs), method=method, out_dir=os.path.join(out_root, method),
                                    top_n=top_n, corr_threshold=corr_threshold, log=lambda *a: None, **options)
               for method in methods}
    first = next(iter(reports.values()))
    jd = first["family"] == "jd"
    metric = "mean F2" if jd else "AP"
    rows = {}
    for group_name, group in first["groups"].items():
        for model in group["models"]:
            name = model["name"] if len(first["groups"]) == 1 else f"{group_name}: {model['name']}"
            rows[f"model: {name}"] = {f"val {metric}": model["val_score"],
                                      f"test {metric}": score_test_probs(model["runs"][0])[f"test {metric}"]}
    for method, report in reports.items():
        out = report["out_dir"]
        if jd:
            test = score_test_probs(run_dirs[0], os.path.join(out, "jd_test_probs.csv"),
                                    os.path.join(out, "thresholds.json"))[f"test {metric}"]
        else:
            test = float(np.mean([score_test_probs(group["models"][0]["runs"][0], os.path.join(out, f"{task}.csv"))
                                  ["test AP"] for task, group in report["groups"].items()]))
        rows[f"ensemble: {method}"] = {f"val {metric}": report["val_score"]["ensemble"], f"test {metric}": test}
    return pd.DataFrame(rows).T, reports
