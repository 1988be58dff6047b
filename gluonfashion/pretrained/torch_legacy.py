"""Read a PyTorch state dict saved in the legacy (pre-1.6, non-zip) format, without PyTorch.

The legacy ``torch.save`` file is five things in a row:

1. a pickled magic number, 2. a pickled protocol version, 3. a pickled dict of system
information (byte order, type sizes), 4. the pickled object (here an ``OrderedDict`` of
tensors) whose storages are *persistent ids* ``('storage', <type>, key, location,
size, view)`` instead of data, 5. a pickled list of storage keys, followed, for each key
in that order, by an 8-byte little-endian element count and the raw bytes.

Unpickling normally imports whatever globals the file names, so a tampered file could
run code. ``RestrictedUnpickler`` resolves only the few globals a state dict needs, to
stand-ins defined here that build NumPy arrays; every other global raises
``UnsafePickleError``.
"""
import collections
import hashlib
import io
import pickle
import struct

import numpy as np

MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
PROTOCOL_VERSION = 1001

# torch storage class name -> NumPy dtype (little-endian, as the file stores it)
STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2",
    "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


class UnsafePickleError(pickle.UnpicklingError):
    """The file names a global that a plain state dict never needs."""


class ChecksumError(ValueError):
    """The file is not the one expected (its SHA-256 differs)."""


class StorageType:
    """Stand-in for ``torch.<X>Storage`` classes: only carries the dtype."""

    def __init__(self, name):
        self.name, self.dtype = name, np.dtype(STORAGE_DTYPES[name])

    def __repr__(self):
        return f"torch.{self.name}"


class Storage:
    """One storage of the file; ``data`` is filled once the raw bytes are read."""

    def __init__(self, storage_type, key, size):
        self.type, self.key, self.size, self.data = storage_type, key, size, None


class TensorRef:
    """A tensor as the pickle describes it: a strided view into a storage."""

    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    def to_numpy(self):
        data = self.storage.data
        if not self.shape:
            extent = 1
        elif 0 in self.shape:
            return np.zeros(self.shape, data.dtype)
        else:
            extent = 1 + sum((n - 1) * s for n, s in zip(self.shape, self.stride))
        if self.offset < 0 or self.offset + extent > len(data):
            raise ValueError(f"tensor of shape {self.shape} runs past the end of storage {self.storage.key!r}")
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.shape, strides=[s * data.itemsize for s in self.stride], writeable=False)
        return np.array(view)   # a contiguous copy, independent of the file buffer


def _is_int_tuple(value):
    return isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                            for v in value)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    """Stand-in for ``torch._utils._rebuild_tensor_v2``."""
    if not isinstance(storage, Storage) or not isinstance(storage_offset, int) \
            or not _is_int_tuple(size) or not _is_int_tuple(stride) or len(size) != len(stride):
        raise pickle.UnpicklingError("malformed tensor record in the state dict")
    if backward_hooks:
        raise pickle.UnpicklingError("tensors with backward hooks are not supported")
    return TensorRef(storage, storage_offset, size, stride)


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and
    ``torch.<X>Storage``; raises ``UnsafePickleError`` for every other global."""

    def __init__(self, file, storages=None):
        super().__init__(file)
        self.storages = storages    # key -> Storage, filled by persistent ids (None: no ids allowed)

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)
        raise UnsafePickleError(f"refusing to load global {module}.{name}: not part of a plain PyTorch "
                                f"state dict (the file may have been tampered with)")

    def persistent_load(self, pid):
        if self.storages is None:
            raise pickle.UnpicklingError("unexpected persistent id outside the state dict")
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r:.80}")
        _, storage_type, key, _location, size, view = pid
        if not isinstance(storage_type, StorageType) or not isinstance(key, str) \
                or not isinstance(size, int) or size < 0:
            raise pickle.UnpicklingError(f"malformed storage record {pid!r:.80}")
        if view is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        storage = self.storages.setdefault(key, Storage(storage_type, key, size))
        if storage.type.dtype != storage_type.dtype or storage.size != size:
            raise pickle.UnpicklingError(f"storage {key!r} is described twice, differently")
        return storage


def sha256_of(data):
    return hashlib.sha256(data).hexdigest()


def read_state_dict(path, sha256=None):
    """``OrderedDict`` name -> NumPy array from a legacy-format ``torch.save`` file.

    ``sha256``: when given, the file's SHA-256 must match it, else ``ChecksumError``
    (checked before anything is unpickled).
    """
    with open(path, "rb") as f:
        raw = f.read()
    if sha256 is not None and sha256_of(raw) != sha256.lower():
        raise ChecksumError(f"{path}: SHA-256 is {sha256_of(raw)}, expected {sha256}; "
                            f"the weights file is corrupt or not the expected one (reinstall its package)")
    return parse_state_dict(raw, source=path)


def parse_state_dict(raw, source="<bytes>"):
    """Like ``read_state_dict``, from the file's bytes."""
    f = io.BytesIO(raw)
    if raw[:2] == b"PK":
        raise ValueError(f"{source}: a zip-format torch.save file (PyTorch >= 1.6); only the legacy format is read")
    if RestrictedUnpickler(f).load() != MAGIC_NUMBER:
        raise ValueError(f"{source}: not a legacy torch.save file (wrong magic number)")
    protocol = RestrictedUnpickler(f).load()
    if protocol != PROTOCOL_VERSION:
        raise ValueError(f"{source}: unsupported torch.save protocol {protocol!r}")
    sys_info = RestrictedUnpickler(f).load()
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise ValueError(f"{source}: only little-endian files are supported")
    storages = {}
    state = RestrictedUnpickler(f, storages).load()
    keys = RestrictedUnpickler(f).load()
    if not isinstance(state, dict):
        raise ValueError(f"{source}: expected a state dict, found {type(state).__name__}")
    if not isinstance(keys, list) or sorted(keys) != sorted(storages):
        raise ValueError(f"{source}: the storage key list does not match the tensors")
    for key in keys:
        storage = storages[key]
        header = f.read(8)
        if len(header) != 8:
            raise ValueError(f"{source}: truncated before storage {key!r}")
        (count,) = struct.unpack("<q", header)
        if count != storage.size:
            raise ValueError(f"{source}: storage {key!r} holds {count} elements, expected {storage.size}")
        nbytes = count * storage.type.dtype.itemsize
        chunk = f.read(nbytes)
        if len(chunk) != nbytes:
            raise ValueError(f"{source}: truncated inside storage {key!r}")
        storage.data = np.frombuffer(chunk, dtype=storage.type.dtype)
    if f.read(1):
        raise ValueError(f"{source}: unexpected bytes after the last storage")
    out = collections.OrderedDict()
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, TensorRef):
            raise ValueError(f"{source}: entry {name!r} is not a tensor")
        out[name] = value.to_numpy()
    return out
