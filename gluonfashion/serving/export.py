"""``gluonfashion export``: a trained run as files that run without the kit.

``mxnet``: ``model-symbol.json`` + ``model-0000.params``, loadable with
``mxnet.gluon.SymbolBlock.imports("model-symbol.json", ["data"], "model-0000.params")``;
``onnx``: ``model.onnx`` through MXNet's own exporter (``onnx_format``). Both take
uint8 RGB batches ``(N, H, W, 3)`` (any N), normalise inside and return probabilities;
``int8``: the MXNet graph quantized by oneDNN (``quantize``), calibrated on the run's
validation images.

``manifest.json`` says how to prepare an image and read the output (classes, the JD
thresholds), where the weights came from, and what the export's own check found: the
written files are loaded back and run on the run's validation images, against the kit's
prediction of the same images (float32: at most ``TOLERANCE`` apart, else the export
fails; INT8: how often the labels agree).
"""
import os
import tempfile
import warnings

import mxnet as mx
import numpy as np

from .. import checkpoint
from ..families import family_of
from ..objectives import objective_class
from ..run_folder import RunFolder
from .graph import INPUT_NAME, ServedNet, image_batches, label_agreement, probabilities, reference_images
from .onnx_format import onnx_predictor, require_onnx, write_onnx
from .quantize import quantize

FORMATS = ("mxnet", "onnx")
MANIFEST = "manifest.json"
PREFIX = "model"
TOLERANCE = 1e-4     # float32: largest difference in probability from the kit's own prediction


def export_run(run_dir, fmt, out_dir, int8=False, weights=None, check_images=64, calib_mode="naive", log=print):
    """Write the run's network in ``fmt`` with ``manifest.json`` into ``out_dir``;
    returns the manifest. ``check_images``: how many validation images check the export
    (and calibrate INT8)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if int8 and fmt == "onnx":
        raise ValueError("--int8 quantizes the MXNet graph with oneDNN operators, which MXNet's ONNX exporter "
                         "cannot translate: use --format mxnet --int8 (or quantize the float32 ONNX file with "
                         "onnxruntime.quantization)")
    if fmt == "onnx":
        require_onnx()        # before any work
    run = RunFolder(run_dir)
    which = run.weights_for_prediction(weights)
    loaded = run.load(which, devices="cpu", log=lambda *a: None)
    images = reference_images(run, check_images)
    batches = image_batches(loaded.cfg, images)
    kit = run.predict_images(images, "none", loaded, progress=False)
    served = ServedNet.of(loaded)
    served(batches[0]).wait_to_read()          # the graph is traced before it is exported
    facts = None
    if int8:
        served, facts = quantize(served, batches, calib_mode, log)
    os.makedirs(out_dir, exist_ok=True)
    files = write_mxnet(served, out_dir) if fmt == "mxnet" else _write_onnx(served, loaded.cfg["image_size"], out_dir)
    exported = probabilities(load_exported(out_dir, fmt, files), batches)
    check = _check(kit, exported, int8, family_of(loaded.cfg), run, out_dir)
    manifest = _manifest(run, loaded, which, fmt, files, facts, check)
    checkpoint.save_json(os.path.join(out_dir, MANIFEST), manifest)
    log(f"[export] {fmt}{' INT8' if int8 else ''}: {', '.join(files.values())} + {MANIFEST} -> {out_dir} "
        f"(check on {check['images']} validation images: " + (
            f"labels agree on {check['label_agreement']:.1%}" if int8 else
            f"max probability difference {check['max_abs_diff']:.1e}") + ")")
    return manifest


def write_mxnet(block, out_dir):
    """``{"symbol": ..., "params": ...}`` file names of ``block`` exported into ``out_dir``."""
    block.export(os.path.join(out_dir, PREFIX))
    return {"symbol": f"{PREFIX}-symbol.json", "params": f"{PREFIX}-0000.params"}


def _write_onnx(block, image_size, out_dir):
    with tempfile.TemporaryDirectory() as tmp:
        mx_files = write_mxnet(block, tmp)
        write_onnx(os.path.join(tmp, mx_files["symbol"]), os.path.join(tmp, mx_files["params"]), image_size,
                   os.path.join(out_dir, f"{PREFIX}.onnx"))
    return {"onnx": f"{PREFIX}.onnx"}


def load_exported(out_dir, fmt, files):
    """``batch -> probabilities`` of exported files, loaded as a user would (no kit code)."""
    if fmt == "onnx":
        return onnx_predictor(os.path.join(out_dir, files["onnx"]))
    with warnings.catch_warnings():      # "Cannot decide type for data": it is given at the first call
        warnings.simplefilter("ignore", UserWarning)
        return mx.gluon.SymbolBlock.imports(os.path.join(out_dir, files["symbol"]), [INPUT_NAME],
                                            os.path.join(out_dir, files["params"]), ctx=mx.cpu())


def _check(kit, exported, int8, family, run, out_dir):
    diff = float(np.abs(exported - kit).max())
    check = {"images": len(kit), "max_abs_diff": diff}
    if int8:
        return dict(check, label_agreement=label_agreement(family, run, kit, exported))
    if not diff <= TOLERANCE:
        raise RuntimeError(f"{out_dir}: the exported model's probabilities differ from the run's by up to "
                           f"{diff:.2e} (more than {TOLERANCE:g}) on {len(kit)} validation images")
    return check


def _manifest(run, loaded, which, fmt, files, int8_facts, check):
    cfg, record = loaded.cfg, loaded.record
    side, crop = cfg["resize_short"], cfg["image_size"]
    manifest = {
        "format": fmt, "precision": "int8" if int8_facts else "float32", "files": files,
        "input": {"name": INPUT_NAME, "dtype": "uint8", "layout": "NHWC", "shape": ["batch", crop, crop, 3],
                  "preprocessing": f"decode as RGB; resize the shorter side to {side} px (OpenCV INTER_AREA when "
                                   f"shrinking, INTER_LINEAR when enlarging); crop the centre {crop}x{crop}; "
                                   f"no normalisation (the network normalises inside)"},
        "output": {"shape": ["batch", len(record["classes"])], "values": objective_class(record["problem"]).outputs},
        "family": cfg["family"], "task": cfg["task"], "classes": record["classes"],
        "source": {"run": os.path.abspath(run.path), "weights": which, "model": cfg["model"],
                   "epoch": record.get("epoch"), "metrics": record.get("metrics")},
        "versions": {"mxnet": mx.__version__, **({"onnx": require_onnx().__version__} if fmt == "onnx" else {})},
        "check": check,
    }
    if run.has(RunFolder.THRESHOLDS):
        manifest["thresholds"] = run.read_json(RunFolder.THRESHOLDS)
    if int8_facts:
        manifest["int8"] = int8_facts
    return manifest
