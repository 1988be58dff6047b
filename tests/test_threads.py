"""Operator threads: one per physical core, decided before MXNet loads, the user's
own setting kept (gluonfashion.threads)."""
import os
import subprocess
import sys

import pytest

from gluonfashion import threads


@pytest.fixture(autouse=True)
def keep_the_process_decision():
    saved = dict(threads._decision)
    yield
    threads._decision.update(saved)


def test_unset_count_becomes_one_thread_per_physical_core():
    environ = {}
    decision = threads.configure(environ, loaded_modules={})
    assert environ["OMP_NUM_THREADS"] == str(threads.physical_cores())
    assert decision["threads"] == environ["OMP_NUM_THREADS"]
    assert "physical core" in threads.describe()


def test_a_users_setting_is_kept():
    environ = {"OMP_NUM_THREADS": "3"}
    threads.configure(environ, loaded_modules={})
    assert environ == {"OMP_NUM_THREADS": "3"}
    assert threads.describe() == "operator threads: 3 (OMP_NUM_THREADS set by the user)"


def test_too_late_when_mxnet_is_already_loaded_and_the_log_says_so():
    environ = {}
    threads.configure(environ, loaded_modules={"mxnet": object()})
    assert "OMP_NUM_THREADS" not in environ
    assert "imported before gluonfashion" in threads.describe()


def test_importing_the_package_sets_the_count_for_mxnet():
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", "import gluonfashion, os; print(os.environ['OMP_NUM_THREADS'])"],
                         capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == str(threads.physical_cores())


def test_physical_cores_counts_the_cpus_this_process_may_use():
    allowed = len(os.sched_getaffinity(0))
    assert 1 <= threads.physical_cores() <= allowed
