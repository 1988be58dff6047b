"""JD Fashion-Challenge (2018): thirteen multi-label styles per image, mean F2.

The path of one label row, start to end:

1. ``train.txt`` row ``id,url,0,1,0,...`` -> ``data.jd.read_jd_train`` (id, url, 13 0/1);
   ``download`` fetches the url to ``<images_dir>/<id>.jpg``;
2. ``prepare_data``: the image is checked, the row lands in the train or validation
   fold (``data.split.multilabel_folds``, saved as ``split.json``); training rows with a
   rare style may be repeated (``data.sampling``);
3. ``engine.fit_network`` trains one sigmoid per style (``objectives.MultiLabel``, the
   configured loss);
4. ``after_training``: per-style thresholds searched on the validation probabilities
   (``thresholds.json``), plus ``val_probs.csv`` / ``val_truth.csv``;
5. ``predict``: ``test.txt`` images -> probabilities -> thresholds and 1..5 styles per
   image -> ``jd_submission.csv`` (0/1 rows) and ``jd_test_probs.csv``;
6. ``evaluate`` scores the probabilities with the saved thresholds against the answers
   (per-style F2 and its mean, ``metrics.thresholded_fbeta``).
"""
import os

import numpy as np

from .. import checkpoint, metrics
from ..data.download import download_images
from ..data.jd import (read_jd_answers, read_jd_probabilities, read_jd_test, read_jd_train, style_names,
                       write_jd_probabilities, write_jd_submission)
from ..data.sampling import rare_labels, resample_indices
from ..data.split import load_split, multilabel_folds, save_split
from ..data.train_data import TrainData
from ..ensembling.rules import ThresholdedRules
from ..objectives import MultiLabel
from ..run_folder import RunFolder
from .base import EvalSet, Family, answers_path, checked_images, data_path, require_images, run_file


def image_paths(cfg, ids):
    return [os.path.join(data_path(cfg, "images_dir"), f"{i}.jpg") for i in ids]


def _fn_weights(cfg, counts, n_samples):
    """Cost-sensitive loss: misses of the rare labels (``data.sampling.rare_labels``,
    the rule resampling uses) weigh ``fn_weight``x."""
    weights = np.ones(len(counts), dtype=np.float32)
    shares = np.asarray(counts, dtype=np.float64) / max(n_samples, 1)
    weights[rare_labels(shares[None, :], cfg["rare_frequency"])] = cfg["fn_weight"]
    return weights


def _bounds(cfg):
    return {"min_positive": cfg["min_positive"], "max_positive": cfg["max_positive"]}


class JDStyles(Family):
    name = "jd"
    title = "JD"
    demo_arguments = {"n_train": "jd_train", "n_test": "jd_test", "image_size": "image_size", "seed": "seed"}
    ignored_keys = frozenset({"label_files", "extra_label_files", "question_file", "maybe_share"})

    # ------------------------------------------------------------ data

    def describe_demo(self, summary):
        return (f"{summary['n_train']} train / {summary['n_test']} test images "
                f"(images to fetch with `gluonfashion download`)")

    def download(self, cfg, progress=True, log=print):
        """Fetch the images of train.txt and test.txt into ``images_dir``; returns the report.
        ``file://`` URLs may read only under ``data_root`` and ``download_file_roots``."""
        ids, urls = [], []
        for key, reader in (("train_file", lambda p: read_jd_train(p, n_labels=None)[:2]),
                            ("test_file", read_jd_test)):
            if os.path.exists(data_path(cfg, key)):
                more_ids, more_urls = reader(data_path(cfg, key))
                ids += more_ids
                urls += more_urls
        if not ids:
            raise FileNotFoundError(f"neither {data_path(cfg, 'train_file')} nor {data_path(cfg, 'test_file')} exists")
        report = download_images(ids, urls, data_path(cfg, "images_dir"), workers=cfg["download_workers"],
                                 progress=progress, deadline=cfg["download_deadline_s"],
                                 max_bytes=int(cfg["download_max_mb"] * 2 ** 20),
                                 file_roots=[cfg["data_root"], *cfg["download_file_roots"]])
        report_path = os.path.join(cfg["data_root"], "download_report.csv")
        report.write(report_path)
        log(f"[download] {report.summary()}; report: {report_path}")
        return report

    def images(self, cfg):
        """The downloaded train and test images."""
        ids = []
        for key, read in (("train_file", lambda p: read_jd_train(p, n_labels=None)[0]),
                          ("test_file", lambda p: read_jd_test(p)[0])):
            path = data_path(cfg, key)
            ids += read(path) if os.path.exists(path) else []
        return image_paths(cfg, ids)

    # ------------------------------------------------------------ training

    def _split(self, cfg, ids, y, run):
        """Validation mask from the saved split, or a seeded multi-label-aware fold split."""
        split_path = run.file(RunFolder.SPLIT)
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

    def prepare_data(self, cfg, run, progress=True, log=print):
        ids, _, y = read_jd_train(data_path(cfg, "train_file"), n_labels=None)
        images = image_paths(cfg, ids)
        ok, problems = checked_images(cfg, images, run, progress, log)
        ids, images, y = [i for i, g in zip(ids, ok) if g], [p for p, g in zip(images, ok) if g], y[ok]
        if not ids:
            raise FileNotFoundError(f"none of the {len(ok)} images of {data_path(cfg, 'train_file')} could be "
                                    f"read from {data_path(cfg, 'images_dir')}: fetch them with "
                                    f"`gluonfashion download`")
        is_val = self._split(cfg, ids, y, run)
        train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
        picked = train_idx[resample_indices(y[train_idx], cfg["seed"], cfg["rare_frequency"],
                                            cfg["rare_repeat"], cfg["frequent_keep"])]
        names = cfg["value_names"] or style_names(y.shape[1])
        summary = {"rows": len(ids) + len(problems), "skipped_images": len(problems), "train": len(train_idx),
                   "train_after_resampling": len(picked), "val": len(val_idx),
                   "train_label_counts": y[train_idx].sum(0).tolist()}
        return TrainData([images[i] for i in picked], y[picked].astype(np.float32),
                         [images[i] for i in val_idx], y[val_idx].astype(np.float32), names,
                         val_keys=[ids[i] for i in val_idx], summary=summary,
                         label_counts=y[train_idx].sum(0), label_rows=len(train_idx))

    def objective(self, cfg, data):
        """The multi-label objective with the configured loss; the label counts of the
        training part (before resampling) drive the loss weights."""
        counts = np.asarray(data.label_counts)
        n_samples = data.label_rows
        params = {"wbce": {"alpha": cfg["wbce_alpha"]}, "focal": {"gamma": cfg["focal_gamma"]},
                  "cost_sensitive": {"fn_weights": _fn_weights(cfg, counts, n_samples)}}.get(cfg["loss"], {})
        return MultiLabel(len(counts), cfg["loss"], label_counts=counts, **_bounds(cfg), **params)

    def after_training(self, run, data, loaded, progress=True, log=print):
        """Per-style thresholds searched on the validation probabilities (``thresholds.json``)."""
        cfg = loaded.cfg
        probs = run.predict_images(data.val_images, loaded=loaded, desc="val probs", progress=progress)
        y = data.val_targets.astype(np.uint8)
        scores = metrics.thresholded_fbeta(probs, y, **_bounds(cfg))
        write_jd_probabilities(run.file(RunFolder.VAL_PROBS), data.val_keys, probs, data.class_names)
        write_jd_submission(run.file(RunFolder.VAL_TRUTH), data.val_keys, y)
        run.write_json(RunFolder.THRESHOLDS, {
            "thresholds": scores["thresholds"], "classes": data.class_names, "val_mf2_tuned": scores["mean"],
            "val_mf2_fixed_0.5": scores["mean_fixed"], "tta": cfg["tta"], **_bounds(cfg)})
        log(f"[thresholds] validation mean F2: {scores['mean_fixed']:.4f} at 0.5 -> {scores['mean']:.4f} "
            f"with per-style thresholds")
        return scores["thresholds"]

    # ------------------------------------------------------------ prediction

    def predict(self, run_dir, out_dir=None, tta=None, weights=None, devices=None, rows_file=None,
                progress=True, log=print, loaded=None):
        """Probabilities for test.txt (or ``rows_file``), then 0/1 rows with the run's
        thresholds (1..5 per image): ``<out_dir>/jd_submission.csv`` and
        ``<out_dir>/jd_test_probs.csv``."""
        run = RunFolder(run_dir)
        loaded = loaded or run.load(weights, devices=devices, log=log)
        cfg, record = loaded.cfg, loaded.record
        ids, _ = read_jd_test(rows_file or data_path(cfg, "test_file"))
        require_images(image_paths(cfg, ids), rows_file or data_path(cfg, "test_file"))
        tta = tta or cfg["tta"]
        probs = run.predict_images(image_paths(cfg, ids), tta, loaded, desc=f"predict jd ({tta})",
                                   progress=progress)
        saved = run.read_json(RunFolder.THRESHOLDS)
        binary = metrics.apply_thresholds(probs, np.array(saved["thresholds"]), **_bounds(cfg))
        out_dir = out_dir or cfg["submission_dir"]
        os.makedirs(out_dir, exist_ok=True)
        write_jd_probabilities(os.path.join(out_dir, "jd_test_probs.csv"), ids, probs, record["classes"])
        write_jd_probabilities(run.file(RunFolder.TEST_PROBS), ids, probs, record["classes"])
        sub = os.path.join(out_dir, "jd_submission.csv")
        write_jd_submission(sub, ids, binary)
        log(f"[predict] jd: {len(ids)} images, tta={tta} -> {sub} (+ jd_test_probs.csv)")
        return sub

    def image_labels(self, probs, run, top=None):
        """The styles over the run's thresholds (``thresholds.json``), brought to 1..5 per
        image as in the submission (``metrics.apply_thresholds``); ``top`` is not used."""
        classes = run.record()["classes"]
        thresholds = np.array(checkpoint.load_json(run_file(run, RunFolder.THRESHOLDS))["thresholds"])
        chosen = metrics.apply_thresholds(probs, thresholds, **_bounds(run.config()))
        return [{"styles": sorted(((classes[j], float(p[j])) for j in np.flatnonzero(on)), key=lambda s: -s[1])}
                for p, on in zip(probs, chosen)]

    # ------------------------------------------------------------ scoring

    def score_file(self, probs_path, answers, thresholds_path, min_positive=1, max_positive=5):
        """Per-style F2 of a probability file on the answers, with the saved thresholds
        and with a fixed 0.5."""
        ids, probs = read_jd_probabilities(probs_path)
        answer_ids, truth = read_jd_answers(answers, n_labels=probs.shape[1])
        order = {i: k for k, i in enumerate(answer_ids)}
        missing = [i for i in ids if i not in order]
        if missing or len(ids) != len(answer_ids):
            raise ValueError(f"{probs_path} and {answers} cover different ids (e.g. {(missing or ['?'])[0]})")
        truth = truth[[order[i] for i in ids]]
        thresholds = np.array(checkpoint.load_json(thresholds_path)["thresholds"])
        scores = metrics.thresholded_fbeta(probs, truth, thresholds, min_positive, max_positive)
        return {"styles": style_names(probs.shape[1]), "f2_tuned": scores["per_label"],
                "f2_fixed": scores["per_label_fixed"], "support": truth.sum(0), "thresholds": thresholds}

    def score_config(self, cfg, predictions=None, thresholds=None, answers=None):
        """``score_file`` with the config's 1..5 bounds; by default its ``jd_test_probs.csv``,
        the run's thresholds and its answers file."""
        answers = answers or (cfg["answers_file"] and data_path(cfg, "answers_file"))
        if not answers:
            raise ValueError("no answers to score against: the config has no answers_file")
        predictions = predictions or os.path.join(cfg["submission_dir"], "jd_test_probs.csv")
        thresholds = thresholds or RunFolder.of(cfg).file(RunFolder.THRESHOLDS)
        return self.score_file(predictions, answers, thresholds, **_bounds(cfg))

    def evaluate(self, cfg=None, predictions=None, answers=None, thresholds=None, runs_dir=None):
        """Per-style F2 table of a probability file (default: the config's
        ``jd_test_probs.csv``) with the run's thresholds (or ``thresholds``)."""
        if cfg is None:
            raise ValueError("JD evaluation needs --config (the 1..5 bounds and the run's thresholds)")
        return format_table(self.score_config(cfg, predictions, thresholds, answers))

    def score(self, val_probs, val_truth, test_probs=None, test_truth=None, cfg=None):
        return metrics.score_sets(val_probs, val_truth, test_probs, test_truth, **(_bounds(cfg) if cfg else {}))

    def test_set(self, cfg):
        """Test images with their answers, in ``test.txt`` order; None without answers."""
        answers = answers_path(cfg)
        if answers is None:
            return None
        ids, _ = read_jd_test(data_path(cfg, "test_file"))
        answer_ids, y = read_jd_answers(answers, n_labels=None)
        position = {i: k for k, i in enumerate(answer_ids)}
        return EvalSet(image_paths(cfg, ids), y[[position[i] for i in ids]], list(ids))

    def eval_sets(self, run):
        cfg = run.config()
        ids, y = read_jd_answers(run.file(RunFolder.VAL_TRUTH), n_labels=None)
        sets = {"val": EvalSet(image_paths(cfg, ids), y, list(ids)), "test": self.test_set(cfg)}
        return {name: s for name, s in sets.items() if s is not None}

    test_metric = "mean F2"

    def ensemble_test_score(self, report):
        """Test mean F2 of the ensemble's probabilities with its own thresholds."""
        out = report["out_dir"]
        return self.test_score(RunFolder(report["runs"][0]), os.path.join(out, "jd_test_probs.csv"),
                               os.path.join(out, RunFolder.THRESHOLDS))["test mean F2"]

    def test_score(self, run, probs_path=None, thresholds_path=None):
        """``{"test mean F2"}`` with the run's (or ``thresholds_path``'s) thresholds."""
        cfg = run.config()
        result = self.score_file(probs_path or run.file(RunFolder.TEST_PROBS), data_path(cfg, "answers_file"),
                                 thresholds_path or run.file(RunFolder.THRESHOLDS), **_bounds(cfg))
        return {"test mean F2": float(np.mean(result["f2_tuned"]))}

    # ------------------------------------------------------------ ensembles

    def reads_probabilities(self, first_line):
        return first_line.lower().startswith("id,")   # the header of JD probability files

    def read_run_predictions(self, run_dir):
        run = RunFolder(run_dir)
        val_ids, val_probs = read_jd_probabilities(run_file(run, RunFolder.VAL_PROBS))
        n_labels = val_probs.shape[1]
        truth_ids, truth = read_jd_answers(run_file(run, RunFolder.VAL_TRUTH), n_labels=n_labels)
        test_ids, test_probs = read_jd_probabilities(run_file(run, RunFolder.TEST_PROBS), n_labels=n_labels)
        return dict(task="styles", val_keys=val_ids, val_probs=val_probs.astype(np.float64),
                    truth_keys=truth_ids, val_truth=truth,
                    test_keys=test_ids, test_probs=test_probs.astype(np.float64))

    def default_classes(self, n_columns):
        return style_names(n_columns)

    def ensemble_rules(self, cfg):
        return ThresholdedRules(cfg.get("min_positive", 1), cfg.get("max_positive", 5))

    def write_ensemble(self, groups, models_by_task, rules, out_dir, question_file, log=print):
        group, model = groups["styles"], models_by_task["styles"][0]
        out, path = group["result"], lambda name: os.path.join(out_dir, name)
        write_jd_probabilities(path("jd_test_probs.csv"), model.test_keys, group["test_out"], model.classes)
        write_jd_probabilities(path("jd_val_probs.csv"), model.val_keys, group["val_out"], model.classes)
        write_jd_submission(path("jd_submission.csv"), model.test_keys, out["test_binary"])
        RunFolder(out_dir).write_json(RunFolder.THRESHOLDS, {
            "thresholds": out["thresholds"], "classes": model.classes, "val_mf2_tuned": out["val_score"],
            **rules.bounds})
        return ["jd_test_probs.csv", "jd_submission.csv", "jd_val_probs.csv", RunFolder.THRESHOLDS]

    vote_note = ("vote: each model votes with its own thresholds; a style is on with votes from more "
                 "than half of the kept models (a tie is not a majority), then 1..5 per image")


def format_table(result):
    """Per-style F2 with searched thresholds vs a fixed 0.5, their means and the gain."""
    lines = [f"| {'style':<16} | {'pos':>4} | {'thr':>5} | {'F2 @0.5':>7} | {'F2 tuned':>8} |",
             f"|{'-' * 18}|{'-' * 5}:|{'-' * 6}:|{'-' * 8}:|{'-' * 9}:|"]
    for name, n, t, fixed, tuned in zip(result["styles"], result["support"], result["thresholds"],
                                        result["f2_fixed"], result["f2_tuned"]):
        lines.append(f"| {name:<16} | {int(n):>4} | {t:>5.3f} | {fixed:>7.4f} | {tuned:>8.4f} |")
    fixed, tuned = float(result["f2_fixed"].mean()), float(result["f2_tuned"].mean())
    lines.append(f"| {'mean F2':<16} | {int(sum(result['support'])):>4} | {'':>5} | {fixed:>7.4f} | {tuned:>8.4f} |")
    lines.append(f"threshold search gain over 0.5: {tuned - fixed:+.4f} mean F2")
    return "\n".join(lines)
