"""``gluonfashion <verb>``: parses arguments, loads a config, calls the library.

Every verb lives in this package and nothing in the library imports it: a verb
module registers its arguments and calls one family, ensemble or bench function.
"""
import argparse
import sys
import warnings

# Quieten GluonCV/MXNet chatter that says nothing to a user of the command line; set
# before the verbs import them, as some of it comes at import time.
warnings.filterwarnings("ignore", module="gluoncv")
warnings.filterwarnings("ignore", category=UserWarning, module="mxnet")

from . import bench_verb, data_verbs, ensemble_verb, launch_verb, run_verbs, serving_verbs  # noqa: E402

VERB_MODULES = (data_verbs, run_verbs, launch_verb, ensemble_verb, bench_verb, serving_verbs)


def build_parser():
    parser = argparse.ArgumentParser(prog="gluonfashion", description=__doc__.split("\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    for module in VERB_MODULES:
        module.register(verbs)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
