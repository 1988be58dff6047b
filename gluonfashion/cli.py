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


def _workflow(cfg):
    from .workflows import fashionai, jd
    return jd if cfg["family"] == "jd" else fashionai


def _load(args):
    from .config import load_config
    return load_config(args.config, args.overrides, args.profile)


def cmd_demo_data(args):
    from .data.demo_data import ensure_demo
    progress = not args.quiet
    if args.family in ("fashionai", "all"):
        out = os.path.join(args.out, "fashionai")
        s = ensure_demo("fashionai", out, args.force, progress, train_per_value=args.train_per_value,
                        test_per_value=args.test_per_value, image_size=args.image_size, seed=args.seed,
                        tasks=args.tasks)
        print(f"[demo-data] FashionAI: {out} is up to date (--force to remake it)" if s is None else
              f"[demo-data] FashionAI: {s['train']} train / {s['test']} test images -> {out}")
    if args.family in ("jd", "all"):
        out = os.path.join(args.out, "jd")
        s = ensure_demo("jd", out, args.force, progress, n_train=args.jd_train, n_test=args.jd_test,
                        image_size=args.image_size, seed=args.seed)
        print(f"[demo-data] JD: {out} is up to date (--force to remake it)" if s is None else
              f"[demo-data] JD: {args.jd_train} train / {args.jd_test} test images -> {out} "
              f"(images to fetch with `gluonfashion download`)")


def cmd_download(args):
    from .workflows import jd
    report = jd.download(_load(args), progress=not args.quiet)
    if report.failed and args.strict:
        raise RuntimeError(f"{len(report.failed)} images failed to download")


def cmd_train(args):
    cfg = _load(args)
    run_dir, best = _workflow(cfg).train(cfg, args.resume, args.fresh, not args.quiet, then_predict=args.predict)
    shown = ", ".join(f"{k[4:]} {v:.4f}" for k, v in best["metrics"].items() if k.startswith("val_"))
    print(f"[train] best epoch {best['epoch']} ({shown}) -> {run_dir}")


def cmd_predict(args):
    from . import checkpoint
    from .config import output_dir
    cfg = _load(args) if args.config or not args.run else None
    run_dir = args.run or output_dir(cfg)
    if cfg is None:
        cfg = checkpoint.load_json(os.path.join(run_dir, "best.json"))["config"]
    out = args.out or cfg["submission_dir"]
    if cfg["family"] == "jd":
        _workflow(cfg).predict(run_dir, out, args.tta, weights=args.weights, progress=not args.quiet)
    else:
        _workflow(cfg).predict(run_dir, args.question, args.tta, out, weights=args.weights,
                               progress=not args.quiet)


def cmd_merge(args):
    from .submission import merge
    cfg = _load(args) if args.config or not (args.question and args.pred_dir) else None
    question = args.question or os.path.join(cfg["data_root"], cfg["question_file"])
    pred_dir = args.pred_dir or cfg["submission_dir"]   # where predict wrote them
    merge(question, pred_dir, args.out or os.path.join(pred_dir, "submission.csv"))


def cmd_evaluate(args):
    from .report import fashionai_table, jd_table
    cfg = _load(args) if args.config else None
    answers = args.answers or (cfg and cfg["answers_file"] and os.path.join(cfg["data_root"], cfg["answers_file"]))
    if not answers:
        raise ValueError("no answers file: pass --answers or a config with answers_file")
    if cfg is not None and cfg["family"] == "jd":
        from .workflows import jd
        probs = args.submission or os.path.join(cfg["submission_dir"], "jd_test_probs.csv")
        print(jd_table(jd.evaluate_for_config(cfg, probs, args.thresholds, answers)))
        return
    from .submission import evaluate
    submission = args.submission or os.path.join(cfg["submission_dir"] if cfg else "submission", "submission.csv")
    runs = args.runs or (cfg and os.path.dirname(cfg["output_dir"].format(task="x", profile=cfg["profile"], model="")))
    print(fashionai_table(evaluate(submission, answers), runs))


def build_parser():
    parser = argparse.ArgumentParser(prog="gluonfashion", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)

    p = verbs.add_parser("demo-data", help="generate the embedded demo datasets")
    p.add_argument("--out", default="data/demo", help="folder for fashionai/ and jd/")
    p.add_argument("--family", choices=["fashionai", "jd", "all"], default="all")
    p.add_argument("--jd-train", type=int, default=1200)
    p.add_argument("--jd-test", type=int, default=300)
    p.add_argument("--train-per-value", type=int, default=100,
                   help="FashionAI training images per value (e.g. 10 for a low-data regime)")
    p.add_argument("--test-per-value", type=int, default=12)
    p.add_argument("--tasks", nargs="+", help="FashionAI tasks to generate (default: all eight)")
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="remake the data even when it is up to date")
    _progress_args(p)
    p.set_defaults(func=cmd_demo_data)

    p = verbs.add_parser("download", help="fetch the images of a JD-style train.txt/test.txt")
    _config_args(p)
    p.add_argument("--strict", action="store_true", help="exit with an error when any image failed")
    _progress_args(p)
    p.set_defaults(func=cmd_download)

    p = verbs.add_parser("train", help="train one task from its config")
    _config_args(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue from the last completed epoch")
    g.add_argument("--fresh", action="store_true", help="discard an existing run state and split")
    p.add_argument("--predict", action="store_true",
                   help="then predict as `predict --config` would (the run's TTA and weights, into "
                        "submission_dir), in this process with the trained network: no second start-up")
    _progress_args(p)
    p.set_defaults(func=cmd_train)

    p = verbs.add_parser("predict", help="predict the question rows of a trained task")
    _config_args(p)
    p.add_argument("--run", help="run folder (default: the config's output_dir)")
    p.add_argument("--question", help="question.csv (default: from the run's config)")
    p.add_argument("--tta", choices=["none", "flip", "ten_crop"], help="default: from the config")
    p.add_argument("--out", help="folder for the prediction files (default: submission/)")
    p.add_argument("--weights", choices=["best", "swa", "last"],
                   help="which checkpoint (default: the config's predict_weights)")
    _progress_args(p)
    p.set_defaults(func=cmd_predict)

    p = verbs.add_parser("merge", help="join per-task predictions into one checked submission")
    _config_args(p)
    p.add_argument("--question", help="question.csv (default: from the profile's config)")
    p.add_argument("--pred-dir", help="per-task prediction files (default: the config's submission_dir)")
    p.add_argument("--out", help="merged submission (default: <pred-dir>/submission.csv)")
    p.set_defaults(func=cmd_merge)

    p = verbs.add_parser("evaluate", help="score predictions against answers (per-task/per-style table)")
    _config_args(p)
    p.add_argument("--submission", help="FashionAI: merged submission; JD: probabilities file")
    p.add_argument("--answers", help="answers file (default: the config's answers_file)")
    p.add_argument("--runs", help="FashionAI runs folder, for validation accuracy and train time")
    p.add_argument("--thresholds", help="JD: thresholds.json to apply (default: the run's; "
                                        "an ensemble writes its own)")
    p.set_defaults(func=cmd_evaluate)

    # Verbs whose modules register their own arguments (imports there stay light).
    from . import bench, ensemble
    from .data import pack
    for module in (ensemble, bench, pack):
        module.register(verbs)
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
