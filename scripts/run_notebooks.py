#!/usr/bin/env python
"""Execute the tutorial notebooks and save them with their outputs, in place.

    python scripts/run_notebooks.py                      # every tutorial/*.ipynb, full mode
    python scripts/run_notebooks.py tutorial/01_data.ipynb
    python scripts/run_notebooks.py --fast --no-save     # quick check, nothing written

This is how the committed outputs are produced: full mode on the demo data (the fast
mode, ``GLUONFASHION_FAST=1``, is for the test suite). Each notebook runs in a fresh
kernel started in ``tutorial/``, as Jupyter would; execution counts, figures and text
outputs are kept, timing metadata and machine-specific kernel details are not.
"""
import argparse
import glob
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TUTORIAL = os.path.join(REPO, "tutorial")
KERNEL_METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}


def notebooks(paths=None):
    """The notebooks to run: the given ones, else every ``tutorial/*.ipynb`` in order."""
    return [os.path.abspath(p) for p in paths] if paths else sorted(glob.glob(os.path.join(TUTORIAL, "*.ipynb")))


def clean(nb):
    """Drop what would differ from machine to machine or run to run besides outputs."""
    nb.metadata = {**{k: v for k, v in nb.metadata.items() if k not in ("kernelspec", "language_info", "widgets")},
                   **KERNEL_METADATA}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
    return nb


def execute(path, timeout=900, fast=False):
    """Run one notebook top to bottom; returns ``(notebook, seconds)``. Raises on a cell error."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    env_fast = os.environ.get("GLUONFASHION_FAST")
    os.environ["GLUONFASHION_FAST"] = "1" if fast else "0"
    try:
        start = time.time()
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": os.path.dirname(path)}}).execute()
        return clean(nb), time.time() - start
    finally:
        if env_fast is None:
            os.environ.pop("GLUONFASHION_FAST", None)
        else:
            os.environ["GLUONFASHION_FAST"] = env_fast


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="*", help="notebooks (default: every tutorial/*.ipynb)")
    p.add_argument("--fast", action="store_true", help="GLUONFASHION_FAST=1: tiny data, one epoch")
    p.add_argument("--no-save", action="store_true", help="run only; leave the files as they are")
    p.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell (default 900)")
    args = p.parse_args(argv)
    import nbformat
    failed = []
    for path in notebooks(args.paths):
        name = os.path.relpath(path, REPO)
        print(f"[notebooks] running {name} ({'fast' if args.fast else 'full'} mode)", flush=True)
        try:
            nb, seconds = execute(path, args.timeout, args.fast)
        except Exception as exc:  # noqa: BLE001 - report every notebook, then fail
            print(f"[notebooks] {name} FAILED: {exc.__class__.__name__}: {str(exc)[-2000:]}", flush=True)
            failed.append(name)
            continue
        if not args.no_save:
            nbformat.write(nb, path)
        size = os.path.getsize(path) / 1e6
        print(f"[notebooks] {name}: {seconds:.0f} s" + ("" if args.no_save else f", saved ({size:.2f} MB)"),
              flush=True)
    if failed:
        print(f"[notebooks] failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
