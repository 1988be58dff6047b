"""``gluonfashion ensemble``: read finished run folders, combine them, write the outputs.

A run folder holds ``val_probs.csv``, ``val_truth.csv``, ``test_probs.csv`` and
``best.json`` (see the FashionAI and JD workflows). Fold folders of one k-fold run
(``<model>/fold0``, ``<model>/fold1``, ...) are one model: their validation rows are
concatenated (out-of-fold predictions of the whole train set) and their test
probabilities averaged.

Steps, per FashionAI task or once for the JD styles:
  1. align all models on the same validation and test rows (refuse if they differ);
  2. score every model on validation;
  3. drop models correlated above ``corr_threshold`` with a better one;
  4. combine the kept ones (``METHODS`` of ``gluonfashion.ensemble``);
  5. score the ensemble on validation; JD: search per-style thresholds on the
     ensembled validation probabilities (the majority cut for ``vote``).

Outputs in ``out_dir``:
  FashionAI  ``<task>.csv`` (test), ``submission.csv`` (merged and checked),
             ``question_rows.csv`` (the rows it was checked against), ``val_probs.csv``
  JD         ``jd_test_probs.csv``, ``jd_submission.csv`` (1..5 styles per image),
             ``jd_val_probs.csv``, ``thresholds.json``
  both       ``ensemble_report.json``, also printed as a table.
"""
import csv
import glob
import os
import re
from dataclasses import dataclass

import numpy as np

from .. import checkpoint, metrics, stacking
from .. import ensemble as combiners
from ..data.fashionai import (QuestionRow, read_label_file, read_predictions, read_question_file,
                              write_predictions)
from ..data.jd import (read_jd_answers, read_jd_probabilities, style_names, write_jd_probabilities,
                       write_jd_submission)
from ..submission import merge

_FOLD_DIR = re.compile(r"fold(\d+)$")
_RUN_FILES = ("val_probs.csv", "val_truth.csv", "test_probs.csv")


@dataclass
class Options:
    """What ``ensemble`` does; the CLI flags of the same names."""
    method: str = "mean"
    top_n: int = 3
    corr_threshold: float = 0.9
    stack_folds: int = 5
    meta: str = "logistic"
    seed: int = 0

    def check(self):
        if self.method not in combiners.METHODS:
            raise ValueError(f"unknown method {self.method!r}: use one of {', '.join(combiners.METHODS)}")
        if self.top_n < 1:
            raise ValueError(f"--top-n must be at least 1, got {self.top_n}")
        if self.stack_folds < 2:
            raise ValueError(f"--stack-folds must be at least 2, got {self.stack_folds}")
        if self.method == "stack":
            stacking.make_meta_model(self.meta)   # fail now, not after reading every run


@dataclass
class Model:
    """One ensemble member: a run folder, or all fold folders of one k-fold run."""
    name: str
    runs: list
    task: str               # FashionAI task; "styles" for JD
    classes: list
    val_keys: list          # (path, task) or id, one per validation row
    val_probs: np.ndarray   # (N, C)
    val_truth: np.ndarray   # (N,) class indices or (N, L) 0/1
    test_keys: list
    test_probs: np.ndarray  # (N_test, C)


# ------------------------------------------------------------- finding runs

def _is_run(path):
    return any(os.path.exists(os.path.join(path, f)) for f in ("best.json",) + _RUN_FILES)


def _fold_number(path):
    return int(_FOLD_DIR.match(os.path.basename(path)).group(1))


def _run_folders(path):
    """``path`` itself when it is a run folder, else its ``fold<k>`` sub-folders."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such run folder")
    if _is_run(path):
        return [path]
    folds = [p for p in glob.glob(os.path.join(glob.escape(path), "fold*"))
             if _FOLD_DIR.match(os.path.basename(p)) and _is_run(p)]
    if not folds:
        raise FileNotFoundError(f"{path}: not a run folder (no best.json or val_probs.csv) "
                                "and no fold<k> run folders inside")
    return sorted(folds, key=_fold_number)


def expand_runs(patterns):
    """Run folders named by ``patterns``, each once, in order.

    A plain folder must be a run folder or hold ``fold<k>`` run folders. A glob
    pattern may also match other folders (a ``logs/`` next to the runs): those are
    skipped, but it must match at least one run.
    """
    found = []
    for pattern in patterns:
        if not any(c in pattern for c in "*?["):
            found += _run_folders(pattern)
            continue
        matched = []
        for path in sorted(glob.glob(pattern)):
            if os.path.isdir(path) and (_is_run(path) or glob.glob(os.path.join(glob.escape(path), "fold*"))):
                matched += _run_folders(path)
        if not matched:
            raise FileNotFoundError(f"--runs {pattern}: matches no run folder")
        found += matched
    return list(dict.fromkeys(os.path.normpath(p) for p in found))


def group_folds(run_dirs):
    """``[(model folder, [run folders])]``: ``fold<k>`` folders of one parent are one model."""
    groups = {}
    for run_dir in run_dirs:
        is_fold = _FOLD_DIR.match(os.path.basename(run_dir))
        groups.setdefault(os.path.dirname(run_dir) if is_fold else run_dir, []).append(run_dir)
    return list(groups.items())


def display_names(folders):
    """Short model names: the folders relative to their common parent."""
    folders = [os.path.abspath(f) for f in folders]
    if len(folders) == 1:
        return [os.path.basename(folders[0])]
    parent = os.path.commonpath([os.path.dirname(f) for f in folders])
    return [os.path.relpath(f, parent) for f in folders]


def _best(run_dir):
    path = os.path.join(run_dir, "best.json")
    return checkpoint.load_json(path) if os.path.exists(path) else {}


def detect_family(run_dir):
    """``jd`` or ``fashionai``: from best.json's config, else from the file format
    (JD probability files start with an ``id,...`` header)."""
    family = _best(run_dir).get("config", {}).get("family")
    if family:
        return family
    with open(_need(run_dir, "val_probs.csv"), encoding="utf-8-sig") as f:
        return "jd" if f.readline().lower().startswith("id,") else "fashionai"


# --------------------------------------------------------------- reading runs

def _need(run_dir, name):
    path = os.path.join(run_dir, name)
    if not os.path.exists(path):
        hint = ("run `gluonfashion predict` on it first" if name == "test_probs.csv"
                else "it is written at the end of training, with a validation split")
        raise FileNotFoundError(f"{path} not found ({hint})")
    return path


def _show(key):
    return key[0] if isinstance(key, tuple) else key


def _check_unique(keys, where):
    seen = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"{where}: row {_show(key)} appears more than once")
        seen.add(key)


def _align(keys, values, target, what):
    """``values`` (one row per key of ``keys``) reordered to ``target``; same key sets required."""
    position = {k: i for i, k in enumerate(keys)}
    missing = [k for k in target if k not in position]
    if missing or len(keys) != len(target):
        wanted = set(target)
        example = missing[0] if missing else next(k for k in keys if k not in wanted)
        raise ValueError(f"{what} cover different rows ({len(keys)} vs {len(target)}; e.g. "
                         f"{_show(example)} is only in one): ensemble models validated on the same "
                         "split and predicted on the same test rows (k-fold: pass all fold folders)")
    return values[[position[k] for k in target]]


def _matrix(rows, path):
    """Probability vectors of ``read_predictions`` rows as an (N, C) array."""
    if len({len(p) for _, _, p, _ in rows}) > 1:
        raise ValueError(f"{path}: rows have different numbers of probabilities")
    if not rows:
        raise ValueError(f"{path}: no rows")
    return np.stack([p for _, _, p, _ in rows])


def _read_fashionai_run(run_dir):
    val_path, test_path = _need(run_dir, "val_probs.csv"), _need(run_dir, "test_probs.csv")
    val, test = read_predictions(val_path), read_predictions(test_path)
    tasks = sorted({task for _, task, _, _ in val + test})
    if len(tasks) != 1:
        raise ValueError(f"{run_dir}: expected the rows of one task, found {', '.join(tasks)}")
    val_keys, test_keys = [(p, t) for p, t, _, _ in val], [(p, t) for p, t, _, _ in test]
    _check_unique(val_keys, val_path)
    _check_unique(test_keys, test_path)
    truth_rows = read_label_file(_need(run_dir, "val_truth.csv"))
    truth_keys = [(r.rel_path, r.task) for r in truth_rows]
    truth = _align(truth_keys, np.array([r.label for r in truth_rows]), val_keys,
                   f"{run_dir}: val_truth.csv and val_probs.csv")
    return dict(task=tasks[0], val_keys=val_keys, val_probs=_matrix(val, val_path), val_truth=truth,
                test_keys=test_keys, test_probs=_matrix(test, test_path))


def _read_jd_run(run_dir):
    val_ids, val_probs = read_jd_probabilities(_need(run_dir, "val_probs.csv"))
    n_labels = val_probs.shape[1]
    truth_ids, truth = read_jd_answers(_need(run_dir, "val_truth.csv"), n_labels=n_labels)
    test_ids, test_probs = read_jd_probabilities(_need(run_dir, "test_probs.csv"), n_labels=n_labels)
    truth = _align(truth_ids, truth, val_ids, f"{run_dir}: val_truth.csv and val_probs.csv")
    return dict(task="styles", val_keys=val_ids, val_probs=val_probs.astype(np.float64), val_truth=truth,
                test_keys=test_ids, test_probs=test_probs.astype(np.float64))


def _check_folds(name, run_dirs):
    """All folds of a k-fold run, or its validation rows would not cover the train set."""
    if not _FOLD_DIR.match(os.path.basename(run_dirs[0])):
        return
    n_folds = _best(run_dirs[0]).get("config", {}).get("folds") or 0
    given = sorted(_fold_number(d) for d in run_dirs)
    if n_folds and given != list(range(n_folds)):
        raise ValueError(f"{name}: folds {given} given, but the run has {n_folds} folds; pass all fold "
                         f"folders (e.g. '{os.path.dirname(run_dirs[0])}/fold*') so its validation rows "
                         "cover the train set")


def load_model(name, run_dirs, family):
    """One ``Model`` from a run folder, or from the fold folders of one k-fold run."""
    read = _read_jd_run if family == "jd" else _read_fashionai_run
    _check_folds(name, run_dirs)
    parts = [read(d) for d in run_dirs]
    first = parts[0]
    n_columns = first["val_probs"].shape[1]
    classes = _best(run_dirs[0]).get("classes") or []
    if len(classes) != n_columns:
        classes = style_names(n_columns) if family == "jd" else [f"value_{i}" for i in range(n_columns)]
    # Fold k validated part k of the train set and predicted all of the test set:
    # concatenate the validation rows, average the test predictions.
    val_keys = [k for p in parts for k in p["val_keys"]]
    _check_unique(val_keys, f"{name} (validation rows of its folds)")
    test = [_align(p["test_keys"], p["test_probs"], first["test_keys"],
                   f"{name}: test files of {d} and {run_dirs[0]}") for p, d in zip(parts, run_dirs)]
    return Model(name, list(run_dirs), first["task"], classes, val_keys,
                 np.concatenate([p["val_probs"] for p in parts]),
                 np.concatenate([p["val_truth"] for p in parts]),
                 first["test_keys"], np.mean(test, axis=0))


def stack_models(models):
    """``(val (M, N, C), test (M, N_test, C), truth)`` aligned on the first model's rows."""
    ref = models[0]
    for m in models[1:]:
        if m.val_probs.shape[1] != ref.val_probs.shape[1]:
            raise ValueError(f"{m.name} has {m.val_probs.shape[1]} columns but {ref.name} has "
                             f"{ref.val_probs.shape[1]}: not models of the same task")
        truth = _align(m.val_keys, m.val_truth, ref.val_keys, f"validation files of {m.name} and {ref.name}")
        if not np.array_equal(truth, ref.val_truth):
            raise ValueError(f"{m.name} and {ref.name} disagree on the validation truth: "
                             "they were trained on different label files")
    val = np.stack([_align(m.val_keys, m.val_probs, ref.val_keys,
                           f"validation files of {m.name} and {ref.name}") for m in models])
    test = np.stack([_align(m.test_keys, m.test_probs, ref.test_keys,
                            f"test files of {m.name} and {ref.name}") for m in models])
    return val, test, ref.val_truth


# -------------------------------------------------------- family-specific rules

class FashionAIRules:
    """One task: models scored by the competition AP; no thresholds."""
    metric = "AP (FashionAI)"
    per_column_selection = False

    def model_scores(self, val, truth):
        """Validation AP per model: the pruning order, the weights and the top-N selection."""
        ap = np.array([metrics.fashionai_ap(p, truth) for p in val])
        return {"score": ap, "select": ap, "vote_thresholds": None}

    def evaluate(self, method, n_models, val_out, test_out, truth):
        """AP and BasicPrecision of the ensembled validation probabilities."""
        return {"val_score": metrics.fashionai_ap(val_out, truth),
                "val_basic_precision": metrics.basic_precision(val_out, truth)}


class JDRules:
    """The 13 styles: mean F2 after per-style thresholds and 1..5 styles per image."""
    per_column_selection = True

    def __init__(self, min_positive=1, max_positive=5):
        self.bounds = {"min_positive": min_positive, "max_positive": max_positive}
        self.metric = (f"mean F2 (per-style thresholds searched on validation, {min_positive}.."
                       f"{max_positive} styles per image)")

    def _mean_f2(self, probs, thresholds, truth):
        return metrics.mean_fbeta(truth, metrics.apply_thresholds(probs, thresholds, **self.bounds))

    def model_scores(self, val, truth):
        """Per model: its own thresholds (its votes), per-style F2 at them (the weights
        and the top-N selection) and the mean F2 with 1..5 post-processing (pruning order)."""
        searched = [metrics.search_thresholds(p, truth) for p in val]
        thresholds = np.array([t for t, _ in searched])
        score = np.array([self._mean_f2(p, t, truth) for p, t in zip(val, thresholds)])
        return {"score": score, "select": np.array([f2 for _, f2 in searched]), "vote_thresholds": thresholds}

    def evaluate(self, method, n_models, val_out, test_out, truth):
        """Thresholds for the ensembled probabilities, the validation F2 they reach and
        the test submission they give (1..5 styles per image)."""
        if method == "vote":    # the decision is the majority, not a searched cut
            thresholds = np.full(val_out.shape[1], combiners.majority_threshold(n_models))
        else:
            thresholds, _ = metrics.search_thresholds(val_out, truth)
        val_binary = metrics.apply_thresholds(val_out, thresholds, **self.bounds)
        return {"val_score": metrics.mean_fbeta(truth, val_binary),
                "val_f2_per_style": metrics.fbeta_per_label(truth, val_binary),
                "thresholds": thresholds,
                "test_binary": metrics.apply_thresholds(test_out, thresholds, **self.bounds)}


# ------------------------------------------------------------------ combining

def combine(options, val, test, truth, scores):
    """Ensembled ``(val (N, C), test (N_test, C), weights or None)`` of the given models.

    ``scores`` as from ``model_scores``. For ``stack`` the validation output is the
    cross-fitted meta-prediction, so it can be scored and thresholded honestly.
    """
    method = options.method
    if method == "stack":
        stack = stacking.stack_multilabel if truth.ndim == 2 else stacking.stack_singlelabel
        return (*stack(val, truth, test, options.stack_folds, options.seed, options.meta), None)
    if method == "vote":
        thresholds = scores["vote_thresholds"]
        return combiners.vote(val, thresholds), combiners.vote(test, thresholds), None
    if method == "weighted":
        weights = combiners.score_weights(scores["select"])
    elif method == "topn":
        weights = combiners.top_n_mask(scores["select"], options.top_n)
    else:
        weights = np.ones(len(val))
    return combiners.weighted_mean(val, weights), combiners.weighted_mean(test, weights), weights


def _model_status(options, dropped_by, weights, names):
    """Why a model is in or out, in words, for the report."""
    if dropped_by is not None:
        other, corr = dropped_by
        return (f"dropped: correlation {corr:.3f} > {options.corr_threshold:g} with {names[other]} "
                "(kept, scores at least as well)")
    if weights is None or options.method == "mean":
        return "kept"
    if options.method == "topn":
        chosen, top = np.atleast_1d(weights), f"the top {options.top_n}"
        if chosen.size == 1:
            return f"kept, in {top}" if chosen[0] else f"kept, not in {top}: unused"
        return f"kept, in {top} for {int(chosen.sum())}/{chosen.size} styles"
    return f"kept, weight {np.mean(weights):.3f}" + (" (mean over styles)" if np.ndim(weights) else "")


def ensemble_group(models, rules, options):
    """Ensemble the models of one task (or the JD styles); returns outputs and report."""
    val, test, truth = stack_models(models)
    scores = rules.model_scores(val, truth)
    kept, dropped = combiners.prune_correlated(val, scores["score"], options.corr_threshold)
    kept_scores = {k: None if v is None else v[kept] for k, v in scores.items()}
    val_out, test_out, weights = combine(options, val[kept], test[kept], truth, kept_scores)
    result = rules.evaluate(options.method, len(kept), val_out, test_out, truth)

    names, classes = [m.name for m in models], models[0].classes
    entries = []
    for i, m in enumerate(models):
        w = weights[kept.index(i)] if weights is not None and i in kept else None
        entry = {"name": m.name, "runs": m.runs, "val_score": float(scores["score"][i]),
                 "kept": i in kept, "status": _model_status(options, dropped.get(i), w, names)}
        if rules.per_column_selection:
            entry["val_f2_per_style"] = dict(zip(classes, scores["select"][i].tolist()))
            if options.method == "topn" and w is not None:
                entry["selected_for"] = [c for c, on in zip(classes, w) if on]
        if options.method == "weighted" and w is not None:
            entry["weight"] = w
        entries.append(entry)
    best_single = float(scores["score"].max())
    summary = {"val_score": result["val_score"], "best_single_val_score": best_single,
               "gain_over_best_single": result["val_score"] - best_single, "kept": [names[k] for k in kept],
               **{k: v for k, v in result.items() if k not in ("val_score", "test_binary")}}
    if "val_f2_per_style" in summary:
        summary["val_f2_per_style"] = dict(zip(classes, summary["val_f2_per_style"].tolist()))
    return {"val_out": val_out, "test_out": test_out, "result": result,
            "report": {"metric": rules.metric, "models": entries, "ensemble": summary}}


# ------------------------------------------------------------------- outputs

def _write_fashionai(groups, models_by_task, out_dir, question_file, log):
    """Per-task test files, the merged and checked submission, validation probabilities."""
    val_rows, val_probs, tasks = [], [], list(groups)
    for task in tasks:
        ref = models_by_task[task][0]
        write_predictions(os.path.join(out_dir, f"{task}.csv"),
                          [QuestionRow(p, p, t) for p, t in ref.test_keys], groups[task]["test_out"])
        val_rows += [QuestionRow(p, p, t) for p, t in ref.val_keys]
        val_probs += list(groups[task]["val_out"])
    # Tasks have different value counts: a ragged (object) array of row vectors.
    write_predictions(os.path.join(out_dir, "val_probs.csv"), val_rows, np.array(val_probs, dtype=object))

    # The merged submission is checked against the question rows of the ensembled
    # tasks (from the question file when there is one, else the runs' test rows).
    if question_file:
        questions = [(q.rel_path, q.task) for q in read_question_file(question_file, set(tasks))]
        log(f"[ensemble] submission rows checked against {question_file} (tasks {', '.join(tasks)})")
    else:
        questions = [k for task in tasks for k in models_by_task[task][0].test_keys]
        log("[ensemble] no question file: submission rows checked against the runs' test rows")
    question_rows = os.path.join(out_dir, "question_rows.csv")
    with open(question_rows, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([p, t, "?"] for p, t in questions)
    merge(question_rows, out_dir, os.path.join(out_dir, "submission.csv"), log=log)
    return [f"{t}.csv" for t in tasks] + ["submission.csv", "question_rows.csv", "val_probs.csv"]


def _write_jd(group, model, rules, out_dir):
    out, path = group["result"], lambda name: os.path.join(out_dir, name)
    write_jd_probabilities(path("jd_test_probs.csv"), model.test_keys, group["test_out"], model.classes)
    write_jd_probabilities(path("jd_val_probs.csv"), model.val_keys, group["val_out"], model.classes)
    write_jd_submission(path("jd_submission.csv"), model.test_keys, out["test_binary"])
    checkpoint.save_json(path("thresholds.json"), {
        "thresholds": out["thresholds"], "classes": model.classes, "val_mf2_tuned": out["val_score"],
        **rules.bounds})
    return ["jd_test_probs.csv", "jd_submission.csv", "jd_val_probs.csv", "thresholds.json"]


def format_report(report):
    """The report as a plain-text table: one block per task (or the JD styles)."""
    opts = report["options"]
    head = f"[ensemble] {report['family']}, method {opts['method']}"
    if opts["method"] == "topn":
        head += f" (top {opts['top_n']})"
    lines = [head + f", correlation threshold {opts['corr_threshold']:g}"]
    for group_name, group in report["groups"].items():
        width = max(len("ensemble"), *(len(m["name"]) for m in group["models"]))
        lines += ["", f"{group_name}: validation {group['metric']}",
                  f"  {'model':<{width}}  {'val':>6}  status"]
        lines += [f"  {m['name']:<{width}}  {m['val_score']:>6.4f}  {m['status']}" for m in group["models"]]
        ens = group["ensemble"]
        lines.append(f"  {'ensemble':<{width}}  {ens['val_score']:>6.4f}  "
                     f"{ens['gain_over_best_single']:+.4f} over the best single model")
    if len(report["groups"]) > 1:
        lines += ["", f"mean over tasks: ensemble {report['val_score']['ensemble']:.4f}, "
                      f"best single models {report['val_score']['best_single']:.4f}"]
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)


def _notes(method, family):
    notes = []
    if method == "vote" and family == "jd":
        notes.append("vote: each model votes with its own thresholds; a style is on with votes from more "
                     "than half of the kept models (a tie is not a majority), then 1..5 per image")
    elif method == "vote":
        notes.append("vote: plurality of the models' argmax values, ties broken by the mean probability; "
                     "output (votes + mean probability) / (models + 1)")
    if method in ("weighted", "topn"):
        notes.append("weights/selection were chosen on the same validation rows they are scored on: "
                     "the ensemble's validation score is optimistic")
    if method == "stack":
        notes.append("stack: validation score from cross-fitted meta-predictions (no row scored by a "
                     "meta-model that saw it); test from a meta-model fitted on all validation rows")
    return notes


def run_ensemble(run_patterns, method="mean", out_dir="submission/ensemble", top_n=3, corr_threshold=0.9,
                 stack_folds=5, meta="logistic", seed=0, question_file=None, log=print):
    """Ensemble the runs named by ``run_patterns``; writes the outputs, returns the report."""
    options = Options(method, top_n, corr_threshold, stack_folds, meta, seed)
    options.check()
    run_dirs = expand_runs(run_patterns)
    families = {d: detect_family(d) for d in run_dirs}
    if len(set(families.values())) > 1:
        raise ValueError("runs of both families given: " + ", ".join(f"{d} ({f})" for d, f in families.items()))
    family = families[run_dirs[0]]
    grouped = group_folds(run_dirs)
    models = [load_model(name, dirs, family)
              for name, (_, dirs) in zip(display_names([folder for folder, _ in grouped]), grouped)]
    cfg = _best(run_dirs[0]).get("config", {})
    if family == "jd":
        rules = JDRules(cfg.get("min_positive", 1), cfg.get("max_positive", 5))
    else:
        rules = FashionAIRules()
        if question_file is None and cfg.get("data_root") and cfg.get("question_file"):
            default = os.path.join(cfg["data_root"], cfg["question_file"])
            question_file = default if os.path.exists(default) else None

    by_task = {}
    for m in models:
        by_task.setdefault(m.task, []).append(m)
    groups = {task: ensemble_group(ms, rules, options) for task, ms in by_task.items()}

    os.makedirs(out_dir, exist_ok=True)
    if family == "jd":
        outputs = _write_jd(groups["styles"], by_task["styles"][0], rules, out_dir)
    else:
        outputs = _write_fashionai(groups, by_task, out_dir, question_file, log)
    report = {
        "family": family, "options": vars(options), "runs": run_dirs,
        "groups": {task: g["report"] for task, g in groups.items()},
        "val_score": {"ensemble": float(np.mean([g["result"]["val_score"] for g in groups.values()])),
                      "best_single": float(np.mean([g["report"]["ensemble"]["best_single_val_score"]
                                                    for g in groups.values()]))},
        "notes": _notes(method, family), "out_dir": out_dir, "outputs": outputs + ["ensemble_report.json"],
    }
    checkpoint.save_json(os.path.join(out_dir, "ensemble_report.json"), report)
    log(format_report(report))
    log(f"[ensemble] {len(models)} models -> {out_dir}")
    return report
