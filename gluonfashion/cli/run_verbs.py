"""Verbs of a run: ``train``, ``predict``, ``merge`` and ``evaluate``."""
import os
import sys

from ..config import DEFAULTS
from ..families import family_of, get_family
from ..run_folder import RunFolder
from ..serving import Predictor
from ..serving.quantize import load_int8
from ..submission import merge
from .common import add_config_args, add_int8_args, add_progress_args, load


def cmd_train(args):
    cfg = load(args)
    run_dir, best = family_of(cfg).train(cfg, args.resume, args.fresh, not args.quiet, then_predict=args.predict)
    if best is None:   # a distributed worker other than worker 0: worker 0 reports the run
        return
    shown = ", ".join(f"{k[4:]} {v:.4f}" for k, v in best["metrics"].items() if k.startswith("val_"))
    print(f"[train] best epoch {best['epoch']} ({shown}) -> {run_dir}")


def cmd_predict(args):
    cfg = load(args) if args.config or not args.run else None
    run = RunFolder(args.run) if args.run else RunFolder.of(cfg)
    if args.images:
        if args.out:
            raise ValueError("--out is the folder for question rows; with --images, --save FILE.csv|FILE.json")
        predict_image_files(run, args)
        return
    if args.save or args.top is not None:
        raise ValueError("--save and --top go with --images (question rows are written under --out)")
    cfg = cfg or run.config()
    loaded = load_int8(run, args.weights, args.calib_images, args.calibration) if args.int8 else None
    family_of(cfg).predict(run.path, args.out or cfg["submission_dir"], args.tta, args.weights,
                           rows_file=args.question, progress=not args.quiet, loaded=loaded)


def predict_image_files(run, args):
    """``predict --images``: one line per image, and ``--save`` as CSV or JSON."""
    predictor = Predictor.from_run(run.path, args.tta, args.weights, top=args.top or 3, log=lambda *a: None,
                                   int8=args.int8, calib_images=args.calib_images, calib_mode=args.calibration)
    predictions = predictor.predict(args.images, progress=not args.quiet)
    print(f"[predict] {len(predictions)} images, tta={predictor.tta}{', INT8' if args.int8 else ''}, "
          f"run {run.path}")
    for line in predictions.lines():
        print(line)
    if predictions.skipped:
        print(f"[predict] {len(predictions.skipped)} files skipped (cannot be read):", file=sys.stderr)
        for path, reason in predictions.skipped:
            print(f"          {path}: {reason}", file=sys.stderr)
    if args.save:
        print(f"[predict] -> {predictions.save(args.save)}")


def cmd_merge(args):
    cfg = load(args) if args.config or not (args.question and args.pred_dir) else None
    question = args.question or os.path.join(cfg["data_root"], cfg["question_file"])
    pred_dir = args.pred_dir or cfg["submission_dir"]   # where predict wrote them
    merge(question, pred_dir, args.out or os.path.join(pred_dir, "submission.csv"))


def cmd_evaluate(args):
    cfg = load(args) if args.config else None
    family = family_of(cfg) if cfg else get_family(DEFAULTS["family"])
    print(family.evaluate(cfg, args.submission, args.answers, args.thresholds, args.runs))


def register(verbs):
    p = verbs.add_parser("train", help="train one task from its config")
    add_config_args(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue from the last completed epoch")
    g.add_argument("--fresh", action="store_true", help="discard an existing run state and split")
    p.add_argument("--predict", action="store_true",
                   help="then predict as `predict --config` would (the run's TTA and weights, into "
                        "submission_dir), in this process with the trained network: no second start-up")
    add_progress_args(p)
    p.set_defaults(func=cmd_train)

    p = verbs.add_parser("predict", help="predict the question (or test) rows of a trained task")
    add_config_args(p)
    p.add_argument("--run", help="run folder (default: the config's output_dir)")
    rows = p.add_mutually_exclusive_group()
    rows.add_argument("--question", help="rows to predict: FashionAI question.csv, JD test.txt "
                                         "(default: from the run's config)")
    rows.add_argument("--images", nargs="+", metavar="PATH",
                      help="image files and folders to predict instead (no CSV needed): prints each image's "
                           "top values per attribute, or its styles over the run's thresholds")
    p.add_argument("--top", type=int, help="with --images: values listed per attribute (default 3)")
    p.add_argument("--save", metavar="FILE", help="with --images: also write the predictions to FILE "
                                                  "(.csv or .json)")
    p.add_argument("--tta", choices=["none", "flip", "ten_crop"], help="default: from the config")
    add_int8_args(p, "predict through the INT8 network (CPU, oneDNN), calibrated on the run's validation "
                     "images: about 4x faster than float32 for resnet50_v2 at 224 px; bench --run RUN --int8 "
                     "measures what it changes in the scores")
    p.add_argument("--out", help="folder for the prediction files (default: submission/)")
    p.add_argument("--weights", choices=["best", "swa", "last"],
                   help="which checkpoint (default: the config's predict_weights)")
    add_progress_args(p)
    p.set_defaults(func=cmd_predict)

    p = verbs.add_parser("merge", help="join per-task predictions into one checked submission")
    add_config_args(p)
    p.add_argument("--question", help="question.csv (default: from the profile's config)")
    p.add_argument("--pred-dir", help="per-task prediction files (default: the config's submission_dir)")
    p.add_argument("--out", help="merged submission (default: <pred-dir>/submission.csv)")
    p.set_defaults(func=cmd_merge)

    p = verbs.add_parser("evaluate", help="score predictions against answers (per-task/per-style table)")
    add_config_args(p)
    p.add_argument("--submission", help="FashionAI: merged submission; JD: probabilities file")
    p.add_argument("--answers", help="answers file (default: the config's answers_file)")
    p.add_argument("--runs", help="FashionAI runs folder, for validation accuracy and train time")
    p.add_argument("--thresholds", help="JD: thresholds.json to apply (default: the run's; "
                                        "an ensemble writes its own)")
    p.set_defaults(func=cmd_evaluate)
