"""Training recipes: lr schedules, staged fine-tuning, stochastic weight averaging."""
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon, nd
from mxnet.gluon import nn
from PIL import Image

from conftest import bar_image, saved_file, write_csv
from gluonfashion import checkpoint, staged_finetuning, swa
from gluonfashion.config import DEFAULTS, ConfigError, load_config
from gluonfashion.models import FashionNet, make_head
from gluonfashion.schedules import is_cycle_end, lr_at


def _quiet(*_):
    pass


# --- schedules (values worked out by hand) ------------------------------------------

def _sched(**kw):
    return dict(DEFAULTS, lr=0.1, epochs=10, lr_steps=[4, 8], lr_factor=0.5, **kw)


@pytest.mark.parametrize("cfg, points", [
    (_sched(lr_schedule="step"), {0: 0.1, 3.99: 0.1, 4: 0.05, 8.5: 0.025}),
    (_sched(lr_schedule="step", warmup_epochs=2), {1: 0.1 * 1.001 / 2, 2: 0.1, 5: 0.05}),
    (_sched(lr_schedule="cosine"), {0: 0.1, 5: 0.05, 10: 0.0}),
    (_sched(lr_schedule="cosine", lr_min=0.01), {0: 0.1, 5: 0.055, 10: 0.01, 12: 0.01}),
    (_sched(lr_schedule="cosine", lr_min=0.01, warmup_epochs=2), {6: 0.055, 10: 0.01}),
    # triangular, 4-epoch cycles: lr_min at whole cycles, lr at half cycles
    (_sched(lr_schedule="cyclic", cycle_mode="triangular", cycle_epochs=4, lr_min=0.02),
     {0: 0.02, 1: 0.06, 2: 0.1, 3: 0.06, 4: 0.02, 6: 0.1, 9: 0.06, 10: 0.1}),
    (_sched(lr_schedule="cyclic", cycle_mode="triangular", cycle_epochs=4, lr_min=0.02, warmup_epochs=2),
     {1: 0.1 * 1.001 / 2, 2: 0.02, 4: 0.1, 6: 0.02}),
    # one cycle: rise lr_min -> lr over the warm-up, cosine back to lr_min at the end
    (_sched(lr_schedule="cyclic", cycle_mode="one_cycle", lr_min=0.01, warmup_epochs=2),
     {0: 0.01, 1: 0.055, 2: 0.1, 6: 0.055, 10: 0.01}),
    (_sched(lr_schedule="cyclic", cycle_mode="one_cycle", lr_min=0.01), {0: 0.1, 5: 0.055, 10: 0.01}),
])
def test_schedule_values_at_hand_checked_points(cfg, points):
    for epoch, expected in points.items():
        assert lr_at(cfg, epoch) == pytest.approx(expected, abs=1e-12), (cfg["lr_schedule"], epoch)


def test_cycle_ends_and_swa_snapshot_epochs():
    tri = _sched(lr_schedule="cyclic", cycle_mode="triangular", cycle_epochs=4)
    assert [e for e in range(11) if is_cycle_end(tri, e)] == [4, 8]
    assert [e for e in range(11) if is_cycle_end(dict(tri, warmup_epochs=2), e)] == [6, 10]
    assert not any(is_cycle_end(_sched(lr_schedule="cosine"), e) for e in range(11))
    assert swa.snapshot_epochs(_sched(lr_schedule="cosine", swa_epochs=3)) == [8, 9, 10]
    assert swa.snapshot_epochs(dict(tri, cycle_epochs=2, swa_epochs=5)) == [6, 8, 10]
    assert swa.snapshot_epochs(dict(tri, swa_epochs=5)) == [8]
    assert swa.snapshot_epochs(_sched(lr_schedule="step")) == []


@pytest.mark.parametrize("overrides, message", [
    (["lr_schedule=cyclic", "cycle_mode=sawtooth"], "cycle_mode must be one of"),
    (["lr_min=1.0", "lr=0.1"], "lr_min must be in"),
    (["cycle_epochs=0"], "cycle_epochs must be"),
    (["head_only_epochs=-1"], "head_only_epochs must be"),
    (["backbone_lr_mult=-0.5"], "backbone_lr_mult must be"),
    (["swa_epochs=5", "epochs=3"], "swa_epochs must be <= epochs"),
    (["predict_weights=swa"], "predict_weights: swa needs swa_epochs"),
    (["lr_schedule=cyclic", "cycle_epochs=4", "epochs=10", "swa_epochs=2"], "no triangular cycle ends"),
])
def test_bad_recipe_settings_are_rejected(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


# --- staged fine-tuning on a small network ------------------------------------------

def _small_net(seed=0):
    """Conv -> BN backbone + FC-BN head: every part staging and SWA care about."""
    mx.random.seed(seed)
    features = nn.HybridSequential(prefix="features_")
    with features.name_scope():
        features.add(nn.Conv2D(4, 3, padding=1), nn.BatchNorm(), nn.Activation("relu"))
    net = FashionNet(features, make_head(3, "fc_bn", hidden=8, pool=True))
    net.initialize(mx.init.Xavier())
    net(nd.zeros((1, 8, 8, 3), dtype="uint8"))       # finish deferred initialisation
    return net


def _batch(seed=0, n=6):
    rng = np.random.default_rng(seed)
    return nd.array(rng.integers(0, 256, (n, 8, 8, 3)), dtype="uint8"), nd.array(rng.integers(0, 3, n))


def _values(block):
    return {k: p.data().asnumpy().copy() for k, p in block._collect_params_with_prefix().items()}


def _step(net, trainer, frozen, seed=0):
    x, y = _batch(seed)
    with autograd.record():
        loss = gluon.loss.SoftmaxCrossEntropyLoss()(staged_finetuning.forward(net, x, frozen), y)
    loss.backward()
    trainer.step(x.shape[0])


def test_frozen_backbone_stays_bit_identical_despite_momentum_and_weight_decay():
    net = _small_net()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.1})
    _step(net, trainer, frozen=False, seed=1)        # builds momentum for every parameter
    backbone, head = _values(net.features), _values(net.head)
    staged_finetuning.set_backbone_trainable(net, False)
    _step(net, trainer, frozen=True, seed=2)
    for k, v in _values(net.features).items():       # weights and BatchNorm statistics
        assert np.array_equal(v, backbone[k]), k
    assert not np.array_equal(_values(net.head)["2.weight"], head["2.weight"])
    assert net.features[0].weight.grad_req == "null"
    staged_finetuning.set_backbone_trainable(net, True)
    assert net.features[1].running_mean.grad_req == "null"   # statistics never get gradients
    _step(net, trainer, frozen=False, seed=3)
    assert not np.array_equal(_values(net.features)["0.weight"], backbone["0.weight"])


def test_backbone_lr_mult_scales_the_backbone_update_only():
    deltas = {}
    for mult in (1.0, 0.1):
        net = _small_net(seed=4)
        staged_finetuning.set_backbone_lr_mult(net, mult)
        before = {**_values(net.features), **{"head." + k: v for k, v in _values(net.head).items()}}
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5, "momentum": 0.0, "wd": 0.0})
        _step(net, trainer, frozen=False)
        after = {**_values(net.features), **{"head." + k: v for k, v in _values(net.head).items()}}
        deltas[mult] = {k: after[k] - before[k] for k in ("0.weight", "head.5.weight")}
    np.testing.assert_allclose(deltas[0.1]["0.weight"], 0.1 * deltas[1.0]["0.weight"], rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(deltas[0.1]["head.5.weight"], deltas[1.0]["head.5.weight"], rtol=1e-5)
    assert np.abs(deltas[1.0]["0.weight"]).max() > 0


def test_stage_messages_only_at_stage_changes():
    cfg = dict(DEFAULTS, head_only_epochs=2, backbone_lr_mult=0.1)
    assert staged_finetuning.stage_message(cfg, 0).startswith("[stage] epoch 1: head only")
    assert staged_finetuning.stage_message(cfg, 1) is None
    assert "backbone lr x0.1" in staged_finetuning.stage_message(cfg, 2)
    assert staged_finetuning.stage_message(dict(DEFAULTS), 0) is None
    assert staged_finetuning.backbone_frozen(dict(DEFAULTS, backbone_lr_mult=0), 9)


# --- SWA building blocks --------------------------------------------------------------

def test_weight_average_is_the_mean_and_round_trips(tmp_path):
    nets = [_small_net(seed=s) for s in range(3)]
    average = swa.WeightAverage()
    for epoch, net in enumerate(nets, 1):
        average.add(net, epoch)
    expected = {k: np.mean([_values(n)[k] for n in nets], axis=0) for k in _values(nets[0])}
    for k, v in average.average.items():
        np.testing.assert_allclose(v.asnumpy(), expected[k], rtol=1e-6, atol=1e-7, err_msg=k)
    average.save(str(tmp_path / "avg.params"))
    loaded = swa.WeightAverage.load(str(tmp_path / "avg.params"), [1, 2, 3])
    target = _small_net(seed=9)
    loaded.copy_to(target)
    target.load_parameters(str(tmp_path / "avg.params"))   # same names as save_parameters
    for k, v in _values(target).items():
        np.testing.assert_allclose(v, expected[k], rtol=1e-6, atol=1e-7, err_msg=k)


def test_bn_recompute_gives_the_cumulative_batch_statistics():
    net = _small_net()
    net.hybridize(static_alloc=True, static_shape=True)
    weights = _values(net)
    batches = [_batch(seed, n)[0] for seed, n in ((10, 6), (11, 6), (12, 3))]
    conv = [net.features[0](net.preprocess(x)).asnumpy() for x in batches]
    expected_mean = sum(c.mean(axis=(0, 2, 3)) * len(c) for c in conv) / 15
    expected_var = sum(c.var(axis=(0, 2, 3)) * len(c) for c in conv) / 15
    assert swa.recompute_bn_stats(net, batches, [mx.cpu()]) == 15
    bn = net.features[1]
    np.testing.assert_allclose(bn.running_mean.data().asnumpy(), expected_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.data().asnumpy(), expected_var, rtol=1e-4, atol=1e-6)
    for k, v in _values(net).items():
        if "running" not in k:
            assert np.array_equal(v, weights[k]), k              # no weight moved
    assert not np.allclose(net.head[3].running_var.data().asnumpy(), 1.0)   # head BN too

    frozen = _small_net()
    backbone = _values(frozen.features)
    swa.recompute_bn_stats(frozen, batches, [mx.cpu()], frozen_backbone=True)
    for k, v in _values(frozen.features).items():
        assert np.array_equal(v, backbone[k]), k                 # a frozen backbone keeps its own
    assert not np.allclose(frozen.head[3].running_var.data().asnumpy(), 1.0)


# --- staged fine-tuning + SWA through the training loop -------------------------------

@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """The conftest task (3 bar lengths), built once for the module's training runs."""
    root = tmp_path_factory.mktemp("recipes") / "fashionai"
    rng = np.random.default_rng(0)
    rows = []
    os.makedirs(root / "Images/bar_length")
    for v in range(3):
        for i in range(20):
            rel = f"Images/bar_length/train_{v}_{i}.jpg"
            Image.fromarray(bar_image(v, 3, 48, rng)).save(root / rel, quality=95)
            rows.append([rel, "bar_length", "".join("y" if j == v else "n" for j in range(3))])
    write_csv(str(root / "Annotations/label.csv"), rows)
    return root


def _recipe_config(root, out):
    return load_config(None, [
        ("task", "bar_length"), ("data_root", str(root)), ("model", "resnet18_v2"), ("pretrained", False),
        ("allow_random_init", True), ("image_size", 32), ("resize_short", 36), ("crop_scale", [0.8, 1.0]),
        ("batch_size", 16), ("epochs", 3), ("optimizer", "adam"), ("lr", 0.003), ("lr_schedule", "cosine"),
        ("workers", 0), ("devices", "cpu"), ("tta", "none"), ("val_fraction", 0.2), ("output_dir", str(out)),
        ("head_only_epochs", 1), ("backbone_lr_mult", 0.5), ("swa_epochs", 2),
    ], profile="demo")


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def recipe_runs(tiny_data, tmp_path_factory):
    """One uninterrupted 3-epoch run (head only in epoch 1, SWA of epochs 2-3) with the
    weights after each epoch, and the same run interrupted after epochs 1 and 2."""
    from gluonfashion.engine import _seed_epoch
    from gluonfashion.models import build_model
    from gluonfashion.families import get_family
    fashionai = get_family("fashionai")
    out = tmp_path_factory.mktemp("runs")
    cfg = _recipe_config(tiny_data, out / "straight")
    _seed_epoch(cfg["seed"], -1)          # the initial weights, as fit builds them
    initial = build_model(cfg, 3, [mx.cpu()], _quiet)
    initial(nd.zeros((1, 32, 32, 3), dtype="uint8"))   # finish deferred initialisation (inference: no BN update)
    initial.save_parameters(str(out / "initial.params"))

    snapshots, lines = {}, []

    def keep(line):
        lines.append(line)
        if line.startswith("[train] epoch"):
            epoch = int(line.split()[2])
            snapshots[epoch] = mx.nd.load(saved_file(out / "straight", "last.params"))
    straight, _ = fashionai.train(cfg, progress=False, log=keep)

    cfg_b = dict(cfg, output_dir=str(out / "resumed"))
    for stop in (1, 2):       # after the stage boundary, then inside the SWA window
        def interrupt(line, stop=stop):
            if line.startswith(f"[train] epoch {stop:>3}"):
                raise Interrupted
        with pytest.raises(Interrupted):
            fashionai.train(cfg_b, resume=stop > 1, progress=False, log=interrupt)
    resumed, _ = fashionai.train(cfg_b, resume=True, progress=False, log=_quiet)
    return {"straight": straight, "resumed": resumed, "initial": mx.nd.load(str(out / "initial.params")),
            "snapshots": snapshots, "lines": lines, "cfg": cfg}


def _split(params, part):
    return {k: v.asnumpy() for k, v in params.items() if k.startswith(part + ".")}


def test_head_only_epoch_keeps_the_backbone_bit_identical(recipe_runs):
    initial, after_1 = recipe_runs["initial"], recipe_runs["snapshots"][1]
    for k, v in _split(initial, "features").items():          # weights and BatchNorm statistics
        assert np.array_equal(after_1[k].asnumpy(), v), k
    head_before, head_after = _split(initial, "head"), _split(after_1, "head")
    assert any(not np.array_equal(head_after[k], v) for k, v in head_before.items())
    assert any(line.startswith("[stage] epoch 1: head only") for line in recipe_runs["lines"])


def test_backbone_trains_after_unfreezing(recipe_runs):
    after_1, after_2 = recipe_runs["snapshots"][1], recipe_runs["snapshots"][2]
    changed = [k for k, v in _split(after_1, "features").items() if not np.array_equal(after_2[k].asnumpy(), v)]
    assert any(k.endswith("weight") for k in changed)
    assert any("backbone lr x0.5" in line for line in recipe_runs["lines"])


def test_swa_params_are_the_mean_of_the_window_with_recomputed_bn(recipe_runs):
    run = recipe_runs["straight"]
    final = mx.nd.load(os.path.join(run, "swa.params"))
    s2, s3 = recipe_runs["snapshots"][2], recipe_runs["snapshots"][3]
    stats = [k for k in final if k.endswith(("running_mean", "running_var"))]
    assert stats
    for k, v in final.items():
        mean = (s2[k].asnumpy() + s3[k].asnumpy()) / 2
        if k in stats:
            continue
        np.testing.assert_allclose(v.asnumpy(), mean, rtol=1e-6, atol=1e-7, err_msg=k)
    moved = [k for k in stats if not np.allclose(final[k].asnumpy(), (s2[k].asnumpy() + s3[k].asnumpy()) / 2)]
    assert len(moved) > len(stats) // 2           # recomputed, not averaged
    record = checkpoint.load_json(os.path.join(run, "swa.json"))
    assert record["epochs"] == [2, 3] and "val_map" in record["metrics"] and record["bn_samples"] == 48
    assert checkpoint.load_json(os.path.join(run, "state.json"))["swa_snapshots"] == [2, 3]
    assert any(line.startswith("[swa] SWA vs best epoch: map") for line in recipe_runs["lines"])


def test_swa_weights_load_for_prediction(recipe_runs):
    from gluonfashion.run_folder import RunFolder, load_run
    run = recipe_runs["straight"]
    net, cfg, record, _ = load_run(run, which="swa", log=_quiet)
    saved = mx.nd.load(os.path.join(run, "swa.params"))
    np.testing.assert_array_equal(net.head[-1].weight.data().asnumpy(), saved["head.1.weight"].asnumpy())
    assert RunFolder(run).weights_for_prediction() == "best"
    assert RunFolder(run).weights_for_prediction("swa") == "swa"


def test_resume_across_the_stage_boundary_and_inside_the_swa_window_is_exact(recipe_runs):
    for name in ("last.params", "swa_running.params", "swa.params"):
        def path(run, name=name):
            return os.path.join(run, name) if name == "swa.params" else saved_file(run, name)
        a = mx.nd.load(path(recipe_runs["straight"]))
        b = mx.nd.load(path(recipe_runs["resumed"]))
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_allclose(a[k].asnumpy(), b[k].asnumpy(), rtol=1e-5, atol=1e-6, err_msg=f"{name} {k}")
    sa = checkpoint.load_json(os.path.join(recipe_runs["straight"], "swa.json"))
    sb = checkpoint.load_json(os.path.join(recipe_runs["resumed"], "swa.json"))
    assert sb["epochs"] == [2, 3] and sa["metrics"]["val_map"] == pytest.approx(sb["metrics"]["val_map"])
