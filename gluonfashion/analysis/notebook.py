"""Setting up a tutorial notebook: fast mode (CI), the repository root, demo data and
inline figures."""
import os
import tempfile
import warnings
from dataclasses import dataclass, field

from ..data.demo_data import ensure_demo

FAST_ENV = "GLUONFASHION_FAST"          # "1": notebooks run on tiny data, 1 epoch (CI)
FAST_DIR_ENV = "GLUONFASHION_FAST_DIR"  # where fast mode puts its data and runs (default: a temp folder)

# Config overrides of fast mode: one short epoch, no loader processes to start.
FAST_OVERRIDES = {"epochs": 1, "batch_size": 16, "warmup_epochs": 0, "workers": 0}
# Size of the fast-mode demo datasets (all eight FashionAI tasks, a few images each).
FAST_FASHIONAI = {"train_per_value": 6, "test_per_value": 2, "image_size": 96}
FAST_JD = {"n_train": 160, "n_test": 20, "image_size": 96}
# Size of the fast-mode low-data sets (``NotebookEnv.low_data_demo``), whatever a notebook asks.
FAST_LOW_DATA = {"train_per_value": 2, "test_per_value": 2, "image_size": 96}

DEMO_FASHIONAI_ROOT = "data/demo/fashionai"
DEMO_JD_ROOT = "data/demo/jd"


def is_fast_mode():
    """True when ``GLUONFASHION_FAST`` asks for the quick version (tests, CI)."""
    return os.environ.get(FAST_ENV, "").strip().lower() not in ("", "0", "false", "no")


def find_repo_root(start=None):
    """The folder holding ``configs/fashionai`` at or above ``start`` (default: cwd).

    Notebooks run with ``tutorial/`` as working folder; the configs and the relative
    paths of the kit (``data/...``, ``runs/...``) start at the repository root.
    """
    here = os.path.abspath(start or os.getcwd())
    while True:
        if os.path.isdir(os.path.join(here, "configs", "fashionai")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            raise FileNotFoundError(f"no configs/fashionai folder at or above {start or os.getcwd()}: "
                                    f"start the notebook inside the gluonfashion repository")
        here = parent


@dataclass
class NotebookEnv:
    """Where a notebook reads and writes, and the config overrides of its mode."""
    fast: bool
    repo_root: str
    fashionai_root: str
    jd_root: str
    runs_dir: str
    overrides: dict = field(default_factory=dict)
    demo_dir: str = "data/demo"     # where generated demo sets go (fast mode: its temporary folder)

    def config_overrides(self, **settings):
        """``(key, value)`` pairs for ``load_config``: the notebook's ``settings``, with
        the fast mode's overrides winning (CI must stay quick whatever a notebook asks)."""
        return list({**settings, **self.overrides}.items())

    def low_data_demo(self, task, train_per_value, test_per_value):
        """Folder of a low-data demo set of one FashionAI ``task``: ``train_per_value``
        labelled images per value and ``test_per_value`` test images per value with
        answers (``gluonfashion demo-data --tasks TASK --train-per-value N
        --test-per-value M``), generated unless it is there and current. Notebooks share
        it: the same arguments give the same folder and the same drawings. Fast mode
        makes a tiny one instead (``FAST_LOW_DATA``)."""
        root = os.path.join(self.demo_dir, "low_data", f"{task}_{train_per_value}_{test_per_value}")
        size = FAST_LOW_DATA if self.fast else {"train_per_value": train_per_value, "test_per_value": test_per_value}
        ensure_demo("fashionai", root, progress=False, tasks=[task], **size)
        return root


def _enable_inline_figures(dpi):
    """Show figures inline in Jupyter, at ``dpi``."""
    # deferred: IPython exists only in notebooks, and matplotlib is needed only for figures
    import matplotlib
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
        shell.run_line_magic("matplotlib", "inline")
    matplotlib.rcParams.update({"figure.dpi": dpi, "savefig.dpi": dpi, "figure.max_open_warning": 0})


def ensure_fashionai_demo(root, fast=False):
    """Generate the FashionAI demo data into ``root`` unless it is there and current."""
    ensure_demo("fashionai", root, progress=False, **(FAST_FASHIONAI if fast else {}))
    return root


def ensure_jd_demo(root, fast=False):
    """Generate the JD demo data into ``root`` unless it is there and current."""
    ensure_demo("jd", root, progress=False, **(FAST_JD if fast else {}))
    return root


def _checked_root(path, demo_path, need, generate):
    """``path`` itself; the demo data is generated when ``path`` is the demo folder and
    empty, any other missing folder is an error (real data is never invented)."""
    if path is None or not need:
        return path
    if os.path.normpath(path) == os.path.normpath(demo_path):
        return generate(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: put the data there or fix the path cell")
    return path


def notebook_setup(fashionai_root=DEMO_FASHIONAI_ROOT, jd_root=None, runs_dir="runs/tutorial",
                   need=("fashionai",), dpi=72):
    """Prepare a tutorial notebook; returns a ``NotebookEnv``.

    Moves to the repository root (paths in the notebooks are relative to it), switches
    on inline figures and quietens library warnings. In full mode the roots are used as
    given and the demo data is generated when a demo folder is missing. In fast mode
    (``GLUONFASHION_FAST=1``) tiny demo datasets and the runs go to a temporary folder
    (``GLUONFASHION_FAST_DIR`` when set, so several notebooks can share them) and
    ``env.overrides`` shortens training to one epoch.

    ``need``: which datasets the notebook reads (``"fashionai"``, ``"jd"``).
    """
    root = find_repo_root()
    os.chdir(root)
    warnings.filterwarnings("ignore", module="gluoncv")
    warnings.filterwarnings("ignore", category=UserWarning, module="mxnet")
    _enable_inline_figures(dpi)
    fast = is_fast_mode()
    if fast:
        base = os.environ.get(FAST_DIR_ENV) or tempfile.mkdtemp(prefix="gluonfashion_fast_")
        fashionai_root = os.path.join(base, "fashionai")
        jd_root = os.path.join(base, "jd")
        runs_dir = os.path.join(base, "runs")
        if "fashionai" in need:
            ensure_fashionai_demo(fashionai_root, fast=True)
        if "jd" in need:
            ensure_jd_demo(jd_root, fast=True)
        overrides = dict(FAST_OVERRIDES)
        demo_dir = base
    else:
        fashionai_root = _checked_root(fashionai_root, DEMO_FASHIONAI_ROOT, "fashionai" in need,
                                       ensure_fashionai_demo)
        jd_root = _checked_root(jd_root, DEMO_JD_ROOT, "jd" in need, ensure_jd_demo)
        overrides = {}
        demo_dir = os.path.dirname(DEMO_FASHIONAI_ROOT)
    return NotebookEnv(fast, root, fashionai_root, jd_root, runs_dir, overrides, demo_dir)
