"""``gluonfashion bench``: training and prediction throughput against the compute bound.

For one config (model, image size, batch size, devices, loader settings), in one run:

1. compute bound: training images/s on one in-memory batch, hybridized;
2. end to end: training images/s from the image files (or the pack) through the real
   loader, with the configured workers;
3. prediction images/s for each TTA mode through the real loader, against forward
   passes of in-memory batches of the same ``batch x crops`` shape;
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
import argparse
import os
import resource
import statistics
import threading
import time

TTA_MODES = ("none", "flip", "ten_crop")
N_OUTPUTS = 8            # head size of the benchmark network (its cost is negligible)
JPEG_EXTENSIONS = (".jpg", ".jpeg")


def register(verbs):
    """Add this module's CLI verb to the `gluonfashion` parser."""
    from .cli import _config_args   # cli is fully imported when verbs register
    p = verbs.add_parser("bench", help="measure training/prediction images/s against the compute bound")
    _config_args(p)
    p.add_argument("--batches", type=int, default=20, help="timed batches per segment (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed batches before each segment (default 3)")
    p.add_argument("--repeat", type=int, default=5,
                   help="rounds of (bound, end to end) segments; ratios are medians over rounds (default 5)")
    p.add_argument("--images", help="folder of JPEGs to read (default: the config task's images)")
    p.add_argument("--tta", nargs="+", choices=TTA_MODES, default=list(TTA_MODES),
                   help="TTA modes to measure (default: all)")
    p.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=False,
                   help="also measure the naive loop (MXNet's default threads, a host sync every batch, "
                        "one image at a time ten-crop prediction) in its own process, and print the "
                        "kit's speed-up over it (default: off; it adds about half the bench's time)")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args):
    from .config import load_config
    if not args.config:
        # Without a task file the defaults name no task, and the model, image size and
        # loader settings being measured would be nobody's: ask for one.
        raise ValueError("bench needs --config: the task YAML whose model, image size, batch and loader "
                         "settings (and images) to measure, e.g. gluonfashion bench --config "
                         "configs/fashionai/skirt_length_labels.yaml --profile demo")
    cfg = load_config(args.config, args.overrides, args.profile)
    run_bench(cfg, args.images, args.batches, args.warmup, args.tta, args.repeat, baseline=args.baseline)


# ------------------------------------------------------------------ measuring

class Monitor:
    """Samples memory and CPU while a benchmark runs.

    Peak RSS of this process is exact (``getrusage``). Loader workers are sampled
    every ``interval`` seconds with psutil; their RSS is summed, which counts pages
    they share with the parent (forked copy-on-write) once per worker. ``other_cores``
    is the CPU that processes outside this process tree used meanwhile, in cores.
    """

    def __init__(self, interval=0.05):
        self.interval, self.workers_peak_mb, self.other_cores = interval, 0.0, 0.0
        self._children_cpu = {}            # pid -> last CPU seconds seen
        self.not_workers = set()           # pids whose trees are no loader workers (the baseline)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        import psutil
        self._start = (time.monotonic(), _busy_seconds(psutil.cpu_times()), _own_cpu(psutil.Process()))
        self._thread.start()
        return self

    def __exit__(self, *exc):
        import psutil
        self._stop.set()
        self._thread.join()
        wall, busy, own = self._start
        used = _busy_seconds(psutil.cpu_times()) - busy
        ours = _own_cpu(psutil.Process()) - own + sum(self._children_cpu.values())
        self.other_cores = max(0.0, used - ours) / max(time.monotonic() - wall, 1e-9)

    def _sample(self):
        import psutil
        me = psutil.Process()
        while not self._stop.wait(self.interval):
            rss, others = 0, set()
            for pid in list(self.not_workers):
                try:
                    others |= {pid} | {p.pid for p in psutil.Process(pid).children(recursive=True)}
                except psutil.Error:
                    pass
            for child in me.children(recursive=True):
                try:
                    if child.pid not in others:
                        rss += child.memory_info().rss
                    t = child.cpu_times()
                    self._children_cpu[child.pid] = t.user + t.system
                except psutil.Error:   # a worker exited between listing and reading
                    pass
            self.workers_peak_mb = max(self.workers_peak_mb, rss / 2 ** 20)

    @staticmethod
    def process_peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


def _busy_seconds(times):
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _own_cpu(process):
    t = process.cpu_times()
    return t.user + t.system     # reaped workers are counted from the samples instead


def tree_cpu_seconds():
    """CPU seconds used so far by this process and its live children (loader workers)."""
    import psutil
    me, total = psutil.Process(), 0.0
    for process in [me] + me.children(recursive=True):
        try:
            t = process.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


class Stopwatch:
    """Wraps a batch iterable: skips ``warmup`` batches, then times ``batches`` batches.

    The clock starts after a full MXNet synchronisation, so work queued during the
    warm-up is not billed to the timed batches; the consumer's own final sync (a loss
    read, a probability copy) ends the measurement. Besides wall time it counts the
    CPU time of the process tree, which other processes' load disturbs much less.
    """

    def __init__(self, source, warmup, batches):
        self.source, self.warmup, self.batches = source, warmup, batches
        self.images, self.start, self.cpu_start = 0, None, None

    def __iter__(self):
        from mxnet import nd
        for i, batch in enumerate(self.source):
            if i == self.warmup:
                nd.waitall()
                self.start, self.cpu_start = time.perf_counter(), tree_cpu_seconds()
            if i >= self.warmup + self.batches:
                break
            if i >= self.warmup:
                self.images += batch[0].shape[0]
            yield batch

    def result(self):
        """``(images/s, CPU ms per image)`` of the timed batches; call right after the
        consumer returned (before a loader's workers exit)."""
        if self.start is None or not self.images:
            raise ValueError("too few batches to time: lower --warmup or give more images")
        wall, cpu = time.perf_counter() - self.start, tree_cpu_seconds() - self.cpu_start
        return self.images / wall, 1000 * cpu / self.images


def repeat_batch(batch, n):
    """The same in-memory batch ``n`` times: a source with no data loading at all."""
    return (batch for _ in range(n))


def train_rate(net, trainer, loss, ctx, cfg, source, warmup, batches, amp_on=False):
    """Training ``(images/s, CPU ms/image)`` through ``engine._train_epoch`` over ``source``."""
    from .engine import _train_epoch
    timed = Stopwatch(source, warmup, batches)
    _train_epoch(net, timed, trainer, loss, ctx, cfg, 0, (warmup + batches) * cfg["batch_size"], False,
                 amp_on=amp_on)
    return timed.result()


def predict_rate(net, ctx, activation, source, warmup, batches):
    """Prediction ``(images/s, CPU ms/image)`` through ``predict.predict_batches`` over ``source``."""
    from .predict import predict_batches
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
    import numpy as np
    if images_dir:
        if image_source(cfg) == "pack":
            raise ValueError("image_source=pack reads the config's images: leave out --images")
        found = sorted(os.path.join(d, f) for d, _, files in os.walk(images_dir) for f in files
                       if f.lower().endswith(JPEG_EXTENSIONS))
        if not found:
            raise FileNotFoundError(f"no JPEG files under {images_dir}")
    else:
        from .data.pack import task_images
        found = task_images(cfg)
    order = np.random.default_rng(cfg["seed"]).permutation(len(found))
    return [found[i] for i in np.resize(order, n)]


def one_hot_targets(n, n_classes=N_OUTPUTS):
    import numpy as np
    return np.eye(n_classes, dtype=np.float32)[np.arange(n) % n_classes]


def memory_batch(cfg, n, n_crops=1):
    """A random uint8 batch shaped like the loader's, ``(n, [crops,] H, W, 3)``, and targets."""
    import numpy as np
    from mxnet import nd
    side = cfg["image_size"]
    shape = (n, side, side, 3) if n_crops == 1 else (n, n_crops, side, side, 3)
    pixels = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    return nd.array(pixels, dtype="uint8"), nd.array(one_hot_targets(n))


def image_source(cfg):
    return cfg["image_source"]


def loader_kind(cfg):
    return cfg["loader"]


# ------------------------------------------------------------------ the benchmark

class _Bench:
    """One network, trainer and image list; measures the pairs of ``run_bench``."""

    def __init__(self, cfg, images_dir, batches, warmup, repeat):
        from .devices import resolve_devices
        from .engine import make_trainer
        from .models import build_model, hybridize
        from . import precision
        from .problems import SingleLabel
        self.cfg = dict(cfg, pretrained=False, allow_random_init=True)   # throughput needs no weights
        self.ctx = resolve_devices(cfg["devices"])
        self.batch = cfg["batch_size"] * len(self.ctx)
        self.batches, self.warmup, self.repeat = batches, warmup, repeat
        self.problem = SingleLabel(N_OUTPUTS)
        self.amp_on = precision.enable(self.cfg, self.ctx)   # before the network is built
        self.net = hybridize(build_model(self.cfg, N_OUTPUTS, self.ctx, log=lambda *_: None))
        self.problem.loss.hybridize()
        self.trainer = make_trainer(self.cfg, self.net)
        precision.init_trainer(self.trainer, self.amp_on)
        # Loaders get `tail` batches more than are timed: their workers stay busy to the
        # end of a segment, as in a long epoch (prefetching never runs dry early).
        self.loader_batches = warmup + batches + 2 * max(1, cfg["workers"])
        self.images = bench_images(self.cfg, images_dir, self.loader_batches * self.batch)
        self.naive = None

    def start_baseline(self):
        """Start the naive loop's process (``naive.py``); its rounds then alternate with
        the kit's in ``train`` and in ``predict("ten_crop")``."""
        from .naive import NaiveProcess
        from .transforms import EvalTransform
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
        from .data.dataset import make_train_loader
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
        """``(Pair, batch, crops)`` of prediction with ``tta``."""
        from .data.dataset import loader_options
        from .predict import prediction_loader
        from .transforms import build_eval_transform
        transform = build_eval_transform(self.cfg, tta)
        per_batch = max(1, self.batch // transform.n_crops)    # as the workflows batch it
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
              baseline=False):
    """Measure and print; returns a dict of the figures (images/s, ratios, MB, cores).
    ``baseline``: also the naive loop (``naive.py``) and the kit's speed-up over it."""
    from .devices import describe
    result = {}
    with Monitor() as monitor:
        bench = _Bench(cfg, images_dir, batches, warmup, repeat)
        log(f"[bench] {cfg['model']} at {cfg['image_size']} px, batch {bench.batch} on {describe(bench.ctx)}"
            + (f", AMP {cfg['amp']}" if bench.amp_on else "") + "; "
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
        from .data.pack import pack_prefix
        return f"{pack_prefix(cfg)}.rec"
    return images_dir or f"{cfg['data_root']} ({cfg['task'] or cfg['family']})"


def _threads():
    from . import threads
    return threads.describe()
