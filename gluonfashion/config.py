"""Run configuration: defaults, YAML layering and ``--set key=value`` overrides.

A run's configuration is one flat dict, built in layers (later wins):

1. ``DEFAULTS`` below (every key the kit knows, with its meaning);
2. the profile file ``<profile>.yaml`` next to the task config (``demo`` or ``full``);
3. the task config's own keys;
4. the task config's ``profiles: {<profile>: {...}}`` section, for per-profile overrides;
5. ``--set key=value`` from the command line (values parsed as YAML).

``profile: auto`` picks ``full`` when the full profile's data is present, else ``demo``.
Unknown keys are rejected so a typo never silently does nothing; so are values of
the wrong type (``lr: abc``), names under ``profiles:`` that are no profile, and
out-of-range values. Numbers such as ``1e-4`` are read as numbers (YAML 1.1, which
PyYAML follows, would make that a string).
"""
import copy
import json
import math
import os
import re

import yaml

from .data.paths import is_plain_name
from .schedules import is_cycle_end

KVSTORES = ("device", "local", "dist_sync", "dist_device_sync")
# kvstore values MXNet knows that the kit refuses, and why.
KVSTORES_REFUSED = {
    "dist_async": "with dist_async the servers own the optimizer: the kit's learning-rate schedule would not "
                  "reach it and --resume could not save its state",
    "horovod": "MXNet 1.9.1 has no horovod kvstore: that name gives a plain one-process store; Horovod drives "
               "MXNet 1.x through its own hvd.DistributedTrainer and horovodrun, which the kit does not use; "
               "for several workers use dist_sync",
}

DEFAULTS = {
    # --- what to learn ---
    "family": "fashionai",          # fashionai (single-label tasks) | jd (multi-label styles)
                                    # | deepfashion (a category and attributes per image)
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
    "min_image_side": None,         # images with a shorter short side are reported and skipped, not
                                    # upscaled (null: image_size; 0: keep every size)
    "val_fraction": 0.1,            # stratified hold-out share for validation
    "seed": 0,
    # --- model ---
    "model": "resnet50_v2",         # any GluonCV classification model name, or efficientnet_lite0
                                    # (gluonfashion.pretrained: weights installed with a package)
    "pretrained": True,             # true: ImageNet weights (GluonCV zoo cache; bundled for
                                    # efficientnet_lite0) | false: random init | path/to/file.params:
                                    # the backbone's weights from an earlier run (its best.params, or
                                    # net.features.save_parameters(path); see models.load_backbone_params)
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
    "crop_h": None,                 # train: [lo, hi] share of the width kept; with crop_v replaces the area crop
    "crop_v": None,                 # train: [lo, hi] share of the height kept (JD 1st place: [0.9, 1.0])
    "stretch": 0.0,                 # train: random width stretch/squeeze, +-share (e.g. 0.1), before the crop
    "rotate_deg": 0,                # train: random rotation within +-deg (e.g. 15), before the crop
    "hsv_shift": [0, 0, 0],         # train: random +-hue degrees, +-saturation share, +-value share (0 = off)
    "erase_prob": 0.0,              # train: random erasing probability (e.g. 0.5), after the crop
    "erase_area": [0.02, 0.4],      # train: random erasing, share of the image area erased
    # --- optimisation ---
    "epochs": 40,
    "batch_size": 64,               # per device
    "optimizer": "sgd",             # sgd | nag | adam
    "lr": 0.001,                    # per batch of batch_size x devices
    "momentum": 0.9,
    "wd": 1e-4,
    "lr_schedule": "step",          # step | cosine | cyclic (see schedules.py)
    "lr_steps": [10, 20, 30],       # epochs at which lr is multiplied by lr_factor
    "lr_factor": 0.75,
    "warmup_epochs": 0,             # linear warm-up from 0 to lr (one_cycle: the rise from lr_min)
    "lr_min": 0.0,                  # bottom of cyclic/one_cycle and end of cosine
    "cycle_mode": "triangular",     # cyclic: triangular (repeated cycles) | one_cycle (one over the run)
    "cycle_epochs": 2,              # triangular: epochs per cycle (lr_min -> lr -> lr_min)
    "head_only_epochs": 0,          # staged fine-tuning: train only the head (backbone frozen) this many epochs
    "backbone_lr_mult": 1.0,        # lr multiplier of the backbone once unfrozen (0 = frozen all run)
    "swa_epochs": 0,                # SWA: average the weights of the last K epochs (triangular: cycle ends)
    "maybe_share": 0.0,             # soft-target weight of an `m` value, in [0, 1) (0 = ignore m)
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
    "download_deadline_s": 120,     # give up on one image after this many seconds, all tries included
    "download_max_mb": 50,          # refuse bodies larger than this
    "download_file_roots": [],      # folders file:// URLs may read from (data_root is always one)
    # --- category and attributes (DeepFashion); the lists relative to data_root ---
    "category_names_file": "Anno/list_category_cloth.txt",   # category_name category_type
    "category_file": "Anno/list_category_img.txt",           # image_name category_label (1-based)
    "attribute_names_file": "Anno/list_attr_cloth.txt",      # attribute_name attribute_type
    "attribute_file": "Anno/list_attr_img.txt",              # image_name then 1 / -1 / 0 per attribute
    "bbox_file": "Anno/list_bbox.txt",                       # image_name x_1 y_1 x_2 y_2
    "partition_file": "Eval/list_eval_partition.txt",        # image_name train|val|test (the split)
    "attribute_zero": "unknown",    # what an attribute value 0 means: unknown (left out of the loss)
                                    # | absent (as -1, for a release that writes absent as 0)
    "crop_dir": "crops",            # where bounding-box crops are kept (relative to data_root, or absolute)
    "crop_side": 256,               # crops are resized (stretched) to side x side px; 0 keeps the box's size
    "crop_margin": 0.0,             # share of the box's width/height added on each side before cropping
    "category_loss_weight": 1.0,    # w_c: weight of the category cross-entropy (thesis: 1)
    "attribute_loss_weight": 20.0,  # w_s: weight of the attributes' weighted BCE (thesis: 20)
    "attribute_pos_weight": 1.0,    # w_pos: weight of a present attribute's term (thesis: 1)
    "attribute_neg_weight": 0.1,    # w_neg: weight of an absent attribute's term (thesis: 0.1)
    # --- running ---
    "devices": "auto",              # auto (all GPUs, else CPU) | cpu | list of GPU ids
    "kvstore": "device",            # how gradients are summed: device | local (one process) | dist_sync |
                                    # dist_device_sync (workers started by `gluonfashion launch`, which
                                    # sets it; see distributed.py); global batch: batch_size x devices x workers
    "amp": "none",                  # none | float16 (GPUs) | bfloat16 (CPUs with oneDNN): MXNet AMP
    "workers": 4,                   # DataLoader workers (0: load in the training process)
    "loader": "process",            # process | thread: what the workers are
    "image_source": "files",        # files | pack: read JPEG files, or the `gluonfashion pack` RecordIO pack
    "pack_side": None,              # short side of the pack to read (default: resize_short)
    "tta": "ten_crop",              # test-time augmentation: none | flip | ten_crop
    "predict_weights": "best",      # weights predict uses: best | swa | last (<which>.params of the run)
    "output_dir": "runs/{profile}/{task}",
    "submission_dir": "submission",
    "log_interval": 20,             # batches between progress-bar metric reads (>= 1)
    "checkpoint_every_s": 0,        # seconds between saves of the resume state and curves.png
                                    # (0: every epoch); the last epoch and a new best always save
}


class ConfigError(ValueError):
    """A configuration file or override is invalid."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, with ``1e-4`` and ``5E3`` read as floats as YAML 1.2 does
    (YAML 1.1 wants a dot, ``1.0e-4``, and reads ``1e-4`` as the string "1e-4")."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def _yaml(text_or_file):
    return yaml.load(text_or_file, Loader=_Loader)   # noqa: S506 - a SafeLoader subclass


def _read_yaml(path):
    with open(path, encoding="utf-8") as f:
        data = _yaml(f) or {}
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
    return key.strip(), _yaml(value)


def profile_data_present(profile_cfg):
    """True when the first label file of a profile exists (used by ``profile: auto``)."""
    files = profile_cfg.get("label_files") or DEFAULTS["label_files"]
    root = profile_cfg.get("data_root", DEFAULTS["data_root"])
    return bool(files) and os.path.exists(os.path.join(root, files[0]))


def _profile_sections(sections, path, folder):
    """The task file's ``profiles:`` mapping, each section checked: a name that is no
    profile (``dmeo``) or an unknown key in any section is an error, not a no-op."""
    if not isinstance(sections, dict):
        raise ConfigError(f"{path}: profiles must map profile names to key: value sections")
    for name, section in sections.items():
        if name not in ("demo", "full") and not os.path.exists(os.path.join(folder, f"{name}.yaml")):
            raise ConfigError(f"{path}: profiles.{name}: no profile {name!r} (demo, full, or a "
                              f"{name}.yaml next to the task file)")
        if not isinstance(section or {}, dict):
            raise ConfigError(f"{path}: profiles.{name} must be a mapping of key: value")
        _merge({}, section or {}, f"{path} (profiles.{name})")
    return sections


def load_config(path=None, overrides=(), profile=None):
    """Build the flat run config from a task YAML, a profile and ``key=value`` overrides."""
    cfg = copy.deepcopy(DEFAULTS)
    task_layer, folder = {}, "."
    if path is not None:
        if not os.path.exists(path):
            raise ConfigError(f"config file not found: {path}")
        task_layer = _read_yaml(path)
        folder = os.path.dirname(os.path.abspath(path))
    per_profile = _profile_sections(task_layer.pop("profiles", {}) or {}, path, folder)
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


# The type of each key's value, from its default; the keys below take more than one.
_NUMBER_KEYS = ("rotate_deg", "warmup_epochs", "cycle_epochs", "checkpoint_every_s", "download_deadline_s",
                "download_max_mb", "maybe_share")
_OPTIONAL = {"task": str, "value_names": list, "answers_file": str, "crop_h": list, "crop_v": list,
             "pack_side": int, "min_image_side": int}
_FREE = ("pretrained", "devices")   # checked by their own rules below / in devices.py


def _kind(key):
    """``(type name, test)`` for the value of ``key``."""
    default = DEFAULTS[key]
    kind = _OPTIONAL.get(key) or type(default)
    if key in _NUMBER_KEYS or kind is float:
        return "a number", lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool)
                                      and math.isfinite(v))
    if kind is int:
        return "an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)
    if kind is bool:
        return "true or false", lambda v: isinstance(v, bool)
    if kind is list:
        return "a list", lambda v: isinstance(v, (list, tuple))
    return "a string", lambda v: isinstance(v, str)


def _check_types(cfg):
    for key, value in cfg.items():
        if key in _FREE or (value is None and (key in _OPTIONAL or DEFAULTS[key] is None)):
            continue
        name, test = _kind(key)
        if not test(value):
            hint = " (it is quoted, or not a number YAML reads)" if isinstance(value, str) and name == "a number" else ""
            raise ConfigError(f"{key} must be {name}{' or null' if key in _OPTIONAL else ''}; got {value!r} "
                              f"({type(value).__name__}){hint}")


def validate(cfg):
    """Check types and value ranges that would otherwise fail deep inside training."""
    _check_types(cfg)
    # ``family`` is checked against the registry (``families.get_family``) where it is used.
    choices = {"head": ("dense", "fc_bn"),
               "optimizer": ("sgd", "nag", "adam"), "lr_schedule": ("step", "cosine", "cyclic"),
               "cycle_mode": ("triangular", "one_cycle"), "predict_weights": ("best", "swa", "last"),
               "tta": ("none", "flip", "ten_crop"),
               "loss": ("bce", "wbce", "focal", "cost_sensitive"), "image_check": ("decode", "header", "none"),
               "loader": ("process", "thread"), "image_source": ("files", "pack"),
               "amp": ("none", "float16", "bfloat16"), "attribute_zero": ("unknown", "absent")}
    for key, allowed in choices.items():
        if cfg[key] not in allowed:
            raise ConfigError(f"{key} must be one of {', '.join(allowed)}; got {cfg[key]!r}")
    for key in ("epochs", "batch_size", "image_size", "resize_short", "log_interval", "download_workers"):
        if not isinstance(cfg[key], int) or cfg[key] <= 0:
            raise ConfigError(f"{key} must be a positive integer; got {cfg[key]!r}")
    _check(cfg["task"] is None or is_plain_name(cfg["task"]),
           f"task {cfg['task']!r} must be usable as a file and folder name (no path separator, not '.' or '..')")
    if not 0.0 <= float(cfg["val_fraction"]) < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1); got {cfg['val_fraction']!r}")
    if not 0.0 <= float(cfg["maybe_share"]) < 1.0:
        raise ConfigError(f"maybe_share must be in [0, 1) (at 1 a 'maybe' weighs as much as the 'yes' and "
                          f"the target no longer says which value is right); got {cfg['maybe_share']!r}")
    _check(cfg["min_image_side"] is None or cfg["min_image_side"] >= 0,
           f"min_image_side must be null or >= 0; got {cfg['min_image_side']!r}")
    for key in ("download_deadline_s", "download_max_mb"):
        _check(cfg[key] > 0, f"{key} must be > 0; got {cfg[key]!r}")
    if cfg["folds"] and not 0 <= cfg["fold"] < cfg["folds"]:
        raise ConfigError(f"fold must be in [0, folds); got fold={cfg['fold']} folds={cfg['folds']}")
    _check(isinstance(cfg["pretrained"], bool)
           or (isinstance(cfg["pretrained"], str) and cfg["pretrained"].endswith(".params")),
           f"pretrained must be true, false or the path of a .params file; got {cfg['pretrained']!r}")
    _check(isinstance(cfg["checkpoint_every_s"], (int, float)) and cfg["checkpoint_every_s"] >= 0,
           f"checkpoint_every_s must be a number >= 0; got {cfg['checkpoint_every_s']!r}")
    _check(isinstance(cfg["crop_side"], int) and cfg["crop_side"] >= 0,
           f"crop_side must be an integer >= 0; got {cfg['crop_side']!r}")
    _check(0.0 <= float(cfg["crop_margin"]) < 1.0, f"crop_margin must be in [0, 1); got {cfg['crop_margin']!r}")
    for key in ("category_loss_weight", "attribute_loss_weight", "attribute_pos_weight", "attribute_neg_weight"):
        _check(float(cfg[key]) >= 0, f"{key} must be >= 0; got {cfg[key]!r}")
    if cfg["resize_short"] < cfg["image_size"]:
        raise ConfigError("resize_short must be >= image_size (centre crop after resize)")
    why = KVSTORES_REFUSED.get(cfg["kvstore"])
    _check(cfg["kvstore"] in KVSTORES, f"kvstore must be one of {', '.join(KVSTORES)}; got {cfg['kvstore']!r}"
                                       + (f" ({why})" if why else ""))
    _validate_recipes(cfg)
    _validate_augmentation(cfg)
    return cfg


def _check(ok, message):
    if not ok:
        raise ConfigError(message)


def _is_range(value, low=0.0, high=1.0):
    """``[lo, hi]`` with ``low < lo <= hi <= high``."""
    return (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, (int, float)) for v in value) and low < value[0] <= value[1] <= high)


def _validate_recipes(cfg):
    """Schedules, staged fine-tuning and SWA."""
    _check(0.0 <= float(cfg["lr_min"]) <= float(cfg["lr"]), f"lr_min must be in [0, lr]; got {cfg['lr_min']!r}")
    _check(float(cfg["cycle_epochs"]) > 0, f"cycle_epochs must be > 0; got {cfg['cycle_epochs']!r}")
    for key in ("head_only_epochs", "swa_epochs"):
        _check(isinstance(cfg[key], int) and cfg[key] >= 0, f"{key} must be an integer >= 0; got {cfg[key]!r}")
    _check(float(cfg["backbone_lr_mult"]) >= 0, f"backbone_lr_mult must be >= 0; got {cfg['backbone_lr_mult']!r}")
    _check(cfg["swa_epochs"] <= cfg["epochs"], f"swa_epochs must be <= epochs; got {cfg['swa_epochs']}")
    _check(cfg["predict_weights"] != "swa" or cfg["swa_epochs"] > 0, "predict_weights: swa needs swa_epochs > 0")
    if cfg["swa_epochs"] and cfg["lr_schedule"] == "cyclic" and cfg["cycle_mode"] == "triangular":
        window = range(cfg["epochs"] - cfg["swa_epochs"] + 1, cfg["epochs"] + 1)
        _check(any(is_cycle_end(cfg, e) for e in window),
               f"no triangular cycle ends within the last swa_epochs={cfg['swa_epochs']} epochs "
               f"(cycle_epochs={cfg['cycle_epochs']}): SWA would average nothing")


def _validate_augmentation(cfg):
    for key in ("crop_h", "crop_v"):
        _check(cfg[key] is None or _is_range(cfg[key]), f"{key} must be null or [lo, hi] with 0 < lo <= hi <= 1; "
                                                        f"got {cfg[key]!r}")
    _check(_is_range(cfg["erase_area"]), f"erase_area must be [lo, hi] with 0 < lo <= hi <= 1; got {cfg['erase_area']!r}")
    _check(0.0 <= float(cfg["erase_prob"]) <= 1.0, f"erase_prob must be in [0, 1]; got {cfg['erase_prob']!r}")
    _check(0.0 <= float(cfg["stretch"]) < 1.0, f"stretch must be in [0, 1); got {cfg['stretch']!r}")
    _check(0.0 <= float(cfg["rotate_deg"]) <= 180, f"rotate_deg must be in [0, 180]; got {cfg['rotate_deg']!r}")
    hsv = cfg["hsv_shift"]
    _check(isinstance(hsv, (list, tuple)) and len(hsv) == 3 and all(isinstance(v, (int, float)) for v in hsv)
           and 0 <= hsv[0] <= 180 and 0 <= hsv[1] <= 1
           and 0 <= hsv[2] <= 1, f"hsv_shift must be [hue_deg 0..180, sat_share 0..1, value_share 0..1]; "
                                 f"got {hsv!r}")


# Settings that change how a run is executed, not what it learns: two configs that
# differ only here describe the same run (a resume may change them).
RUNTIME_KEYS = ("workers", "loader", "devices", "kvstore", "log_interval", "checkpoint_every_s", "download_workers",
                "download_deadline_s", "download_max_mb", "download_file_roots", "submission_dir")


def comparable_config(cfg):
    """``cfg`` without the runtime keys, with tuples as lists (as saved in JSON)."""
    return json.loads(json.dumps({k: v for k, v in cfg.items() if k not in RUNTIME_KEYS}))


def changed_keys(saved, cfg):
    """Keys whose values differ between a saved config and ``cfg``, runtime keys aside."""
    a, b = comparable_config(saved), comparable_config(cfg)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def min_image_side(cfg):
    """The shortest image side training accepts (``min_image_side``, default ``image_size``)."""
    return cfg["image_size"] if cfg.get("min_image_side") is None else cfg["min_image_side"]


def output_dir(cfg):
    """The run folder, with ``{task}``/``{profile}``/``{model}`` filled in; k-fold runs
    get one sub-folder per fold (``fold0``, ``fold1``, ...)."""
    path = cfg["output_dir"].format(task=cfg["task"] or cfg["family"], profile=cfg["profile"],
                                    model=cfg["model"])
    return os.path.join(path, f"fold{cfg['fold']}") if cfg["folds"] else path


def save_config(cfg, path):
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(dict(cfg), f, sort_keys=False)
