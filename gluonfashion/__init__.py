"""gluonfashion: an MXNet Gluon starter kit for fashion attribute recognition."""
from .threads import configure as _configure_threads

# Before any module of the package loads MXNet: OpenMP reads its thread count once.
_configure_threads()
