"""A training run's folder: the one place that knows its file names, clears it, loads
it back and predicts images with it.

A run folder holds:

- ``config.yaml``: the resolved config; ``split.json``: the saved train/val split;
- ``best.params`` + ``best.json``: weights and record (metrics, epoch, classes, config)
  of the best validation epoch;
- ``resume-<epoch>/`` (``last.params``, ``last.states``, ``swa_running.params`` while
  averaging) + ``state.json``: what ``--resume`` continues from, saved as one unit: the
  files go into a new generation folder first and ``state.json``, written last, names it
  with the files' checksums (see ``save_resume_state``);
- ``swa.params`` + ``swa.json``: SWA weights;
- ``metrics.csv``, ``curves.png``: the training history;
- ``val_probs.csv``, ``val_truth.csv``: validation probabilities of the prediction
  weights and their truth (inputs of ensembles and error analysis);
- ``test_probs.csv``, ``predict.json``: the last prediction of the question/test rows;
- ``thresholds.json``: per-style thresholds (multi-label families);
- ``image_check.json``, ``image_problems.csv``: the image check's cache and findings;
- ``.lock``: held by the process training into the folder;
- ``replaced/``: an earlier run moved aside by ``--fresh``, deleted once the new run has
  saved its first epoch.
"""
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import sys
import tempfile
from typing import NamedTuple

from . import checkpoint, threads
from .config import output_dir
from .data.dataset import loader_options
from .devices import describe, resolve_devices
from .inference import predict_probs
from .models import build_model, fusion_available, hybridize_for_prediction
from .objectives import activation_for
from .transforms import build_eval_transform


CRASH_ENV = "GLUONFASHION_CRASH_AT"   # fault injection for tests: "<point>[@<nth time>]"
_crash_counts = {}


def _crash_point(name):
    """Die here (SIGKILL, as a power cut or the OOM killer would) when the tests ask for it."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition("@")
    if point == name:
        _crash_counts[name] = _crash_counts.get(name, 0) + 1
        if _crash_counts[name] == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)


class RunFolderBusy(RuntimeError):
    """Another process is training into the run folder."""


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
    RESUME_PREFIX, LOCK, REPLACED = "resume-", ".lock", "replaced"

    # Everything a training run writes or derives (and the resume-* generations); a fresh
    # start moves all of it aside so nothing from an earlier run (SWA weights, thresholds,
    # predictions) passes for new. The image check's cache stays: it describes the image
    # files, not the run. (last.params, last.states and swa_running.params sit here only
    # in run folders of older versions of the kit.)
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

    # ---------------------------------------------------------------- clearing, owning

    def _results(self):
        """Names of this folder's results: ``RESULTS`` present and the resume generations."""
        names = [n for n in self.RESULTS if self.has(n)]
        return names + sorted(n for n in os.listdir(self.path)
                              if n.startswith((self.RESUME_PREFIX, f".{self.RESUME_PREFIX}")))

    def _remove(self, name):
        path = self.file(name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)

    def clear_results(self):
        """Start over: a completed earlier run (one with a saved state) is moved to
        ``replaced/`` (deleted once the new run has saved its first epoch, see
        ``discard_replaced``), the leftovers of an unfinished one are removed. The split
        and the image check's cache stay."""
        if not os.path.isdir(self.path):
            return
        names = self._results()
        if self.has_state():
            aside = self.file(self.REPLACED)
            if os.path.exists(aside):
                shutil.rmtree(aside)
            os.makedirs(aside)
            for name in names + ([self.SPLIT] if self.has(self.SPLIT) else []):
                os.replace(self.file(name), os.path.join(aside, name))
            checkpoint.fsync_dir(self.path)
        else:
            for name in names:
                self._remove(name)

    def clear(self):
        """A fresh start: the results (see ``clear_results``) and the saved split."""
        self.clear_results()
        if self.has(self.SPLIT):
            os.remove(self.file(self.SPLIT))

    def discard_replaced(self):
        if self.has(self.REPLACED):
            shutil.rmtree(self.file(self.REPLACED))

    def check_owner(self, cfg):
        """Refuse to train ``cfg`` into a folder that holds another task's run (an
        ``output_dir`` without ``{task}`` would otherwise let tasks overwrite each other)."""
        if not self.has(self.BEST_RECORD):
            return
        saved = self.config()
        theirs, ours = (saved.get("family"), saved.get("task")), (cfg["family"], cfg["task"])
        if theirs != ours:
            raise ValueError(f"{self.path} holds a run of {theirs[1] or theirs[0]}; this config trains "
                             f"{ours[1] or ours[0]}: give each task its own folder, e.g. "
                             f"output_dir: runs/{{profile}}/{{task}}")

    @contextlib.contextmanager
    def lock(self):
        """Hold the folder for one training process; a second one is refused with the
        first one's process id and command."""
        self.create()
        handle = open(self.file(self.LOCK), "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunFolderBusy(f"{self.path} is in use by {holder}: wait for it to finish, or train "
                                f"into another output_dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {socket.gethostname()} ({' '.join(sys.argv)[:200]})")
        handle.flush()
        try:
            yield self
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    @contextlib.contextmanager
    def read_only_copy(self):
        """A private scratch ``RunFolder`` holding copies of this folder's split and
        image-check cache, removed afterwards: a distributed worker other than worker 0
        prepares its data there, exactly as worker 0 did here, without writing here."""
        if not self.has(self.SPLIT):
            raise FileNotFoundError(f"{self.file(self.SPLIT)} not found: worker 0 writes it before the other "
                                    f"workers read it, so output_dir must be a folder every worker sees (on "
                                    f"several hosts: the same path on a shared filesystem)")
        with tempfile.TemporaryDirectory(prefix="gluonfashion-worker-") as scratch:
            for name in (self.SPLIT, self.IMAGE_CHECK):
                if self.has(name):
                    shutil.copy2(self.file(name), os.path.join(scratch, name))
            yield RunFolder(scratch)

    # ---------------------------------------------------------------- the resume state

    def save_resume_state(self, record, writers):
        """Save what ``--resume`` needs as one unit. ``writers`` (``{file name:
        write(path)}``) fill a new generation folder ``resume-<epoch>``; its files are
        flushed to disk and their checksums go into ``state.json`` with ``record``,
        written last and atomically. Older generations are removed only after that. A
        kill at any moment leaves the previous complete state or the new one."""
        generation = f"{self.RESUME_PREFIX}{record['epoch']:05d}"
        final, tmp = self.file(generation), self.file(f".{generation}.tmp-{os.getpid()}")
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
        os.makedirs(tmp)
        sums = {}
        for name, write in writers.items():
            path = os.path.join(tmp, name)
            write(path)
            checkpoint.fsync_file(path)
            sums[name] = checkpoint.sha256(path)
            _crash_point(f"wrote {name}")
        checkpoint.fsync_dir(tmp)
        if os.path.exists(final):   # left by a save that was killed before its manifest
            shutil.rmtree(final)
        os.replace(tmp, final)
        checkpoint.fsync_dir(self.path)
        _crash_point("generation")
        self.write_json(self.STATE, {**record, "generation": generation, "files": sums})
        _crash_point("manifest")
        for name in self._results():
            if name.startswith((self.RESUME_PREFIX, f".{self.RESUME_PREFIX}")) and name != generation:
                self._remove(name)
        self.discard_replaced()

    def resume_state(self):
        """``(record, {file name: path})`` of the saved state, its checksums verified."""
        record = self.state()
        if "generation" not in record:   # a run folder of an older version of the kit
            names = (self.LAST_PARAMS, self.LAST_STATES, self.SWA_RUNNING)
            return record, {n: self.file(n) for n in names if self.has(n)}
        folder, paths = self.file(record["generation"]), {}
        for name, digest in record["files"].items():
            path = os.path.join(folder, name)
            if not os.path.exists(path) or checkpoint.sha256(path) != digest:
                raise RuntimeError(f"{path} is missing or changed since {self.file(self.STATE)} was written: "
                                   f"the resume state is damaged; start over with --fresh")
            paths[name] = path
        return record, paths

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
        self.weights_file(which)
        return which

    def weights_file(self, which):
        """Path of the ``best``, ``swa`` or ``last`` weights."""
        if which == "last" and self.has_state():
            path = self.resume_state()[1].get(self.LAST_PARAMS)
        else:
            path = self.file(f"{which}.params")
        if not path or not os.path.exists(path):
            raise FileNotFoundError(f"{self.path}: no {which}.params"
                                    + (" (SWA runs at the end of training)" if which == "swa" else ""))
        return path

    # ---------------------------------------------------------------- loading, predicting

    def load(self, which=None, devices=None, log=print, net=None):
        """``LoadedRun``: the network with ``<which>.params`` loaded (see
        ``weights_for_prediction``), its config, ``best.json`` and devices.

        ``net``: the network this process has just trained into this folder
        (``engine.fit_network``, on the run's devices): the weights are loaded into it,
        instead of a new network being built, initialised and its graph traced again."""
        record = self.record()
        path = self.weights_file(self.weights_for_prediction(which))
        cfg = dict(record["config"])
        cfg["pretrained"] = False     # the weights come from the run, not the zoo
        ctx = resolve_devices(devices or cfg["devices"])
        if net is None:
            net = build_model(cfg, len(record["classes"]), ctx, log)
            net.load_parameters(path, ctx=ctx)
            log(f"[load] {path} on {describe(ctx)}; {threads.describe()}"
                + ("; oneDNN graph fusion" if fusion_available(ctx) else ""))
        else:
            net.load_parameters(path, ctx=ctx)
        hybridize_for_prediction(net, ctx)
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
