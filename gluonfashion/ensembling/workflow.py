"""``gluonfashion ensemble``: read finished run folders, combine them, write the outputs.

A run folder holds ``val_probs.csv``, ``val_truth.csv``, ``test_probs.csv`` and
``best.json`` (see ``run_folder`` and the families). Fold folders of one k-fold run
(``<model>/fold0``, ``<model>/fold1``, ...) are one model: their validation rows are
concatenated (out-of-fold predictions of the whole train set) and their test
probabilities averaged.

Steps, per FashionAI task or once for the JD styles (or the DeepFashion categories and
attributes):
  1. align all models on the same validation and test rows (refuse if they differ);
  2. score every model on validation;
  3. drop models correlated above ``corr_threshold`` with a better one;
  4. combine the kept ones (``METHODS`` of ``gluonfashion.ensembling.combiners``);
  5. score the ensemble on validation; JD: search per-style thresholds on the
     ensembled validation probabilities (the majority cut for ``vote``).

Outputs in ``out_dir``:
  FashionAI  ``<task>.csv`` (test), ``submission.csv`` (merged and checked),
             ``question_rows.csv`` (the rows it was checked against), ``val_probs.csv``
  JD         ``jd_test_probs.csv``, ``jd_submission.csv`` (1..5 styles per image),
             ``jd_val_probs.csv``, ``thresholds.json``
  DeepFashion ``deepfashion_predictions.csv`` (top-5 ids), ``deepfashion_scores.csv``,
             ``deepfashion_val_scores.csv``
  all        ``ensemble_report.json``, also printed as a table.
"""
import glob
import os
import re
from dataclasses import dataclass

import numpy as np

from .. import checkpoint
from ..families import FAMILIES, get_family
from ..run_folder import RunFolder
from . import combiners, stacking

_FOLD_DIR = re.compile(r"fold(\d+)$")
_RUN_FILES = (RunFolder.BEST_RECORD, RunFolder.VAL_PROBS, RunFolder.VAL_TRUTH, RunFolder.TEST_PROBS)


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
    return any(RunFolder(path).has(f) for f in _RUN_FILES)


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
    run = RunFolder(run_dir)
    return run.record() if run.has(run.BEST_RECORD) else {}


def detect_family(run_dir):
    """The family of a run: from best.json's config, else the one whose probability
    file format ``val_probs.csv`` is in."""
    family = _best(run_dir).get("config", {}).get("family")
    if family:
        return get_family(family)
    path = os.path.join(run_dir, RunFolder.VAL_PROBS)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found (it is written at the end of training, with a validation split)")
    with open(path, encoding="utf-8-sig") as f:
        first_line = f.readline()
    return next(f for f in FAMILIES.values() if f.reads_probabilities(first_line))


# --------------------------------------------------------------- reading runs

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


def read_run(run_dir, family):
    """One run's validation and test predictions, each row once, truth aligned to them."""
    part = family.read_run_predictions(run_dir)
    _check_unique(part["val_keys"], os.path.join(run_dir, RunFolder.VAL_PROBS))
    _check_unique(part["test_keys"], os.path.join(run_dir, RunFolder.TEST_PROBS))
    part["val_truth"] = _align(part.pop("truth_keys"), part["val_truth"], part["val_keys"],
                               f"{run_dir}: {RunFolder.VAL_TRUTH} and {RunFolder.VAL_PROBS}")
    return part


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
    """One ``Model`` from a run folder, or from the fold folders of one k-fold run;
    ``family``: a ``families.Family`` or its name."""
    family = get_family(family) if isinstance(family, str) else family
    _check_folds(name, run_dirs)
    parts = [read_run(d, family) for d in run_dirs]
    first = parts[0]
    n_columns = first["val_probs"].shape[1]
    classes = _best(run_dirs[0]).get("classes") or []
    if len(classes) != n_columns:
        classes = family.default_classes(n_columns)
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
    if method == "vote":
        notes.append(family.vote_note)
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
    if len({f.name for f in families.values()}) > 1:
        raise ValueError("runs of different families given: "
                         + ", ".join(f"{d} ({f.name})" for d, f in families.items()))
    family = families[run_dirs[0]]
    grouped = group_folds(run_dirs)
    models = [load_model(name, dirs, family)
              for name, (_, dirs) in zip(display_names([folder for folder, _ in grouped]), grouped)]
    cfg = _best(run_dirs[0]).get("config", {})
    rules = family.ensemble_rules(cfg)
    if options.method not in rules.methods:
        raise ValueError(f"method {options.method} does not apply to {family.title} runs: use one of "
                         f"{', '.join(rules.methods)}")
    question_file = question_file or family.default_question_file(cfg)

    by_task = {}
    for m in models:
        by_task.setdefault(m.task, []).append(m)
    groups = {task: ensemble_group(ms, rules, options) for task, ms in by_task.items()}

    os.makedirs(out_dir, exist_ok=True)
    outputs = family.write_ensemble(groups, by_task, rules, out_dir, question_file, log)
    report = {
        "family": family.name, "options": vars(options), "runs": run_dirs,
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
