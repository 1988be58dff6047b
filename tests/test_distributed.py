"""Distributed data-parallel training: the shards, the refusals, and two real jobs.

The job of ``test_a_launched_job_...`` runs `gluonfashion launch` with MXNet's local
launcher: a scheduler, one server and two workers on 127.0.0.1, the tiny task for two
epochs, killed after the first and resumed (17 s on an idle 2-core machine, a minute
under load). ``test_workers_start_...`` launches ``distributed_worker.py`` with the same launcher
(3 s). Each launch is stopped, with every process it started, after 240 s.
"""
import csv
import os
import re
import signal
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
import yaml

from gluonfashion import engine, run_folder
from gluonfashion.config import ConfigError, load_config
from gluonfashion.data.dataset import SeededShuffleSampler, ShardBatches
from gluonfashion.distributed import Workers, rows_digest
from gluonfashion.families import get_family
from gluonfashion.launch import job_environment, launcher_arguments
from gluonfashion.run_folder import CRASH_ENV

from conftest import saved_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB_TIMEOUT_S = 240


def _shards(n_rows, batch_size, workers, epoch=0, seed=0):
    """Each worker's batches (lists of row indices) of one epoch."""
    out = []
    for rank in range(workers):
        batches = ShardBatches(SeededShuffleSampler(n_rows, seed), batch_size, rank, workers)
        batches.set_epoch(epoch)
        out.append([[i for i, _ in batch] for batch in batches])
    return out


def test_each_step_of_the_workers_together_is_the_batch_of_one_process_with_the_job_batch():
    # 47 rows, 10 a worker, 2 workers: job batches of 20, 20 and 7; the last 7 split 4 + 3.
    first, second = _shards(47, 10, 2)
    alone = _shards(47, 20, 1)[0]
    assert [len(b) for b in first] == [10, 10, 4] and [len(b) for b in second] == [10, 10, 3]
    for step, batch in enumerate(alone):
        assert first[step] + second[step] == batch   # worker 0 the first part, worker 1 the rest
    rows = [i for b in first + second for i in b]
    assert sorted(rows) == list(range(47))           # every row once, no row twice
    batches = ShardBatches(SeededShuffleSampler(47, 0), 10, 1, 2)
    assert [batches.job_batch(s) for s in range(len(batches))] == [20, 20, 7] and batches.rows() == 23


def test_a_last_batch_smaller_than_the_workers_sits_out_and_one_worker_keeps_every_row():
    # 41 rows, 10 a worker, 2 workers: batches of 20, 20, then 1 row for 2 workers: left out.
    first, second = _shards(41, 10, 2)
    assert [len(b) for b in first] == [10, 10] and [len(b) for b in second] == [10, 10]
    assert ShardBatches(SeededShuffleSampler(41, 0), 10, 0, 2).left_out == 1
    alone = ShardBatches(SeededShuffleSampler(41, 0), 10)
    assert [len(b) for b in alone] == [10, 10, 10, 10, 1] and alone.left_out == 0


def test_kvstore_is_checked_and_refused_kinds_say_why():
    assert load_config(None, [("task", "t")])["kvstore"] == "device"
    with pytest.raises(ConfigError, match="servers own the optimizer"):
        load_config(None, [("task", "t"), ("kvstore", "dist_async")])
    with pytest.raises(ConfigError, match="MXNet 1.9.1 has no horovod kvstore"):
        load_config(None, [("task", "t"), ("kvstore", "horovod")])
    with pytest.raises(ConfigError, match="kvstore must be one of"):
        load_config(None, [("task", "t"), ("kvstore", "dist")])


def test_a_distributed_kvstore_needs_the_launcher_and_a_launched_process_needs_one(monkeypatch):
    monkeypatch.delenv("DMLC_ROLE", raising=False)
    with pytest.raises(ValueError, match="gluonfashion launch"):
        Workers.join("dist_sync")
    alone = Workers.join("device")
    assert (alone.rank, alone.count, alone.writes) == (0, 1, True)
    monkeypatch.setenv("DMLC_ROLE", "worker")
    with pytest.raises(ValueError, match="set kvstore: dist_sync"):
        Workers.join("device")


def test_launcher_arguments_and_environment(tmp_path):
    command = ["python", "-m", "gluonfashion", "train", "--config", "my task.yaml"]
    args = launcher_arguments(2, 1, command)
    assert args == ["-n", "2", "-s", "1", "--launcher", "local",
                    "python -m gluonfashion train --config 'my task.yaml'"]
    with pytest.raises(ValueError, match="needs -H HOSTFILE"):
        launcher_arguments(2, 1, command, "ssh")
    hosts = tmp_path / "hosts"
    hosts.write_text("10.0.0.1\n10.0.0.2:2222\n")
    assert launcher_arguments(4, 2, command, "ssh", str(hosts))[:8] == [
        "-n", "4", "-s", "2", "--launcher", "ssh", "-H", str(hosts)]
    env = job_environment(2, "local", {"PATH": "/bin"})
    assert env["DMLC_NODE_HOST"] == "127.0.0.1" and int(env["OMP_NUM_THREADS"]) >= 1
    assert "DMLC_NODE_HOST" not in job_environment(2, "ssh", {"PATH": "/bin"})


# ---------------------------------------------------------------- one real job

def _job_config(tiny_fashionai, tmp_path, name):
    """Plain SGD (no momentum, no weight decay, a constant rate), no random crop scale,
    10 rows a worker: 48 training rows make job batches of 20, 20 and 8."""
    return {"task": "bar_length", "data_root": str(tiny_fashionai), "answers_file": "answers.csv",
            "model": "resnet18_v1", "pretrained": False, "allow_random_init": True, "image_size": 32,
            "resize_short": 36, "crop_scale": [0.8, 1.0], "batch_size": 10, "epochs": 2, "optimizer": "sgd",
            "momentum": 0.0, "wd": 0.0, "lr": 0.01, "lr_schedule": "step", "lr_steps": [100], "workers": 0,
            "devices": "cpu", "tta": "none", "val_fraction": 0.2, "checkpoint_every_s": 0,
            "output_dir": str(tmp_path / name / "{task}"), "submission_dir": str(tmp_path / "submission")}


def _run_job(config_file, *flags, crash_at=None):
    """``(status, output)`` of `gluonfashion launch -n 2 -s 1 -- train ...`."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop(CRASH_ENV, None)
    if crash_at:
        env[CRASH_ENV] = crash_at
    return _launch([sys.executable, "-m", "gluonfashion", "launch", "-n", "2", "-s", "1", "--",
                    "train", "--config", config_file, "--profile", "demo", "--quiet", *flags], env)


def _launch(command, env):
    """``(status, output)`` of a launching ``command``, run at the head of a process group;
    every process it started is stopped, whatever happens."""
    launcher = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
    output = ""
    try:
        output, _ = launcher.communicate(timeout=JOB_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        launcher.send_signal(signal.SIGTERM)     # the verb stops its job's processes
        output, _ = launcher.communicate(timeout=30)
        pytest.fail(f"the job ran over {JOB_TIMEOUT_S} s:\n{output[-3000:]}")
    finally:
        groups = [launcher.pid] + [int(g) for g in re.findall(r"process group (\d+)", output or "")]
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if launcher.poll() is None:
            launcher.wait(timeout=30)
    return launcher.returncode, output


def test_workers_start_from_worker_0s_weights_and_a_worker_whose_weights_differ_stops():
    # tests/distributed_worker.py: Dense(2) over 3 inputs and a 16 x 3 x 3 x 3 convolution,
    # every value rank + 1. After start_trainer both hold worker 0's 1.0: convolution sum
    # 16 * 3 * 3 * 3 = 432. One SGD step (lr 0.1, job batch 2) on loss = sum(W x + b),
    # x = [1, 2, 3] on worker 0 and [3, 2, 1] on worker 1: each row of W gets the gradient
    # x0 + x1 = [4, 4, 4], each bias 1 + 1 = 2, both divided by 2, so W = 1 - 0.1 * 2 = 0.8
    # and b = 1 - 0.1 * 1 = 0.9 on both (the convolution is not trained: 432). Then worker 1
    # adds 1 to its bias: its check fails, worker 0's (its own weights) passes.
    path = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))   # the script imports this tree
    env = job_environment(2, "local", dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path))
    script = os.path.join(REPO, "tests", "distributed_worker.py")
    status, output = _launch([sys.executable, "-m", "gluonfashion.launch",
                              *launcher_arguments(2, 1, [sys.executable, script])], env)
    assert status == 0, output[-3000:]
    lines = {(int(rank), stage): text for rank, stage, text in
             re.findall(r"^worker (\d) (started|stepped|checked): (.*)$", output, re.M)}
    assert len(lines) == 6, output[-3000:]
    for rank in (0, 1):
        assert lines[rank, "started"] == " ".join(["1"] * 8) + " conv 432"
        assert lines[rank, "stepped"] == " ".join(["0.8"] * 6 + ["0.9"] * 2) + " conv 432"
    assert lines[0, "checked"] == "same"
    assert lines[1, "checked"].startswith("worker 1 of 2 (dist_sync): its weights after the bias changed differ "
                                          "from worker 0's")


def _worker_lines(output, pattern):
    """``{rank: match}`` of one kind of worker line."""
    return {int(m.group(1)): m for m in re.finditer(pattern, output)}


def _train_losses(run_dir):
    with open(os.path.join(run_dir, "metrics.csv"), encoding="utf-8") as f:
        return [float(row["train_loss"]) for row in csv.DictReader(f)]


def _last_weights(run_dir):
    return {k: v.asnumpy() for k, v in mx.nd.load(saved_file(run_dir, "last.params")).items()}


def test_a_launched_job_resumes_splits_the_rows_and_trains_as_one_process_with_a_device_per_worker(
        tiny_fashionai, tmp_path, monkeypatch):
    cfg = _job_config(tiny_fashionai, tmp_path, "job")
    config_file = str(tmp_path / "job.yaml")
    with open(config_file, "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f)
    # Worker 0 dies (SIGKILL) right after saving epoch 1: the launcher stops the job.
    status, output = _run_job(config_file, crash_at="manifest@1")
    assert status == 2 and "a process of the job exited with status -9: stopping the others" in output, \
        output[-3000:]
    assert "worker 1 of 2 (dist_sync) finished" not in output
    # Resumed, both workers continue from the saved epoch 1 and finish epoch 2.
    status, output = _run_job(config_file, "--resume")
    assert status == 0 and "resuming after epoch 1" in output, output[-3000:]

    # 60 rows, 20 % validation: 48 training rows; each worker reads 24 of them an epoch,
    # exactly its shard of epoch 2's seeded order (seed 0).
    shards = _worker_lines(output, r"\[distributed\] worker (\d) of 2 \(dist_sync\): (\d+) of (\d+) training rows"
                                   r".*?\(epoch 2 rows (\w+)\)")
    assert sorted(shards) == [0, 1], output[-3000:]
    for rank, line in shards.items():
        assert (int(line.group(2)), int(line.group(3))) == (24, 48)
        expected = ShardBatches(SeededShuffleSampler(48, 0), 10, rank, 2)
        expected.set_epoch(1)
        assert line.group(4) == rows_digest(expected)
    assert shards[0].group(4) != shards[1].group(4)
    finished = _worker_lines(output, r"\[distributed\] worker (\d) of 2 \(dist_sync\) finished: weights (\w+)")
    assert sorted(finished) == [0, 1] and finished[0].group(2) == finished[1].group(2)

    # Only worker 0 wrote: one run folder, reported once.
    job_dir = os.path.join(str(tmp_path / "job"), "bar_length")
    assert output.count("[train] best epoch") == 1 and os.path.exists(os.path.join(job_dir, "best.params"))

    # The same training in this process, with two devices of 10 rows: the same job batches,
    # cut the same way (device k gets worker k's rows); gradients are summed over the
    # devices, and the saved BatchNorm statistics are the devices' mean. Within float
    # tolerance (other thread counts order the sums differently), the weights match.
    one = dict(load_config(config_file, profile="demo"), output_dir=str(tmp_path / "one/{task}"))
    for module in (engine, run_folder):
        monkeypatch.setattr(module, "resolve_devices", lambda spec: [mx.cpu(0), mx.cpu(1)])
    one_dir, _ = get_family("fashionai").train(one, progress=False, log=lambda *_: None)
    np.testing.assert_allclose(_train_losses(job_dir), _train_losses(one_dir), rtol=1e-5)
    job, alone = _last_weights(job_dir), _last_weights(one_dir)
    assert job.keys() == alone.keys()
    for name in job:
        np.testing.assert_allclose(job[name], alone[name], rtol=1e-4, atol=1e-5, err_msg=name)
