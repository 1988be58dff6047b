"""INT8 post-training quantization through MXNet's oneDNN backend
(``mx.contrib.quantization.quantize_net_v2``), calibrated on real images.

Calibration runs the float32 network over the images and records the range of every
quantized layer's output (``naive``: min/max; ``entropy``: the threshold that keeps the
KL divergence to the float32 distribution smallest), so no range is computed at
prediction time. ``quantized_dtype="auto"`` gives uint8 after ReLU and int8 where values
can be negative; where MXNet 1.9.1 cannot run that mix (MobileNetV3's hard swish fails
with an int8/uint8 type mismatch), the network is quantized to int8 throughout instead.
"""
import warnings

import mxnet as mx
from mxnet.contrib.quantization import quantize_net_v2

from ..models import hybridize
from .graph import image_batches, reference_images

CALIB_MODES = ("naive", "entropy")


def quantize(net, batches, calib_mode="naive", log=print):
    """``(INT8 SymbolBlock, facts)`` of ``net`` (a HybridBlock on uint8 NHWC batches,
    parameters on the CPU), calibrated on ``batches`` (uint8 NDArrays). ``facts``: the
    calibration mode, images and dtype, for the export manifest and the bench."""
    if calib_mode not in CALIB_MODES:
        raise ValueError(f"calibration must be one of {', '.join(CALIB_MODES)}; got {calib_mode!r}")
    if not batches:
        raise ValueError("INT8 calibration needs at least one batch of images")
    n_images = sum(b.shape[0] for b in batches)
    try:
        for dtype in ("auto", "int8"):
            with warnings.catch_warnings():     # "Cannot decide type for data": given at the first call
                warnings.simplefilter("ignore", UserWarning)
                qnet = quantize_net_v2(net, quantized_dtype=dtype, calib_mode=calib_mode,
                                       calib_data=[[b] for b in batches], num_calib_examples=n_images,
                                       ctx=mx.cpu(), logger=None)   # a logger turns on MXNet's verbose log for good
            hybridize(qnet)
            try:
                qnet(batches[0]).wait_to_read()
            except mx.base.MXNetError as exc:
                if dtype == "int8":
                    raise RuntimeError(f"MXNet cannot run this network quantized to INT8: "
                                       f"{str(exc).strip().splitlines()[-1]}") from None
                log(f"[int8] uint8/int8 mix not supported for this network "
                    f"({str(exc).strip().splitlines()[-1][:120]}); quantizing to int8 throughout")
                continue
            return qnet, {"backend": "oneDNN", "calibration": calib_mode, "calibration_images": n_images,
                          "quantized_dtype": dtype}
    finally:
        hybridize(net)   # quantize_net_v2 re-hybridizes its input without static allocation


def quantize_loaded(run, loaded, calib_images=64, calib_mode="naive", log=print):
    """``(LoadedRun, facts)``: ``loaded`` (a ``RunFolder.load`` of ``run`` on the CPU)
    predicting through its INT8 network, calibrated on up to ``calib_images`` of the
    run's validation images, spread over the set (``graph.reference_images``)."""
    qnet, facts = quantize(loaded.net, image_batches(loaded.cfg, reference_images(run, calib_images)),
                           calib_mode, log)
    return loaded._replace(net=qnet), facts


def load_int8(run, weights=None, calib_images=64, calib_mode="naive", log=print):
    """``run`` (a ``RunFolder``) loaded on the CPU with its ``weights`` and quantized
    (``quantize_loaded``), for prediction; logs how it was quantized."""
    loaded, facts = quantize_loaded(run, run.load(weights, "cpu", log=log), calib_images, calib_mode, log)
    log(f"[predict] INT8 (oneDNN, {facts['quantized_dtype']}; {facts['calibration']} calibration on "
        f"{facts['calibration_images']} images)")
    return loaded


def bench_quantizer(cfg, calib_images=64, calib_mode="naive"):
    """For ``speed.bench.run_bench(int8=...)``: ``(net, images) -> INT8 net``, calibrated
    on the first ``calib_images`` of ``images`` as ``cfg``'s prediction loader makes them."""
    def quantize_on(net, images):
        return quantize(net, image_batches(cfg, images[:calib_images]), calib_mode, log=lambda *_: None)[0]
    return quantize_on
