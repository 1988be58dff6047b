"""Run configuration: defaults, YAML layering and ``--set key=value`` overrides.

A run's configuration is one flat dict, built in layers (later wins):

1. ``DEFAULTS`` below (every key the kit knows, with its meaning);
2. the profile file ``<profile>.yaml`` next to the task config (``demo`` or ``full``);
3. the task config's own keys;
4. the task config's ``profiles: {<profile>: {...}}`` section, for per-profile overrides;
5. ``--set key=value`` from the command line (values parsed as YAML).

``profile: auto`` picks ``full`` when the full profile's data is present, else ``demo``.
Unknown keys are rejected so a typo never silently does nothing.
"""
import copy
import os

import yaml

DEFAULTS = {
    # --- what to learn ---
    "family": "fashionai",          # fashionai (single-label tasks) | jd (multi-label styles)
    "task": None,                   # task name, e.g. skirt_length_labels
    "value_names": None,            # optional display names; default from tasks.py or value_i
    "profile": "auto",              # demo | full | auto (full when its data is present)
    # --- data ---
    "data_root": "data/demo/fashionai",
    "label_files": ["Annotations/label.csv"],  # relative to data_root; all are read
    "extra_label_files": [],        # like label_files, but skipped when absent (warm-up set)
    "question_file": "Tests/question.csv",
    "answers_file": None,           # test answers for `evaluate` (demo data has them)
    "image_check": "decode",        # decode | header | none: how images are checked up front
    "val_fraction": 0.1,            # stratified hold-out share for validation
    "seed": 0,
    # --- model ---
    "model": "resnet50_v2",         # any GluonCV classification model name
    "pretrained": True,             # ImageNet weights from the GluonCV model zoo cache
    "allow_random_init": False,     # fall back to random init when weights are missing
    "head": "dense",                # dense | fc_bn (FC hidden -> BN -> ReLU -> FC)
    "head_hidden": 256,
    "dropout": 0.0,                 # dropout before the head's last layer
    # --- images ---
    "image_size": 224,              # network input side
    "resize_short": 256,            # eval: resize short side, then centre crop image_size
    "crop_scale": [0.64, 1.0],      # train: random resized crop, share of the image area
    "crop_ratio": [0.75, 1.3333],   # train: aspect ratio range of the crop
    "hflip": True,
    # --- optimisation ---
    "epochs": 40,
    "batch_size": 64,               # per device
    "optimizer": "sgd",             # sgd | nag | adam
    "lr": 0.001,                    # per batch of batch_size x devices
    "momentum": 0.9,
    "wd": 1e-4,
    "lr_schedule": "step",          # step | cosine
    "lr_steps": [10, 20, 30],       # epochs at which lr is multiplied by lr_factor
    "lr_factor": 0.75,
    "warmup_epochs": 0,             # linear warm-up from 0 to lr
    "maybe_share": 0.0,             # soft-target weight of an `m` value (0 = ignore m)
    # --- multi-label (JD) ---
    "train_file": "train.txt",      # id,url,labels (JD family), relative to data_root
    "test_file": "test.txt",        # id,url
    "images_dir": "images",         # where `download` puts <id>.jpg, relative to data_root
    "loss": "bce",                  # bce | wbce | focal | cost_sensitive
    "wbce_alpha": 1.5,              # weighted BCE: label weight alpha ** -log(n_label)
    "focal_gamma": 2.0,
    "fn_weight": 5.0,               # cost-sensitive: false-negative weight of rare labels
    "rare_frequency": 0.05,         # a label rarer than this share counts as rare
    "rare_repeat": 1,               # repeat samples carrying a rare label this many times
    "frequent_keep": 1.0,           # keep this share of samples whose labels are all frequent
    "folds": 0,                     # K for k-fold (0 = one split by val_fraction)
    "fold": 0,                      # which fold is the validation part
    "min_positive": 1,              # post-processing: at least this many styles per image
    "max_positive": 5,              # ... and at most this many
    "download_workers": 16,
    # --- running ---
    "devices": "auto",              # auto (all GPUs, else CPU) | cpu | list of GPU ids
    "workers": 4,                   # DataLoader worker processes
    "tta": "ten_crop",              # test-time augmentation: none | flip | ten_crop
    "output_dir": "runs/{profile}/{task}",
    "submission_dir": "submission",
    "log_interval": 20,             # batches between progress-bar metric reads
}


class ConfigError(ValueError):
    """A configuration file or override is invalid."""


def _read_yaml(path):
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of key: value, got {type(data).__name__}")
    return data


def _merge(cfg, layer, source):
    for key, value in layer.items():
        if key not in DEFAULTS:
            raise ConfigError(f"{source}: unknown key {key!r} (known keys: see gluonfashion/config.py)")
        cfg[key] = value


def parse_override(text):
    """``"lr=0.01"`` -> ``("lr", 0.01)``; the value is parsed as YAML (lists work too)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value, got {text!r}")
    return key.strip(), yaml.safe_load(value)


def profile_data_present(profile_cfg):
    """True when the first label file of a profile exists (used by ``profile: auto``)."""
    files = profile_cfg.get("label_files") or DEFAULTS["label_files"]
    root = profile_cfg.get("data_root", DEFAULTS["data_root"])
    return bool(files) and os.path.exists(os.path.join(root, files[0]))


def load_config(path=None, overrides=(), profile=None):
    """Build the flat run config from a task YAML, a profile and ``key=value`` overrides."""
    cfg = copy.deepcopy(DEFAULTS)
    task_layer, folder = {}, "."
    if path is not None:
        if not os.path.exists(path):
            raise ConfigError(f"config file not found: {path}")
        task_layer = _read_yaml(path)
        folder = os.path.dirname(os.path.abspath(path))
    per_profile = task_layer.pop("profiles", {}) or {}
    overrides = dict(parse_override(o) if isinstance(o, str) else o for o in overrides)

    profile = profile or overrides.get("profile") or task_layer.get("profile") or "auto"
    if profile == "auto":
        full = os.path.join(folder, "full.yaml")
        profile = "full" if os.path.exists(full) and profile_data_present(_read_yaml(full)) else "demo"
    profile_file = os.path.join(folder, f"{profile}.yaml")
    if os.path.exists(profile_file):
        _merge(cfg, _read_yaml(profile_file), profile_file)
    elif path is not None and profile not in ("demo", "full"):
        raise ConfigError(f"profile {profile!r}: no file {profile_file}")
    _merge(cfg, task_layer, path)
    _merge(cfg, per_profile.get(profile, {}) or {}, f"{path} (profiles.{profile})")
    _merge(cfg, overrides, "--set")
    cfg["profile"] = profile
    return validate(cfg)


def validate(cfg):
    """Check value ranges that would otherwise fail deep inside training."""
    choices = {"family": ("fashionai", "jd"), "head": ("dense", "fc_bn"),
               "optimizer": ("sgd", "nag", "adam"), "lr_schedule": ("step", "cosine"),
               "tta": ("none", "flip", "ten_crop"),
               "loss": ("bce", "wbce", "focal", "cost_sensitive"), "image_check": ("decode", "header", "none")}
    for key, allowed in choices.items():
        if cfg[key] not in allowed:
            raise ConfigError(f"{key} must be one of {', '.join(allowed)}; got {cfg[key]!r}")
    for key in ("epochs", "batch_size", "image_size", "resize_short"):
        if not isinstance(cfg[key], int) or cfg[key] <= 0:
            raise ConfigError(f"{key} must be a positive integer; got {cfg[key]!r}")
    if not 0.0 <= float(cfg["val_fraction"]) < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1); got {cfg['val_fraction']!r}")
    if not 0.0 <= float(cfg["maybe_share"]) <= 1.0:
        raise ConfigError(f"maybe_share must be in [0, 1]; got {cfg['maybe_share']!r}")
    if cfg["folds"] and not 0 <= cfg["fold"] < cfg["folds"]:
        raise ConfigError(f"fold must be in [0, folds); got fold={cfg['fold']} folds={cfg['folds']}")
    if cfg["resize_short"] < cfg["image_size"]:
        raise ConfigError("resize_short must be >= image_size (centre crop after resize)")
    return cfg


def output_dir(cfg):
    """The run folder, with ``{task}``/``{profile}``/``{model}`` filled in; k-fold runs
    get one sub-folder per fold (``fold0``, ``fold1``, ...)."""
    path = cfg["output_dir"].format(task=cfg["task"] or cfg["family"], profile=cfg["profile"],
                                    model=cfg["model"])
    return os.path.join(path, f"fold{cfg['fold']}") if cfg["folds"] else path


def save_config(cfg, path):
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(dict(cfg), f, sort_keys=False)
