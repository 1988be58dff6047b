"""Data-parallel training over several processes on MXNet's parameter server.

``gluonfashion launch`` starts the processes with MXNet's launcher, which gives each its
role in ``DMLC_ROLE``. A scheduler or server never gets here: importing MXNet runs it
and exits. Workers train with a distributed kvstore (``dist_sync``): each reads its
shard of the training rows (``data.dataset.ShardBatches``), the servers sum the
gradients of a step, and every worker applies the same update to the same weights
(``update_on_kvstore=False``, so the kit's learning-rate schedule and the optimizer
state that ``--resume`` saves stay in the workers). Worker 0 alone validates and
writes the run folder; the others read it, so on several hosts ``output_dir`` must be
on a filesystem they share.

``Workers`` is this process's place in the job: rank, count, a barrier, and the few
values the workers exchange through the same kvstore (sums, worker 0's values).
One process alone (``kvstore: device`` or ``local``) is worker 0 of 1 and exchanges
nothing.
"""
import hashlib
import os

import mxnet as mx
import numpy as np
from mxnet import nd

from .config import KVSTORES

DISTRIBUTED = tuple(k for k in KVSTORES if k.startswith("dist"))
_KEY_BASE = 1 << 24   # kvstore keys of the exchanged values, above the Trainer's parameter indices
BN_STATISTICS = ".*running_mean|.*running_var"


def launched():
    """Whether MXNet's launcher started this process (``DMLC_ROLE`` is set)."""
    return bool(os.environ.get("DMLC_ROLE"))


class Workers:
    """This process's rank among the job's workers, and what they exchange."""

    def __init__(self, store=None):
        self.store = store
        self.rank = store.rank if store is not None else 0
        self.count = store.num_workers if store is not None else 1
        self._keys = {}

    @classmethod
    def join(cls, kvstore):
        """The workers of a ``kvstore`` job: a distributed kvstore connects to the
        launcher's scheduler (waiting for every worker to arrive); any other is one
        process alone."""
        if kvstore in DISTRIBUTED:
            if not launched():
                raise ValueError(f"kvstore {kvstore} trains on several processes started together: run the "
                                 f"command under `gluonfashion launch -n WORKERS -s SERVERS -- train ...`")
            return cls(mx.kv.create(kvstore))
        if launched():
            raise ValueError(f"this process was started by MXNet's launcher but its kvstore is {kvstore}: every "
                             f"worker would train alone into the same run folder; set kvstore: dist_sync "
                             f"(`gluonfashion launch` does)")
        return cls()

    @property
    def distributed(self):
        return self.store is not None

    @property
    def writes(self):
        """Worker 0 validates and writes the run folder; the others only read it."""
        return self.rank == 0

    def __str__(self):
        return f"worker {self.rank} of {self.count}" + (f" ({self.store.type})" if self.distributed else "")

    def trainer_options(self, kvstore):
        """``gluon.Trainer`` keyword arguments: the connected store and updates in the
        workers when distributed, else the config's kvstore name."""
        if not self.distributed:   # e.g. the bench, one process, of a config made for a job
            return {"kvstore": "device" if kvstore in DISTRIBUTED else kvstore}
        return {"kvstore": self.store, "update_on_kvstore": False}

    def barrier(self):
        """Wait until every worker gets here."""
        if self.distributed:
            self.store._barrier()   # pylint: disable=protected-access  (MXNet's only barrier)

    def sum(self, name, array):
        """The element-wise sum of ``array`` (same shape on every worker) over the workers;
        every worker must call it, in the same order."""
        if not self.distributed:
            return array
        array = array.as_in_context(mx.cpu())
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = _KEY_BASE + len(self._keys)
            self.store.init(key, nd.zeros_like(array))
        self.store.push(key, array)
        out = nd.zeros_like(array)
        self.store.pull(key, out=out)
        return out

    def from_first(self, name, array):
        """Worker 0's ``array``, on every worker."""
        return self.sum(name, array if self.writes else nd.zeros_like(array))

    def same_as_first(self, name, digest):
        """Whether this worker's hex ``digest`` (of what ``name`` says) equals worker 0's."""
        mine = nd.array(np.frombuffer(bytes.fromhex(digest), dtype=np.uint8), dtype="float32")
        return np.array_equal(self.from_first(name, mine).asnumpy(), mine.asnumpy())

    def require_same(self, what, digest):
        """Refuse to go on when this worker's hex ``digest`` of ``what`` differs from worker 0's."""
        if not self.same_as_first(what, digest):
            raise ValueError(f"{self}: its {what} differ from worker 0's; every host must see the same files at "
                             f"the same paths (data_root, label files, output_dir)")

    def require_same_weights(self, net, when):
        """Stop the job when this worker's weights (``net``) differ from worker 0's ``when``
        (words for the log): from then on they would train different networks."""
        if self.distributed and not self.same_as_first("weights", weights_digest(net)):
            raise RuntimeError(f"{self}: its weights {when} differ from worker 0's, so the workers no longer "
                               f"train one network; the job stops (its last saved epoch can be resumed)")

    def start_trainer(self, trainer, net):
        """Give every worker worker 0's weights before the first step, and check that they
        hold them.

        ``gluon.Trainer`` does this lazily in its first step: it initialises each
        parameter's kvstore key with worker 0's values and queues a pull of the key without
        waiting for it, then pushes and pulls the step's gradients through the same key
        (``update_on_kvstore=False``). A worker whose queued pull reached the server after
        every worker had pushed that gradient got the gradient sum as its weights (3 runs
        in 15 of the launched test; in the jobs traced, one of resnet18's two largest
        parameters, the last ones pulled). Here the keys are initialised and every pull has arrived before any
        gradient is pushed; a parameter still waiting for its shape would be sent lazily
        again, so there must be none (``engine`` runs a forward pass first).

        The kvstore sends arrays in MXNet's plain layout only: a forward pass in inference
        mode on a CPU leaves its convolution weights in oneDNN's blocked layout (worker 0
        then fails to send them and the server aborts at the first pull). A copy of each
        CPU parameter on its own devices gives the plain layout back, values unchanged."""
        # pylint: disable=protected-access  (what Trainer.step does first, done before it)
        if not self.distributed:
            return
        for param in trainer._params:
            if all(c.device_type == "cpu" for c in param.list_ctx()):
                param.reset_ctx(param.list_ctx())
        if not trainer._kv_initialized:
            trainer._init_kvstore()
        if trainer._params_to_init:
            trainer._init_params()
        if trainer._params_to_init:
            raise RuntimeError("parameters without a shape cannot be sent to the workers before the first step: "
                               + ", ".join(p.name for p in trainer._params_to_init))
        for param in trainer._params:
            for array in param.list_data():
                array.wait_to_read()
        self.require_same_weights(net, "before the first step")

    def average_statistics(self, net):
        """Give every worker the mean of the workers' BatchNorm running statistics (each
        worker's come from its own shard). The statistics are moving averages, linear in
        the batches' moments, so the mean evolves as the mean over devices of one process
        with a device per worker would; that mean is what such a process saves."""
        params = list(net.collect_params(BN_STATISTICS).values())
        if not self.distributed or not params:
            return
        flat = nd.concat(*[p.data().reshape(-1).as_in_context(mx.cpu()) for p in params], dim=0)
        mean = self.sum("bn_statistics", flat) / self.count
        start = 0
        for p in params:
            size = int(np.prod(p.shape))
            p.set_data(mean[start:start + size].reshape(p.shape))
            start += size

    def mean_loss(self, total, seen):
        """The mean of per-row losses over every worker's rows (``total`` summed over ``seen`` here)."""
        if self.distributed:
            total, seen = self.sum("loss", nd.array([total, seen], dtype="float64")).asnumpy().tolist()
        return total / max(seen, 1)


def rows_digest(batches):
    """A short digest of the rows an epoch of ``batches`` (``ShardBatches``) gives this worker."""
    rows = sorted(index for batch in batches for index, _ in batch)
    return hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:12]


def weights_digest(net):
    """A digest of every parameter's values (BatchNorm statistics included), in the
    network's order (parameter names carry a per-process counter; the order does not)."""
    digest = hashlib.sha256()
    for param in net.collect_params().values():
        digest.update(param.data().asnumpy().tobytes())
    return digest.hexdigest()[:16]
