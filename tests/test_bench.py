"""``gluonfashion bench`` on a tiny config: the report's lines and the machine-readable
last line (figures are printed, never asserted: timings depend on the machine)."""
import re

import yaml

from gluonfashion.bench import run_bench
from gluonfashion.cli import main

LAST_LINE = re.compile(r"^train_ratio=(\d+\.\d+) predict_ratio=(\d+\.\d+) peak_rss_mb=(\d+)$")


def _task_yaml(tmp_path, tiny_config):
    keep = ("data_root", "model", "pretrained", "allow_random_init", "image_size", "resize_short",
            "crop_scale", "batch_size", "optimizer", "lr", "lr_schedule", "workers", "devices", "tta")
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump({k: tiny_config[k] for k in keep}))
    task = tmp_path / "bar_length.yaml"
    task.write_text(yaml.safe_dump({"task": "bar_length"}))
    return str(task)


def test_bench_cli_prints_every_figure_and_a_parseable_last_line(tiny_config, tmp_path, capsys):
    config = _task_yaml(tmp_path, tiny_config)
    assert main(["bench", "--config", config, "--profile", "demo", "--batches", "2", "--warmup", "1",
                 "--repeat", "1", "--set", "batch_size=8"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("[bench] resnet18_v2 at 32 px, batch 8")
    for name in ("train ", "predict none", "predict flip", "predict ten_crop"):
        line = next(l for l in lines if l.startswith(f"[bench] {name}"))
        assert "bound" in line and "end to end" in line and "ratio" in line
    assert any("peak resident memory" in l for l in lines)
    match = LAST_LINE.match(lines[-1])
    assert match, lines[-1]
    train_ratio, predict_ratio, peak = float(match[1]), float(match[2]), int(match[3])
    assert train_ratio > 0 and predict_ratio > 0 and peak > 0


def test_run_bench_with_process_workers_on_a_folder_of_jpegs(tiny_config, tiny_fashionai):
    cfg = dict(tiny_config, workers=1, batch_size=8)
    lines = []
    result = run_bench(cfg, str(tiny_fashionai / "Images"), batches=2, warmup=1, tta_modes=("flip",),
                       repeat=2, log=lines.append)
    assert set(result) >= {"train", "predict_flip", "train_ratio", "predict_ratio", "peak_rss_mb"}
    assert result["predict_ratio"] == result["predict_flip"]["ratio"]
    assert result["workers_peak_rss_mb"] > 0      # the worker process was seen
    assert "1 process workers" in lines[0]
    assert LAST_LINE.match(lines[-1])


def test_bench_without_a_config_says_that_config_is_required(capsys):
    assert main(["bench"]) == 2
    err = capsys.readouterr().err
    assert "bench needs --config" in err and "expected the same number" not in err
