"""A trained run, served: files that run without the kit (``export``: MXNet symbol +
params or ONNX, float32 or INT8), post-training INT8 quantization (``quantize``), its
speed and accuracy against float32 (``int8_bench``), and a predictor for any image
(``predictor``)."""
from .predictor import Predictions, Predictor

__all__ = ["Predictions", "Predictor"]
