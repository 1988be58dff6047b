"""Every tutorial notebook runs top to bottom without a cell error, and the worked
examples whose numbers the notebooks' text states print those numbers.

The notebooks run headless with nbclient in *fast mode* (``GLUONFASHION_FAST=1``: tiny
generated data in a temporary folder, one epoch), each in a fresh kernel started in
``tutorial/`` as Jupyter would. All ``tutorial/*.ipynb`` are collected, so a notebook
added later is tested without touching this file. The notebooks share one fast-mode
folder, so the tiny datasets are generated once and a later notebook can reuse the
run an earlier one trained (each also works alone).
"""
import glob
import os
import re
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
    check_stated_values(os.path.basename(path), nb)


# ------------------------------------------------------------ values the text states

def _output(nb, marker):
    """What the one code cell whose source contains ``marker`` printed and returned:
    ``(text, rows)``, ``rows`` the lines of a printed table by row label (a table pandas
    wraps into blocks has its rows joined again), as lists of fields."""
    cells = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"{len(cells)} code cells contain {marker!r}"
    text = "".join(o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
                   for o in cells[0].outputs)
    rows = {}
    for line in text.splitlines():
        label, *rest = re.split(r"\s{2,}", line.strip())
        rows.setdefault(label, []).extend(" ".join(rest).split())
    return text, rows


def _numbers(fields):
    return [float(f) for f in fields]


def _check_01(nb):
    # Section "Value names and the m marks": y weighs 1, m weighs maybe_share, normalised.
    # nnymnn: share 0.25 -> (1, 0.25) / 1.25 = 0.8, 0.2; share 0.5 -> (1, 0.5) / 1.5 = 0.667, 0.333
    _, rows = _output(nb, "soft_targets(example, share)")
    assert _numbers(rows["maybe_share=0"]) == [0, 0, 1, 0, 0, 0]
    assert _numbers(rows["maybe_share=0.25"]) == [0, 0, 0.8, 0.2, 0, 0]
    assert _numbers(rows["maybe_share=0.5"]) == [0, 0, 0.667, 0.333, 0, 0]


def _check_02(nb):
    # Section 7, worked example: "accuracy is 4/6 ... precision 1, 1, 1, then sample 4 is
    # wrong (3/4), sample 5 right (4/5), sample 2 wrong (4/6)"; AP = (3 + 3/4 + 4/5 + 4/6) / 6
    # = 0.8694. The same two mistakes made confidently rank first: precision 0, 0, 1/3,
    # 2/4, 3/5, 4/6 -> AP = 2.1 / 6 = 0.35, accuracy unchanged.
    text, rows = _output(nb, 'print(f"BasicPrecision (accuracy)')
    assert re.search(r"BasicPrecision \(accuracy\): 0\.6667\n", text) and re.search(r"AP: +0\.8694\n", text)
    assert [int(rows[str(k)][0]) for k in range(1, 7)] == [1, 0, 3, 4, 5, 2]           # samples by confidence
    assert [float(rows[str(k)][-1]) for k in range(1, 7)] == [1, 1, 1, 0.75, 0.8, 0.6667]
    text, rows = _output(nb, "confident = probs.copy()")
    assert "BasicPrecision: 0.6667 (unchanged)" in text and "AP:             0.3500 (was 0.8694)" in text
    assert [float(rows[str(k)][-1]) for k in range(1, 7)] == [0, 0, 0.3333, 0.5, 0.6, 0.6667]


def _check_04(nb):
    # Section 2, one image's loss terms: "sports (missed with p = 0.10): BCE charges
    # -log 0.1 = 2.30"; focal (gamma 2) scales a term by (1 - p_t)^2: sports 0.81 * 2.3026 =
    # 1.8651, casual (p 0.9, right) 0.01 * 0.1054 = 0.0011, Korean (p 0.6, wrong) -log 0.4 =
    # 0.9163, * 0.36 = 0.3299 ("focal keeps a good part of it")
    _, rows = _output(nb, "analysis.multilabel_loss_terms(")
    columns = ["p"] + rows["p"]                           # the header line: p y bce wbce focal
    value = lambda style, column: float(rows[style][columns.index(column)])
    assert (value("sports", "bce"), value("sports", "focal")) == (2.3026, 1.8651)
    assert (value("casual", "bce"), value("casual", "focal")) == (0.1054, 0.0011)
    assert (value("Korean", "bce"), value("Korean", "focal")) == (0.9163, 0.3299)
    # Section 3: "F1 peaks at threshold 0.5 (tag 4 images, 3 right) while F2 prefers 0.15
    # (tag 8, find all 4 positives)": at 0.5 P = R = 3/4, F1 0.75; at 0.15 P 1/2, R 1,
    # F2 = 5 * 0.5 / (4 * 0.5 + 1) = 0.833
    _, rows = _output(nb, "analysis.precision_recall_table(toy_probs")
    header = rows["predicted"]                            # the columns after "predicted"
    table = {t: _numbers(rows[t]) for t in ("0.90", "0.70", "0.50", "0.30", "0.15")}
    f1, f2 = 1 + header.index("F1"), 1 + header.index("F2")
    assert max(table, key=lambda t: table[t][f1]) == "0.50" and table["0.50"][:3] == [4, 3, 1]
    assert max(table, key=lambda t: table[t][f2]) == "0.15" and table["0.15"][:4] == [8, 4, 4, 0]
    assert (table["0.50"][f1], table["0.15"][f2]) == (0.75, 0.833)


STATED_VALUES = {"01_data.ipynb": _check_01, "02_transfer_learning.ipynb": _check_02,
                 "04_multilabel_styles.ipynb": _check_04}


def check_stated_values(name, nb):
    """The worked examples of notebook ``name`` (executed) print what its text says."""
    check = STATED_VALUES.get(name)
    if check:
        check(nb)


@pytest.mark.parametrize("name", sorted(STATED_VALUES))
def test_stated_values_in_the_saved_notebooks(name):
    # the outputs saved in the repository, as a reader sees them without running anything
    check_stated_values(name, nbformat.read(os.path.join(TUTORIAL, name), as_version=4))


# ------------------------------------------------------------------ exercises and worked solutions
# Every notebook ends with exercises; their worked solutions are scripts in
# tutorial/solutions/, named like the notebook, run here headless in fast mode.

SOLUTIONS_DIR = os.path.join(TUTORIAL, "solutions")
SOLUTION_SCRIPTS = sorted(glob.glob(os.path.join(SOLUTIONS_DIR, "*.py")))
SOLUTION_BUDGET = 180     # seconds per solution in fast mode (aim: tens of seconds on a 2-core CPU)


def test_every_notebook_ends_with_exercises_and_has_a_solution():
    for path in sorted(glob.glob(os.path.join(TUTORIAL, "*.ipynb"))):
        stem = os.path.splitext(os.path.basename(path))[0]          # e.g. 02_transfer_learning
        assert os.path.exists(os.path.join(SOLUTIONS_DIR, f"{stem}.py")), f"no solutions/{stem}.py"
        last = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"][-1].source
        assert last.startswith("## Exercises"), f"{stem}: the last markdown cell is not the exercises"
        assert f"solutions/{stem}.py" in last, f"{stem}: the exercises do not link their solutions"


@pytest.fixture(scope="module")
def solutions_fast_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("solutions_fast")


@pytest.mark.parametrize("path", SOLUTION_SCRIPTS, ids=[os.path.basename(p) for p in SOLUTION_SCRIPTS])
def test_solution_runs_in_fast_mode(path, solutions_fast_dir):
    import subprocess
    import sys
    env = {**os.environ, "GLUONFASHION_FAST": "1", "GLUONFASHION_FAST_DIR": str(solutions_fast_dir),
           "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))}
    start = time.time()
    done = subprocess.run([sys.executable, path], cwd=SOLUTIONS_DIR, env=env, capture_output=True, text=True,
                          timeout=CELL_TIMEOUT)
    seconds = time.time() - start
    assert done.returncode == 0, f"{os.path.basename(path)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    # each solution prints one line per exercise it solves, numbered from 1
    numbers = sorted({int(line.split()[1].rstrip(":")) for line in done.stdout.splitlines()
                      if line.startswith("Exercise ")})
    assert numbers[:2] == [1, 2] and numbers == list(range(1, len(numbers) + 1)), done.stdout[-2000:]
    assert seconds < SOLUTION_BUDGET, f"{os.path.basename(path)} took {seconds:.0f} s in fast mode"
