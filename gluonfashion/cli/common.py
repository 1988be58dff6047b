"""What every verb shares: the config arguments, the progress switch, loading a config."""
from ..config import load_config
from ..families import check_config


def add_config_args(p):
    p.add_argument("--config", help="task YAML, e.g. configs/fashionai/skirt_length_labels.yaml")
    p.add_argument("--profile", help="demo | full | auto (default: from the config, else auto)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set lr=0.01")


def add_progress_args(p):
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def load(args):
    """The config the arguments name, with its family checked (an unknown family, or a
    key the family does not use, fails here)."""
    cfg = load_config(args.config, args.overrides, args.profile)
    check_config(cfg)
    return cfg
