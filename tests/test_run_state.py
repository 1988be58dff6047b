"""Nothing lost, nothing mixed: each protection of a run folder, tested by breaking it.

A training process is killed (SIGKILL, as a power cut or the OOM killer would) at every
step of saving its resume state and at random moments, then resumed: the final weights
must equal an uninterrupted run's, bit for bit. Two processes on one folder, a resume
with changed settings or data, a diverging loss, ``--fresh`` and ``demo-data`` over
someone's files, and a prediction with a missing image each get a clear refusal.
"""
import os
import random
import signal
import subprocess
import sys
import time

import mxnet as mx
import numpy as np
import pytest
import yaml

from gluonfashion import engine
from gluonfashion.data.demo_data import ensure_demo
from gluonfashion.engine import ResumeMismatch, TrainingDiverged
from gluonfashion.families import get_family
from gluonfashion.run_folder import CRASH_ENV, RunFolder, RunFolderBusy

from conftest import Interrupted, interrupt_after_first_epoch, saved_file

fashionai = get_family("fashionai")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _quiet(*_):
    pass


@pytest.fixture
def state_config(tiny_config, tmp_path):
    """Three epochs, a state saved after every one, SWA over the last two (its running
    average is part of the state)."""
    return dict(tiny_config, epochs=3, swa_epochs=2, checkpoint_every_s=0, val_fraction=0.2,
                output_dir=str(tmp_path / "runs/{task}"))


def _config_file(cfg, path):
    keys = ("task", "data_root", "answers_file", "model", "pretrained", "allow_random_init", "image_size",
            "resize_short", "crop_scale", "batch_size", "epochs", "optimizer", "lr", "lr_schedule", "workers",
            "devices", "tta", "val_fraction", "output_dir", "submission_dir", "swa_epochs", "checkpoint_every_s")
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump({k: cfg[k] for k in keys}, f)
    return str(path)


def _train_process(config_file, *flags, crash_at=None):
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.Popen([sys.executable, "-m", "gluonfashion", "train", "--config", config_file,
                             "--profile", "demo", "--quiet", *flags], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _weights(run_dir):
    return {k: v.asnumpy() for k, v in mx.nd.load(saved_file(run_dir, "last.params")).items()}


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _running_average(run_dir):
    return {k: v.asnumpy() for k, v in mx.nd.load(saved_file(run_dir, "swa_running.params")).items()}


_STRAIGHT = {}


@pytest.fixture
def straight(state_config, tmp_path):
    """An uninterrupted run's final weights and SWA running average (trained once: the
    tiny data and the config are the same in every test)."""
    if not _STRAIGHT:
        run_dir, _ = fashionai.train(dict(state_config, output_dir=str(tmp_path / "straight/{task}")),
                                     progress=False, log=_quiet)
        _STRAIGHT.update(weights=_weights(run_dir), average=_running_average(run_dir))
    return _STRAIGHT


@pytest.mark.parametrize("point", ["wrote last.params", "wrote last.states", "wrote swa_running.params",
                                   "generation", "manifest"])
def test_a_kill_at_any_step_of_a_save_resumes_to_the_uninterrupted_result(point, state_config, straight, tmp_path):
    # the 2nd save (after epoch 2) is the first with a resume state before it, and the
    # first with a running SWA average to write
    nth = 1 if point == "wrote swa_running.params" else 2
    config_file = _config_file(state_config, tmp_path / "task.yaml")
    killed = _train_process(config_file, crash_at=f"{point}@{nth}")
    assert killed.wait(timeout=300) == -signal.SIGKILL, killed.stderr.read()
    run_dir = state_config["output_dir"].format(task="bar_length")
    run_dir_ok, _ = fashionai.train(state_config, resume=True, progress=False, log=_quiet)
    assert run_dir_ok == run_dir
    _same(_weights(run_dir), straight["weights"])
    _same(_running_average(run_dir), straight["average"])
    state = RunFolder(run_dir).state()
    assert state["swa_snapshots"] == [2, 3]        # each averaged epoch counted once
    assert [h["epoch"] for h in state["history"]] == [1, 2, 3]
    leftovers = [n for n in os.listdir(run_dir) if n.startswith((".resume-", "resume-")) and n != state["generation"]]
    assert leftovers == []


def test_random_kills_then_resume_match_the_uninterrupted_run(state_config, straight, tmp_path):
    config_file = _config_file(state_config, tmp_path / "task.yaml")
    run_dir = state_config["output_dir"].format(task="bar_length")
    rng, kills = random.Random(7), 0
    for attempt in range(4):
        flags = ("--resume",) if RunFolder(run_dir).has(RunFolder.STATE) else ("--fresh",)
        process = _train_process(config_file, *flags)
        time.sleep(rng.uniform(2.0, 7.0))   # start-up takes ~3 s: kills land in imports, epochs and saves
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=300)
        if RunFolder(run_dir).has(RunFolder.STATE) and RunFolder(run_dir).state()["epoch"] == 3:
            break
    fashionai.train(state_config, resume=RunFolder(run_dir).has(RunFolder.STATE), progress=False, log=_quiet)
    assert kills >= 1
    _same(_weights(run_dir), straight["weights"])


def test_a_second_process_on_the_same_folder_is_refused_with_the_first_ones_id(state_config, tmp_path):
    run = RunFolder(state_config["output_dir"].format(task="bar_length"))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, sys.argv[1]);"
        "from gluonfashion.run_folder import RunFolder\n"
        "with RunFolder(sys.argv[2]).lock():\n print('locked', flush=True); time.sleep(60)"), REPO, run.path],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderBusy, match=f"in use by process {holder.pid} "):
            fashionai.train(state_config, progress=False, log=_quiet)
    finally:
        holder.kill()
        holder.wait()
    fashionai.train(dict(state_config, epochs=1, swa_epochs=0), progress=False, log=_quiet)   # free again


def test_resume_refuses_changed_settings_and_changed_data(state_config, tmp_path):
    cfg = dict(state_config, epochs=1, swa_epochs=0)
    fashionai.train(cfg, progress=False, log=_quiet)
    with pytest.raises(ResumeMismatch, match=r"lr changed \(e.g. lr: 0.003 -> 0.01\)"):
        fashionai.train(dict(cfg, lr=0.01), resume=True, progress=False, log=_quiet)
    fashionai.train(dict(cfg, workers=1), resume=True, progress=False, log=_quiet)   # runtime key: fine
    label_csv = os.path.join(cfg["data_root"], "Annotations/label.csv")
    with open(label_csv, encoding="utf-8") as f:
        rows = f.read().splitlines()
    first = rows[0].split(",")
    first[2] = first[2][1:] + first[2][0]          # another value for one training image
    with open(label_csv, "w", encoding="utf-8") as f:
        f.write("\n".join([",".join(first)] + rows[1:]) + "\n")
    with pytest.raises(ResumeMismatch, match="the training data changed"):
        fashionai.train(cfg, resume=True, progress=False, log=_quiet)


def test_a_diverging_loss_stops_within_a_few_batches_and_keeps_the_last_good_state(state_config, monkeypatch):
    cfg = dict(state_config, epochs=2, swa_epochs=0)
    with pytest.raises(Interrupted):   # stops right after epoch 1 was saved
        fashionai.train(cfg, progress=False, log=interrupt_after_first_epoch)
    run_dir = cfg["output_dir"].format(task="bar_length")
    good = _weights(run_dir)
    seen = []
    real_forward = engine.staged_finetuning.forward

    def poisoned(net, x, frozen):        # from the 3rd batch of epoch 2 the network outputs NaN
        seen.append(1)
        out = real_forward(net, x, frozen)
        return out * float("nan") if len(seen) > 2 else out

    monkeypatch.setattr(engine.staged_finetuning, "forward", poisoned)
    # 48 training images in batches of 16: 3 batches an epoch. The end-of-epoch check
    # catches the NaN of batch 3 before anything is saved ...
    with pytest.raises(TrainingDiverged, match=r"became nan \(epoch 2\)"):
        fashionai.train(cfg, resume=True, progress=False, log=_quiet)
    assert RunFolder(run_dir).state()["epoch"] == 1
    _same(_weights(run_dir), good)
    # ... and the running check names the batch when it reads every batch
    seen.clear()
    monkeypatch.setattr(engine, "DIVERGENCE_CHECK_EVERY", 1)
    with pytest.raises(TrainingDiverged, match=r"became nan \(epoch 2, by batch 3\)"):
        fashionai.train(cfg, resume=True, progress=False, log=_quiet)


def test_fresh_keeps_the_earlier_run_until_the_new_one_saved_an_epoch(state_config):
    cfg = dict(state_config, epochs=1, swa_epochs=0)
    run_dir, _ = fashionai.train(cfg, progress=False, log=_quiet)
    earlier = _weights(run_dir)

    def stop_before_saving(line):
        if line.startswith("[train] bar_length:"):
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        fashionai.train(cfg, fresh=True, progress=False, log=stop_before_saving)
    replaced = RunFolder(os.path.join(run_dir, RunFolder.REPLACED))
    _same({k: v.asnumpy() for k, v in mx.nd.load(saved_file(replaced.path, "last.params")).items()}, earlier)
    fashionai.train(cfg, fresh=True, progress=False, log=_quiet)
    assert not os.path.exists(replaced.path)


def test_a_folder_holding_another_tasks_run_is_refused(state_config, tmp_path):
    shared = str(tmp_path / "shared")
    fashionai.train(dict(state_config, epochs=1, swa_epochs=0, output_dir=shared), progress=False, log=_quiet)
    with pytest.raises(ValueError, match="holds a run of bar_length; this config trains other_task"):
        fashionai.train(dict(state_config, task="other_task", output_dir=shared), fresh=True, progress=False,
                        log=_quiet)


def test_demo_data_refuses_a_folder_of_someone_elses_files(tmp_path):
    own = tmp_path / "data" / "jd"
    own.mkdir(parents=True)
    (own / "train.txt").write_text("my own labels\n")
    with pytest.raises(FileExistsError, match="not demo data"):
        ensure_demo("jd", str(own), progress=False, n_train=10, n_test=5)
    assert (own / "train.txt").read_text() == "my own labels\n"


def test_predict_refuses_before_the_pass_when_an_image_is_missing(state_config):
    run_dir, _ = fashionai.train(dict(state_config, epochs=1, swa_epochs=0), progress=False, log=_quiet)
    victim = os.path.join(state_config["data_root"], "Images/bar_length/test_2_5.jpg")
    os.remove(victim)
    with pytest.raises(FileNotFoundError, match=r"1 of 18 rows have no image .*test_2_5.jpg"):
        fashionai.predict(run_dir, progress=False, log=_quiet)
    assert not os.path.exists(os.path.join(state_config["submission_dir"], "bar_length.csv"))
