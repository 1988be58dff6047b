"""Worked solutions to the exercises at the end of 08_production.ipynb.

    python tutorial/solutions/08_production.py                      # about a minute, with notebook 02's run
    GLUONFASHION_FAST=1 python tutorial/solutions/08_production.py  # tiny data, one epoch

The run is notebook 02's low-data run (runs/tutorial/low_data/full/seed0), trained
first when it is not there; it is exported again into runs/tutorial/export/ (the
notebook's files, the same content), and the images are its 600 test drawings.
"""
import os
import statistics
import time

import cv2
import mxnet as mx
import numpy as np
import onnxruntime
from skimage import data as photos

from gluonfashion import analysis
from gluonfashion.config import load_config
from gluonfashion.run_folder import RunFolder
from gluonfashion.serving.export import export_run
from gluonfashion.serving.graph import ServedNet, image_batches, probabilities
from gluonfashion.serving.quantize import quantize

TASK = "skirt_length_labels"
LOW_DATA = {"train_per_value": 10, "test_per_value": 100}                # as in notebook 02
LOW_DATA_SETTINGS = {"val_fraction": 0.25, "epochs": 16, "workers": 0}   # as in notebook 02
OTHER_TASKS = ("pant_length_labels", "coat_length_labels")               # as in notebook 08, section 4
PHOTOS = ("chelsea", "coffee", "astronaut", "camera", "rocket")


def quiet(*args):
    pass


def runtime_speeds(export_dir, batch, rounds=5, calls=10):
    """Exercise 1: images/s of one uint8 batch through ONNX Runtime and through the
    exported MXNet graph, as loaded and fused by oneDNN; medians over ``rounds`` in
    which the three take turns (``calls`` batches each)."""
    def imported():
        return mx.gluon.SymbolBlock.imports(os.path.join(export_dir, "mxnet", "model-symbol.json"), ["data"],
                                            os.path.join(export_dir, "mxnet", "model-0000.params"), ctx=mx.cpu())

    plain, fused = imported(), imported()
    fused.hybridize(backend="MKLDNN", static_alloc=True, static_shape=True)
    session = onnxruntime.InferenceSession(os.path.join(export_dir, "onnx", "model.onnx"),
                                           providers=["CPUExecutionProvider"])
    on_device = mx.nd.array(batch, dtype="uint8")
    runners = {"MXNet, as loaded": lambda: plain(on_device).asnumpy(),
               "MXNet, fused (oneDNN)": lambda: fused(on_device).asnumpy(),
               "ONNX Runtime": lambda: session.run(None, {"data": batch})[0]}
    outputs = {name: run() for name, run in runners.items()}          # warm-up: graphs traced, memory planned
    reference = outputs["MXNet, as loaded"]
    assert all(np.abs(out - reference).max() < 1e-4 for out in outputs.values())   # the same network
    rates = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            for _ in range(calls):
                run()
            rates[name].append(calls * len(batch) / (time.perf_counter() - start))
    speeds = {name: statistics.median(r) for name, r in rates.items()}
    print(f"Exercise 1: batches of {len(batch)} in memory, medians of {rounds} rounds of {calls} batches:")
    for name, speed in speeds.items():
        print(f"  {name:24s} {speed:7.1f} img/s")
    return speeds


def nearest_cosine_distance(queries, references):
    """Per query row, 1 - the cosine similarity to its most similar reference row."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    r = references / np.linalg.norm(references, axis=1, keepdims=True)
    return 1.0 - (q @ r.T).max(axis=1)


def pooled_features(loaded, paths):
    """``(N, D)`` pooled backbone features of image files, as the network sees them."""
    net = loaded.net
    parts = [net.features(net.preprocess(batch)).reshape((batch.shape[0], -1)).asnumpy()
             for batch in image_batches(loaded.cfg, paths)]
    return np.concatenate(parts)


def distance_gate(run_dir, sets, others):
    """Exercise 2: refuse images farther from every training drawing than the farthest
    validation drawing; how many test drawings and other images (``{kind: paths}``) it
    refuses."""
    run = RunFolder(run_dir)
    loaded = run.load(devices="cpu", log=quiet)
    train = [os.path.join(loaded.cfg["data_root"], rel) for rel in run.read_json(run.SPLIT)["train"]]
    reference = pooled_features(loaded, train)
    groups = {"val": sets["val"].images, "test": sets["test"].images, **others}
    distance = {name: nearest_cosine_distance(pooled_features(loaded, paths), reference)
                for name, paths in groups.items()}
    threshold = distance["val"].max()
    refused = {name: int((d > threshold).sum()) for name, d in distance.items()}
    print(f"Exercise 2: {len(train)} training drawings, {reference.shape[1]} features each; threshold "
          f"{threshold:.3f} (the farthest of {len(distance['val'])} validation drawings)")
    for name in ["test"] + list(others):
        print(f"  {name + (' drawings' if name == 'test' else ''):16s} refused {refused[name]:3d} of "
              f"{len(distance[name]):3d}; distance median {np.median(distance[name]):.3f}, "
              f"smallest {distance[name].min():.3f}")
    return refused, threshold


def calibration_choices(run_dir, sets, skip=()):
    """Exercise 3: test labels (no TTA) that INT8 changes, per calibration set and method
    (``skip``: ``(set, method)`` pairs left out; entropy calibration takes the longest)."""
    run = RunFolder(run_dir)
    cfg = run.config()
    train = [os.path.join(cfg["data_root"], rel) for rel in run.read_json(run.SPLIT)["train"]]
    test_batches = image_batches(cfg, sets["test"].images)
    float_labels = probabilities(ServedNet.of(run.load(devices="cpu", log=quiet)), test_batches).argmax(axis=1)
    changed = {}
    for source, paths in (("validation", sets["val"].images), ("training", train)):
        for mode in ("naive", "entropy"):
            if (source, mode) in skip:
                continue
            served = ServedNet.of(run.load(devices="cpu", log=quiet))
            qnet, _ = quantize(served, image_batches(cfg, paths), mode, log=quiet)
            labels = probabilities(qnet, test_batches).argmax(axis=1)
            changed[(source, mode)] = int((labels != float_labels).sum())
    print(f"Exercise 3: test labels (of {len(float_labels)}, no TTA) that INT8 changes:")
    for (source, mode), n in changed.items():
        images = len(sets["val"].images) if source == "validation" else len(train)
        print(f"  calibrated on {images:3d} {source} drawings, {mode:7s}: {n:3d} ({n / len(float_labels):.1%})")
    return changed


def other_images(env, folder):
    """The images of the notebook's section 4 that are no skirt drawings, by kind: five
    photographs, and one test drawing per value of each other task."""
    os.makedirs(folder, exist_ok=True)
    groups = {"photos": []}
    for name in PHOTOS:
        photo = getattr(photos, name)()
        groups["photos"].append(os.path.join(folder, f"{name}.jpg"))
        cv2.imwrite(groups["photos"][-1], photo if photo.ndim == 2 else photo[:, :, ::-1])
    for task in OTHER_TASKS:
        cfg = load_config(f"configs/fashionai/{task}.yaml", [("data_root", env.low_data_demo(task, 1, 1))],
                          profile="demo")
        groups[task.split("_")[0] + " drawings"] = list(analysis.test_set(cfg).images)
    return groups


def main():
    env = analysis.notebook_setup(fashionai_root=None, need=())
    data_root = env.low_data_demo(TASK, **LOW_DATA)
    cfg = load_config(f"configs/fashionai/{TASK}.yaml", env.config_overrides(
        data_root=data_root, seed=0, output_dir=os.path.join(env.runs_dir, "low_data", "full", "seed0"),
        **LOW_DATA_SETTINGS), profile="demo")
    run_dir, _ = analysis.train_or_reuse(cfg, log=quiet)
    sets = analysis.run_eval_sets(run_dir)
    export_dir = os.path.join(env.runs_dir, "export")
    for fmt in ("mxnet", "onnx"):
        export_run(run_dir, fmt, os.path.join(export_dir, fmt), log=quiet)

    batch = np.concatenate([b.asnumpy() for b in image_batches(cfg, sets["test"].images[:32])])
    batch = np.resize(batch, (32,) + batch.shape[1:])        # 32 images even in fast mode (repeated)
    speeds = runtime_speeds(export_dir, batch, rounds=1 if env.fast else 5, calls=2 if env.fast else 10)
    assert set(speeds) == {"MXNet, as loaded", "MXNet, fused (oneDNN)", "ONNX Runtime"}

    # by hand: references (1, 0) and (0, 1); (1, 1) is 45 degrees from both: 1 - cos 45 = 0.2929;
    # (2, 0) points like (1, 0): 0; (-1, 0) is 90 degrees from (0, 1), its nearest: 1
    by_hand = nearest_cosine_distance(np.array([[1.0, 1.0], [2.0, 0.0], [-1.0, 0.0]]), np.eye(2))
    assert np.allclose(by_hand, [1 - np.sqrt(0.5), 0.0, 1.0])
    others = other_images(env, os.path.join(export_dir, "photos"))
    refused, _ = distance_gate(run_dir, sets, others)
    assert refused["val"] == 0                               # the threshold keeps every validation drawing

    changed = calibration_choices(run_dir, sets, skip=[("training", "entropy")] if env.fast else [])
    assert all(0 <= n <= len(sets["test"].images) for n in changed.values())


if __name__ == "__main__":
    main()
