"""Starting a distributed training job with MXNet's own launcher.

The mxnet wheel installs the launcher (``mxnet/tools/launch.py``) and the ``dmlc_tracker``
package it drives: the launcher starts a scheduler on this machine, then the servers and
workers (here with ``local``, over ``ssh`` on the hosts of a host file), each running the
same command with its role in ``DMLC_ROLE``; schedulers and servers stop inside
``import mxnet`` and serve, workers train (``distributed.py``).

``launch_job`` runs the launcher in a child process at the head of a process group of
its own, so that the whole job can be stopped at once, and waits for it. In that child
(``python -m gluonfashion.launch``) three things are set right before the launcher runs:

- ``dmlc_tracker`` calls ``Thread.isAlive``, which Python 3.9 removed: it is given back;
- with ``local``, the scheduler's address is 127.0.0.1 (the tracker would pick this
  machine's outward address, which a machine without a network lacks);
- when a process of the job fails, the launcher's thread only prints it and the others
  wait forever for it (a ``dist_sync`` step waits for every worker): the child stops the
  job's processes instead and exits with 1. Over ``ssh`` that stops the ``ssh`` clients;
  a remote process stops when its connection to the scheduler breaks.
"""
import importlib.util
import os
import re
import runpy
import shlex
import signal
import subprocess
import sys
import threading

from . import threads

LAUNCHERS = ("local", "ssh")
LOOPBACK = "127.0.0.1"


def mxnet_launcher():
    """Path of ``mxnet/tools/launch.py`` (found without importing MXNet)."""
    spec = importlib.util.find_spec("mxnet")
    path = os.path.join(spec.submodule_search_locations[0], "tools", "launch.py") if spec else None
    if not path or not os.path.exists(path) or importlib.util.find_spec("dmlc_tracker") is None:
        raise FileNotFoundError("MXNet's launcher (mxnet/tools/launch.py and the dmlc_tracker package, both "
                                "installed by the mxnet 1.9.1 wheel) was not found: install mxnet==1.9.1")
    return path


def launcher_arguments(workers, servers, command, launcher="local", hostfile=None, sync_dst_dir=None):
    """Arguments of MXNet's ``launch.py`` that run ``command`` (a list) on ``workers``
    workers and ``servers`` servers."""
    if launcher not in LAUNCHERS:
        raise ValueError(f"launcher must be one of {', '.join(LAUNCHERS)}; got {launcher!r}")
    if workers < 1 or servers < 1:
        raise ValueError(f"a job needs at least one worker and one server; got {workers} workers, "
                         f"{servers} servers")
    if launcher == "ssh" and not hostfile:
        raise ValueError("the ssh launcher needs -H HOSTFILE: one host a line (host or host:port), "
                         "reachable by ssh without a password")
    if hostfile and not os.path.isfile(hostfile):
        raise FileNotFoundError(f"host file {hostfile} not found")
    arguments = ["-n", str(workers), "-s", str(servers), "--launcher", launcher]
    if launcher == "ssh":
        arguments += ["-H", hostfile] + (["--sync-dst-dir", sync_dst_dir] if sync_dst_dir else [])
    # One argument: the launcher passes the command to bash as one line.
    return arguments + [shlex.join(command)]


def job_environment(workers, launcher, environ=os.environ):
    """The environment the job's processes start with. With ``local`` every process runs
    on this machine: they talk over 127.0.0.1, and unless the user set
    ``OMP_NUM_THREADS`` the workers share the cores instead of each taking all of them."""
    env = dict(environ, PYTHONUNBUFFERED="1")
    if launcher == "local":
        env.setdefault("DMLC_NODE_HOST", LOOPBACK)
        if not threads.set_by_user():
            env["OMP_NUM_THREADS"] = str(max(1, threads.physical_cores() // workers))
    return env


def launch_job(workers, servers, command, launcher="local", hostfile=None, sync_dst_dir=None, log=print):
    """Run ``command`` as a distributed job through MXNet's launcher; returns its exit
    status (0 when every process ended well). Interrupted or terminated, it stops the
    job's processes first."""
    arguments = launcher_arguments(workers, servers, command, launcher, hostfile, sync_dst_dir)
    mxnet_launcher()   # fail here, not in the child, when it is missing
    child = subprocess.Popen([sys.executable, "-m", __name__, *arguments],
                             env=job_environment(workers, launcher), start_new_session=True)
    log(f"[launch] {workers} workers and {servers} servers ({launcher}), process group {child.pid}: "
        f"{shlex.join(command)}")
    sys.stdout.flush()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:   # interrupted: stop the whole job
            _stop_group(child.pid)
            child.wait()


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def _stop_group(pgid):
    """Stop every process of the job's process group."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------- in the job's group

_failed = []


def _stop_job(hook):
    """``threading.excepthook`` of the launcher's threads: a process of the job failed."""
    if _failed:   # the others, stopped below, end here too
        return
    code = getattr(hook.exc_value, "returncode", None)
    match = re.search(r"return code=(-?\d+)", str(hook.exc_value))
    code = code if code is not None else (match.group(1) if match else "?")
    _failed.append(code)
    print(f"[launch] a process of the job exited with status {code}: stopping the others", file=sys.stderr,
          flush=True)
    os.killpg(os.getpgrp(), signal.SIGTERM)   # this process outlives it: see run_launcher


def run_launcher(arguments):
    """Run MXNet's ``launch.py`` with ``arguments`` in this process (see the module's
    notes); returns 0, or 1 when a process of the job failed."""
    # SIGTERM to the group stops the job's processes; this one ends once they have. (A
    # handler, not SIG_IGN, which the processes started from here would inherit.)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    threading.Thread.isAlive = threading.Thread.is_alive
    if arguments[arguments.index("--launcher") + 1] == "local":
        from dmlc_tracker import tracker
        tracker.get_host_ip = lambda host_ip=None: LOOPBACK
    threading.excepthook = _stop_job
    sys.argv = ["launch.py", *arguments]
    runpy.run_path(mxnet_launcher(), run_name="__main__")
    # The launcher returns when the scheduler ends; the workers may still be exiting.
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join()
    return 1 if _failed else 0


if __name__ == "__main__":
    sys.exit(run_launcher(sys.argv[1:]))
