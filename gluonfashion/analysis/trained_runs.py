"""Runs the notebooks train or reuse, and their scores: validation and test sets with
answers, predictions with a chosen TTA and weights, the competition metrics, ensembles.
What is family-specific comes from the run's family (``families``)."""
import os

import pandas as pd

from ..config import RUNTIME_KEYS, changed_keys  # noqa: F401  (RUNTIME_KEYS re-exported)
from ..ensembling.workflow import run_ensemble
from ..families import EvalSet, family_of, get_family
from ..metrics import score_sets
from ..run_folder import RunFolder
from ..transforms import EvalTransform

# ------------------------------------------------------------------ runs a notebook trains or reuses

def finished_run(cfg):
    """True when ``cfg``'s run folder holds a run trained to the end with the same
    settings (runtime keys aside): all epochs done, validation predictions written and,
    with ``swa_epochs``, the SWA weights saved."""
    run = RunFolder.of(cfg)
    needed = [run.BEST_RECORD, run.STATE] + ([run.VAL_PROBS] if cfg["val_fraction"] or cfg["folds"] else [])
    needed += [run.SWA_PARAMS] if cfg["swa_epochs"] else []
    if not all(run.has(name) for name in needed):
        return False
    if run.state().get("epoch") != cfg["epochs"]:
        return False
    return not changed_keys(run.config(), cfg)


def _newest_weights(run):
    times = [os.path.getmtime(run.file(f)) for f in (run.BEST_PARAMS, run.SWA_PARAMS, run.VAL_PROBS) if run.has(f)]
    return max(times, default=0.0)


def train_or_reuse(cfg, predict=True, log=print):
    """Train ``cfg``'s run, or reuse it when ``finished_run(cfg)``; returns ``(run_dir, reused)``.

    Notebooks share runs this way: a later notebook asking for the same settings gets
    the earlier notebook's run instead of training it again, and a run whose settings
    changed is trained afresh. With ``predict`` the test set is predicted too (the
    run's ``test_probs.csv``, needed by ensembles), unless an up-to-date one exists;
    the submission-style files go to ``<run_dir>/predictions``, not ``submission/``.
    """
    family, run = family_of(cfg), RunFolder.of(cfg)
    reused = finished_run(cfg)
    if reused:
        log(f"[reuse] {run.path}: a finished run with these settings is there, not retrained")
    else:
        family.train(cfg, fresh=True, progress=False, log=log)
    test_probs = run.file(run.TEST_PROBS)
    if predict and (not os.path.exists(test_probs) or os.path.getmtime(test_probs) < _newest_weights(run)):
        family.predict(run.path, out_dir=run.file("predictions"), progress=False, log=log)
    return run.path, reused


# ------------------------------------------------------------------ scoring runs: TTA, weights

def test_set(cfg):
    """``EvalSet`` of the test images of ``cfg`` with their answers, in question/test
    file order; ``None`` without an answers file."""
    return family_of(cfg).test_set(cfg)


def run_eval_sets(run_dir):
    """``{"val": EvalSet, "test": EvalSet}`` of a finished run: its validation images
    (the saved split) and, when the data has answers, the test images."""
    run = RunFolder(run_dir)
    return family_of(run.config()).eval_sets(run)


def predict_images(run_dir, images, tta=None, which=None):
    """Probabilities ``(N, C)`` of a run for image paths, with test-time augmentation
    ``tta`` (``none``, ``flip``, ``ten_crop``; default the run's) and weights ``which``
    (``best``, ``swa``, ``last``; default the run's ``predict_weights``)."""
    return RunFolder(run_dir).predict_images(images, tta, which=which, progress=False)


score_predictions = score_sets


def evaluate_run(run_dir, tta=None, which=None):
    """Predict a run's validation and test images with ``tta`` and weights ``which``
    (see ``predict_images``) and score them (the family's ``score``); also returns the
    number of crops per image (the prediction cost relative to no TTA)."""
    run = RunFolder(run_dir)
    cfg = run.config()
    family = family_of(cfg)
    sets = family.eval_sets(run)
    loaded = run.load(which, log=lambda *a: None)
    probs = {name: run.predict_images(s.images, tta, loaded, progress=False) for name, s in sets.items()}
    scores = family.score(probs["val"], sets["val"].truth, probs.get("test"),
                          sets["test"].truth if "test" in sets else None, cfg)
    return {**scores, "crops": EvalTransform.N_CROPS[tta or cfg["tta"]]}


def score_test_probs(run_dir, probs_path=None, thresholds_path=None):
    """Test score of a probability file (default: the run's ``test_probs.csv``) against
    the answers named by the run's config: FashionAI ``{"test AP", "test accuracy"}``
    (mean over the tasks in the file), JD ``{"test mean F2"}`` with the thresholds of
    ``thresholds_path`` (default: the run's ``thresholds.json``)."""
    run = RunFolder(run_dir)
    return family_of(run.config()).test_score(run, probs_path, thresholds_path)


def compare_ensembles(run_dirs, methods=("mean", "vote", "weighted", "topn"), out_root="runs/tutorial/ensembles",
                      top_n=1, corr_threshold=1.0, **options):
    """Each run alone and each ensemble method, on validation and test: a table.

    Calls ``ensembling.workflow.run_ensemble`` once per method (outputs in
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
    family = get_family(first["family"])
    metric = family.test_metric
    rows = {}
    for group_name, group in first["groups"].items():
        for model in group["models"]:
            name = model["name"] if len(first["groups"]) == 1 else f"{group_name}: {model['name']}"
            rows[f"model: {name}"] = {f"val {metric}": model["val_score"],
                                      f"test {metric}": score_test_probs(model["runs"][0])[f"test {metric}"]}
    for method, report in reports.items():
        rows[f"ensemble: {method}"] = {f"val {metric}": report["val_score"]["ensemble"],
                                       f"test {metric}": family.ensemble_test_score(report)}
    return pd.DataFrame(rows).T, reports
