"""Which MXNet contexts a run uses."""
import mxnet as mx


def resolve_devices(spec="auto"):
    """``auto``: every visible GPU, else the CPU; ``cpu``; or a list of GPU ids."""
    n_gpus = mx.context.num_gpus()
    if spec == "auto":
        return [mx.gpu(i) for i in range(n_gpus)] or [mx.cpu()]
    if spec == "cpu":
        return [mx.cpu()]
    ids = [spec] if isinstance(spec, int) else list(spec)
    missing = [i for i in ids if not 0 <= int(i) < n_gpus]
    if missing:
        raise ValueError(f"devices {ids}: GPU ids {missing} not present ({n_gpus} GPUs visible)")
    return [mx.gpu(int(i)) for i in ids]


def describe(ctx):
    return ", ".join(str(c) for c in ctx)
