"""ONNX files through MXNet's own exporter (``mx.onnx.export_model``) and ONNX Runtime.

MXNet 1.9.1's exporter imports ``onnx.mapping`` (removed in onnx 1.19) and stamps the
model with the installed onnx's newest opset, which ONNX Runtime must support: the kit
pins onnx 1.16.2 (opset 21) with onnxruntime 1.18.1 (up to opset 21), the ``export``
extra of ``setup.py``.
"""
import numpy as np

PINS = "onnx==1.16.2 onnxruntime==1.18.1"
INSTALL = f"pip install '{PINS.split()[0]}' '{PINS.split()[1]}' (or the kit's `export` extra)"


def require_onnx():
    """The ``onnx`` module, or a ``RuntimeError`` saying what to install."""
    try:
        import onnx
        from onnx import mapping  # noqa: F401  what MXNet's exporter needs
    except ImportError as exc:
        raise RuntimeError(f"ONNX export needs onnx with onnx.mapping, which MXNet 1.9.1's exporter imports "
                           f"(onnx 1.18 and earlier; {exc}): {INSTALL}") from None
    return onnx


def write_onnx(symbol_file, params_file, image_size, path):
    """``path``: the exported symbol + params as ONNX, uint8 NHWC input with a dynamic
    batch dimension (``batch``). The weights are left out of the graph's inputs, so
    ONNX Runtime may fold constants (MXNet lists them as inputs too), and weights no
    node reads are dropped."""
    onnx = require_onnx()
    import mxnet as mx
    shape = (image_size, image_size, 3)
    mx.onnx.export_model(symbol_file, params_file, [(1,) + shape], [np.uint8], path, dynamic=True,
                         dynamic_input_shapes=[("batch",) + shape])
    model = onnx.load(path)
    used = {name for node in model.graph.node for name in node.input}
    kept = [init for init in model.graph.initializer if init.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    weights = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def onnx_session(path):
    """An ONNX Runtime session of ``path`` on the CPU, or a ``RuntimeError`` saying
    what to install."""
    try:
        import onnxruntime
    except ImportError:
        raise RuntimeError(f"running ONNX models needs onnxruntime: {INSTALL}") from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3     # errors only
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def onnx_predictor(path):
    """``batch -> probabilities`` of an ONNX file (a uint8 NDArray or numpy batch)."""
    session = onnx_session(path)
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: batch if isinstance(batch, np.ndarray) else batch.asnumpy()})[0]
