"""Timing and memory measurement shared by the bench and its naive baseline: a
stopwatch over batch iterables (after a full synchronisation), CPU seconds of the
process tree, a memory/CPU monitor, and synthetic in-memory batches."""
import resource
import threading
import time

import numpy as np
import psutil
from mxnet import nd

N_OUTPUTS = 8            # head size of the benchmark network (its cost is negligible)


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
        self._start = (time.monotonic(), _busy_seconds(psutil.cpu_times()), _own_cpu(psutil.Process()))
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        wall, busy, own = self._start
        used = _busy_seconds(psutil.cpu_times()) - busy
        ours = _own_cpu(psutil.Process()) - own + sum(self._children_cpu.values())
        self.other_cores = max(0.0, used - ours) / max(time.monotonic() - wall, 1e-9)

    def _sample(self):
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


def one_hot_targets(n, n_classes=N_OUTPUTS):
    return np.eye(n_classes, dtype=np.float32)[np.arange(n) % n_classes]


def memory_batch(cfg, n, n_crops=1):
    """A random uint8 batch shaped like the loader's, ``(n, [crops,] H, W, 3)``, and targets."""
    side = cfg["image_size"]
    shape = (n, side, side, 3) if n_crops == 1 else (n, n_crops, side, side, 3)
    pixels = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    return nd.array(pixels, dtype="uint8"), nd.array(one_hot_targets(n))
