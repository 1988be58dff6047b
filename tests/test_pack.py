"""RecordIO packs: round trip, same samples as from files, loaders over a pack, the CLI;
reduced JPEG decoding and the header size reader it relies on."""
import io
import json
import os

import numpy as np
import pytest
import yaml
from PIL import Image

from gluonfashion.cli import main
from gluonfashion.data.dataset import ImageDataset, PackedDataset, make_loader, make_train_loader
from gluonfashion.data.images import decode_image, image_size
from gluonfashion.data.pack import PackReader, StalePackError, existing_images, pack_prefix, resized, write_pack
from gluonfashion.families import family_of
from gluonfashion.transforms import EvalTransform, TrainTransform, resize_short
from conftest import Interrupted, interrupt_after_first_epoch, saved_file


@pytest.fixture
def photos(tmp_path):
    """Six JPEGs of assorted sizes (textured, so resizing and encoding matter)."""
    rng = np.random.default_rng(1)
    paths = []
    for i, (h, w) in enumerate([(64, 96), (96, 64), (80, 80), (120, 72), (40, 60), (72, 72)]):
        pixels = rng.integers(0, 256, size=(h // 8, w // 8, 3), dtype=np.uint8)
        img = Image.fromarray(pixels).resize((w, h), Image.BILINEAR)
        path = tmp_path / "data" / "Images" / f"{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, quality=92)
        paths.append(str(path))
    return paths


def _pack(photos, tmp_path, side=48, encoding="raw"):
    prefix = str(tmp_path / "data" / "packed" / f"t_s{side}")
    summary = write_pack(photos, str(tmp_path / "data"), prefix, side, encoding, progress=False)
    assert summary["images"] == len(photos) and not summary["skipped"]
    return PackReader(prefix)


class ResizedFiles(ImageDataset):
    """Files resized exactly as ``pack`` resizes them: the reference for packed samples."""

    def __init__(self, images, targets, transform, side):
        super().__init__(images, targets, transform)
        self.side = side

    def load(self, index):
        return resized(self.images[index], self.side)


@pytest.mark.parametrize("encoding", ["raw", "png"])
def test_lossless_pack_round_trip_equals_resized_originals(photos, tmp_path, encoding):
    reader = _pack(photos, tmp_path, 48, encoding)
    for path in photos:
        stored = reader.read(reader.record_of(path))
        np.testing.assert_array_equal(stored, resized(path, 48))
        # and the reduced decode + resize is close to a full decode + the same resize
        full = resize_short(np.asarray(Image.open(path).convert("RGB")), 48)
        assert stored.shape == full.shape
        assert np.abs(stored.astype(np.float32) - full).mean() < 6.0


def test_jpeg_pack_is_close_to_resized_originals(photos, tmp_path):
    reader = _pack(photos, tmp_path, 48, "jpg")
    for path in photos:
        stored = reader.read(reader.record_of(path)).astype(np.float32)
        assert np.abs(stored - resized(path, 48)).mean() < 8.0   # chroma subsampling on tiny images


def test_packed_dataset_gives_the_same_samples_as_files(photos, tmp_path):
    reader = _pack(photos, tmp_path, 40)
    targets = np.eye(len(photos), dtype=np.float32)
    for transform in (TrainTransform(32, (0.5, 1.0)), EvalTransform(32, 36, "ten_crop")):
        packed = PackedDataset(reader, photos, targets, transform)
        files = ResizedFiles(photos, targets, transform, 40)
        for key in [(i, 1000 + 7 * i) for i in range(len(photos))]:
            (a, ya), (b, yb) = packed[key], files[key]
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(ya, yb)


def test_prediction_from_a_pack_gives_the_same_batches_as_files(photos, tmp_path):
    from gluonfashion.inference import prediction_loader
    reader = _pack(photos, tmp_path, 40)
    transform = EvalTransform(32, 40, "flip")
    packed = [x.asnumpy() for x, _ in prediction_loader(photos, transform, 4, 0, pack=reader)]
    files = ResizedFiles(photos, np.zeros(len(photos)), transform, 40)
    expected = np.stack([files[i][0] for i in range(len(photos))])
    np.testing.assert_array_equal(np.concatenate(packed), expected)
    assert packed[0].shape == (4, 2, 32, 32, 3)


def test_process_workers_read_a_pack_like_the_main_process(photos, tmp_path):
    reader = _pack(photos, tmp_path, 40)
    reader.read(0)   # a handle opened in the parent must not leak into the workers
    dataset = PackedDataset(reader, photos * 4, np.zeros((24, 2), np.float32), EvalTransform(32, 40))
    serial = [x.asnumpy() for x, _ in make_loader(dataset, 5, 0)]
    for kind in ("process", "thread"):
        parallel = [x.asnumpy() for x, _ in make_loader(dataset, 5, 2, thread_pool=kind == "thread")]
        assert len(parallel) == len(serial) == 5
        for a, b in zip(serial, parallel):
            np.testing.assert_array_equal(a, b)


def test_stale_or_missing_pack_is_a_clear_error(photos, tmp_path):
    reader = _pack(photos[:3], tmp_path, 40)
    with pytest.raises(KeyError, match="re-run `gluonfashion pack`"):
        PackedDataset(reader, photos, np.zeros(len(photos)), EvalTransform(32, 40))
    with pytest.raises(FileNotFoundError, match="gluonfashion pack"):
        PackReader(str(tmp_path / "nowhere" / "t_s40"))


def test_pack_of_images_changed_since_is_refused(photos, tmp_path):
    reader = _pack(photos, tmp_path, 40)
    PackedDataset(reader, photos, np.zeros(len(photos)), EvalTransform(32, 40))   # fresh: accepted
    Image.new("RGB", (50, 70), (200, 10, 10)).save(photos[2], quality=90)        # same name, new picture
    with pytest.raises(StalePackError, match=r"2\.jpg changed after the pack"):
        PackedDataset(reader, photos, np.zeros(len(photos)), EvalTransform(32, 40))


def test_reduced_decoding_keeps_the_short_side_and_reads_sizes_from_headers(tmp_path):
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8))
    path = tmp_path / "big.jpg"
    img.save(path, quality=90)
    assert decode_image(str(path)).shape == (200, 300, 3)
    assert decode_image(str(path), 50).shape == (50, 75, 3)      # 1/4 scale: still >= 50
    assert decode_image(str(path), 60).shape == (100, 150, 3)    # 1/2 scale
    assert decode_image(str(path), 150).shape == (200, 300, 3)   # no reduction covers 150
    for fmt, options in (("JPEG", {"progressive": True}), ("JPEG", {"exif": b"Exif\x00\x00" + bytes(64)}),
                         ("PNG", {})):
        buf = io.BytesIO()
        img.save(buf, fmt, **options)
        assert image_size(buf.getvalue()) == (300, 200)
    assert image_size(b"\xff\xd8\xff") is None and image_size(b"GIF89a") is None


def _task_yaml(tmp_path, tiny_config, **extra):
    keep = ("data_root", "model", "pretrained", "allow_random_init", "image_size", "resize_short",
            "crop_scale", "batch_size", "optimizer", "lr", "lr_schedule", "workers", "devices",
            "tta", "output_dir", "submission_dir", "answers_file")
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump({k: tiny_config[k] for k in keep}))
    task = tmp_path / "bar_length.yaml"
    task.write_text(yaml.safe_dump({"task": "bar_length", "epochs": 1, **extra}))
    return str(task)


def test_cli_pack_then_a_training_loader_reads_it(tiny_config, tmp_path, capsys):
    config = _task_yaml(tmp_path, tiny_config)
    assert main(["pack", "--config", config, "--profile", "demo", "--short-side", "40", "--quiet"]) == 0
    assert "78 images at short side 40" in capsys.readouterr().out     # 60 labelled + 18 questions
    # the keys the pack verb's hint names are config keys (`--set` rejects unknown ones)
    from gluonfashion.config import ConfigError, load_config
    cfg = load_config(config, ["image_source=pack", "pack_side=40"], "demo")
    with pytest.raises(ConfigError, match="image_source must be one of files, pack"):
        load_config(config, ["image_source=rec"], "demo")
    prefix = pack_prefix(cfg)
    assert prefix.endswith(os.path.join("packed", "bar_length_s40"))
    with open(prefix + ".json") as f:
        meta = json.load(f)
    assert meta["short_side"] == 40 and meta["encoding"] == "jpg" and len(meta["keys"]) == 78

    images = existing_images(family_of(cfg).images(cfg), "the test task")[:20]
    dataset, sampler, loader = make_train_loader(cfg, images, np.zeros((20, 3), np.float32))
    assert isinstance(dataset, PackedDataset)
    sampler.set_epoch(1)
    shapes = [x.shape for x, _ in loader]
    assert shapes == [(16, 32, 32, 3), (4, 32, 32, 3)]


def test_training_from_a_pack_runs_and_resumes_exactly(tiny_config, tmp_path):
    from gluonfashion.families import get_family
    fashionai = get_family("fashionai")
    config = _task_yaml(tmp_path, tiny_config)
    assert main(["pack", "--config", config, "--profile", "demo", "--short-side", "40", "--quiet"]) == 0
    cfg = dict(tiny_config, image_source="pack", pack_side=40, epochs=2, output_dir=str(tmp_path / "a"))
    run_a, best = fashionai.train(cfg, progress=False, log=lambda *_: None)
    assert best["epoch"] in (1, 2)
    # the same two epochs as a run stopped after epoch 1 and resumed
    cfg_b = dict(cfg, output_dir=str(tmp_path / "b"))
    with pytest.raises(Interrupted):
        fashionai.train(cfg_b, progress=False, log=interrupt_after_first_epoch)
    run_b, _ = fashionai.train(cfg_b, resume=True, progress=False, log=lambda *_: None)
    import mxnet as mx
    a, b = mx.nd.load(saved_file(run_a, "last.params")), mx.nd.load(saved_file(run_b, "last.params"))
    for k in a:
        np.testing.assert_allclose(a[k].asnumpy(), b[k].asnumpy(), rtol=1e-5, atol=1e-6, err_msg=k)


def test_pack_without_a_task_says_so(capsys):
    assert main(["pack"]) == 2
    assert "no task: pass --config" in capsys.readouterr().err
