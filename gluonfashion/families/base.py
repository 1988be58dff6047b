"""What every task family provides, and the flow they share.

A family turns its files into ``TrainData``, names its objective, writes what its
validation rows need after training, predicts its question or test rows into its
submission format, scores predictions with its competition metric, and reads and
writes the per-run files ensembles combine. Training itself (``train``) is the same
for every family: prepare the data, fit, then the family's after-training step and,
when asked, prediction with the network still in memory.
"""
import abc
import csv
import os
from dataclasses import dataclass, field

import numpy as np

from .. import metrics
from ..config import min_image_side
from ..data.demo_data import ensure_demo
from ..data.images import check_images
from ..distributed import Workers
from ..engine import fit_network
from ..run_folder import RunFolder


@dataclass
class EvalSet:
    """Images with their truth: value indices ``(N,)`` or 0/1 labels ``(N, L)``."""
    images: list
    truth: np.ndarray
    keys: list = field(default_factory=list)   # the family's row names (paths, ids)


class Family(abc.ABC):
    """A task family; subclasses implement every abstract method (see ``fashionai.py``)."""

    name = None                 # the config's ``family`` value
    title = None                # its name in messages
    demo_arguments = {}         # generator keyword -> ``demo-data`` option (argparse dest)
    ignored_keys = frozenset()  # config keys the family never reads: setting one is an error

    # ------------------------------------------------------------ training

    def train(self, cfg, resume=False, fresh=False, progress=True, log=print, then_predict=False):
        """Train one run of ``cfg`` into its run folder; returns ``(run_dir, best record)``.
        ``then_predict``: also predict the question/test rows (as ``predict`` with the
        run's defaults), with the network already in memory.

        With a distributed ``kvstore`` this process is one worker of a job
        (``distributed``): worker 0 takes the folder and prepares it as one process would,
        the others wait for it, then read the same split and state (``train_other_worker``)."""
        workers = Workers.join(cfg["kvstore"])
        if not workers.writes:
            return self.train_other_worker(cfg, workers, resume, fresh, log)
        with RunFolder.of(cfg).lock() as run:   # one training process per folder
            run.check_owner(cfg)
            if fresh:
                run.clear()
            data = self.prepare_data(cfg, run, progress, log)
            workers.barrier()   # the folder is ready: the other workers read the split from here on
            best, net = fit_network(cfg, data, self.objective(cfg, data), run.path, resume, fresh, progress, log,
                                    workers)
            if data.val_images or then_predict:
                loaded = run.load(log=log, net=net)   # the prediction weights, into the trained network
                if data.val_images:
                    self.after_training(run, data, loaded, progress, log)
                if then_predict:
                    self.predict(run.path, progress=progress, log=log, loaded=loaded)
        return run.path, best

    def train_other_worker(self, cfg, workers, resume, fresh, log=print):
        """A distributed worker but worker 0: the data as worker 0 prepared it (its split,
        its image check), training on this worker's shard, nothing written to the run
        folder; returns ``(run_dir, None)``."""
        run = RunFolder.of(cfg)
        workers.barrier()   # until worker 0 has cleared (--fresh) the folder and saved the split
        with run.read_only_copy() as scratch:
            data = self.prepare_data(cfg, scratch, False, lambda *_: None)
        fit_network(cfg, data, self.objective(cfg, data), run.path, resume, fresh, False, log, workers)
        return run.path, None

    @abc.abstractmethod
    def prepare_data(self, cfg, run, progress=True, log=print):
        """``TrainData`` of ``cfg``: rows read, images checked, the split saved in ``run``."""
        raise NotImplementedError

    @abc.abstractmethod
    def objective(self, cfg, data):
        """The ``objectives`` object (loss, activation, validation metrics) to train."""
        raise NotImplementedError

    @abc.abstractmethod
    def after_training(self, run, data, loaded, progress=True, log=print):
        """Validation outputs of the prediction weights: ``val_probs.csv`` and
        ``val_truth.csv``, plus whatever prediction needs (e.g. thresholds)."""
        raise NotImplementedError

    # ------------------------------------------------------------ prediction, scoring

    @abc.abstractmethod
    def predict(self, run_dir, out_dir=None, tta=None, weights=None, devices=None, rows_file=None,
                progress=True, log=print, loaded=None):
        """Predict the rows of ``rows_file`` (default: the config's question/test file)
        into the submission format under ``out_dir`` (default ``submission_dir``), and
        keep the probabilities with the run (``test_probs.csv``). ``loaded``: a
        ``LoadedRun`` the caller has (``weights`` and ``devices`` are then ignored).
        Returns the main output path."""
        raise NotImplementedError

    @abc.abstractmethod
    def image_labels(self, probs, run, top=3):
        """What ``run`` says about each image, from its probabilities ``(N, C)``: per image
        ``{heading: [(name, probability), ...]}``, most probable first (the predictor
        prints and saves these); ``top``: how many values to list where the family ranks."""
        raise NotImplementedError

    @abc.abstractmethod
    def evaluate(self, cfg=None, predictions=None, answers=None, thresholds=None, runs_dir=None):
        """Score a prediction file against answers; returns the table as text."""
        raise NotImplementedError

    def score(self, val_probs, val_truth, test_probs=None, test_truth=None, cfg=None):
        """The family's competition metrics of validation (and test) probabilities,
        as ``{"val <metric>": ..., "test <metric>": ...}`` (``metrics.score_sets``)."""
        return metrics.score_sets(val_probs, val_truth, test_probs, test_truth)

    @abc.abstractmethod
    def test_set(self, cfg):
        """``EvalSet`` of the test rows with their answers; None without an answers file."""

    def eval_sets(self, run):
        """``{"val": EvalSet, "test": EvalSet}`` of a finished run (test only when the
        data has answers)."""
        raise NotImplementedError

    test_metric = None   # the key of ``test_score`` after "test ", e.g. "AP"

    @abc.abstractmethod
    def ensemble_test_score(self, report):
        """The test metric of an ensemble's outputs (``ensembling.workflow.run_ensemble``'s report)."""
        raise NotImplementedError

    @abc.abstractmethod
    def test_score(self, run, probs_path=None, thresholds_path=None):
        """The test metric of a probability file (default: the run's ``test_probs.csv``)
        against the answers the run's config names."""
        raise NotImplementedError

    # ------------------------------------------------------------ data

    @abc.abstractmethod
    def images(self, cfg):
        """Every image a config's task reads (training, validation, question/test), once."""
        raise NotImplementedError

    def download(self, cfg, progress=True, log=print):
        raise ValueError(f"the {self.name} family has no images to download: they come with its data")

    def make_demo(self, out_dir, force=False, progress=True, **options):
        """Generate the embedded demo data unless ``out_dir`` holds its current version;
        returns what was made, in words, or None when it was up to date."""
        summary = ensure_demo(self.name, out_dir, force, progress, **options)
        return None if summary is None else self.describe_demo(summary)

    @abc.abstractmethod
    def describe_demo(self, summary):
        raise NotImplementedError

    # ------------------------------------------------------------ ensembles

    @abc.abstractmethod
    def reads_probabilities(self, first_line):
        """Whether a probability file whose first line is ``first_line`` is in this
        family's format (for runs without a ``best.json``)."""
        raise NotImplementedError

    @abc.abstractmethod
    def read_run_predictions(self, run_dir):
        """``dict(task, val_keys, val_probs, truth_keys, val_truth, test_keys, test_probs)``
        of one run, as its files hold them."""
        raise NotImplementedError

    def default_question_file(self, cfg):
        """The file an ensemble's merged submission is checked against, when there is one."""
        return None

    def default_classes(self, n_columns):
        return [f"value_{i}" for i in range(n_columns)]

    @abc.abstractmethod
    def ensemble_rules(self, cfg):
        """How ensemble members are scored and the ensemble is decided (see ``ensembling``)."""
        raise NotImplementedError

    @abc.abstractmethod
    def write_ensemble(self, groups, models_by_task, rules, out_dir, question_file, log=print):
        """Write the ensemble's outputs; returns their file names."""
        raise NotImplementedError

    vote_note = ("vote: plurality of the models' argmax values, ties broken by the mean probability; "
                 "output (votes + mean probability) / (models + 1)")


# ---------------------------------------------------------------- shared data steps

def checked_images(cfg, images, run, progress=True, log=print):
    """``(ok mask, problems)`` of ``images`` with the config's check mode; results are
    remembered in the run folder's ``image_check.json`` (kept by a fresh start), so
    later runs check only new or changed files. Problems are listed in
    ``image_problems.csv`` and summarised in the log."""
    counts = {}
    ok, problems = check_images(images, cfg["image_check"], max(cfg["workers"], 2), progress,
                                cache=run.file(RunFolder.IMAGE_CHECK), counts=counts, min_side=min_image_side(cfg))
    if counts.get("cached"):
        log(f"[data] image check: {counts['checked']} images checked, {counts['cached']} unchanged since "
            f"an earlier check ({RunFolder.IMAGE_CHECK})")
    if problems:
        _report_image_problems(problems, run.file(RunFolder.IMAGE_PROBLEMS), log)
    return np.asarray(ok, dtype=bool), problems


def _report_image_problems(problems, path, log):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("image", "problem")] + problems)
    log(f"[data] {len(problems)} images skipped (missing, undecodable or too small), listed in {path}:")
    for image, reason in problems[:10]:
        log(f"         {image}: {reason}")
    if len(problems) > 10:
        log(f"         ... and {len(problems) - 10} more")


def require_images(images, rows_file):
    """Refuse to start a prediction pass that could not finish: every image must exist."""
    missing = [p for p in images if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(f"{rows_file}: {len(missing)} of {len(images)} rows have no image (e.g. "
                                f"{', '.join(missing[:3])}); nothing was predicted: restore or download them, "
                                f"or predict a file without those rows")


def data_path(cfg, key):
    """A file the config names, under its ``data_root``."""
    return os.path.join(cfg["data_root"], cfg[key])


def answers_path(cfg):
    """The config's answers file, or None when it names none or the file is absent."""
    path = cfg.get("answers_file") and data_path(cfg, "answers_file")
    return path if path and os.path.exists(path) else None


def run_file(run, name):
    """A file of a finished run that ensembles read, with what to do when it is missing."""
    if not run.has(name):
        hint = ("run `gluonfashion predict` on it first" if name == RunFolder.TEST_PROBS
                else "it is written at the end of training, with a validation split")
        raise FileNotFoundError(f"{run.file(name)} not found ({hint})")
    return run.file(name)
