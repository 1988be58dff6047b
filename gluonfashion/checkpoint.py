"""Writing files atomically, so an interrupted run never leaves a torn file: JSON,
network parameters, optimizer states and the metrics table. Which files a run folder
holds is ``run_folder.RunFolder``'s business."""
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
