"""gluonfashion: an MXNet Gluon starter kit for fashion attribute recognition."""
import os as _os

from .threads import configure as _configure_threads

# Before any module of the package loads MXNet: OpenMP reads its thread count once, and
# cuDNN's autotuning (a search at every new input shape) is off unless a user asks.
_configure_threads()
_os.environ.setdefault("MXNET_CUDNN_AUTOTUNE_DEFAULT", "0")
