"""Task families by name, the way GluonCV's ``get_model`` maps a name to a builder.

A config's ``family`` picks one; everything family-specific (file formats, objective,
submission format, competition metric, ensemble outputs, demo data) is reached
through it. Adding a family means adding its module and one entry below.
"""
from ..config import DEFAULTS, ConfigError
from .base import EvalSet, Family
from .deepfashion import DeepFashion
from .fashionai import FashionAI
from .jd import JDStyles

FAMILIES = {family.name: family for family in (FashionAI(), JDStyles(), DeepFashion())}


def get_family(name):
    """The family called ``name``; an unknown name is refused with the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"unknown task family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def family_of(cfg):
    """The family of a config (or of a run's saved config)."""
    return get_family(cfg["family"])


def check_config(cfg):
    """The family of a freshly loaded config; a key it never reads but set to other than
    its default (``folds`` for FashionAI) is refused rather than silently ignored."""
    family = family_of(cfg)
    unused = sorted(k for k in family.ignored_keys if cfg[k] != DEFAULTS[k])
    if unused:
        raise ConfigError(f"the {family.name} family does not use {', '.join(unused)} "
                          f"(set to {', '.join(repr(cfg[k]) for k in unused)}): remove "
                          f"{'it' if len(unused) == 1 else 'them'} from the config")
    return family


__all__ = ["EvalSet", "FAMILIES", "Family", "check_config", "family_of", "get_family"]
