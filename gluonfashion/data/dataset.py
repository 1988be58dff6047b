"""Gluon datasets and loaders over image paths and target arrays (no copying)."""
import numpy as np
from mxnet import gluon, nd

from .images import decode_image


def sample_seed(seed, epoch, index):
    """A per-sample seed from (run seed, epoch, index): the same on every worker."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


class ImageDataset(gluon.data.Dataset):
    """``(transformed uint8 image, target)`` pairs for a list of image paths.

    Keys may be an index or ``(index, seed)``; the seed drives the random transform.
    """

    def __init__(self, images, targets, transform, decode_side=None):
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        self.images, self.targets = list(images), np.asarray(targets, dtype=np.float32)
        self.transform, self.decode_side = transform, decode_side

    def __len__(self):
        return len(self.images)

    def __getitem__(self, key):
        index, seed = key if isinstance(key, tuple) else (key, index_seed(key))
        return self.transform(self.load(index), np.random.default_rng(seed)), self.targets[index]

    def load(self, index):
        """The untransformed RGB image of sample ``index``."""
        return decode_image(self.images[index], self.decode_side)


class PackedDataset(ImageDataset):
    """``ImageDataset`` whose images come from a RecordIO pack (``gluonfashion pack``),
    already resized to the pack's short side: same keys, transforms and targets."""

    def __init__(self, reader, images, targets, transform):
        super().__init__(images, targets, transform)
        self.reader = reader
        self.records = [reader.record_of(p) for p in self.images]   # fails early on a stale pack

    def load(self, index):
        return self.reader.read(self.records[index])


def index_seed(index):
    return sample_seed(0, 0, index)


class SeededShuffleSampler(gluon.data.Sampler):
    """Shuffles with a permutation drawn from (seed, epoch); yields ``(index, seed)``.

    Call ``set_epoch`` before iterating: epoch k then always sees the same order and
    the same augmentation, which is what makes ``--resume`` exact.
    """

    def __init__(self, length, seed):
        self.length, self.seed, self.epoch = length, seed, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.length)
        return iter([(int(i), sample_seed(self.seed, self.epoch, int(i))) for i in order])

    def __len__(self):
        return self.length


class ShardBatches(gluon.data.Sampler):
    """One worker's batches of a seeded epoch order (a batch sampler over ``sampler``).

    The order is cut into the job's batches of ``batch_size * workers`` rows, as one
    process with that batch would cut it, and worker ``rank`` takes the ``rank``-th of
    ``workers`` contiguous parts of each; the last, shorter batch is shared out as
    evenly as possible. The workers' batches of a step together are the job's batch, so
    their summed gradients are one process's. When that last batch has fewer rows than
    there are workers, its rows sit out the epoch (``left_out``; the next epoch's order
    differs). With one worker: batches of ``batch_size``, the last one kept.
    """

    def __init__(self, sampler, batch_size, rank=0, workers=1):
        if not 0 <= rank < workers:
            raise ValueError(f"rank {rank} is not one of {workers} workers")
        self.sampler, self.batch_size, self.rank, self.workers = sampler, batch_size, rank, workers
        job = batch_size * workers
        self.bounds = [(start, min(start + job, len(sampler))) for start in range(0, len(sampler), job)]
        if self.bounds and self.bounds[-1][1] - self.bounds[-1][0] < workers:
            self.bounds.pop()
        self.left_out = len(sampler) - (self.bounds[-1][1] if self.bounds else 0)

    def set_epoch(self, epoch):
        self.sampler.set_epoch(epoch)

    def job_batch(self, step):
        """Rows of step ``step`` over all workers."""
        start, stop = self.bounds[step]
        return stop - start

    def rows(self):
        """Rows this worker reads an epoch."""
        return sum(len(self._part(start, stop)) for start, stop in self.bounds)

    def _part(self, start, stop):
        return np.array_split(np.arange(start, stop), self.workers)[self.rank]

    def __iter__(self):
        keys = list(self.sampler)
        for start, stop in self.bounds:
            yield [keys[i] for i in self._part(start, stop)]

    def __len__(self):
        return len(self.bounds)


def stack_samples(samples):
    """Batchify into plain NumPy arrays, one per sample field.

    Gluon's default for worker processes builds shared-memory NDArrays and passes a
    file descriptor per array to the parent; for image batches of a few MB that
    costs more CPU (about 1.4 ms a batch here) than sending the bytes through the
    pool's pipe. ``NDArrayBatches`` makes NDArrays of them in the consuming process.
    """
    return [np.stack(field) for field in zip(*samples)]


class NDArrayBatches:
    """Iterates a DataLoader of NumPy batches as lists of NDArrays (on the CPU)."""

    def __init__(self, loader):
        self.loader = loader

    def __iter__(self):
        for batch in self.loader:
            yield [nd.array(a, dtype=a.dtype) for a in batch]

    def __len__(self):
        return len(self.loader)


def make_loader(dataset, batch_size, workers, sampler=None, thread_pool=False):
    """Batches of NDArrays from ``workers`` processes (threads with ``thread_pool``;
    none with 0); the last partial batch is kept (every sample is used)."""
    sampler = sampler or gluon.data.SequentialSampler(len(dataset))
    return batch_loader(dataset, gluon.data.BatchSampler(sampler, batch_size, last_batch="keep"), workers,
                        thread_pool)


def batch_loader(dataset, batches, workers, thread_pool=False):
    """``make_loader`` over the batches of a batch sampler."""
    return NDArrayBatches(gluon.data.DataLoader(dataset, batch_sampler=batches, num_workers=workers,
                                                thread_pool=thread_pool, batchify_fn=stack_samples))


def loader_options(cfg):
    """``{"loader": ..., "pack": ...}`` for ``predict_probs`` from a config: the worker
    kind and, with ``image_source: pack``, the reader of the config's pack (else None).
    Keys read with defaults, so older configs work: ``loader`` (``process``),
    ``image_source`` (``files``), ``pack_side`` (``resize_short``)."""
    pack = None
    if cfg["image_source"] == "pack":
        from .pack import PackReader, pack_prefix
        pack = PackReader(pack_prefix(cfg))
    return {"loader": cfg["loader"], "pack": pack}


def make_train_loader(cfg, images, targets, n_devices=1, rank=0, workers=1):
    """``(dataset, batches, loader)`` of the training images: seeded shuffle and
    augmentation; ``batches`` (``ShardBatches``, with ``set_epoch``) gives worker
    ``rank`` of ``workers`` its shard of each epoch, ``batch_size * n_devices`` rows a step.

    Images come from the config's pack (``image_source: pack``) or from the files,
    decoded at reduced scale down to ``resize_short``; see ``loader_options``.
    """
    from ..transforms import build_train_transform
    transform, options = build_train_transform(cfg), loader_options(cfg)
    if options["pack"] is not None:
        dataset = PackedDataset(options["pack"], images, targets, transform)
    else:
        dataset = ImageDataset(images, targets, transform, decode_side=cfg["resize_short"])
    batches = ShardBatches(SeededShuffleSampler(len(dataset), cfg["seed"]), cfg["batch_size"] * n_devices,
                           rank, workers)
    loader = batch_loader(dataset, batches, cfg["workers"], thread_pool=options["loader"] == "thread")
    return dataset, batches, loader
