"""One process of the two-worker job of ``tests/test_distributed.py``
(``test_workers_start_from_worker_0s_weights_...``), started by MXNet's launcher.

A scheduler or server stops inside ``import mxnet``. A worker builds ``Dense(2)`` over 3
inputs and a 3x3 convolution of 3 into 16 channels (not trained), every weight and bias
set to ``rank + 1`` (worker 0: 1.0, worker 1: 2.0); the convolution runs once in
inference mode, which leaves its weights in oneDNN's layout. The worker takes worker 0's
weights (``Workers.start_trainer``), makes one plain SGD step of the dense layer on an
input of its own, then worker 1 changes its bias and both check their weights against
worker 0's. Each worker prints one line per stage (``worker RANK STAGE: VALUES``: the
dense weights and biases, then the sum of the convolution's weights).
"""
import sys

import gluonfashion  # noqa: F401  first: MXNet's operator threads (threads.py)
import mxnet as mx
from mxnet import autograd, gluon, nd

from gluonfashion.distributed import Workers

INPUTS = ([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])   # worker 0's row, worker 1's row


def say(rank, stage, text):
    """One whole line in one write: the job's processes share the launcher's output."""
    sys.stdout.write(f"worker {rank} {stage}: {text}\n")
    sys.stdout.flush()


def values(dense, conv):
    dense_values = [v for p in (dense.weight, dense.bias) for v in p.data().asnumpy().ravel()]
    return " ".join(f"{v:g}" for v in dense_values) + f" conv {conv.weight.data().asnumpy().sum():g}"


def main():
    workers = Workers.join("dist_sync")
    rank = workers.rank
    start = mx.init.Constant(rank + 1.0)
    dense = gluon.nn.Dense(2, in_units=3, weight_initializer=start, bias_initializer=start)
    conv = gluon.nn.Conv2D(16, 3, in_channels=3, use_bias=False, weight_initializer=start)
    net = gluon.nn.Sequential()   # holds both parameter sets; each layer runs on its own
    net.add(dense, conv)
    net.initialize()
    conv(nd.zeros((1, 3, 8, 8)))
    nd.waitall()   # the layout changes after the forward pass, in MXNet's engine
    conv.weight.grad_req = "null"   # sent to the workers, never trained
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.0, "wd": 0.0},
                            **workers.trainer_options("dist_sync"))
    workers.start_trainer(trainer, net)
    say(rank, "started", values(dense, conv))
    with autograd.record():
        loss = dense(nd.array([INPUTS[rank]])).sum()
    loss.backward()
    trainer.step(2)   # the job's batch: one row a worker
    say(rank, "stepped", values(dense, conv))
    if rank == 1:
        dense.bias.set_data(dense.bias.data() + 1)
    try:
        workers.require_same_weights(net, "after the bias changed")
        say(rank, "checked", "same")
    except RuntimeError as exc:
        say(rank, "checked", str(exc))


if __name__ == "__main__":
    main()
