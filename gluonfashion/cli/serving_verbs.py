"""``export``: a trained run as files that run without the kit (MXNet or ONNX, float32 or INT8)."""
from ..serving.export import FORMATS, export_run
from ..serving.quantize import CALIB_MODES


def cmd_export(args):
    export_run(args.run, args.format, args.out, args.int8, args.weights, args.check_images, args.calibration)


def register(verbs):
    p = verbs.add_parser("export", help="write a run's network with its preprocessing inside (MXNet symbol + "
                                        "params, or ONNX; optionally INT8) and a manifest")
    p.add_argument("--run", required=True, help="run folder, e.g. runs/demo/skirt_length_labels")
    p.add_argument("--format", choices=FORMATS, default="mxnet",
                   help="mxnet: symbol JSON + params for SymbolBlock.imports; onnx: model.onnx (default mxnet)")
    p.add_argument("--int8", action="store_true",
                   help="quantize to INT8 with oneDNN, calibrated on the run's validation images (mxnet only)")
    p.add_argument("--out", required=True, help="folder for the model files and manifest.json")
    p.add_argument("--weights", choices=["best", "swa", "last"],
                   help="which checkpoint (default: the run's predict_weights)")
    p.add_argument("--check-images", type=int, default=64,
                   help="validation images the export is checked against the run's prediction on, and "
                        "INT8 calibrated on (default 64)")
    p.add_argument("--calibration", choices=CALIB_MODES, default="naive",
                   help="INT8 ranges: naive (min/max) or entropy (KL divergence) (default naive)")
    p.set_defaults(func=cmd_export)
