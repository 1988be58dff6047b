"""What every verb shares: the config arguments, the progress switch, INT8 switches,
loading a config."""
from ..config import load_config
from ..families import check_config
from ..serving.quantize import CALIB_MODES


def add_config_args(p):
    p.add_argument("--config", help="task YAML, e.g. configs/fashionai/skirt_length_labels.yaml")
    p.add_argument("--profile", help="demo | full | auto (default: from the config, else auto)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set lr=0.01")


def add_progress_args(p):
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_int8_args(p, int8_help):
    """``--int8`` (with ``int8_help``) and how its calibration is done."""
    p.add_argument("--int8", action="store_true", help=int8_help)
    p.add_argument("--calibration", choices=CALIB_MODES, default="naive",
                   help="with --int8: naive (min/max) or entropy (KL divergence) ranges (default naive)")
    p.add_argument("--calib-images", type=int, default=64,
                   help="with --int8: validation images to calibrate on (default 64)")


def load(args):
    """The config the arguments name, with its family checked (an unknown family, or a
    key the family does not use, fails here)."""
    cfg = load_config(args.config, args.overrides, args.profile)
    check_config(cfg)
    return cfg
