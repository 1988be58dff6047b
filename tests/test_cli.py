"""CLI smoke tests: the verbs run in-process on tiny data; errors are clear."""
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from gluonfashion import checkpoint, metrics
from gluonfashion.cli import main
from gluonfashion.data.fashionai import read_label_file, read_predictions


def _task_yaml(tmp_path, tiny_config):
    """A task config for a task name the kit has never seen, with a profile file."""
    keep = ("data_root", "model", "pretrained", "allow_random_init", "image_size", "resize_short",
            "crop_scale", "batch_size", "optimizer", "lr", "lr_schedule", "workers", "devices",
            "tta", "output_dir", "submission_dir", "answers_file")
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump({k: tiny_config[k] for k in keep}))
    task = tmp_path / "bar_length.yaml"
    task.write_text(yaml.safe_dump({"task": "bar_length", "epochs": 2,
                                    "value_names": ["short", "medium", "long"]}))
    return str(task)


def _table_row(printed, task):
    """``(n, mAP, BasicPrecision)`` of ``task``'s row in the printed evaluation table."""
    row = next(line for line in printed.splitlines() if line.startswith(f"| {task} "))
    fields = [f.strip() for f in row.strip("|").split("|")]
    return int(fields[1]), float(fields[2]), float(fields[3])


def test_train_predict_merge_evaluate_verbs(tiny_config, tmp_path, capsys):
    cfg = _task_yaml(tmp_path, tiny_config)
    common = ["--config", cfg, "--profile", "demo"]
    assert main(["train", *common, "--quiet"]) == 0
    run_dir = tiny_config["output_dir"].format(task="bar_length")
    best = checkpoint.load_json(os.path.join(run_dir, "best.json"))
    shown = ", ".join(f"{k[4:]} {v:.4f}" for k, v in best["metrics"].items() if k.startswith("val_"))
    assert f"best epoch {best['epoch']} ({shown}) -> {run_dir}" in capsys.readouterr().out   # the saved best
    assert [h["epoch"] for h in checkpoint.load_json(os.path.join(run_dir, "state.json"))["history"]] == [1, 2]
    assert main(["train", *common, "--quiet"]) == 2          # existing run, no --resume/--fresh
    assert "--resume" in capsys.readouterr().err
    # a resume with settings that change the result is refused, naming what changed
    assert main(["train", *common, "--resume", "--quiet", "--set", "epochs=3"]) == 2
    assert "epochs changed (e.g. epochs: 2 -> 3)" in capsys.readouterr().err
    assert main(["train", *common, "--resume", "--quiet", "--set", "workers=1"]) == 0   # runtime only
    assert main(["predict", *common, "--quiet", "--tta", "ten_crop"]) == 0
    sub_dir = tiny_config["submission_dir"]
    predicted = read_predictions(os.path.join(sub_dir, "bar_length.csv"))
    out = os.path.join(sub_dir, "submission.csv")
    assert main(["merge", *common, "--pred-dir", sub_dir, "--out", out]) == 0
    merged = read_predictions(out)
    answers = read_label_file(os.path.join(tiny_config["data_root"], "answers.csv"))
    assert [r[0] for r in merged] == [a.rel_path for a in answers]           # question order
    np.testing.assert_allclose([r[2] for r in merged], [r[2] for r in predicted])
    assert main(["evaluate", *common, "--submission", out]) == 0
    probs, labels = np.stack([r[2] for r in merged]), [a.label for a in answers]
    n, ap, accuracy = _table_row(capsys.readouterr().out, "bar_length")
    assert n == 18 and ap == pytest.approx(metrics.fashionai_ap(probs, labels), abs=5e-5)
    assert accuracy == pytest.approx(metrics.basic_precision(probs, labels), abs=5e-5)


def test_evaluate_verb_on_a_hand_made_submission(tiny_fashionai, tmp_path, capsys):
    # The 18 answer rows list the 6 images of value 0 first. Answer every row with value
    # 0, less sure row after row (0.95, 0.93, ..., 0.61): the ranking is the file order,
    # hits at ranks 1..6, then 12 misses. precision@k = 1 for k <= 6, 6/k after:
    # mAP = (6 + 6 (1/7 + ... + 1/18)) / 18 = 0.6817; BasicPrecision 6/18.
    answers = read_label_file(str(tiny_fashionai / "answers.csv"))
    assert [a.label for a in answers] == [0] * 6 + [1] * 6 + [2] * 6
    lines = []
    for r, a in enumerate(answers):
        c = 0.95 - 0.02 * r
        lines.append(f"{a.rel_path},bar_length,{c:.6f};{(1 - c) / 2:.6f};{(1 - c) / 2:.6f}")
    (tmp_path / "sub.csv").write_text("\n".join(lines) + "\n")
    assert main(["evaluate", "--submission", str(tmp_path / "sub.csv"),
                 "--answers", str(tiny_fashionai / "answers.csv")]) == 0
    n, ap, accuracy = _table_row(capsys.readouterr().out, "bar_length")
    assert (n, ap, accuracy) == (18, 0.6817, 0.3333)
    assert (6 + 6 * sum(1 / k for k in range(7, 19))) / 18 == pytest.approx(0.6817, abs=5e-5)


def test_train_with_predict_writes_what_a_separate_predict_writes(tiny_config, tmp_path, capsys):
    """``train --predict`` predicts with the trained network in the same process (the
    run's weights loaded back into it); ``predict`` builds a new network from the saved
    weights: the same probabilities, and the validation probabilities too."""
    cfg = _task_yaml(tmp_path, tiny_config)
    common = ["--config", cfg, "--profile", "demo", "--quiet"]
    assert main(["train", *common, "--predict", "--set", "epochs=3"]) == 0   # best epoch may be < 3
    assert "best epoch" in capsys.readouterr().out
    in_training = read_predictions(os.path.join(tiny_config["submission_dir"], "bar_length.csv"))
    run_dir = tiny_config["output_dir"].format(task="bar_length")
    val_in_training = read_predictions(os.path.join(run_dir, "val_probs.csv"))
    assert len(in_training) == 18 and val_in_training

    assert main(["predict", *common, "--out", str(tmp_path / "separate")]) == 0
    separate = read_predictions(str(tmp_path / "separate" / "bar_length.csv"))
    assert [r[0] for r in separate] == [r[0] for r in in_training]
    np.testing.assert_allclose([r[2] for r in separate], [r[2] for r in in_training], atol=1e-5)
    from gluonfashion.families import get_family
    from gluonfashion.run_folder import RunFolder
    run = RunFolder(run_dir)
    fresh_net = run.load(log=lambda *_: None)
    fashionai = get_family("fashionai")
    data = fashionai.prepare_data(fresh_net.cfg, run, progress=False, log=lambda *_: None)
    val = fashionai.after_training(run, data, fresh_net, progress=False, log=lambda *_: None)
    np.testing.assert_allclose(val, [r[2] for r in val_in_training], atol=1e-5)


def test_bad_override_is_a_clear_error(capsys):
    assert main(["train", "--set", "optimiser=adam"]) == 2
    assert "unknown key 'optimiser'" in capsys.readouterr().err


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "gluonfashion", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for verb in ("demo-data", "download", "train", "predict", "merge", "evaluate"):
        assert verb in out.stdout


def test_demo_data_is_remade_only_when_out_of_date(tmp_path, capsys):
    tiny = ["demo-data", "--out", str(tmp_path), "--train-per-value", "1", "--test-per-value", "1",
            "--image-size", "48", "--jd-train", "12", "--jd-test", "3", "--df-train", "4", "--df-val", "2",
            "--df-test", "2", "--df-image-size", "64", "--quiet"]
    assert main(tiny) == 0
    assert "up to date" not in capsys.readouterr().out
    label = tmp_path / "fashionai" / "Annotations" / "label.csv"
    fetched = tmp_path / "jd" / "images" / "old.jpg"      # a download from the earlier dataset
    fetched.parent.mkdir()
    fetched.write_bytes(b"x")
    made = label.stat().st_mtime_ns

    assert main(tiny) == 0                                  # same generator, same parameters
    assert capsys.readouterr().out.count("up to date") == 3   # FashionAI, JD, DeepFashion
    assert label.stat().st_mtime_ns == made and fetched.exists()

    assert main([*tiny, "--force"]) == 0                    # remade; stale downloads removed
    assert "up to date" not in capsys.readouterr().out
    assert label.stat().st_mtime_ns != made and not fetched.exists()

    assert main([*tiny[:-1], "--seed", "1", "--family", "fashionai", "--quiet"]) == 0   # new parameters
    assert "up to date" not in capsys.readouterr().out
