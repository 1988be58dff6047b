"""The test extras are installed: a broken install step fails the suite, it never turns
into skipped tests (the tests import these packages unconditionally)."""
import ast
import os
from importlib import metadata

from packaging.requirements import Requirement

SETUP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "setup.py")


def _extras():
    """``extras_require`` of setup.py, read without running it."""
    tree = ast.parse(open(SETUP).read())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    return ast.literal_eval(next(k.value for k in call.keywords if k.arg == "extras_require"))


def _problems(requirements):
    out = []
    for req in map(Requirement, requirements):
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            out.append(f"{req.name} is not installed (setup.py asks for {req})")
            continue
        if not req.specifier.contains(version, prereleases=True):
            out.append(f"{req.name} {version} is installed, setup.py asks for {req}")
    return out


def test_every_test_extra_is_installed_in_a_version_setup_py_allows():
    extras = _extras()
    assert {"pytest", "nbclient", "ipykernel", "scikit-image"} <= {Requirement(r).name for r in extras["test"]}
    assert _problems(extras["test"]) == []


def test_a_missing_or_mismatched_package_is_reported():
    assert _problems(["no-such-package-gluonfashion>=1"]) == [
        "no-such-package-gluonfashion is not installed (setup.py asks for no-such-package-gluonfashion>=1)"]
    assert _problems(["pytest<1"]) == [f"pytest {metadata.version('pytest')} is installed, setup.py asks for pytest<1"]
