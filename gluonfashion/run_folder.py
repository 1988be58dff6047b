"""A training run's folder: the one place that knows its file names, clears it, loads
it back and predicts images with it.

A run folder holds:

- ``config.yaml``: the resolved config; ``split.json``: the saved train/val split;
- ``best.params`` + ``best.json``: weights and record (metrics, epoch, classes, config)
  of the best validation epoch;
- ``last.params`` + ``last.states`` + ``state.json``: what ``--resume`` continues from
  (``state.json`` is written last and marks the epoch as complete);
- ``swa.params`` + ``swa.json`` (+ ``swa_running.params`` while averaging): SWA weights;
- ``metrics.csv``, ``curves.png``: the training history;
- ``val_probs.csv``, ``val_truth.csv``: validation probabilities of the prediction
  weights and their truth (inputs of ensembles and error analysis);
- ``test_probs.csv``, ``predict.json``: the last prediction of the question/test rows;
- ``thresholds.json``: per-style thresholds (multi-label families);
- ``image_check.json``, ``image_problems.csv``: the image check's cache and findings.
"""
import os
from typing import NamedTuple

from . import checkpoint
from .config import output_dir
from .data.dataset import loader_options
from .devices import resolve_devices
from .inference import predict_probs
from .models import build_model, hybridize
from .objectives import activation_for
from .transforms import build_eval_transform


class LoadedRun(NamedTuple):
    """A run's network with prediction weights loaded, and what it was trained with."""
    net: object
    cfg: dict
    record: dict
    ctx: list


class RunFolder:
    CONFIG = "config.yaml"
    SPLIT = "split.json"
    BEST_PARAMS, BEST_RECORD = "best.params", "best.json"
    LAST_PARAMS, LAST_STATES, STATE = "last.params", "last.states", "state.json"
    SWA_PARAMS, SWA_RECORD, SWA_RUNNING = "swa.params", "swa.json", "swa_running.params"
    METRICS, CURVES = "metrics.csv", "curves.png"
    VAL_PROBS, VAL_TRUTH = "val_probs.csv", "val_truth.csv"
    TEST_PROBS, PREDICT_RECORD = "test_probs.csv", "predict.json"
    THRESHOLDS = "thresholds.json"
    IMAGE_CHECK, IMAGE_PROBLEMS = "image_check.json", "image_problems.csv"

    # Everything a training run writes or derives; a fresh start removes all of it so
    # nothing from an earlier run (SWA weights, thresholds, predictions) passes for new.
    # The image check's cache stays: it describes the image files, not the run.
    RESULTS = (STATE, BEST_PARAMS, BEST_RECORD, LAST_PARAMS, LAST_STATES, SWA_PARAMS, SWA_RECORD,
               SWA_RUNNING, METRICS, CURVES, THRESHOLDS, VAL_PROBS, VAL_TRUTH, TEST_PROBS, PREDICT_RECORD)

    def __init__(self, path):
        self.path = path

    @classmethod
    def of(cls, cfg):
        """The run folder a config trains into (``output_dir``)."""
        return cls(output_dir(cfg))

    def __repr__(self):
        return f"RunFolder({self.path!r})"

    def file(self, name):
        return os.path.join(self.path, name)

    def has(self, name):
        return os.path.exists(self.file(name))

    def create(self):
        os.makedirs(self.path, exist_ok=True)
        return self

    # ---------------------------------------------------------------- clearing

    def clear_results(self):
        """Remove every result of an earlier training (the split and caches stay)."""
        for name in self.RESULTS:
            if self.has(name):
                os.remove(self.file(name))

    def clear(self):
        """A fresh start: the results and the saved split."""
        self.clear_results()
        if self.has(self.SPLIT):
            os.remove(self.file(self.SPLIT))

    # ---------------------------------------------------------------- records

    def read_json(self, name):
        return checkpoint.load_json(self.file(name))

    def write_json(self, name, data):
        checkpoint.save_json(self.file(name), data)

    def record(self):
        """``best.json``: the best epoch's metrics, classes, config and data summary."""
        if not self.has(self.BEST_RECORD):
            raise FileNotFoundError(f"{self.path}: no {self.BEST_RECORD} — has this run finished an epoch?")
        return self.read_json(self.BEST_RECORD)

    def config(self):
        return self.record()["config"]

    def has_state(self):
        return self.has(self.STATE)

    def state(self):
        return self.read_json(self.STATE)

    def weights_for_prediction(self, which=None):
        """The weights (``best``, ``swa`` or ``last``) to predict with: ``which`` when
        given, else the run's ``predict_weights``. Raises when the file is missing (e.g.
        ``swa`` before SWA finished)."""
        which = which or self.config().get("predict_weights", "best")
        if not self.has(f"{which}.params"):
            raise FileNotFoundError(f"{self.path}: no {which}.params"
                                    + (" (SWA runs at the end of training)" if which == "swa" else ""))
        return which

    # ---------------------------------------------------------------- loading, predicting

    def load(self, which=None, devices=None, log=print, net=None):
        """``LoadedRun``: the network with ``<which>.params`` loaded (see
        ``weights_for_prediction``), its config, ``best.json`` and devices.

        ``net``: the network this process has just trained into this folder
        (``engine.fit_network``, on the run's devices): the weights are loaded into it,
        instead of a new network being built, initialised and its graph traced again."""
        record = self.record()
        path = self.file(f"{self.weights_for_prediction(which)}.params")
        cfg = dict(record["config"])
        cfg["pretrained"] = False     # the weights come from the run, not the zoo
        ctx = resolve_devices(devices or cfg["devices"])
        if net is None:
            net = build_model(cfg, len(record["classes"]), ctx, log)
            net.load_parameters(path, ctx=ctx)
            hybridize(net)
        else:
            net.load_parameters(path, ctx=ctx)
        return LoadedRun(net, cfg, record, ctx)

    def predict_images(self, images, tta=None, loaded=None, which=None, *, desc="predict", progress=True):
        """Probabilities ``(N, C)`` of the run for image paths, in order, with its
        test-time augmentation (or ``tta``), batch size and loader options (worker kind,
        ``image_source: pack``). ``loaded``: a ``LoadedRun`` the caller already has."""
        net, cfg, record, ctx = loaded or self.load(which, log=lambda *a: None)
        transform = build_eval_transform(cfg, tta or cfg["tta"])
        batch = max(1, cfg["batch_size"] * len(ctx) // transform.n_crops)   # crops share the batch
        return predict_probs(net, images, transform, ctx, activation_for(record),
                             batch, cfg["workers"], desc, progress, **loader_options(cfg))


def load_run(run_dir, which=None, devices=None, log=print, net=None):
    """``RunFolder(run_dir).load(...)``: ``(net, cfg, record, ctx)``."""
    return RunFolder(run_dir).load(which, devices, log, net)
