"""The synthetic JD style dataset: layout, determinism and the label statistics."""
import numpy as np
import pytest
from PIL import Image

from gluonfashion.data.demo_jd import (
    STYLE_CUES, generate_jd_demo, render_styles, sample_jd_demo_labels)
from gluonfashion.data.download import download_images
from gluonfashion.data.jd import read_jd_answers, read_jd_test, read_jd_train
from gluonfashion.tasks import JD_STYLES

SMALL = dict(n_train=24, n_test=6, image_size=48, seed=3, progress=False)
OL, JAPANESE, BRITISH, LADY = (JD_STYLES.index(s) for s in (
    "OL/commuting", "Japanese", "British", "lady/elegant"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("jd_demo")
    return out, generate_jd_demo(out, **SMALL)


def test_layout(demo):
    out, summary = demo
    ids, urls, labels = read_jd_train(out / "train.txt")
    test_ids, test_urls = read_jd_test(out / "test.txt")
    answer_ids, answers = read_jd_answers(out / "answers.txt")
    assert len(ids) == 24 and labels.shape == (24, 13)
    assert answer_ids == test_ids and len(test_ids) == 6 and answers.shape == (6, 13)
    assert not set(ids) & set(test_ids)
    for i, url in zip(ids + test_ids, urls + test_urls):
        assert url == (out / "source" / f"{i}.jpg").resolve().as_uri()
    assert len(list((out / "source").iterdir())) == 30
    with Image.open(out / "source" / f"{ids[0]}.jpg") as im:
        assert im.size == (48, 48) and im.mode == "RGB"
    assert summary["train_counts"] == dict(zip(JD_STYLES, labels.sum(axis=0).tolist()))
    assert set(STYLE_CUES) == set(JD_STYLES)


def test_same_seed_same_data_and_labels_match_the_sampler(demo, tmp_path):
    out, _ = demo
    again = generate_jd_demo(tmp_path, **{**SMALL, "n_test": 2})
    assert again["train_counts"] == demo[1]["train_counts"]
    ids, _, labels = read_jd_train(out / "train.txt")
    assert (out / "source" / f"{ids[5]}.jpg").read_bytes() == (
        tmp_path / "source" / f"{ids[5]}.jpg").read_bytes()
    np.testing.assert_array_equal(labels, sample_jd_demo_labels(24, seed=3))
    answers = read_jd_answers(out / "answers.txt")[1]
    np.testing.assert_array_equal(answers, sample_jd_demo_labels(6, seed=3, start=24))
    assert not np.array_equal(sample_jd_demo_labels(24, seed=4), labels)


@pytest.mark.parametrize("seed", [0, 1])
def test_label_statistics_at_the_default_size(seed):
    labels = sample_jd_demo_labels(1200, seed=seed)
    positives = labels.sum(axis=1)
    assert positives.min() >= 1 and positives.max() <= 5
    counts = labels.sum(axis=0)
    assert counts.min() > 0 and counts.max() / counts.min() >= 100
    assert labels[:, JAPANESE:BRITISH + 1].sum(axis=1).max() <= 1  # mutually exclusive
    ol = labels[:, OL] == 1
    assert ol.sum() > 50 and labels[ol, LADY].mean() >= 0.95


def test_render_styles_is_deterministic():
    a = render_styles([0, 2, 11], np.random.default_rng(7), image_size=64)
    b = render_styles([0, 2, 11], np.random.default_rng(7), image_size=64)
    assert a.size == (64, 64) and a.mode == "RGB"
    assert np.array_equal(np.asarray(a), np.asarray(b))
    c = render_styles([3], np.random.default_rng(7), image_size=64)
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_file_urls_download_with_the_kit_downloader(demo):
    out, _ = demo
    ids, urls, _ = read_jd_train(out / "train.txt")
    report = download_images(ids, urls, out / "images", workers=4, progress=False, file_roots=[out])
    assert report.all_ok and sorted(report.ok) == sorted(ids)
    assert (out / "images" / f"{ids[0]}.jpg").read_bytes() == (
        out / "source" / f"{ids[0]}.jpg").read_bytes()
