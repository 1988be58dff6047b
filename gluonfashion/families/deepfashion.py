"""DeepFashion Category-and-Attribute Prediction: one category and many attributes per
image, from one network (the DeepFashion thesis, seed-digest section 3).

The path of one label row, start to end:

1. ``Anno/list_category_img.txt`` row ``img/X/img_1.jpg 3`` and the image's rows of
   ``list_attr_img.txt`` (1 / -1 / 0 per attribute), ``list_bbox.txt`` (its box) and
   ``Eval/list_eval_partition.txt`` (train / val / test) -> ``data.deepfashion.
   read_benchmark`` joins them on the image name (images missing from a list are
   reported and left out);
2. ``prepare_data``: the image is checked, its box is cropped once into the crop folder
   (``data.crops``: a ``crop_side`` square, reused by later runs), the row lands in the
   train or validation part by its partition, and its target is the one-hot category
   followed by 1 / 0 / -1 (unknown) per attribute;
3. ``engine.fit_network`` trains one output vector of categories + attributes
   (``objectives.CategoryAndAttributes``: softmax + sigmoids, ``w_c * CE + w_s *
   weighted BCE``); the best epoch has the highest mean of category top-3 accuracy and
   attribute recall@3;
4. ``after_training``: validation scores (``val_probs.csv``, scores format) and their
   truth (``val_truth.csv``: category id and present attribute ids);
5. ``predict``: the test partition's crops -> ``deepfashion_predictions.csv`` (the 5
   best category and attribute ids per image) and ``deepfashion_scores.csv`` (every
   probability, for ensembles and ``evaluate``);
6. ``evaluate`` scores the probabilities against the lists: category top-1/3/5
   accuracy and attribute recall@3/@5, overall and per attribute type
   (``metrics.category_attribute_scores``).
"""
import os

import numpy as np

from .. import metrics
from ..data.crops import make_crops
from ..data.deepfashion import (ATTRIBUTE_TYPES, CATEGORY_TYPES, read_benchmark, read_names, read_partition,
                                read_scores, read_truth, write_predictions, write_scores, write_truth)
from ..data.split import save_split
from ..data.train_data import TrainData
from ..ensembling.rules import TopKRules
from ..objectives import CategoryAndAttributes
from ..run_folder import RunFolder
from .base import EvalSet, Family, checked_images, data_path, run_file

PREDICTIONS, SCORES, VAL_SCORES = "deepfashion_predictions.csv", "deepfashion_scores.csv", "deepfashion_val_scores.csv"
GROUP = "category_attributes"     # the one ensemble group of a run
_LISTS = {"category_names": "category_names_file", "categories": "category_file",
          "attribute_names": "attribute_names_file", "attributes": "attribute_file", "boxes": "bbox_file",
          "partition": "partition_file"}
_CACHE = {}


def list_paths(cfg):
    return {name: data_path(cfg, key) for name, key in _LISTS.items()}


def benchmark(cfg, log=None):
    """The joined lists of ``cfg`` (``data.deepfashion.Benchmark``), read once per
    process while the files are unchanged; their notes go to ``log`` when given."""
    paths = list_paths(cfg)
    for path in paths.values():
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} not found: the DeepFashion lists belong under data_root "
                                    f"({cfg['data_root']}); `gluonfashion demo-data --family deepfashion` makes "
                                    "a demo set")
    key = (tuple((p, os.path.getmtime(p), os.path.getsize(p)) for p in paths.values()), cfg["attribute_zero"])
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = read_benchmark(paths, cfg["attribute_zero"])
    bench = _CACHE[key]
    for note in bench.notes if log else []:
        log(f"[data] {note}")
    return bench


def n_categories(cfg):
    """The number of categories (rows of the category list): cheap, without the image lists."""
    return len(read_names(data_path(cfg, "category_names_file"), CATEGORY_TYPES)[0])


def crops_of(cfg, bench, rows, progress=False, log=None):
    """``data.crops.Crops`` of the benchmark rows ``rows``; problems and clipped boxes
    are logged."""
    crops = make_crops(cfg["data_root"], [bench.images[i] for i in rows], bench.boxes[rows],
                       os.path.join(cfg["data_root"], cfg["crop_dir"]), cfg["crop_side"], cfg["crop_margin"],
                       max(cfg["workers"], 1), progress)
    if log and crops.clipped:
        log(f"[data] {len(crops.clipped)} bounding boxes reach outside their image (e.g. {crops.clipped[0]}): "
            "clipped to it")
    if log and crops.problems:
        log(f"[data] {len(crops.problems)} images have no crop and are left out, e.g. "
            + "; ".join(f"{n}: {why}" for n, why in crops.problems[:3]))
    return crops


def loss_targets(bench, rows):
    """``(len(rows), C + A)`` float32 training targets: the one-hot category, then per
    attribute 1 (present), 0 (absent) or -1 (unknown, left out of the loss)."""
    targets = bench.truth(rows).astype(np.float32)
    values = bench.values[rows]
    targets[:, len(bench.categories):][values == 0] = -1
    return targets


def _rows_of(bench, names, where):
    position = {n: i for i, n in enumerate(bench.images)}
    missing = [n for n in names if n not in position]
    if missing:
        raise ValueError(f"{where}: {len(missing)} images are not in the annotation lists "
                         f"(e.g. {missing[0]})")
    return np.array([position[n] for n in names], dtype=np.int64)


def _scores_vs_truth(cfg, path):
    """``(scores, truth, n_categories, benchmark)`` of a scores file against the lists."""
    names, scores, n_cat = read_scores(path)
    bench = benchmark(cfg)
    if n_cat != len(bench.categories) or scores.shape[1] != n_cat + len(bench.attributes):
        raise ValueError(f"{path} has {n_cat} category and {scores.shape[1] - n_cat} attribute columns, the "
                         f"lists {len(bench.categories)} and {len(bench.attributes)}")
    return scores, bench.truth(_rows_of(bench, names, path)), n_cat, bench


class DeepFashion(Family):
    name = "deepfashion"
    title = "DeepFashion"
    demo_arguments = {"n_train": "df_train", "n_val": "df_val", "n_test": "df_test",
                      "image_size": "df_image_size", "seed": "seed"}

    # ------------------------------------------------------------ training

    def prepare_data(self, cfg, run, progress=True, log=print):
        """The train and val partitions: checked images, their crops, the targets."""
        if cfg["folds"]:
            raise ValueError(f"folds: {cfg['folds']} does not apply to DeepFashion: its split is the partition file "
                             f"({data_path(cfg, 'partition_file')}); set folds: 0")
        bench = benchmark(cfg, log)
        rows = np.concatenate([bench.rows("train"), bench.rows("val")])
        if not len(rows):
            raise ValueError(f"{data_path(cfg, 'partition_file')}: no train or val images")
        ok, problems = checked_images(cfg, [os.path.join(cfg["data_root"], bench.images[i]) for i in rows],
                                      run, progress, log)
        crops = crops_of(cfg, bench, rows[ok], progress, log)
        rows, paths = rows[ok][crops.ok], [p for p, good in zip(crops.paths, crops.ok) if good]
        is_val = bench.partition[rows] == "val"
        targets = loss_targets(bench, rows)
        names = [bench.images[i] for i in rows]
        save_split(run.file(RunFolder.SPLIT), [n for n, v in zip(names, is_val) if not v],
                   [n for n, v in zip(names, is_val) if v], partition=data_path(cfg, "partition_file"))
        train, val = np.flatnonzero(~is_val), np.flatnonzero(is_val)
        positives = (targets[train, len(bench.categories):] == 1).sum(0)
        summary = {"images": len(bench.images), "skipped_images": len(problems), "no_crop": len(crops.problems),
                   "clipped_boxes": len(crops.clipped), "train": len(train), "val": len(val),
                   "categories": len(bench.categories), "attributes": len(bench.attributes),
                   "unknown_attribute_values": int((targets == -1).sum())}
        return TrainData([paths[i] for i in train], targets[train], [paths[i] for i in val], targets[val],
                         list(bench.categories) + list(bench.attributes), val_keys=[names[i] for i in val],
                         summary=summary, label_counts=positives, label_rows=len(train))

    def objective(self, cfg, data):
        n_cat = n_categories(cfg)
        return CategoryAndAttributes(n_cat, len(data.class_names) - n_cat, cfg["category_loss_weight"],
                                     cfg["attribute_loss_weight"], cfg["attribute_pos_weight"],
                                     cfg["attribute_neg_weight"])

    def after_training(self, run, data, loaded, progress=True, log=print):
        """``val_probs.csv`` (scores format) and ``val_truth.csv`` of the prediction weights."""
        n_cat = loaded.record["objective"]["n_categories"]
        probs = run.predict_images(data.val_images, loaded=loaded, desc="val probs", progress=progress)
        write_scores(run.file(RunFolder.VAL_PROBS), data.val_keys, probs, n_cat)
        write_truth(run.file(RunFolder.VAL_TRUTH), data.val_keys, (data.val_targets == 1).astype(np.uint8), n_cat)
        return probs

    # ------------------------------------------------------------ prediction

    def _test_rows(self, bench, rows_file):
        """The test partition, or the ``test`` rows of a partition-format ``rows_file``."""
        if not rows_file:
            return bench.rows("test")
        names, status, _ = read_partition(rows_file)
        return _rows_of(bench, [n for n, s in zip(names, status) if s == "test"], rows_file)

    def predict(self, run_dir, out_dir=None, tta=None, weights=None, devices=None, rows_file=None,
                progress=True, log=print, loaded=None):
        """Scores of the test partition (or of the ``test`` rows of ``rows_file``, a list
        in the partition's layout) -> ``<out_dir>/deepfashion_predictions.csv`` (top-5
        category and attribute ids) and ``<out_dir>/deepfashion_scores.csv``."""
        run = RunFolder(run_dir)
        loaded = loaded or run.load(weights, devices=devices, log=log)
        cfg, n_cat = loaded.cfg, loaded.record["objective"]["n_categories"]
        bench = benchmark(cfg)
        rows = self._test_rows(bench, rows_file)
        if not len(rows):
            raise ValueError(f"{rows_file or data_path(cfg, 'partition_file')}: no test images")
        crops = crops_of(cfg, bench, rows, progress, log)
        names = [bench.images[i] for i, good in zip(rows, crops.ok) if good]
        tta = tta or cfg["tta"]
        probs = run.predict_images([p for p, good in zip(crops.paths, crops.ok) if good], tta, loaded,
                                   desc=f"predict deepfashion ({tta})", progress=progress)
        out_dir = out_dir or cfg["submission_dir"]
        path = os.path.join(out_dir, PREDICTIONS)
        write_predictions(path, names, probs, n_cat)
        write_scores(os.path.join(out_dir, SCORES), names, probs, n_cat)
        write_scores(run.file(RunFolder.TEST_PROBS), names, probs, n_cat)
        run.write_json(RunFolder.PREDICT_RECORD, {"rows_file": rows_file or data_path(cfg, "partition_file"),
                                                  "tta": tta, "rows": len(names), "output": path})
        log(f"[predict] deepfashion: {len(names)} test images, tta={tta} -> {path} (+ {SCORES})")
        return path

    def image_labels(self, probs, run, top=3):
        """The ``top`` most probable categories and attributes of each image."""
        record = run.record()
        n_cat, classes = record["objective"]["n_categories"], record["classes"]
        out = []
        for p in probs:
            categories = np.argsort(-p[:n_cat], kind="stable")[:top]
            attributes = n_cat + np.argsort(-p[n_cat:], kind="stable")[:top]
            out.append({"category": [(classes[j], float(p[j])) for j in categories],
                        "attributes": [(classes[j], float(p[j])) for j in attributes]})
        return out

    # ------------------------------------------------------------ scoring

    def evaluate(self, cfg=None, predictions=None, answers=None, thresholds=None, runs_dir=None):
        """Category top-1/3/5 accuracy and attribute recall@3/@5 (overall and per attribute
        type) of a scores file (default: the config's ``deepfashion_scores.csv``) against
        the annotation lists."""
        if cfg is None:
            raise ValueError("DeepFashion evaluation needs --config (the annotation lists hold the answers)")
        path = predictions or os.path.join(cfg["submission_dir"], SCORES)
        scores, truth, n_cat, bench = _scores_vs_truth(cfg, path)
        result = metrics.category_attribute_scores(scores, truth, n_cat, bench.attribute_types)
        present = truth[:, n_cat:].astype(bool)
        return format_table(result, len(truth), present, bench.attribute_types)

    def score(self, val_probs, val_truth, test_probs=None, test_truth=None, cfg=None):
        """Category top-3 accuracy, attribute recall@3 and their mean (``top-3 score``)."""
        if cfg is None:
            raise ValueError("DeepFashion scores need the config (the number of categories)")
        n_cat = n_categories(cfg)
        out = {}
        for name, probs, truth in (("val", val_probs, val_truth), ("test", test_probs, test_truth)):
            if probs is not None:
                out.update(_named_scores(name, metrics.category_attribute_scores(probs, truth, n_cat)))
        return out

    def test_set(self, cfg):
        """The test partition's crops with their truth (the lists hold every answer)."""
        bench = benchmark(cfg)
        rows = bench.rows("test")
        crops = crops_of(cfg, bench, rows)
        rows = rows[crops.ok]
        return EvalSet([p for p, good in zip(crops.paths, crops.ok) if good], bench.truth(rows),
                       [bench.images[i] for i in rows]) if len(rows) else None

    def eval_sets(self, run):
        cfg = run.config()
        bench = benchmark(cfg)
        names, truth = read_truth(run.file(RunFolder.VAL_TRUTH), len(bench.categories), len(bench.attributes))
        rows = _rows_of(bench, names, run.file(RunFolder.VAL_TRUTH))
        sets = {"val": EvalSet(crops_of(cfg, bench, rows).paths, truth, names), "test": self.test_set(cfg)}
        return {name: s for name, s in sets.items() if s is not None}

    test_metric = "top-3 score"

    def ensemble_test_score(self, report):
        return self.test_score(RunFolder(report["runs"][0]),
                               os.path.join(report["out_dir"], SCORES))[f"test {self.test_metric}"]

    def test_score(self, run, probs_path=None, thresholds_path=None):
        """``{"test top-3 score", "test category top-3", "test attribute recall@3"}``."""
        scores, truth, n_cat, _ = _scores_vs_truth(run.config(), probs_path or run.file(RunFolder.TEST_PROBS))
        return _named_scores("test", metrics.category_attribute_scores(scores, truth, n_cat))

    # ------------------------------------------------------------ data

    def images(self, cfg):
        """The crops of every partitioned image (made where missing): what training and
        prediction read."""
        bench = benchmark(cfg)
        crops = crops_of(cfg, bench, np.arange(len(bench.images)))
        return [p for p, good in zip(crops.paths, crops.ok) if good]

    def describe_demo(self, summary):
        return (f"{summary['train']} train / {summary['val']} val / {summary['test']} test images, "
                f"{summary['categories']} categories, {summary['attributes']} attributes")

    # ------------------------------------------------------------ ensembles

    def reads_probabilities(self, first_line):
        return first_line.startswith("image_name,c1,")   # the header of a scores file

    def read_run_predictions(self, run_dir):
        run = RunFolder(run_dir)
        val_keys, val_probs, n_cat = read_scores(run_file(run, RunFolder.VAL_PROBS))
        truth_keys, truth = read_truth(run_file(run, RunFolder.VAL_TRUTH), n_cat, val_probs.shape[1] - n_cat)
        test_keys, test_probs, test_n_cat = read_scores(run_file(run, RunFolder.TEST_PROBS))
        if test_probs.shape[1] != val_probs.shape[1] or test_n_cat != n_cat:
            raise ValueError(f"{run_dir}: {RunFolder.TEST_PROBS} and {RunFolder.VAL_PROBS} have different columns")
        return dict(task=GROUP, val_keys=val_keys, val_probs=val_probs.astype(np.float64), truth_keys=truth_keys,
                    val_truth=truth, test_keys=test_keys, test_probs=test_probs.astype(np.float64))

    def ensemble_rules(self, cfg):
        return TopKRules(n_categories(cfg))

    def write_ensemble(self, groups, models_by_task, rules, out_dir, question_file, log=print):
        group, model = groups[GROUP], models_by_task[GROUP][0]
        n_cat = rules.n_categories
        write_predictions(os.path.join(out_dir, PREDICTIONS), model.test_keys, group["test_out"], n_cat)
        write_scores(os.path.join(out_dir, SCORES), model.test_keys, group["test_out"], n_cat)
        write_scores(os.path.join(out_dir, VAL_SCORES), model.val_keys, group["val_out"], n_cat)
        return [PREDICTIONS, SCORES, VAL_SCORES]


def _named_scores(prefix, result):
    return {f"{prefix} top-3 score": result["top3_score"], f"{prefix} category top-3": result["category_top3"],
            f"{prefix} attribute recall@3": result["attribute_recall3"]}


def format_table(result, n_images, present, attribute_types):
    """Category top-1/3/5 accuracy, then attribute recall@3/@5 overall and per type, with
    the number of images each is averaged over."""
    def cell(value):
        return f"{value:>6.4f}" if value == value else f"{'-':>6}"   # NaN: no image has one

    lines = [f"| {'DeepFashion':<26} | {'images':>6} | {'top-1':>6} | {'top-3':>6} | {'top-5':>6} |",
             f"|{'-' * 28}|{'-' * 7}:|{'-' * 7}:|{'-' * 7}:|{'-' * 7}:|",
             f"| {'category accuracy':<26} | {n_images:>6} | {cell(result['category_top1'])} | "
             f"{cell(result['category_top3'])} | {cell(result['category_top5'])} |",
             f"| {'attribute recall, all':<26} | {int(present.any(axis=1).sum()):>6} | {'':>6} | "
             f"{cell(result['attribute_recall3'])} | {cell(result['attribute_recall5'])} |"]
    for number, name in ATTRIBUTE_TYPES.items():
        if number in result["by_type"]:
            n = int(present[:, attribute_types == number].any(axis=1).sum())
            recall = result["by_type"][number]
            lines.append(f"| {'attribute recall, ' + name:<26} | {n:>6} | {'':>6} | {cell(recall[3])} | "
                         f"{cell(recall[5])} |")
    lines.append(f"top-3 score (mean of category top-3 accuracy and attribute recall@3): {result['top3_score']:.4f}")
    lines.append("attribute recall@k: per image, the share of its present attributes among its k highest scores, "
                 "averaged over the images with one; per type, ranked within the type's attributes")
    return "\n".join(lines)
