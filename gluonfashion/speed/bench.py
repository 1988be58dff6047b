"""``gluonfashion bench``: training and prediction throughput against the compute bound.

For one config (model, image size, batch size, devices, loader settings), in one run:

1. compute bound: training images/s on one in-memory batch, hybridized;
2. end to end: training images/s from the image files (or the pack) through the real
   loader, with the configured workers;
3. prediction images/s for each TTA mode through the real loader, against forward
   passes of in-memory batches of the same ``batch x crops`` shape, with the network
   hybridized as a loaded run predicts (oneDNN's fused graph on a CPU);
4. peak resident memory of the process (and of its loader workers);
5. with ``--baseline``, the naive loop a user writes first (``naive.py``: MXNet's default
   threads, a host read of the loss and accuracy every batch, prediction one image at a
   time with ten crops), in a process of its own, and the kit's speed-up over it.

Both sides of a ratio run the same code (``engine._train_epoch``,
``predict.predict_batches``); only where the batches come from differs. Each segment
times ``batches`` batches after ``warmup`` untimed ones and a full synchronisation, so
worker start-up and graph building are not counted. The two sides alternate for
``repeat`` rounds; a ratio is the median of the rounds' ratios, so load from other
processes that comes and goes disturbs it little (the share of the CPU they took is
printed too). The baseline's rounds alternate with them in the same way. The last line
printed is machine-readable:
``train_ratio=<2/1> predict_ratio=<worst 3/bound> peak_rss_mb=<n>``; with the baseline,
the line before it is ``train_speedup=<2/naive train> predict_speedup=<ten-crop 3/naive>``.
"""
import os
import statistics

import numpy as np

from .. import mixed_precision, threads
from ..data.dataset import loader_options, make_train_loader
from ..data.pack import existing_images, pack_prefix
from ..devices import describe, resolve_devices
from ..engine import _train_epoch, make_trainer
from ..families import family_of
from ..inference import predict_batches, prediction_loader
from ..models import build_model, fusion_available, hybridize, hybridize_for_prediction
from ..objectives import SingleLabel
from ..transforms import EvalTransform, build_eval_transform
from .measuring import N_OUTPUTS, Monitor, Stopwatch, memory_batch, one_hot_targets, repeat_batch
from .naive_loop import NaiveProcess

TTA_MODES = ("none", "flip", "ten_crop")
JPEG_EXTENSIONS = (".jpg", ".jpeg")


# ------------------------------------------------------------------ measuring

def train_rate(net, trainer, loss, ctx, cfg, source, warmup, batches, amp_on=False):
    """Training ``(images/s, CPU ms/image)`` through ``engine._train_epoch`` over ``source``."""
    timed = Stopwatch(source, warmup, batches)
    _train_epoch(net, timed, trainer, loss, ctx, cfg, 0, (warmup + batches) * cfg["batch_size"], False,
                 amp_on=amp_on)
    return timed.result()


def predict_rate(net, ctx, activation, source, warmup, batches):
    """Prediction ``(images/s, CPU ms/image)`` through ``predict.predict_batches`` over ``source``."""
    timed = Stopwatch(source, warmup, batches)
    predict_batches(net, timed, ctx, activation)
    return timed.result()


def round_ratio(numerators, denominators):
    """Median over rounds of ``numerator images/s / denominator images/s``: each round's
    two measurements ran within seconds of each other, under the same background load.
    Items are ``(images/s, CPU ms per image)``."""
    return statistics.median(n[0] / d[0] for n, d in zip(numerators, denominators))


class Pair:
    """Medians over rounds of a (bound, end to end) comparison, and optionally of the
    naive baseline measured in the same rounds (``speedup``: end to end over naive)."""

    def __init__(self, bounds, reals, naives=None):
        median = statistics.median
        self.bound, self.real = median(r for r, _ in bounds), median(r for r, _ in reals)
        self.ratio = round_ratio(reals, bounds)
        self.bound_cpu, self.real_cpu = median(c for _, c in bounds), median(c for _, c in reals)
        self.naive = median(r for r, _ in naives) if naives else None
        self.speedup = round_ratio(reals, naives) if naives else None

    @property
    def cpu_ratio(self):
        """Bound over end-to-end CPU per image: the ratio a machine with no other load
        would reach if both were CPU-bound on the same cores."""
        return self.bound_cpu / self.real_cpu

    def as_dict(self):
        d = {"bound": self.bound, "real": self.real, "ratio": self.ratio, "bound_cpu_ms": self.bound_cpu,
             "real_cpu_ms": self.real_cpu, "cpu_ratio": self.cpu_ratio}
        if self.naive is not None:
            d.update(naive=self.naive, speedup=self.speedup)
        return d

    def line(self):
        text = (f"bound {self.bound:8.1f} img/s   end to end {self.real:8.1f} img/s   ratio {self.ratio:.3f}   "
                f"| CPU/img {self.bound_cpu:6.2f} -> {self.real_cpu:6.2f} ms ({self.cpu_ratio:.3f})")
        if self.naive is not None:
            text += f"   | naive {self.naive:8.1f} img/s, speed-up {self.speedup:.2f}x"
        return text


def paired(rounds, measure_bound, measure_real, measure_naive=None):
    """A ``Pair`` from ``rounds`` of alternating (bound, end to end[, naive]) measurements."""
    bounds, reals, naives = [], [], []
    for _ in range(rounds):
        bounds.append(measure_bound())
        reals.append(measure_real())
        if measure_naive:
            naives.append(measure_naive())
    return Pair(bounds, reals, naives or None)


# ------------------------------------------------------------------ inputs

def bench_images(cfg, images_dir, n):
    """``n`` image paths (a seeded random sample, repeated when there are fewer): the
    JPEGs under ``images_dir``, else the config task's images (those a pack holds)."""
    if images_dir:
        if image_source(cfg) == "pack":
            raise ValueError("image_source=pack reads the config's images: leave out --images")
        found = sorted(os.path.join(d, f) for d, _, files in os.walk(images_dir) for f in files
                       if f.lower().endswith(JPEG_EXTENSIONS))
        if not found:
            raise FileNotFoundError(f"no JPEG files under {images_dir}")
    else:
        found = existing_images(family_of(cfg).images(cfg), f"{cfg['task'] or cfg['family']} under {cfg['data_root']}")
    order = np.random.default_rng(cfg["seed"]).permutation(len(found))
    return [found[i] for i in np.resize(order, n)]


def image_source(cfg):
    return cfg["image_source"]


def loader_kind(cfg):
    return cfg["loader"]


# ------------------------------------------------------------------ the benchmark

class _Bench:
    """One network, trainer and image list; measures the pairs of ``run_bench``."""

    def __init__(self, cfg, images_dir, batches, warmup, repeat, int8=None):
        self.cfg = dict(cfg, pretrained=False, allow_random_init=True)   # throughput needs no weights
        self.ctx = resolve_devices(cfg["devices"])
        self.batch = cfg["batch_size"] * len(self.ctx)
        self.batches, self.warmup, self.repeat = batches, warmup, repeat
        self.problem = SingleLabel(N_OUTPUTS)
        self.amp_on = mixed_precision.enable(self.cfg, self.ctx)   # before the network is built
        self.net = hybridize(build_model(self.cfg, N_OUTPUTS, self.ctx, log=lambda *_: None))
        self.problem.loss.hybridize()
        self.trainer = make_trainer(self.cfg, self.net)
        mixed_precision.init_trainer(self.trainer, self.amp_on)
        # Loaders get `tail` batches more than are timed: their workers stay busy to the
        # end of a segment, as in a long epoch (prefetching never runs dry early).
        self.loader_batches = warmup + batches + 2 * max(1, cfg["workers"])
        self.images = bench_images(self.cfg, images_dir, self.loader_batches * self.batch)
        self.naive = None
        self.predicting = False
        self.int8 = int8          # (net, images) -> INT8 net: prediction through it

    def start_baseline(self):
        """Start the naive loop's process (``naive.py``); its rounds then alternate with
        the kit's in ``train`` and in ``predict("ten_crop")``."""
        per_round = self.batches * max(1, self.batch // EvalTransform.N_CROPS["ten_crop"])   # as the kit's
        self.naive = NaiveProcess({
            "cfg": self.cfg, "train_images": self.images, "warmup": self.warmup, "batches": self.batches,
            "predict_images": self.images[:self.warmup + per_round], "predict_per_round": per_round})
        return self.naive

    def _naive(self, what):
        return (lambda: self.naive.measure(what)) if self.naive else None

    def _memory(self, n, n_crops=1):
        batch = memory_batch(self.cfg, n, n_crops)
        return lambda: repeat_batch(batch, self.warmup + self.batches)

    def train(self):
        """The ``Pair`` of training."""
        _, _, loader = make_train_loader(self.cfg, self.images, one_hot_targets(len(self.images)), len(self.ctx))
        memory = self._memory(self.batch)
        try:
            return paired(self.repeat, lambda: self._train(memory()), lambda: self._train(loader),
                          self._naive("train"))
        finally:
            del loader    # its workers stop before the next loader starts its own

    def _train(self, source):
        return train_rate(self.net, self.trainer, self.problem.loss, self.ctx, self.cfg, source,
                          self.warmup, self.batches, self.amp_on)

    def predict(self, tta):
        """``(Pair, batch, crops)`` of prediction with ``tta``; the network predicts as a
        loaded run does (``hybridize_for_prediction``: fused on a CPU; or INT8, calibrated on
        the bench's images), so it trains no more."""
        if not self.predicting:
            self.net = self.int8(self.net, self.images) if self.int8 else hybridize_for_prediction(self.net, self.ctx)
            self.predicting = True
        transform = build_eval_transform(self.cfg, tta)
        per_batch = max(1, self.batch // transform.n_crops)    # as the families batch it
        images = self.images[:self.loader_batches * per_batch]
        loader = prediction_loader(images, transform, per_batch, self.cfg["workers"],
                                   **loader_options(self.cfg))
        memory = self._memory(per_batch, transform.n_crops)
        try:
            measured = paired(self.repeat, lambda: self._predict(memory()), lambda: self._predict(loader),
                              self._naive("predict") if tta == "ten_crop" else None)
        finally:
            del loader
        return measured, per_batch, transform.n_crops

    def _predict(self, source):
        return predict_rate(self.net, self.ctx, self.problem.activation, source, self.warmup, self.batches)


def run_bench(cfg, images_dir=None, batches=20, warmup=3, tta_modes=TTA_MODES, repeat=5, log=print,
              baseline=False, int8=None):
    """Measure and print; returns a dict of the figures (images/s, ratios, MB, cores).
    ``baseline``: also the naive loop (``naive.py``) and the kit's speed-up over it.
    ``int8``: ``(net, images) -> INT8 net`` (``serving.quantize.bench_quantizer``): the
    prediction segments run the network it returns, calibrated on the bench's images."""
    if int8 and not fusion_available(resolve_devices(cfg["devices"])):
        raise ValueError("--int8: INT8 prediction runs on a CPU with oneDNN; measure it with --set devices=cpu")
    result = {}
    with Monitor() as monitor:
        bench = _Bench(cfg, images_dir, batches, warmup, repeat, int8)
        log(f"[bench] {cfg['model']} at {cfg['image_size']} px, batch {bench.batch} on {describe(bench.ctx)}"
            + (f", AMP {cfg['amp']}" if bench.amp_on else "")
            + f"; prediction {'INT8' if int8 else 'float32'}" + (", fused" if fusion_available(bench.ctx) else "")
            + "; "
            f"{cfg['workers']} {loader_kind(cfg)} workers; {len(set(bench.images))} images from "
            f"{_source(cfg, images_dir)}; {_threads()}; medians of {repeat} rounds of {batches} batches")
        try:
            if baseline:
                naive = bench.start_baseline()
                monitor.not_workers.add(naive.pid)
                log(f"[bench] naive baseline in its own process: operator threads {naive.threads} (MXNet's "
                    f"default: half the logical processors), float32, host sync every batch, Gluon's default "
                    f"loader, prediction one image at a time with ten crops")
            pair = bench.train()
            result["train"] = pair.as_dict()
            log(f"[bench] train              {pair.line()}")
            for tta in tta_modes:
                pair, per_batch, crops = bench.predict(tta)
                result[f"predict_{tta}"] = pair.as_dict()
                log(f"[bench] predict {tta:<8} {per_batch:>2}x{crops:<2} {pair.line()}")
        finally:
            if bench.naive:
                bench.naive.close()
    result.update(summarise(result))
    result.update(peak_rss_mb=round(Monitor.process_peak_mb()), workers_peak_rss_mb=round(monitor.workers_peak_mb),
                  other_cores=monitor.other_cores)
    log(f"[bench] peak resident memory: process {result['peak_rss_mb']} MB; loader workers "
        f"{result['workers_peak_rss_mb']} MB (RSS summed, pages shared with the parent counted per worker)")
    log(f"[bench] other processes used {monitor.other_cores:.2f} of {os.cpu_count()} cores meanwhile"
        + (" (figures disturbed: compare ratios, not images/s)" if monitor.other_cores > 0.25 else ""))
    for line in final_lines(result):
        log(line)
    return result


def summarise(segments):
    """The headline figures from the segments' ``Pair.as_dict()``s (``train``,
    ``predict_<tta>``): ``train_ratio``; ``predict_ratio``, the worst TTA mode's; with
    the baseline, ``train_speedup`` and ``predict_speedup`` (ten-crop; NaN when
    ten-crop was not measured)."""
    nan = float("nan")
    predict = [v for k, v in segments.items() if k.startswith("predict_") and isinstance(v, dict)]
    out = {"train_ratio": segments["train"]["ratio"],
           "predict_ratio": min(v["ratio"] for v in predict) if predict else nan}
    if "speedup" in segments["train"]:
        out["train_speedup"] = segments["train"]["speedup"]
        out["predict_speedup"] = segments.get("predict_ten_crop", {}).get("speedup", nan)
    return out


def final_lines(result):
    """The machine-readable lines that end the report; the ratios line is the last."""
    lines = []
    if "train_speedup" in result:
        lines.append(f"train_speedup={result['train_speedup']:.2f} predict_speedup={result['predict_speedup']:.2f}")
    lines.append(f"train_ratio={result['train_ratio']:.3f} predict_ratio={result['predict_ratio']:.3f} "
                 f"peak_rss_mb={result['peak_rss_mb']}")
    return lines


def _source(cfg, images_dir):
    if image_source(cfg) == "pack":
        return f"{pack_prefix(cfg)}.rec"
    return images_dir or f"{cfg['data_root']} ({cfg['task'] or cfg['family']})"


def _threads():
    return threads.describe()
