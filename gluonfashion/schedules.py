"""Learning-rate schedules as pure functions of the (fractional) epoch."""
import math


def lr_at(cfg, epoch):
    """Learning rate at fractional ``epoch`` (0-based; 2.5 = halfway through epoch 3)."""
    base, warm = float(cfg["lr"]), float(cfg.get("warmup_epochs") or 0)
    if warm and epoch < warm:
        return base * (epoch + 1e-3) / warm
    kind = cfg["lr_schedule"]
    if kind == "step":
        passed = sum(1 for s in cfg["lr_steps"] if epoch >= s)
        return base * cfg["lr_factor"] ** passed
    if kind == "cosine":
        span = max(cfg["epochs"] - warm, 1e-9)
        t = min(max((epoch - warm) / span, 0.0), 1.0)
        return base * 0.5 * (1 + math.cos(math.pi * t))
    raise ValueError(f"unknown lr_schedule {kind!r}")
