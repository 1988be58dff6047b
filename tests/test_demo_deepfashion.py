"""The DeepFashion demo generator: the benchmark's layout, its label rules, determinism."""
import filecmp
import os
import subprocess
import sys

import cv2

import numpy as np
import pytest

from gluonfashion.config import DEFAULTS
from gluonfashion.data import demo_deepfashion as demo
from gluonfashion.data.deepfashion import read_benchmark
from gluonfashion.families.deepfashion import list_paths

ATTRIBUTE = {name: i for i, (name, _) in enumerate(demo.ATTRIBUTES)}
CATEGORY = {name: i for i, (name, *_) in enumerate(demo.CATEGORIES)}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    demo.generate_deepfashion_demo(str(root / "a"), n_train=40, n_val=10, n_test=10, image_size=64, seed=5,
                                   progress=False)
    return root, read_benchmark(list_paths({**DEFAULTS, "data_root": str(root / "a")}))


def test_the_lists_read_back_whole_with_boxes_inside_the_images(made):
    _, bench = made
    assert bench.notes == [] and len(bench.images) == 60
    assert [len(bench.rows(p)) for p in ("train", "val", "test")] == [40, 10, 10]
    assert len(bench.categories) == 30 and len(bench.attributes) == 100
    assert np.bincount(bench.attribute_types).tolist() == [0, 20, 15, 30, 20, 15]   # the five types
    x1, y1, x2, y2 = bench.boxes.T
    assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= 64).all() and (y2 <= 64).all()
    assert (x2 - x1 >= 4).all() and (y2 - y1 >= 4).all()


def test_label_rules_hold_implied_and_exclusive_attributes():
    looks = [demo.sample_look(np.random.default_rng([9, i])) for i in range(600)]
    for look in looks:
        a = look["attributes"]
        name = demo.CATEGORIES[look["category"]][0]
        assert len(a & set(demo.TEXTURES)) <= 1 and len(a & set(demo.FABRICS)) <= 1
        assert len(a & set(demo.PALETTES)) <= 1
        assert len(a & {"sleeveless", "short-sleeve", "elbow-sleeve", "long-sleeve"}) <= 1
        assert len(a & {"hood", "collar", "lapel"}) <= 1 and len(a & {"zip", "button"}) <= 1
        if name == "Jeans":
            assert {"denim", "pocket"} <= a
        if name == "Hoodie":
            assert {"hood", "drawstring", "long-sleeve"} <= a
        if look["fabric"] in ("denim", "leather"):
            assert look["texture"] is None
    shares = np.mean([[n in look["attributes"] for n, _ in demo.ATTRIBUTES] for look in looks], axis=0)
    # a long tail: a few attributes on a fifth of the images or more, many on under 2 %
    assert (shares >= 0.2).sum() >= 3 and (shares < 0.02).sum() >= 15


def test_same_seed_same_bytes_and_images_do_not_depend_on_the_set_size(made, tmp_path):
    root, _ = made
    demo.generate_deepfashion_demo(str(tmp_path / "b"), n_train=40, n_val=10, n_test=10, image_size=64, seed=5,
                                   progress=False)
    for rel in ("Anno/list_attr_img.txt", "Anno/list_bbox.txt", "img/batch_000/img_00000007.jpg"):
        assert filecmp.cmp(root / "a" / rel, tmp_path / "b" / rel, shallow=False)
    # image 7 of a set of 12 is image 7 of the set of 60: seeded by (seed, index) alone
    demo.generate_deepfashion_demo(str(tmp_path / "c"), n_train=8, n_val=2, n_test=2, image_size=64, seed=5,
                                   progress=False)
    assert filecmp.cmp(root / "a/img/batch_000/img_00000007.jpg", tmp_path / "c/img/batch_000/img_00000007.jpg",
                       shallow=False)
    # the file is example(6) itself (up to JPEG), made on its own: no state carried between images
    written = cv2.cvtColor(cv2.imread(str(root / "a/img/batch_000/img_00000007.jpg")), cv2.COLOR_BGR2RGB)
    assert np.abs(written.astype(int) - demo.example(6, 5, 64)[0]).mean() < 15   # JPEG and pixel noise: 5-10
    assert np.abs(written.astype(int) - demo.example(7, 5, 64)[0]).mean() > 25   # another scene: 35 or more
    assert not np.array_equal(demo.example(6, 5, 64)[0], demo.example(6, 6, 64)[0])   # another seed
    # the unknown values are drawn whatever their rate: the images stay the same
    plain, half = demo.example(6, 5, 64, unknown_rate=0.0), demo.example(6, 5, 64, unknown_rate=0.5)
    assert np.array_equal(plain[0], half[0]) and plain[1] == half[1]
    assert (plain[3] != 0).all() and 20 <= (half[3] == 0).sum() <= 80


def test_same_seed_same_scenes_in_processes_with_other_string_hashing():
    """A set of strings iterates in an order that depends on the process's hash seed;
    the generator must not draw its random numbers in such an order. Two processes with
    different PYTHONHASHSEED make the same 40 scenes (labels and pixels)."""
    code = ("import hashlib; from gluonfashion.data import demo_deepfashion as d\n"
            "for i in range(40):\n"
            "    image, labels = d.example(i, 5, 64)[:2]\n"
            "    print(hashlib.sha1(image.tobytes()).hexdigest(), repr(labels))\n")
    outputs = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.splitlines())
    assert len(outputs[0]) == 40 and outputs[0] == outputs[1]

