"""Run-folder files, written atomically so an interrupted run never leaves a torn file.

A run folder holds: ``config.yaml``, ``split.json``, ``best.params`` + ``best.json``
(weights, metrics, epoch, classes and config of the best validation epoch),
``last.params`` + ``last.states`` + ``state.json`` (what ``--resume`` continues from;
``state.json`` is written last and marks the epoch as complete), ``metrics.csv`` and
``curves.png``.
"""
import csv
import json
import os


def atomic_write(path, write):
    """Call ``write(tmp_path)`` then move the result into place in one step."""
    tmp = f"{path}.tmp"
    write(tmp)
    os.replace(tmp, path)


def save_json(path, data):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, default=_plain)
    atomic_write(path, write)


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _plain(value):
    """numpy scalars and arrays in JSON."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def save_params(net, path):
    atomic_write(path, net.save_parameters)


def save_trainer(trainer, path):
    atomic_write(path, trainer.save_states)


# Everything a training run writes or derives; `--fresh` removes all of it so nothing
# from an earlier run (SWA weights, thresholds, predictions) can be mistaken for new.
RUN_FILES = ("state.json", "best.params", "best.json", "last.params", "last.states",
             "swa.params", "swa.json", "swa_running.params", "metrics.csv", "curves.png",
             "thresholds.json", "val_probs.csv", "val_truth.csv", "test_probs.csv",
             "predict.json")


def clear_run(run_dir):
    for name in RUN_FILES:
        path = os.path.join(run_dir, name)
        if os.path.exists(path):
            os.remove(path)


def has_state(run_dir):
    return os.path.exists(os.path.join(run_dir, "state.json"))


def write_metrics_csv(path, history):
    if not history:
        return
    keys = list(history[0])
    for row in history[1:]:
        keys += [k for k in row if k not in keys]

    def write(tmp):
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(history)
    atomic_write(path, write)
