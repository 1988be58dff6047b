"""Every tutorial notebook runs top to bottom without a cell error.

The notebooks run headless with nbclient in *fast mode* (``GLUONFASHION_FAST=1``: tiny
generated data in a temporary folder, one epoch), each in a fresh kernel started in
``tutorial/`` as Jupyter would. All ``tutorial/*.ipynb`` are collected, so a notebook
added later is tested without touching this file. The notebooks share one fast-mode
folder, so the tiny datasets are generated once and a later notebook can reuse the
run an earlier one trained (each also works alone).
"""
import glob
import os
import time

import ipykernel  # noqa: F401  test extras (setup.py): missing means a broken install, so fail, never skip
import nbclient
import nbformat
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUTORIAL = os.path.join(REPO, "tutorial")
NOTEBOOKS = sorted(glob.glob(os.path.join(TUTORIAL, "*.ipynb")))
CELL_TIMEOUT = 300        # seconds per cell; fast mode needs a few
FAST_BUDGET = 180         # seconds per notebook in fast mode (aim: under 60 on a 2-core CPU; slack for busy machines)


@pytest.fixture(scope="module")
def fast_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tutorial_fast")


def test_tutorial_notebooks_present():
    names = [os.path.basename(p) for p in NOTEBOOKS]
    for expected in ("01_data.ipynb", "02_transfer_learning.ipynb", "06_error_analysis.ipynb"):
        assert expected in names
    assert all(n[:2].isdigit() and n[2] == "_" for n in names), f"notebooks are numbered NN_name: {names}"


def _cell_errors(nb):
    """Error outputs left in a notebook (a cell that raised but was allowed to continue)."""
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_notebook_runs_in_fast_mode(path, fast_dir, monkeypatch):
    # The kernel inherits this process's environment: that is how the notebook sees fast mode.
    monkeypatch.setenv("GLUONFASHION_FAST", "1")
    monkeypatch.setenv("GLUONFASHION_FAST_DIR", str(fast_dir))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=False,
                                     resources={"metadata": {"path": TUTORIAL}})
    start = time.time()
    client.execute()      # raises CellExecutionError naming the failing cell
    seconds = time.time() - start
    assert not _cell_errors(nb)
    assert seconds < FAST_BUDGET, f"{os.path.basename(path)} took {seconds:.0f} s in fast mode"
