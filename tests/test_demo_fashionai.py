"""The embedded FashionAI demo generator: layout, label strings, determinism, images."""
import csv
import filecmp
import os
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from gluonfashion.data import demo_fashionai
from gluonfashion.data.demo_fashionai import generate_fashionai_demo, render_example
from gluonfashion.tasks import FASHIONAI_TASKS

TRAIN, TEST, SIZE = 2, 1, 32
FEW_TASKS = ["sleeve_length_labels", "neck_design_labels"]


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def tree(root):
    """All files under ``root``, as paths relative to it."""
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, files in os.walk(root) for f in files)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """All eight tasks, two train and one test image per value, half the rows 'maybe'."""
    root = tmp_path_factory.mktemp("demo")
    summary = generate_fashionai_demo(root, train_per_value=TRAIN, test_per_value=TEST,
                                      image_size=SIZE, maybe_rate=0.5, seed=3, progress=False)
    return root, summary


def test_layout_and_row_formats(demo):
    root, _ = demo
    for name, split in (("Annotations/label.csv", "train"), ("answers.csv", "test")):
        rows = read_rows(root / name)
        for rel, task, ynm in rows:
            assert rel.startswith(f"Images/{task}/{split}_") and rel.endswith(".jpg")
            assert (root / rel).is_file()
        assert len({r[0] for r in rows}) == len(rows)          # distinct file names
    train = {r[0] for r in read_rows(root / "Annotations/label.csv")}
    test = {r[0] for r in read_rows(root / "answers.csv")}
    assert not train & test
    jpgs = {p for p in tree(root) if p.endswith(".jpg")}
    assert jpgs == {os.path.normpath(p) for p in train | test}
    assert not [p for p in tree(root) if p.endswith(".tmp")]


def test_value_counts_match_task_table(demo):
    root, summary = demo
    for name, per_value in (("Annotations/label.csv", TRAIN), ("answers.csv", TEST)):
        rows = read_rows(root / name)
        assert {task for _, task, _ in rows} == set(FASHIONAI_TASKS)
        for task, values in FASHIONAI_TASKS.items():
            labels = [ynm for _, t, ynm in rows if t == task]
            assert all(len(ynm) == len(values) for ynm in labels)
            assert Counter(ynm.index("y") for ynm in labels) == {
                v: per_value for v in range(len(values))}
    assert summary["train"] == TRAIN * sum(map(len, FASHIONAI_TASKS.values()))
    assert summary["test"] == TEST * sum(map(len, FASHIONAI_TASKS.values()))
    for task, values in FASHIONAI_TASKS.items():
        assert summary["tasks"][task] == {"values": len(values), "train": TRAIN * len(values),
                                          "test": TEST * len(values)}


def test_label_strings_have_one_y_and_plausible_maybes(demo):
    root, _ = demo
    rows = read_rows(root / "Annotations/label.csv") + read_rows(root / "answers.csv")
    maybes = 0
    for _, task, ynm in rows:
        assert set(ynm) <= set("ynm") and ynm.count("y") == 1 and ynm.count("m") <= 1
        if "m" in ynm:
            maybes += 1
            assert ynm.index("y") != 0 and ynm.index("m") != 0   # never about Invisible
    assert maybes > 0


def test_no_maybe_rows_when_rate_is_zero(tmp_path):
    generate_fashionai_demo(tmp_path, train_per_value=3, test_per_value=0, image_size=SIZE,
                            maybe_rate=0.0, tasks=["coat_length_labels"], progress=False)
    assert all("m" not in ynm for _, _, ynm in read_rows(tmp_path / "Annotations/label.csv"))


def test_questions_match_answers(demo):
    root, _ = demo
    questions = read_rows(root / "Tests/question.csv")
    answers = read_rows(root / "answers.csv")
    assert [q[:2] for q in questions] == [a[:2] for a in answers]
    assert {q[2] for q in questions} == {"?"}


def test_images_decode_at_the_requested_size(demo):
    root, _ = demo
    for rel, _, _ in read_rows(root / "answers.csv"):
        with Image.open(root / rel) as img:
            assert img.format == "JPEG" and img.mode == "RGB" and img.size == (SIZE, SIZE)


def test_same_seed_gives_identical_bytes_other_seed_differs(tmp_path):
    kwargs = dict(train_per_value=1, test_per_value=1, image_size=SIZE, maybe_rate=0.5,
                  tasks=FEW_TASKS, progress=False)
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate_fashionai_demo(tmp_path / name, seed=seed, **kwargs)
    files = tree(tmp_path / "a")
    assert files == tree(tmp_path / "b") == tree(tmp_path / "c")
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, shallow=False)
    assert not mismatch and not errors
    _, mismatch, _ = filecmp.cmpfiles(tmp_path / "a", tmp_path / "c", files, shallow=False)
    assert any(p.endswith(".jpg") for p in mismatch)


def test_images_do_not_depend_on_which_tasks_are_generated(tmp_path):
    kwargs = dict(train_per_value=1, test_per_value=0, image_size=SIZE, progress=False)
    generate_fashionai_demo(tmp_path / "one", tasks=FEW_TASKS[1:], **kwargs)
    generate_fashionai_demo(tmp_path / "two", tasks=FEW_TASKS, **kwargs)
    files = tree(tmp_path / "one" / "Images")
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "one" / "Images", tmp_path / "two" / "Images",
                                           files, shallow=False)
    assert files and not mismatch and not errors


def test_interrupted_run_does_not_look_finished(tmp_path, monkeypatch):
    kwargs = dict(train_per_value=1, test_per_value=1, image_size=SIZE, tasks=FEW_TASKS[:1],
                  progress=False)
    generate_fashionai_demo(tmp_path, **kwargs)
    calls = []

    def crash(*args, **kw):
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return Image.new("RGB", (SIZE, SIZE))

    monkeypatch.setattr(demo_fashionai, "render_example", crash)
    with pytest.raises(KeyboardInterrupt):
        generate_fashionai_demo(tmp_path, **kwargs)
    for name in ("Annotations/label.csv", "Tests/question.csv", "answers.csv"):
        assert not (tmp_path / name).exists()


def test_unknown_task_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown"):
        generate_fashionai_demo(tmp_path, tasks=["sleeve_lenght_labels"], progress=False)


@pytest.mark.parametrize("task", sorted(FASHIONAI_TASKS))
def test_render_example_draws_each_value_differently(task):
    """From the same seed (colours, framing, noise) every value still gives a different
    picture: the label lives in the drawing itself."""
    images = [np.asarray(render_example(task, v, np.random.default_rng(0), image_size=48),
                         np.int16) for v in range(len(FASHIONAI_TASKS[task]))]
    assert all(img.shape == (48, 48, 3) for img in images)
    for i in range(len(images)):
        for j in range(i):
            assert np.abs(images[i] - images[j]).mean() > 0.5, (i, j)


def test_render_example_is_deterministic_and_checks_the_value():
    a = render_example("neckline_design_labels", 3, np.random.default_rng(1), image_size=40)
    b = render_example("neckline_design_labels", 3, np.random.default_rng(1), image_size=40)
    assert isinstance(a, Image.Image) and a.size == (40, 40)
    assert a.tobytes() == b.tobytes()
    with pytest.raises(ValueError):
        render_example("neckline_design_labels", 10, np.random.default_rng(1))
