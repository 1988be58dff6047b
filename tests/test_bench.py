"""``gluonfashion bench`` on a tiny config: the report's lines and the machine-readable
last line (figures are printed, never asserted: timings depend on the machine)."""
import math
import re

import mxnet as mx
import pytest
import yaml

from gluonfashion.speed.bench import Pair, final_lines, paired, run_bench, summarise
from gluonfashion.cli import main
from gluonfashion.models import fusion_available
from gluonfashion.serving.quantize import bench_quantizer
from gluonfashion.speed.naive_loop import default_threads

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
    # the last line repeats the report's own figures: the train ratio, the worst TTA's ratio
    printed = {name: float(re.search(r"ratio (\d+\.\d+)", next(l for l in lines if l.startswith(f"[bench] {name}")))[1])
               for name in ("train ", "predict none", "predict flip", "predict ten_crop")}
    assert train_ratio == printed.pop("train ") and predict_ratio == min(printed.values())
    assert peak == int(re.search(r"process (\d+) MB", next(l for l in lines if "peak resident memory" in l))[1])


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


def test_run_bench_predicts_through_int8_when_asked(tiny_config, tiny_fashionai):
    lines = []
    result = run_bench(tiny_config, str(tiny_fashionai / "Images"), batches=2, warmup=1, tta_modes=("none",),
                       repeat=1, log=lines.append, int8=bench_quantizer(tiny_config, calib_images=8))
    assert "prediction INT8, fused" in lines[0]
    assert result["predict_none"]["bound"] > 0 and LAST_LINE.match(lines[-1])
    # No fusion (and so no INT8) on a GPU; the context object needs no GPU to exist.
    assert fusion_available([mx.cpu()]) and not fusion_available([mx.cpu(), mx.gpu(0)])


def test_bench_without_a_config_says_that_config_is_required(capsys):
    assert main(["bench"]) == 2
    err = capsys.readouterr().err
    assert "bench needs --config" in err and "expected the same number" not in err


# ------------------------------------------------------------------ arithmetic, on known timings

def test_pair_medians_ratios_and_speedup_from_known_rates():
    # (images/s, CPU ms per image) of three rounds; each round ran bound, end to end, naive
    bounds = [(100.0, 10.0), (120.0, 9.0), (110.0, 11.0)]
    reals = [(90.0, 12.0), (114.0, 10.0), (99.0, 12.0)]
    naives = [(30.0, 20.0), (40.0, 18.0), (33.0, 25.0)]
    pair = Pair(bounds, reals, naives)
    assert pair.bound == 110.0 and pair.real == 99.0 and pair.naive == 33.0   # medians of the rates
    # per-round ratios 90/100 = 0.90, 114/120 = 0.95, 99/110 = 0.90 -> median 0.90
    assert pair.ratio == pytest.approx(0.90)
    # per-round speed-ups 90/30 = 3.0, 114/40 = 2.85, 99/33 = 3.0 -> median 3.0
    assert pair.speedup == pytest.approx(3.0)
    # CPU: median bound 10 ms, median end to end 12 ms -> 10/12
    assert pair.cpu_ratio == pytest.approx(10 / 12)
    # rounds where the median of ratios is not the ratio of medians:
    # speed-ups 100/50 = 2.0, 60/20 = 3.0, 90/20 = 4.5 -> 3.0; medians of rates 90/20 = 4.5
    pair = Pair([(1.0, 1.0)] * 3, [(100.0, 1.0), (60.0, 1.0), (90.0, 1.0)], [(50.0, 1.0), (20.0, 1.0), (20.0, 1.0)])
    assert pair.speedup == pytest.approx(3.0) and pair.real / pair.naive == pytest.approx(4.5)
    # the same for the ratio: 90/100 = 0.9, 40/50 = 0.8, 40/80 = 0.5 -> 0.8; medians of rates 40/80 = 0.5
    pair = Pair([(100.0, 1.0), (50.0, 1.0), (80.0, 1.0)], [(90.0, 1.0), (40.0, 1.0), (40.0, 1.0)])
    assert pair.ratio == pytest.approx(0.8) and pair.real / pair.bound == pytest.approx(0.5)
    assert Pair(bounds, reals).naive is None and "speedup" not in Pair(bounds, reals).as_dict()
    # the report line of the first pair: rates to 0.1, ratios to 0.001, CPU ms to 0.01
    assert Pair(bounds, reals, naives).line() == (
        "bound    110.0 img/s   end to end     99.0 img/s   ratio 0.900   | CPU/img  10.00 ->  12.00 ms (0.833)"
        "   | naive     33.0 img/s, speed-up 3.00x")


def test_paired_alternates_the_sides_and_the_baseline_round_by_round():
    calls = []

    def side(name, rate):
        return lambda: calls.append(name) or (rate, 1.0)
    pair = paired(2, side("bound", 100.0), side("real", 95.0), side("naive", 38.0))
    assert calls == ["bound", "real", "naive", "bound", "real", "naive"]
    assert pair.ratio == pytest.approx(0.95) and pair.speedup == pytest.approx(2.5)   # 95/38


def test_summary_takes_the_worst_tta_and_the_ten_crop_speedup():
    segments = {"train": {"ratio": 0.97, "speedup": 2.4},
                "predict_none": {"ratio": 0.95}, "predict_flip": {"ratio": 0.91},
                "predict_ten_crop": {"ratio": 0.99, "speedup": 3.2}}
    summary = summarise(segments)
    assert summary == {"train_ratio": 0.97, "predict_ratio": 0.91, "train_speedup": 2.4, "predict_speedup": 3.2}
    lines = final_lines(dict(summary, peak_rss_mb=654))
    assert lines == ["train_speedup=2.40 predict_speedup=3.20", "train_ratio=0.970 predict_ratio=0.910 peak_rss_mb=654"]
    assert LAST_LINE.match(lines[-1])
    # no baseline: only the ratios line; ten-crop not measured: its speed-up is NaN
    assert final_lines({"train_ratio": 1.0, "predict_ratio": 0.9, "peak_rss_mb": 1}) == [
        "train_ratio=1.000 predict_ratio=0.900 peak_rss_mb=1"]
    assert math.isnan(summarise({"train": {"ratio": 1.0, "speedup": 2.0}, "predict_flip": {"ratio": 0.9}})
                      ["predict_speedup"])


def test_mxnet_default_threads_are_half_the_logical_processors_at_least_one():
    assert [default_threads(n) for n in (1, 2, 3, 8, 64)] == [1, 1, 1, 4, 32]


def test_run_bench_with_the_naive_baseline(tiny_config, tiny_fashionai):
    cfg = dict(tiny_config, workers=1, batch_size=8)
    lines = []
    result = run_bench(cfg, str(tiny_fashionai / "Images"), batches=2, warmup=1, tta_modes=("ten_crop",),
                       repeat=1, log=lines.append, baseline=True)
    assert result["train"]["naive"] > 0 and result["predict_ten_crop"]["naive"] > 0
    assert result["train_speedup"] == pytest.approx(result["train"]["real"] / result["train"]["naive"])
    assert any("naive baseline in its own process: operator threads" in l for l in lines)
    assert re.match(r"^train_speedup=\d+\.\d\d predict_speedup=\d+\.\d\d$", lines[-2]), lines[-2]
    assert LAST_LINE.match(lines[-1])
