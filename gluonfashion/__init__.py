"""gluonfashion: an MXNet Gluon starter kit for fashion attribute recognition."""
import os as _os

from .threads import configure as _configure_threads

# Before any module of the package loads MXNet: OpenMP reads its thread count once, and
# cuDNN's autotuning (a search at every new input shape) is off unless a user asks, and
# oneDNN's graph fusion (prediction, INT8) does not announce itself on every new graph.
_configure_threads()
_os.environ.setdefault("MXNET_CUDNN_AUTOTUNE_DEFAULT", "0")
_os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
