"""Export (MXNet, ONNX, INT8) and the predictor for any image, on one tiny trained run.

The exported files are loaded back the way a user without the kit would
(``SymbolBlock.imports``, ``onnxruntime``) and fed images prepared by the manifest's
recipe written out here with OpenCV, not by the kit's loader: the parity checks test
the manifest as well as the graph.
"""
import csv
import json
import os

import cv2
import mxnet as mx
import numpy as np
import pytest
from PIL import Image

from conftest import bar_image, write_csv
from gluonfashion import checkpoint
from gluonfashion.cli import main
from gluonfashion.config import load_config
from gluonfashion.families import get_family
from gluonfashion.run_folder import RunFolder
from gluonfashion.serving import Predictor
from gluonfashion.serving.export import export_run


def _quiet(*_):
    pass


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 3-value bar-length task (48 px images), resnet18_v2 at 32 px trained 3 epochs
    (the recipe of conftest's ``tiny_config``, which beats chance)."""
    root = tmp_path_factory.mktemp("serving")
    rng = np.random.default_rng(0)
    rows = {"train": [], "test": []}
    for split, per_value in (("train", 20), ("test", 4)):
        for v in range(3):
            for i in range(per_value):
                rel = f"Images/bar_length/{split}_{v}_{i}.jpg"
                os.makedirs(root / "data/Images/bar_length", exist_ok=True)
                Image.fromarray(bar_image(v, 3, 48, rng)).save(root / "data" / rel, quality=95)
                rows[split].append([rel, "bar_length", "".join("y" if j == v else "n" for j in range(3))])
    write_csv(str(root / "data/Annotations/label.csv"), rows["train"])
    write_csv(str(root / "data/Tests/question.csv"), [[r[0], r[1], "?"] for r in rows["test"]])
    write_csv(str(root / "data/answers.csv"), rows["test"])
    cfg = load_config(None, [
        ("task", "bar_length"), ("data_root", str(root / "data")), ("answers_file", "answers.csv"),
        ("model", "resnet18_v2"), ("pretrained", False), ("allow_random_init", True), ("image_size", 32),
        ("resize_short", 36), ("crop_scale", [0.8, 1.0]), ("batch_size", 16), ("epochs", 3), ("optimizer", "adam"),
        ("lr", 0.003), ("lr_schedule", "cosine"), ("workers", 0), ("devices", "cpu"), ("tta", "flip"),
        ("val_fraction", 0.2),
        ("output_dir", str(root / "runs/{task}")), ("submission_dir", str(root / "submission"))], profile="demo")
    run_dir, _ = get_family("fashionai").train(cfg, progress=False, log=_quiet)
    test_images = [str(root / "data" / r[0]) for r in rows["test"]]
    return run_dir, test_images, root


def manifest_batch(manifest, paths):
    """The uint8 NHWC batch the manifest's words describe, made with OpenCV alone:
    RGB, shorter side resized (INTER_AREA when shrinking), centre crop."""
    side = int(manifest["input"]["preprocessing"].split("shorter side to ")[1].split(" px")[0])
    crop = manifest["input"]["shape"][1]
    out = []
    for path in paths:
        img = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
        h, w = img.shape[:2]
        scale = side / min(h, w)
        size = (max(side, round(w * scale)), max(side, round(h * scale)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA if size[0] * size[1] < h * w else cv2.INTER_LINEAR)
        y, x = (img.shape[0] - crop) // 2, (img.shape[1] - crop) // 2
        out.append(img[y:y + crop, x:x + crop])
    return np.stack(out)


def kit_probs(run_dir, images):
    """The kit's own prediction without test-time augmentation (what an export holds)."""
    return RunFolder(run_dir).predict_images(images, "none", progress=False)


def test_mxnet_export_loads_without_the_kit_and_matches_its_prediction(tiny_run, tmp_path):
    run_dir, images, _ = tiny_run
    manifest = export_run(run_dir, "mxnet", str(tmp_path), log=_quiet)
    assert manifest == checkpoint.load_json(str(tmp_path / "manifest.json"))
    assert manifest["classes"] == ["value_0", "value_1", "value_2"] and manifest["input"]["dtype"] == "uint8"
    assert manifest["check"]["max_abs_diff"] <= 1e-4
    block = mx.gluon.SymbolBlock.imports(str(tmp_path / "model-symbol.json"), ["data"],
                                         str(tmp_path / "model-0000.params"))
    batch = manifest_batch(manifest, images)
    probs = block(mx.nd.array(batch, dtype="uint8")).asnumpy()
    # The same probabilities as the kit's prediction of the image files, and they are
    # probabilities (softmax inside the graph: each row sums to 1).
    np.testing.assert_allclose(probs, kit_probs(run_dir, images), atol=1e-4)
    np.testing.assert_allclose(probs.sum(axis=1), np.ones(len(images)), atol=1e-5)
    # Any batch size: one image alone gives its row of the batch.
    np.testing.assert_allclose(block(mx.nd.array(batch[5:6], dtype="uint8")).asnumpy(), probs[5:6], atol=1e-5)


def test_onnx_export_runs_in_onnxruntime_with_any_batch_and_matches(tiny_run, tmp_path):
    import onnxruntime          # the `test` extra installs it (with onnx): no skip, a missing one fails
    run_dir, images, _ = tiny_run
    manifest = export_run(run_dir, "onnx", str(tmp_path), log=_quiet)
    assert manifest["files"] == {"onnx": "model.onnx"} and not (tmp_path / "model-symbol.json").exists()
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    (data,) = session.get_inputs()
    assert (data.name, data.type, data.shape) == ("data", "tensor(uint8)", ["batch", 32, 32, 3])
    batch = manifest_batch(manifest, images)
    probs = session.run(None, {"data": batch})[0]
    assert probs.shape == (12, 3)
    np.testing.assert_allclose(probs, kit_probs(run_dir, images), atol=1e-4)
    np.testing.assert_allclose(session.run(None, {"data": batch[:1]})[0], probs[:1], atol=1e-5)


def test_int8_export_is_quantized_and_agrees_with_float32(tiny_run, tmp_path):
    run_dir, images, _ = tiny_run
    manifest = export_run(run_dir, "mxnet", str(tmp_path), int8=True, log=_quiet)
    assert manifest["precision"] == "int8" and manifest["int8"]["calibration_images"] == 12   # all val: 60 x 0.2
    graph = (tmp_path / "model-symbol.json").read_text()
    assert '"quantized": "true"' in graph              # oneDNN INT8 convolutions, not float ones
    block = mx.gluon.SymbolBlock.imports(str(tmp_path / "model-symbol.json"), ["data"],
                                         str(tmp_path / "model-0000.params"))
    int8 = block(mx.nd.array(manifest_batch(manifest, images), dtype="uint8")).asnumpy()
    float32 = kit_probs(run_dir, images)
    assert len(set(float32.argmax(1))) == 3           # the network tells the values apart: agreement means something
    agreement = float(np.mean(int8.argmax(1) == float32.argmax(1)))
    # Measured: the INT8 argmax agrees with float32 on 12 of 12 test images (probabilities
    # differ by 0.010 on average, 0.043 at most); allow one disagreement in twelve.
    assert agreement >= 11 / 12, agreement
    assert 0 < np.abs(int8 - float32).max() < 0.2      # quantized (not identical), yet close


def test_onnx_int8_is_refused_with_the_reason(tiny_run, tmp_path, capsys):
    run_dir, _, _ = tiny_run
    assert main(["export", "--run", run_dir, "--format", "onnx", "--int8", "--out", str(tmp_path)]) == 2
    assert "use --format mxnet --int8" in capsys.readouterr().err
    assert not os.listdir(tmp_path)


def test_predictor_api_on_files_and_a_folder(tiny_run, tmp_path):
    run_dir, images, root = tiny_run
    folder = tmp_path / "photos"
    os.makedirs(folder / "sub")
    for i, path in enumerate(images[:3]):
        (folder / "sub" / f"{i}.jpg").write_bytes(open(path, "rb").read())
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("not an image")
    predictions = Predictor.from_run(run_dir, log=_quiet).predict([images[5], str(folder)])
    # the file, then the folder's images sorted (broken.jpg first, skipped), notes.txt ignored
    expected = [images[5]] + [str(folder / "sub" / f"{i}.jpg") for i in range(3)]
    assert predictions.images == expected
    assert predictions.skipped == [(str(folder / "broken.jpg"), predictions.skipped[0][1])]
    # the run's own prediction path (its flip TTA) on the same files
    np.testing.assert_allclose(predictions.probs, RunFolder(run_dir).predict_images(expected, progress=False),
                               atol=1e-6)
    first = predictions.probs[0]
    order = np.argsort(-first)
    assert predictions.labels[0] == {"bar_length": [(f"value_{j}", float(first[j])) for j in order]}
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        Predictor.from_run(run_dir, log=_quiet).predict([str(tmp_path / "missing.jpg")])


def test_fashionai_image_labels_are_the_top_values():
    class Run:
        def record(self):
            return {"classes": ["x", "y", "z"], "config": {"task": "sleeve"}}
    labels = get_family("fashionai").image_labels(np.array([[0.2, 0.5, 0.3]]), Run(), top=2)
    assert labels == [{"sleeve": [("y", 0.5), ("z", 0.3)]}]


def test_jd_image_labels_are_the_styles_over_the_run_thresholds(tmp_path):
    run = RunFolder(str(tmp_path))
    run.write_json(RunFolder.BEST_RECORD, {"classes": ["a", "b", "c"],
                                           "config": {"min_positive": 1, "max_positive": 2}})
    run.write_json(RunFolder.THRESHOLDS, {"thresholds": [0.5, 0.3, 0.9]})
    probs = np.array([[0.6, 0.4, 0.95], [0.1, 0.2, 0.3]])
    # Row 0: all three pass their thresholds; at most 2 are kept, by margin p - t
    # (a 0.1, b 0.1, c 0.05): c goes. Row 1: none passes; at least 1: the best margin
    # (a -0.4, b -0.1, c -0.6) is b.
    assert get_family("jd").image_labels(probs, run) == [{"styles": [("a", 0.6), ("b", 0.4)]},
                                                         {"styles": [("b", 0.2)]}]


def test_predict_verb_with_images_prints_and_saves(tiny_run, tmp_path, capsys):
    run_dir, images, _ = tiny_run
    out = str(tmp_path / "predictions.csv")
    assert main(["predict", "--run", run_dir, "--images", images[0], images[7], "--top", "2", "--save", out,
                 "--quiet"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("[predict] 2 images, tta=flip")
    assert printed[1].startswith(f"{images[0]}  bar_length: value_") and printed[1].count("value_") == 2
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["image", "labels", "value_0", "value_1", "value_2"]
    assert [r[0] for r in rows[1:]] == [images[0], images[7]]
    probs = np.array([[float(p) for p in r[2:]] for r in rows[1:]])
    np.testing.assert_allclose(probs, RunFolder(run_dir).predict_images([images[0], images[7]], progress=False),
                               atol=1e-6)
    assert main(["predict", "--run", run_dir, "--images", images[0], "--save", str(tmp_path / "p.json"),
                 "--quiet"]) == 0
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved["predictions"][0]["image"] == images[0] and len(saved["predictions"][0]["labels"]["bar_length"]) == 3
    with pytest.raises(SystemExit):      # rows from a question file or image files, not both
        main(["predict", "--run", run_dir, "--images", images[0], "--question", "q.csv"])


def test_bench_int8_reports_speed_and_score_change(tiny_run, capsys):
    run_dir, _, _ = tiny_run
    assert main(["bench", "--run", run_dir, "--int8", "--tta", "ten_crop", "--batches", "2", "--warmup", "1",
                 "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    last = dict(item.split("=") for item in out.strip().splitlines()[-1].split())
    assert float(last["int8_speedup"]) > 0 and float(last["int8_speedup_over_fused"]) > 0
    # The float32 column is the run's own score of its validation and test images with
    # the TTA asked for (ten-crop), which differs here from the run's default (flip).
    family, run = get_family("fashionai"), RunFolder(run_dir)
    sets = family.eval_sets(run)

    def scores(tta):
        probs = {name: run.predict_images(s.images, tta, progress=False) for name, s in sets.items()}
        return family.score(probs["val"], sets["val"].truth, probs["test"], sets["test"].truth)

    expected = scores("ten_crop")
    assert expected != scores("flip")
    for key, value in expected.items():
        assert f"| {key} | {value:.4f} |" in out, key
