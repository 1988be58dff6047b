"""``gluonfashion <verb>``: parses arguments, loads a config, calls the library."""
import argparse
import os
import sys

# Quieten MXNet/GluonCV import chatter before they load.
os.environ.setdefault("MXNET_CUDNN_AUTOTUNE_DEFAULT", "0")
import warnings  # noqa: E402

warnings.filterwarnings("ignore", module="gluoncv")
warnings.filterwarnings("ignore", category=UserWarning, module="mxnet")


def _config_args(p):
    p.add_argument("--config", help="task YAML, e.g. configs/fashionai/skirt_length_labels.yaml")
    p.add_argument("--profile", help="demo | full | auto (default: from the config, else auto)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set lr=0.01")


def _progress_args(p):
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def cmd_demo_data(args):
    from .data.demo_fashionai import generate_fashionai_demo
    out = os.path.join(args.out, "fashionai")
    summary = generate_fashionai_demo(out, train_per_value=args.train_per_value,
                                      test_per_value=args.test_per_value, image_size=args.image_size,
                                      seed=args.seed, progress=not args.quiet)
    print(f"[demo-data] FashionAI demo: {summary['train']} train / {summary['test']} test images -> {out}")


def cmd_train(args):
    from .config import load_config
    from .workflows import fashionai
    cfg = load_config(args.config, args.overrides, args.profile)
    run_dir, best = fashionai.train(cfg, args.resume, args.fresh, not args.quiet)
    metric = best["metrics"].get("val_map")
    shown = f"val mAP {metric:.4f}" if metric is not None else ""
    print(f"[train] best epoch {best['epoch']} {shown} -> {run_dir}")


def cmd_predict(args):
    from .config import load_config, output_dir
    from .workflows import fashionai
    run_dir = args.run or output_dir(load_config(args.config, args.overrides, args.profile))
    fashionai.predict(run_dir, args.question, args.tta, args.out, progress=not args.quiet)


def cmd_merge(args):
    from .submission import merge
    question = args.question or _question_from_config(args)
    merge(question, args.pred_dir, args.out)


def _question_from_config(args):
    from .config import load_config
    cfg = load_config(args.config, args.overrides, args.profile)
    return os.path.join(cfg["data_root"], cfg["question_file"])


def cmd_evaluate(args):
    from .report import fashionai_table
    from .submission import evaluate
    table = evaluate(args.submission, args.answers)
    print(fashionai_table(table, args.runs))


def build_parser():
    parser = argparse.ArgumentParser(prog="gluonfashion", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)

    p = verbs.add_parser("demo-data", help="generate the embedded demo datasets")
    p.add_argument("--out", default="data/demo", help="folder for fashionai/ (and jd/)")
    p.add_argument("--train-per-value", type=int, default=40)
    p.add_argument("--test-per-value", type=int, default=12)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    _progress_args(p)
    p.set_defaults(func=cmd_demo_data)

    p = verbs.add_parser("train", help="train one task from its config")
    _config_args(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue from the last completed epoch")
    g.add_argument("--fresh", action="store_true", help="discard an existing run state and split")
    _progress_args(p)
    p.set_defaults(func=cmd_train)

    p = verbs.add_parser("predict", help="predict the question rows of a trained task")
    _config_args(p)
    p.add_argument("--run", help="run folder (default: the config's output_dir)")
    p.add_argument("--question", help="question.csv (default: from the run's config)")
    p.add_argument("--tta", choices=["none", "flip", "ten_crop"], help="default: from the config")
    p.add_argument("--out", help="folder for <task>.csv (default: submission/)")
    _progress_args(p)
    p.set_defaults(func=cmd_predict)

    p = verbs.add_parser("merge", help="join per-task predictions into one checked submission")
    _config_args(p)
    p.add_argument("--question", help="question.csv (default: from the profile's config)")
    p.add_argument("--pred-dir", default="submission")
    p.add_argument("--out", default="submission/submission.csv")
    p.set_defaults(func=cmd_merge)

    p = verbs.add_parser("evaluate", help="score a submission against answers (per-task table)")
    p.add_argument("--submission", default="submission/submission.csv")
    p.add_argument("--answers", required=True, help="answers CSV in label.csv format")
    p.add_argument("--runs", help="runs folder, to add validation accuracy and train time per task")
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
