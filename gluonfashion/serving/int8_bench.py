"""``gluonfashion bench --run RUN --int8``: INT8 against float32 for one trained run.

The run's network is quantized as ``export --int8`` does (``quantize``: oneDNN,
calibrated on validation images), then:

1. three networks predict in-memory batches of the run's batch size, in turn for
   ``repeat`` rounds (``speed.bench.predict_rate``: warm-up batches, then timed ones
   after a full synchronisation): float32 as the kit predicts, float32 with oneDNN's
   graph fusion (``hybridize(backend="MKLDNN")``: convolution, BatchNorm and activation
   in one operator, what the INT8 graph gets too) and INT8; a speed-up is the median of
   the rounds' ratios, so load that comes and goes disturbs it little;
2. float32 and INT8 predict the run's validation and test images with the run's
   test-time augmentation and are scored with the family's metrics (``Family.score``:
   validation-searched JD thresholds, as for any run), plus how often their labels
   agree (``graph.label_agreement``).

The last line is machine-readable:
``int8_speedup=<x> int8_speedup_over_fused=<x> <metric>_change=<d> ...``.
"""
import os
import statistics

from .. import threads
from ..families import family_of
from ..objectives import activation_for
from ..run_folder import RunFolder
from ..speed.bench import predict_rate, round_ratio
from ..speed.measuring import Monitor, memory_batch, repeat_batch
from .graph import image_batches, label_agreement, reference_images
from .quantize import quantize

PRECISIONS = ("float32", "int8")


def compare_int8(run_dir, tta=None, calib_images=64, calib_mode="naive", batches=20, warmup=3, repeat=5,
                 weights=None, log=print):
    """Measure and print; returns ``{"speed": {...}, "scores": {...}, "agreement": {...}}``."""
    run = RunFolder(run_dir)
    with Monitor() as monitor:
        loaded = run.load(weights, devices="cpu", log=lambda *a: None)
        cfg, family = loaded.cfg, family_of(loaded.cfg)
        tta = tta or cfg["tta"]
        qnet, facts = quantize(loaded.net, image_batches(cfg, reference_images(run, calib_images)), calib_mode, log)
        fused = run.load(weights, devices="cpu", log=lambda *a: None)
        fused.net.hybridize(backend="MKLDNN", static_alloc=True, static_shape=True)
        nets = {"float32": loaded, "fused": fused, "int8": loaded._replace(net=qnet)}
        log(f"[bench] INT8 vs float32: {cfg['model']} at {cfg['image_size']} px, {run.path}; oneDNN, "
            f"{calib_mode} calibration on {facts['calibration_images']} validation images, quantized dtype "
            f"{facts['quantized_dtype']}; {threads.describe()}")
        speed = _speed(nets, cfg, batches, warmup, repeat)
        log(f"[bench] predict, batch {cfg['batch_size']}, in memory (medians of {repeat} rounds of {batches} "
            f"batches): float32 {speed['float32']:.1f} img/s, float32 fused {speed['fused']:.1f} img/s, "
            f"INT8 {speed['int8']:.1f} img/s; INT8 speed-up {speed['speedup']:.2f}x over float32, "
            f"{speed['speedup_over_fused']:.2f}x over fused float32")
        sets = family.eval_sets(run)
        probs = {p: {name: run.predict_images(s.images, tta, nets[p], progress=False) for name, s in sets.items()}
                 for p in PRECISIONS}
        scores = {p: family.score(probs[p]["val"], sets["val"].truth, probs[p].get("test"),
                                  sets["test"].truth if "test" in sets else None, cfg) for p in PRECISIONS}
        agreement = {name: label_agreement(family, run, probs["float32"][name], probs["int8"][name])
                     for name in sets}
    for line in score_table(scores, agreement, {name: len(s.images) for name, s in sets.items()}, tta):
        log(line)
    log(f"[bench] other processes used {monitor.other_cores:.2f} of {os.cpu_count()} cores meanwhile"
        + (" (speeds disturbed)" if monitor.other_cores > 0.25 else ""))
    changes = " ".join(f"{key.replace(' ', '_')}_change={scores['int8'][key] - scores['float32'][key]:+.4f}"
                       for key in scores["float32"])
    log(f"int8_speedup={speed['speedup']:.2f} int8_speedup_over_fused={speed['speedup_over_fused']:.2f} {changes}")
    return {"speed": speed, "scores": scores, "agreement": agreement, "int8": facts}


def _speed(nets, cfg, batches, warmup, repeat):
    """Median images/s of each network and the median ratios of INT8 to float32 and to
    fused float32."""
    batch = memory_batch(cfg, cfg["batch_size"])
    activation = activation_for(nets["float32"].record)
    rounds = {name: [] for name in nets}
    for _ in range(repeat):
        for name, loaded in nets.items():
            rounds[name].append(predict_rate(loaded.net, loaded.ctx, activation,
                                             repeat_batch(batch, warmup + batches), warmup, batches))
    speed = {name: statistics.median(r for r, _ in measured) for name, measured in rounds.items()}
    return dict(speed, speedup=round_ratio(rounds["int8"], rounds["float32"]),
                speedup_over_fused=round_ratio(rounds["int8"], rounds["fused"]))


def score_table(scores, agreement, sizes, tta):
    """Markdown rows: each metric under float32 and INT8 and the change; then the label
    agreement per set."""
    lines = [f"| metric (tta {tta}) | float32 |   INT8 |  change |", "|---|---:|---:|---:|"]
    for key in scores["float32"]:
        a, b = scores["float32"][key], scores["int8"][key]
        lines.append(f"| {key} | {a:.4f} | {b:.4f} | {b - a:+.4f} |")
    lines += [f"[bench] {name}: INT8 and float32 labels agree on {share:.1%} of {sizes[name]} images"
              for name, share in agreement.items()]
    return lines
