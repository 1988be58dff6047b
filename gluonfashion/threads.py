"""How many threads MXNet's CPU operators use, decided before MXNet loads.

With ``OMP_NUM_THREADS`` unset, MXNet 1.9 starts OpenMP with half the logical
processors: it assumes two hyper-threads per core. Machines that report one thread per
core (most cloud VMs, CI runners) then train on half their cores. Measured on 2 cores,
a hybridized resnet18_v2 training step at 64 px: 105 img/s by default, 202 img/s with
``OMP_NUM_THREADS=2``. OpenMP reads the count once, when MXNet loads (setting it later
through MXNet's API changed nothing here), so ``configure`` runs when the package is
imported, before any of its modules imports MXNet.

The rule: every physical core this process may run on goes to the operators. Loader
workers are not subtracted: they decode and augment for a small share of the time
a training step takes (at 64 px about 1 ms of 11 ms per image, at 224 px from 512 px
JPEGs about 3 ms of 130 ms), and the operator threads wait for nothing while they
run. docs/performance.md has the measured splits.
"""
import os
import sys

# What ``configure`` decided, shown in the run and bench logs.
_decision = {"threads": None, "why": "not configured"}
_USER = "OMP_NUM_THREADS set by the user"


def physical_cores():
    """Cores this process may run on (its CPU affinity), hyper-thread siblings counted once."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        allowed = os.cpu_count() or 1
    try:
        import psutil
        logical, physical = psutil.cpu_count(), psutil.cpu_count(logical=False)
    except ImportError:
        logical = physical = None
    if logical and physical and logical > physical:
        allowed = allowed * physical // logical
    return max(1, allowed)


def configure(environ=os.environ, loaded_modules=sys.modules):
    """Set ``OMP_NUM_THREADS`` to the physical core count unless the user set it or
    MXNet is already loaded (then it is too late: say so). Returns the decision."""
    if environ.get("OMP_NUM_THREADS"):
        _decision.update(threads=environ["OMP_NUM_THREADS"], why=_USER)
    elif "mxnet" in loaded_modules:
        _decision.update(threads=None, why="MXNet was imported before gluonfashion, so its own default "
                                           "(half the logical processors) applies; import gluonfashion "
                                           "first or set OMP_NUM_THREADS")
    else:
        cores = physical_cores()
        environ["OMP_NUM_THREADS"] = str(cores)
        _decision.update(threads=str(cores), why=f"one per physical core ({cores})")
    return dict(_decision)


def set_by_user():
    """Whether ``OMP_NUM_THREADS`` came from the user rather than from ``configure``."""
    return _decision["why"] == _USER


def describe():
    """One line for logs: the operator thread count and why."""
    threads = _decision["threads"] or "MXNet default"
    return f"operator threads: {threads} ({_decision['why']})"
