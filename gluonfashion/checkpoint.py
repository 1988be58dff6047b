"""Writing files atomically and durably, so an interrupted run (a kill, a power cut)
never leaves a torn file: JSON, network parameters, optimizer states and the metrics
table. Which files a run folder holds is ``run_folder.RunFolder``'s business."""
import csv
import hashlib
import json
import os


def fsync_file(path):
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_dir(path):
    """Make a rename or a new file in ``path`` survive a power cut (POSIX)."""
    fd = os.open(path or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path, write):
    """Call ``write(tmp_path)``, flush it to disk, then move it into place in one step.
    The temporary name is unique per process, so two writers never share one."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        write(tmp)
        fsync_file(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    fsync_dir(os.path.dirname(path))


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
