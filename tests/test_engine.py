"""Training end to end on a tiny task: learning, checkpoints, exact resume, predict."""
import os

import numpy as np
import pytest

from gluonfashion import checkpoint
from gluonfashion.config import output_dir
from gluonfashion.engine import RunExistsError
from gluonfashion.submission import evaluate, merge
from gluonfashion.families import get_family
from gluonfashion.run_folder import RunFolder

fashionai = get_family("fashionai")
from conftest import Interrupted, interrupt_after_first_epoch, saved_file


def _quiet(*_):
    pass


def test_train_predict_merge_beats_chance(tiny_config):
    run_dir, best = fashionai.train(tiny_config, progress=False, log=_quiet)
    for name in ("best.params", "best.json", "state.json", "split.json", "config.yaml", "metrics.csv", "curves.png"):
        assert os.path.exists(os.path.join(run_dir, name)), name
    for name in ("last.params", "last.states"):
        assert os.path.exists(saved_file(run_dir, name)), name
    record = checkpoint.load_json(os.path.join(run_dir, "best.json"))
    assert record["classes"] == ["value_0", "value_1", "value_2"]
    assert record["select_metric"] == "map"

    fashionai.predict(run_dir, progress=False, log=_quiet)
    question = os.path.join(tiny_config["data_root"], "Tests/question.csv")
    out = os.path.join(tiny_config["submission_dir"], "submission.csv")
    merge(question, tiny_config["submission_dir"], out, log=_quiet)
    table = evaluate(out, os.path.join(tiny_config["data_root"], "answers.csv"))
    # chance accuracy for 3 balanced values is 1/3; a working pipeline does far better
    assert table["bar_length"]["basic_precision"] > 0.6
    assert table["bar_length"]["n"] == 18


def test_resume_matches_uninterrupted(tiny_config, tmp_path):
    cfg = dict(tiny_config, epochs=2, output_dir=str(tmp_path / "straight"))
    straight_dir, _ = fashionai.train(cfg, progress=False, log=_quiet)

    cfg_b = dict(cfg, output_dir=str(tmp_path / "resumed"))
    with pytest.raises(Interrupted):   # stops right after epoch 1 was saved
        fashionai.train(cfg_b, progress=False, log=interrupt_after_first_epoch)
    resumed_dir, _ = fashionai.train(cfg_b, resume=True, progress=False, log=_quiet)

    import mxnet as mx
    a = mx.nd.load(saved_file(straight_dir, "last.params"))
    b = mx.nd.load(saved_file(resumed_dir, "last.params"))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k].asnumpy(), b[k].asnumpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    ha = checkpoint.load_json(os.path.join(straight_dir, "state.json"))["history"]
    hb = checkpoint.load_json(os.path.join(resumed_dir, "state.json"))["history"]
    assert [h["epoch"] for h in hb] == [1, 2]
    assert ha[-1]["val_map"] == pytest.approx(hb[-1]["val_map"])


def test_sparse_checkpoints_resume_from_the_last_save(tiny_config, tmp_path):
    # With a long checkpoint interval only the last epoch saves the resume state: a run
    # stopped after epoch 1 left none, so resuming starts over and ends identical.
    cfg = dict(tiny_config, epochs=2, checkpoint_every_s=3600, output_dir=str(tmp_path / "sparse"))
    with pytest.raises(Interrupted):
        fashionai.train(cfg, progress=False, log=interrupt_after_first_epoch)
    run_dir = output_dir(cfg)
    assert not RunFolder(run_dir).has_state()
    assert os.path.exists(os.path.join(run_dir, "metrics.csv"))   # written every epoch
    resumed_dir, _ = fashionai.train(cfg, resume=True, progress=False, log=_quiet)
    state = checkpoint.load_json(os.path.join(resumed_dir, "state.json"))
    assert [h["epoch"] for h in state["history"]] == [1, 2]
    assert os.path.exists(os.path.join(resumed_dir, "curves.png"))

    straight_dir, _ = fashionai.train(dict(tiny_config, epochs=2, output_dir=str(tmp_path / "straight")),
                                      progress=False, log=_quiet)
    import mxnet as mx
    a = mx.nd.load(saved_file(straight_dir, "last.params"))
    b = mx.nd.load(saved_file(resumed_dir, "last.params"))
    for k in a:
        np.testing.assert_allclose(a[k].asnumpy(), b[k].asnumpy(), rtol=1e-5, atol=1e-6, err_msg=k)


def test_existing_run_needs_resume_or_fresh(tiny_config):
    cfg = dict(tiny_config, epochs=1)
    run_dir, _ = fashionai.train(cfg, progress=False, log=_quiet)
    with pytest.raises(RunExistsError, match="--resume"):
        fashionai.train(cfg, progress=False, log=_quiet)
    # Mark the saved state: a fresh start must not read it, and (same seed, same split)
    # must train the one epoch again to the first run's numbers.
    state_path = os.path.join(run_dir, "state.json")
    first = checkpoint.load_json(state_path)
    checkpoint.save_json(state_path, dict(first, history=[dict(first["history"][0], train_loss=123.0)]))
    fashionai.train(cfg, fresh=True, progress=False, log=_quiet)
    again = checkpoint.load_json(state_path)["history"]
    assert [h["epoch"] for h in again] == [1]
    assert again[0]["train_loss"] == pytest.approx(first["history"][0]["train_loss"], rel=1e-5)
    assert again[0]["val_map"] == pytest.approx(first["history"][0]["val_map"])


def test_missing_images_are_counted_and_listed(tiny_config):
    root = tiny_config["data_root"]
    victim = os.path.join(root, "Images/bar_length/train_0_0.jpg")
    os.remove(victim)
    with open(os.path.join(root, "Images/bar_length/train_1_0.jpg"), "wb") as f:
        f.write(b"not a jpeg")
    logs = []
    run_dir = tiny_config["output_dir"].format(task="bar_length")
    os.makedirs(run_dir, exist_ok=True)
    data = fashionai.prepare_data(dict(tiny_config), RunFolder(run_dir), progress=False, log=logs.append)
    assert any("2 images skipped" in line for line in logs)
    report = open(os.path.join(run_dir, "image_problems.csv")).read()
    assert "train_0_0.jpg,missing" in report and "train_1_0.jpg,undecodable" in report
    assert len(data.train_images) + len(data.val_images) == 58


def test_fresh_removes_everything_an_earlier_run_left(tiny_config):
    cfg = dict(tiny_config, epochs=1)
    run_dir, _ = fashionai.train(cfg, progress=False, log=_quiet)
    stale = os.path.join(run_dir, "swa.params")
    with open(stale, "w") as f:
        f.write("from an earlier run")
    fashionai.train(cfg, fresh=True, progress=False, log=_quiet)
    assert not os.path.exists(stale)
    assert os.path.exists(os.path.join(run_dir, "best.params"))
