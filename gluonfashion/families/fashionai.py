"""FashionAI (Alibaba Tianchi 2018): eight independent single-label attribute tasks.

The path of one label row, start to end:

1. ``Annotations/label.csv`` row ``Images/skirt/1.jpg,skirt_length_labels,nnynnn``
   -> ``data.fashionai.read_label_files`` -> ``LabelRow`` (image path, task, ``ynm``);
2. ``prepare_data``: the image is checked, ``soft_targets`` turns ``nnynnn`` into a
   target distribution (``m`` values get ``maybe_share``), the row lands in the train or
   validation part of the stratified split saved as ``split.json``;
3. ``engine.fit_network`` trains a softmax network on it (``objectives.SingleLabel``);
   the best validation epoch's weights are ``best.params``;
4. ``after_training``: validation probabilities (``val_probs.csv``) and their truth
   (``val_truth.csv``) for ensembles and error analysis;
5. ``predict``: the task's rows of ``question.csv`` -> ``<submission_dir>/<task>.csv``
   (``path,task,p1;p2;...``);
6. ``submission.merge`` joins the eight task files into ``submission.csv`` in question
   order; ``evaluate`` scores it with the competition's mAP (``metrics.fashionai_ap``,
   rows answered with an ``m`` value not counted).
"""
import csv
import os
from dataclasses import dataclass

import numpy as np

from .. import metrics, tasks
from ..data.fashionai import (QuestionRow, csv_root, read_label_file, read_label_files, read_predictions,
                              read_question_file, soft_targets, write_predictions)
from ..data.paths import file_in
from ..data.split import load_split, save_split, stratified_split
from ..data.train_data import TrainData
from ..ensembling.rules import SingleLabelRules
from ..objectives import SingleLabel
from ..run_folder import RunFolder
from ..submission import evaluate as evaluate_submission
from ..submission import merge
from .base import EvalSet, Family, answers_path, checked_images, data_path, require_images, run_file


@dataclass
class ValPredictions:
    """A run's saved validation predictions (``val_probs.csv``) with their truth."""
    images: list        # absolute image paths
    rel_paths: list     # as in the label file
    ynm: list           # label strings (``m`` marks kept)
    probs: np.ndarray   # (N, C), with the run's test-time augmentation
    labels: np.ndarray  # (N,) index of the ``y`` value
    classes: list       # value names

    @property
    def preds(self):
        return self.probs.argmax(axis=1)


def label_files(cfg):
    """The label files a config names; warm-up files are skipped when absent."""
    root = cfg["data_root"]
    files = [os.path.join(root, f) for f in cfg["label_files"]]
    files += [p for p in (os.path.join(root, f) for f in cfg["extra_label_files"]) if os.path.exists(p)]
    return files


def _indices_of(split, keys, path):
    position = {k: i for i, k in enumerate(keys)}
    missing = [k for k in split["train"] + split["val"] if k not in position]
    if missing:
        raise ValueError(f"{path}: {len(missing)} images of the saved split are not in the data "
                         f"(e.g. {missing[0]}); use --fresh with a new output_dir to re-split")
    return (np.array([position[k] for k in split["train"]], dtype=np.int64),
            np.array([position[k] for k in split["val"]], dtype=np.int64))


def _answer_labels(path):
    """``{(rel_path, task): index of the y value}`` of a FashionAI answers file."""
    return {(r.rel_path, r.task): r.label for r in read_label_file(path)}


def _require_task(cfg):
    if not cfg["task"]:
        raise ValueError("config has no task: pass --config with a task YAML, or set `task:` in it "
                         "(or --set task=<name>)")
    return cfg["task"]


class FashionAI(Family):
    name = "fashionai"
    title = "FashionAI"
    demo_arguments = {"train_per_value": "train_per_value", "test_per_value": "test_per_value",
                      "image_size": "image_size", "seed": "seed", "tasks": "tasks"}
    # Single-label tasks: one split, softmax cross-entropy, nothing to download.
    ignored_keys = frozenset({
        "folds", "fold", "loss", "wbce_alpha", "focal_gamma", "fn_weight", "rare_frequency", "rare_repeat",
        "frequent_keep", "min_positive", "max_positive", "train_file", "test_file", "images_dir",
        "download_workers", "download_deadline_s", "download_max_mb", "download_file_roots"})

    # ------------------------------------------------------------ training

    def prepare_data(self, cfg, run, progress=True, log=print):
        """Rows of the configured task, image check, soft targets and the saved split."""
        task = _require_task(cfg)
        files = label_files(cfg)
        rows = read_label_files(files, task)
        if not rows:
            raise ValueError(f"no rows for task {task!r} in {', '.join(files)}")
        names = cfg["value_names"] or tasks.value_names(task, len(rows[0].ynm))
        if len(names) != len(rows[0].ynm):
            raise ValueError(f"value_names has {len(names)} names but {task} labels have {len(rows[0].ynm)} values")
        ok, problems = checked_images(cfg, [r.image for r in rows], run, progress, log)
        rows = [r for r, good in zip(rows, ok) if good]
        targets = soft_targets([r.ynm for r in rows], cfg["maybe_share"])
        keys = [r.rel_path for r in rows]
        split_path = run.file(RunFolder.SPLIT)
        if os.path.exists(split_path):
            train_idx, val_idx = _indices_of(load_split(split_path), keys, split_path)
        else:
            train_idx, val_idx = stratified_split([r.label for r in rows], cfg["val_fraction"], cfg["seed"])
            save_split(split_path, [keys[i] for i in train_idx], [keys[i] for i in val_idx],
                       seed=cfg["seed"], val_fraction=cfg["val_fraction"], files=files)
        summary = {"label_files": files, "rows": len(rows) + len(problems), "skipped_images": len(problems),
                   "train": len(train_idx), "val": len(val_idx)}
        return TrainData([rows[i].image for i in train_idx], targets[train_idx],
                         [rows[i].image for i in val_idx], targets[val_idx], names,
                         val_keys=[(rows[i].rel_path, rows[i].task, rows[i].ynm) for i in val_idx],
                         summary=summary)

    def objective(self, cfg, data):
        return SingleLabel(len(data.class_names))

    def after_training(self, run, data, loaded, progress=True, log=print):
        """``val_probs.csv`` rows ``path,task,p1;p2;...`` and ``val_truth.csv`` rows
        ``path,task,ynm`` of the prediction weights (with the run's TTA)."""
        probs = run.predict_images(data.val_images, loaded=loaded, desc="val probs", progress=progress)
        rows = [QuestionRow(image, rel, task) for image, (rel, task, _) in zip(data.val_images, data.val_keys)]
        write_predictions(run.file(RunFolder.VAL_PROBS), rows, probs)
        with open(run.file(RunFolder.VAL_TRUTH), "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(data.val_keys)
        return probs

    # ------------------------------------------------------------ prediction

    def predict(self, run_dir, out_dir=None, tta=None, weights=None, devices=None, rows_file=None,
                progress=True, log=print, loaded=None):
        """``<out_dir>/<task>.csv`` for the task's rows of the question file."""
        run = RunFolder(run_dir)
        loaded = loaded or run.load(weights, devices=devices, log=log)
        cfg = loaded.cfg
        task = cfg["task"]
        rows_file = rows_file or data_path(cfg, "question_file")
        rows = read_question_file(rows_file, {task})
        if not rows:
            raise ValueError(f"{rows_file}: no rows for task {task}")
        require_images([r.image for r in rows], rows_file)
        tta = tta or cfg["tta"]
        probs = run.predict_images([r.image for r in rows], tta, loaded, desc=f"predict {task} ({tta})",
                                   progress=progress)
        out_dir = out_dir or cfg["submission_dir"]
        os.makedirs(out_dir, exist_ok=True)
        path = file_in(out_dir, f"{task}.csv", "task file")
        write_predictions(path, rows, probs)
        write_predictions(run.file(RunFolder.TEST_PROBS), rows, probs)   # kept with the run
        run.write_json(RunFolder.PREDICT_RECORD, {"question_file": rows_file, "tta": tta, "rows": len(rows),
                                                  "output": path})
        log(f"[predict] {task}: {len(rows)} rows, tta={tta} -> {path}")
        return path

    def image_labels(self, probs, run, top=3):
        """The task's ``top`` most probable values."""
        record = run.record()
        classes, task = record["classes"], record["config"]["task"]
        ranked = np.argsort(-probs, axis=1, kind="stable")[:, :top]
        return [{task: [(classes[j], float(p[j])) for j in order]} for p, order in zip(probs, ranked)]

    # ------------------------------------------------------------ scoring

    def evaluate(self, cfg=None, predictions=None, answers=None, thresholds=None, runs_dir=None):
        """Per-task test mAP / BasicPrecision of a merged submission (default: the
        config's ``submission_dir/submission.csv``), with validation accuracy and train
        time from the runs folder (default: the config's)."""
        answers = answers or (cfg and cfg["answers_file"] and data_path(cfg, "answers_file"))
        if not answers:
            raise ValueError("no answers file: pass --answers or a config with answers_file")
        predictions = predictions or os.path.join(cfg["submission_dir"] if cfg else "submission", "submission.csv")
        runs_dir = runs_dir or (cfg and os.path.dirname(cfg["output_dir"].format(
            task="x", profile=cfg["profile"], model="")))
        return format_table(evaluate_submission(predictions, answers), runs_dir)

    def read_val_predictions(self, run):
        """``ValPredictions`` of a finished run (written at the end of ``train``)."""
        record = run.record()
        truth = read_label_file(run.file(RunFolder.VAL_TRUTH))
        preds = read_predictions(run.file(RunFolder.VAL_PROBS))
        if [(r.rel_path, r.task) for r in truth] != [(p[0], p[1]) for p in preds]:
            raise ValueError(f"{run.path}: {RunFolder.VAL_PROBS} and {RunFolder.VAL_TRUTH} list different images")
        roots = [csv_root(p) for p in label_files(record["config"])]

        def locate(rel):   # image paths are relative to the root of the label file they came from
            found = [os.path.join(r, rel) for r in roots if os.path.exists(os.path.join(r, rel))]
            return found[0] if found else os.path.join(roots[0], rel)

        return ValPredictions([locate(r.rel_path) for r in truth], [r.rel_path for r in truth],
                              [r.ynm for r in truth], np.stack([p[2] for p in preds]),
                              np.array([r.label for r in truth]), list(record["classes"]))

    def test_set(self, cfg):
        """The test images of ``cfg``'s task with their answers, in question-file order;
        None without an answers file."""
        answers = answers_path(cfg)
        if answers is None:
            return None
        truth = _answer_labels(answers)
        rows = read_question_file(data_path(cfg, "question_file"), {cfg["task"]})
        return EvalSet([r.image for r in rows], np.array([truth[(r.rel_path, r.task)] for r in rows]),
                       [r.rel_path for r in rows])

    def eval_sets(self, run):
        val = self.read_val_predictions(run)
        sets = {"val": EvalSet(val.images, val.labels, val.rel_paths), "test": self.test_set(run.config())}
        return {name: s for name, s in sets.items() if s is not None}

    test_metric = "AP"

    def ensemble_test_score(self, report):
        """Mean test AP over the ensembled tasks (answers from each task's first run)."""
        return float(np.mean([self.test_score(RunFolder(group["models"][0]["runs"][0]),
                                              os.path.join(report["out_dir"], f"{task}.csv"))["test AP"]
                              for task, group in report["groups"].items()]))

    def test_score(self, run, probs_path=None, thresholds_path=None):
        """``{"test AP", "test accuracy"}``, the mean over the tasks in the file."""
        cfg = run.config()
        truth = _answer_labels(data_path(cfg, "answers_file"))
        per_task = {}
        for rel, task, probs, _ in read_predictions(probs_path or run.file(RunFolder.TEST_PROBS)):
            per_task.setdefault(task, ([], []))
            per_task[task][0].append(probs)
            per_task[task][1].append(truth[(rel, task)])
        per_task = {task: (np.stack(p), np.array(t)) for task, (p, t) in per_task.items()}
        mean_ap, _ = metrics.fashionai_map(per_task)
        accuracy = np.mean([metrics.basic_precision(p, t) for p, t in per_task.values()])
        return {"test AP": mean_ap, "test accuracy": float(accuracy)}

    # ------------------------------------------------------------ data

    def describe_demo(self, summary):
        return f"{summary['train']} train / {summary['test']} test images"

    def images(self, cfg):
        """Labelled and question images of the config's task."""
        task = _require_task(cfg)
        images = [r.image for r in read_label_files(label_files(cfg), task)]
        question = data_path(cfg, "question_file")
        if os.path.exists(question):
            images += [r.image for r in read_question_file(question, {task})]
        return images

    # ------------------------------------------------------------ ensembles

    def reads_probabilities(self, first_line):
        return len(first_line.split(",")) == 3   # path,task,p1;p2;...

    def read_run_predictions(self, run_dir):
        run = RunFolder(run_dir)
        val_path, test_path = run_file(run, RunFolder.VAL_PROBS), run_file(run, RunFolder.TEST_PROBS)
        val, test = read_predictions(val_path), read_predictions(test_path)
        task_names = sorted({task for _, task, _, _ in val + test})
        if len(task_names) != 1:
            raise ValueError(f"{run_dir}: expected the rows of one task, found {', '.join(task_names)}")
        truth_rows = read_label_file(run_file(run, RunFolder.VAL_TRUTH))
        return dict(task=task_names[0], val_keys=[(p, t) for p, t, _, _ in val], val_probs=_matrix(val, val_path),
                    truth_keys=[(r.rel_path, r.task) for r in truth_rows],
                    val_truth=np.array([r.label for r in truth_rows]),
                    test_keys=[(p, t) for p, t, _, _ in test], test_probs=_matrix(test, test_path))

    def ensemble_rules(self, cfg):
        return SingleLabelRules()

    def default_question_file(self, cfg):
        """The question file ensembles check their merged submission against, when present."""
        if cfg.get("data_root") and cfg.get("question_file"):
            path = data_path(cfg, "question_file")
            return path if os.path.exists(path) else None
        return None

    def write_ensemble(self, groups, models_by_task, rules, out_dir, question_file, log=print):
        """Per-task test files, the merged and checked submission, validation probabilities."""
        val_rows, val_probs, task_names = [], [], list(groups)
        for task in task_names:
            ref = models_by_task[task][0]
            write_predictions(file_in(out_dir, f"{task}.csv", "task file"),
                              [QuestionRow(p, p, t) for p, t in ref.test_keys], groups[task]["test_out"])
            val_rows += [QuestionRow(p, p, t) for p, t in ref.val_keys]
            val_probs += list(groups[task]["val_out"])
        # Tasks have different value counts: a ragged (object) array of row vectors.
        write_predictions(os.path.join(out_dir, "val_probs.csv"), val_rows, np.array(val_probs, dtype=object))
        # The merged submission is checked against the question rows of the ensembled
        # tasks (from the question file when there is one, else the runs' test rows).
        if question_file:
            questions = [(q.rel_path, q.task) for q in read_question_file(question_file, set(task_names))]
            log(f"[ensemble] submission rows checked against {question_file} (tasks {', '.join(task_names)})")
        else:
            questions = [k for task in task_names for k in models_by_task[task][0].test_keys]
            log("[ensemble] no question file: submission rows checked against the runs' test rows")
        question_rows = os.path.join(out_dir, "question_rows.csv")
        with open(question_rows, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([p, t, "?"] for p, t in questions)
        merge(question_rows, out_dir, os.path.join(out_dir, "submission.csv"), log=log)
        return [f"{t}.csv" for t in task_names] + ["submission.csv", "question_rows.csv", "val_probs.csv"]


def _matrix(rows, path):
    """Probability vectors of ``read_predictions`` rows as an (N, C) array."""
    if len({len(p) for _, _, p, _ in rows}) > 1:
        raise ValueError(f"{path}: rows have different numbers of probabilities")
    if not rows:
        raise ValueError(f"{path}: no rows")
    return np.stack([p for _, _, p, _ in rows])


# ---------------------------------------------------------------- the evaluation table

def _run_facts(runs_dir, task):
    """Validation accuracy of the best epoch and total training seconds of a run."""
    run = RunFolder(os.path.join(runs_dir or "", task))
    if not runs_dir or not run.has_state():
        return None, None
    state = run.state()
    seconds = sum(h.get("train_seconds", 0) for h in state["history"])
    return state["best"]["metrics"].get("val_accuracy"), seconds


def format_table(table, runs_dir=None):
    """Per-task test mAP / BasicPrecision (+ val accuracy and train time from the runs)."""
    lines = [f"| {'task':<24} | {'n':>4} | {'mAP':>6} | {'BasicPrec':>9} | {'val acc':>7} | {'train s':>7} |",
             f"|{'-' * 26}|{'-' * 5}:|{'-' * 7}:|{'-' * 10}:|{'-' * 8}:|{'-' * 8}:|"]
    total_s = 0.0
    for task in sorted(table):
        row = table[task]
        val_acc, seconds = _run_facts(runs_dir, task)
        total_s += seconds or 0
        lines.append(f"| {task:<24} | {row['n']:>4} | {row['map']:>6.4f} | {row['basic_precision']:>9.4f} | "
                     f"{'' if val_acc is None else f'{val_acc:.4f}':>7} | {'' if seconds is None else f'{seconds:.0f}':>7} |")
    mean_map = sum(r["map"] for r in table.values()) / len(table)
    mean_bp = sum(r["basic_precision"] for r in table.values()) / len(table)
    n = sum(r["n"] for r in table.values())
    lines.append(f"| {'mean':<24} | {n:>4} | {mean_map:>6.4f} | {mean_bp:>9.4f} | {'':>7} | "
                 f"{(f'{total_s:.0f}' if runs_dir else ''):>7} |")
    skipped = sum(r.get("m_skipped", 0) for r in table.values())
    if skipped:
        lines.append(f"{skipped} rows answered with one of their `m` (maybe) values are not counted "
                     f"(the competition's rule)")
    return "\n".join(lines)
