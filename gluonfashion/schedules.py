"""Learning-rate schedules as pure functions of the (fractional) epoch.

No schedule keeps state: the rate at any point of training follows from the config
and the fractional epoch alone, which is what lets ``--resume`` continue exactly.

- ``step``: ``lr * lr_factor ** (number of lr_steps passed)``;
- ``cosine``: half a cosine from ``lr`` down to ``lr_min`` at the last epoch;
- ``cyclic`` with ``cycle_mode: triangular``: repeated triangles of ``cycle_epochs``
  epochs, each rising linearly from ``lr_min`` to ``lr`` at mid-cycle and falling back
  to ``lr_min`` at the cycle end (Smith, "Cyclical learning rates", 2017);
- ``cyclic`` with ``cycle_mode: one_cycle``: one cycle over the whole run, a linear
  rise from ``lr_min`` to ``lr`` during ``warmup_epochs``, then a cosine anneal to
  ``lr_min`` at the last epoch (Smith's "1cycle" with a cosine tail).

``warmup_epochs`` is a linear ramp from 0 to ``lr`` in front of ``step``, ``cosine``
and ``triangular`` (triangular cycles start after it); ``one_cycle`` uses it as its
own rise from ``lr_min``.
"""
import math


def lr_at(cfg, epoch):
    """Learning rate at fractional ``epoch`` (0-based; 2.5 = halfway through epoch 3)."""
    base, warm = float(cfg["lr"]), float(cfg.get("warmup_epochs") or 0)
    low = float(cfg.get("lr_min") or 0.0)
    kind = cfg["lr_schedule"]
    if kind == "cyclic" and cfg.get("cycle_mode") == "one_cycle":
        return _one_cycle(base, low, warm, float(cfg["epochs"]), epoch)
    if warm and epoch < warm:
        return base * (epoch + 1e-3) / warm
    if kind == "step":
        passed = sum(1 for s in cfg["lr_steps"] if epoch >= s)
        return base * cfg["lr_factor"] ** passed
    if kind == "cosine":
        return _cosine(base, low, (epoch - warm) / max(cfg["epochs"] - warm, 1e-9))
    if kind == "cyclic":
        return _triangle(base, low, (epoch - warm) / float(cfg["cycle_epochs"]))
    raise ValueError(f"unknown lr_schedule {kind!r}")


def _cosine(high, low, t):
    """Half a cosine from ``high`` (t=0) to ``low`` (t>=1)."""
    t = min(max(t, 0.0), 1.0)
    return low + (high - low) * 0.5 * (1 + math.cos(math.pi * t))


def _triangle(high, low, cycles):
    """``low`` at whole cycles, ``high`` at half cycles, linear in between."""
    phase = cycles - math.floor(cycles)
    return low + (high - low) * (1.0 - abs(2.0 * phase - 1.0))


def _one_cycle(high, low, rise, epochs, epoch):
    if rise and epoch < rise:
        return low + (high - low) * epoch / rise
    return _cosine(high, low, (epoch - rise) / max(epochs - rise, 1e-9))


def is_cycle_end(cfg, epochs_done):
    """True when ``epochs_done`` completed epochs end a triangular cycle (the lr is at
    ``lr_min`` there: the points worth averaging for SWA). False for other schedules."""
    if cfg["lr_schedule"] != "cyclic" or cfg.get("cycle_mode") != "triangular":
        return False
    cycles = (epochs_done - float(cfg.get("warmup_epochs") or 0)) / float(cfg["cycle_epochs"])
    return cycles > 0.5 and abs(cycles - round(cycles)) < 1e-6
