"""The naive baseline of ``gluonfashion bench --baseline``: the plain loop a user writes
first, measured in its own process so that it runs with MXNet's default threads.

What it does, against what the kit does (same network, images, decoding and
augmentation code, optimizer and batch size):

- operator threads: MXNet's default, half the logical processors (at least 1), where
  the kit uses one per physical core (``threads.py``). OpenMP reads the count once,
  when MXNet loads, hence a process of its own with ``OMP_NUM_THREADS`` set;
- training: Gluon's default ``DataLoader`` (shared-memory NDArray batches, images
  decoded at full size), ``net.hybridize()`` without static memory, and after every
  batch the host reads the loss (``loss.mean().asscalar()``) and the accuracy
  (``asnumpy`` of predictions and labels), so the next batch is queued only once
  the previous one has finished;
- prediction: one image at a time: decode, ten crops, a forward pass of 10, softmax,
  mean, ``asnumpy``.

Float32 always (``amp`` is ignored) and the first device only.

The parent (``bench``) talks to it over stdin/stdout, one command a line (``train``,
``predict``, ``quit``); each measurement answers one ``@naive {json}`` line, so the
parent can alternate its own segments with the baseline's, round by round.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

from mxnet import autograd, gluon, nd

from ..data.dataset import ImageDataset
from ..data.images import decode_image
from ..devices import resolve_devices
from ..engine import make_trainer
from ..models import build_model
from ..objectives import SingleLabel
from ..transforms import build_eval_transform, build_train_transform
from .measuring import N_OUTPUTS, Stopwatch, one_hot_targets, tree_cpu_seconds

PREFIX = "@naive "


def default_threads(cpus=None):
    """MXNet 1.9's operator thread count when ``OMP_NUM_THREADS`` is unset: half the
    logical processors this process may use, at least 1."""
    if cpus is None:
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:   # not on Linux
            cpus = os.cpu_count() or 1
    return max(1, cpus // 2)


class NaiveProcess:
    """The baseline's process, started with ``spec`` (a JSON-able dict: ``cfg``,
    ``train_images``, ``predict_images``, ``warmup``, ``batches``, ``predict_per_round``)."""

    def __init__(self, spec, threads=None):
        self.threads = threads or default_threads()
        self._spec = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(spec, self._spec)
        self._spec.close()
        self._stderr = tempfile.TemporaryFile("w+")
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads))
        self.process = subprocess.Popen([sys.executable, "-m", "gluonfashion.speed.naive_loop", self._spec.name],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                        text=True, env=env, bufsize=1)
        self.pid = self.process.pid
        self._answer()   # "ready": imports, network built, loader started

    def measure(self, what):
        """``(images/s, CPU ms per image)`` of one round of ``train`` or ``predict``."""
        self.process.stdin.write(what + "\n")
        self.process.stdin.flush()
        answer = self._answer()
        return answer["rate"], answer["cpu_ms"]

    def _answer(self):
        for line in self.process.stdout:
            if line.startswith(PREFIX):
                return json.loads(line[len(PREFIX):])
        self.process.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-2000:]
        raise RuntimeError(f"the naive baseline process stopped (exit {self.process.returncode}):\n{tail}")

    def close(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self._stderr.close()
        os.unlink(self._spec.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ------------------------------------------------------------------ in the baseline's process

class _Naive:
    def __init__(self, spec):
        cfg = self.cfg = dict(spec["cfg"], pretrained=False, allow_random_init=True, amp="none")
        self.ctx = resolve_devices(cfg["devices"])[0]
        self.warmup, self.batches = spec["warmup"], spec["batches"]
        self.net = build_model(cfg, N_OUTPUTS, [self.ctx], log=lambda *_: None)
        self.net.hybridize()
        self.loss = SingleLabel(N_OUTPUTS).loss
        self.activation = SingleLabel.activation
        self.trainer = make_trainer(cfg, self.net)
        images = spec["train_images"]
        dataset = ImageDataset(images, one_hot_targets(len(images)), build_train_transform(cfg))
        self.loader = gluon.data.DataLoader(dataset, batch_size=cfg["batch_size"], shuffle=True,
                                            last_batch="keep", num_workers=cfg["workers"])
        self.predict_images = spec["predict_images"]
        self.predict_per_round = spec["predict_per_round"]
        self.ten_crop = build_eval_transform(cfg, "ten_crop")

    def train(self):
        timed = Stopwatch(self.loader, self.warmup, self.batches)
        total, correct, seen = 0.0, 0, 0
        for x, y in timed:
            x, y = x.as_in_context(self.ctx), y.as_in_context(self.ctx)
            with autograd.record():
                out = self.net(x)
                loss = self.loss(out, y)
            loss.backward()
            self.trainer.step(x.shape[0])
            total += loss.mean().asscalar()
            correct += int((out.argmax(axis=1).asnumpy() == y.argmax(axis=1).asnumpy()).sum())
            seen += x.shape[0]
        return timed.result()

    def predict(self):
        paths = self.predict_images[:self.warmup + self.predict_per_round]
        for k, path in enumerate(paths):
            if k == self.warmup:
                nd.waitall()
                start, cpu_start = time.perf_counter(), tree_cpu_seconds()
            crops = nd.array(self.ten_crop(decode_image(path)), dtype="uint8").as_in_context(self.ctx)
            self.activation(self.net(crops)).mean(axis=0).asnumpy()
        n = len(paths) - self.warmup
        return n / (time.perf_counter() - start), 1000 * (tree_cpu_seconds() - cpu_start) / n


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as f:
        naive = _Naive(json.load(f))
    out = sys.stdout

    def answer(**fields):
        out.write(PREFIX + json.dumps(fields) + "\n")
        out.flush()
    answer(ready=True)
    for line in sys.stdin:
        what = line.strip()
        if what == "quit":
            break
        rate, cpu_ms = getattr(naive, what)()
        answer(rate=rate, cpu_ms=cpu_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
