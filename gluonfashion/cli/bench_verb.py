"""``bench``: training and prediction images/s against the machine's compute bound."""
import argparse

from ..serving.int8_bench import compare_int8
from ..serving.quantize import bench_quantizer
from ..speed.bench import TTA_MODES, run_bench
from .common import add_config_args, add_int8_args, load


def register(verbs):
    p = verbs.add_parser("bench", help="measure training/prediction images/s against the compute bound")
    add_config_args(p)
    p.add_argument("--batches", type=int, default=20, help="timed batches per segment (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed batches before each segment (default 3)")
    p.add_argument("--repeat", type=int, default=5,
                   help="rounds of (bound, end to end) segments; ratios are medians over rounds (default 5)")
    p.add_argument("--images", help="folder of JPEGs to read (default: the config task's images)")
    p.add_argument("--tta", nargs="+", choices=TTA_MODES, default=list(TTA_MODES),
                   help="TTA modes to measure (default: all)")
    p.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=False,
                   help="also measure the naive loop (MXNet's default threads, a host sync every batch, "
                        "one image at a time ten-crop prediction) in its own process, and print the "
                        "kit's speed-up over it (default: off; it adds about half the bench's time)")
    add_int8_args(p, "with --run: float32 against INT8 (oneDNN, calibrated on validation images) prediction "
                     "images/s and the change in the run's validation and test scores (with the run's TTA, "
                     "or the one --tta mode given); with --config: the prediction segments (and the naive "
                     "baseline's comparison) run the INT8 network, calibrated on the bench's images")
    p.add_argument("--run", help="the trained run folder that --int8 quantizes and scores")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args):
    if args.run:
        if not args.int8:
            raise ValueError("--run goes with --int8: gluonfashion bench --run RUN --int8")
        tta = args.tta[0] if len(args.tta) == 1 else None       # one --tta mode scores with it
        compare_int8(args.run, tta, args.calib_images, args.calibration, args.batches, args.warmup, args.repeat)
        return
    if not args.config:
        # Without a task file the defaults name no task, and the model, image size and
        # loader settings being measured would be nobody's: ask for one.
        raise ValueError("bench needs --config: the task YAML whose model, image size, batch and loader "
                         "settings (and images) to measure, e.g. gluonfashion bench --config "
                         "configs/fashionai/skirt_length_labels.yaml --profile demo")
    cfg = load(args)
    run_bench(cfg, args.images, args.batches, args.warmup, args.tta, args.repeat, baseline=args.baseline,
              int8=bench_quantizer(cfg, args.calib_images, args.calibration) if args.int8 else None)
