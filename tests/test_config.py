"""Config layering, overrides and validation."""
import pytest
import yaml

from gluonfashion.config import ConfigError, load_config, output_dir


def _write(path, data):
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_layers_profile_task_profile_section_and_set(tmp_path):
    _write(tmp_path / "demo.yaml", {"lr": 0.1, "epochs": 5, "model": "resnet18_v2"})
    task = _write(tmp_path / "my_task.yaml", {"task": "my_task", "epochs": 7,
                                               "profiles": {"demo": {"lr": 0.2}, "full": {"lr": 9.0}}})
    cfg = load_config(task, ["batch_size=8", "lr_steps=[1, 2]"], profile="demo")
    assert cfg["profile"] == "demo"
    assert cfg["model"] == "resnet18_v2"      # from the profile
    assert cfg["epochs"] == 7                 # task beats profile
    assert cfg["lr"] == 0.2                   # task's profiles.demo beats task
    assert cfg["batch_size"] == 8 and cfg["lr_steps"] == [1, 2]   # --set, parsed as YAML
    assert output_dir(cfg) == "runs/demo/my_task"


def test_auto_profile_picks_full_only_when_its_data_exists(tmp_path):
    data = tmp_path / "real"
    _write(tmp_path / "full.yaml", {"data_root": str(data), "label_files": ["base/Annotations/label.csv"]})
    task = _write(tmp_path / "t.yaml", {"task": "t"})
    assert load_config(task)["profile"] == "demo"
    (data / "base/Annotations").mkdir(parents=True)
    (data / "base/Annotations/label.csv").write_text("")
    assert load_config(task)["profile"] == "full"


@pytest.mark.parametrize("override, message", [
    ("learning_rate=0.1", "unknown key 'learning_rate'"),
    ("optimizer=rmsprop", "optimizer must be one of"),
    ("epochs=0", "epochs must be a positive integer"),
    ("lr", "--set expects key=value"),
    ("val_fraction=1.5", "val_fraction must be in"),
])
def test_bad_overrides_are_rejected_with_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_unknown_key_in_file_names_the_file(tmp_path):
    task = _write(tmp_path / "t.yaml", {"task": "t", "epoch": 3})
    with pytest.raises(ConfigError, match=r"t\.yaml: unknown key 'epoch'"):
        load_config(task)


def test_shipped_configs_load_for_both_profiles():
    import glob
    files = sorted(glob.glob("configs/fashionai/*_labels.yaml"))
    assert len(files) == 8
    for path in files:
        for profile in ("demo", "full"):
            cfg = load_config(path, profile=profile)
            assert cfg["task"] in path
        assert load_config(path, profile="full")["model"] == "resnet50_v2"
