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


# ------------------------------------------------------------------ values read wrong or never read

def test_exponent_numbers_are_numbers(tmp_path):
    # PyYAML (YAML 1.1) reads `1e-4` as the string "1e-4" (it wants `1.0e-4`); training
    # then crashed at its first step. Read as YAML 1.2 does: the float 0.0001.
    task = tmp_path / "t.yaml"
    task.write_text("task: t\nlr: 1e-4\nwd: 5E-4\nlr_min: 1.0e-6\n")
    cfg = load_config(str(task))
    assert (cfg["lr"], cfg["wd"], cfg["lr_min"]) == (0.0001, 0.0005, 0.000001)
    assert type(cfg["lr"]) is float
    assert load_config(None, ["lr=2e-3"])["lr"] == 0.002


@pytest.mark.parametrize("override, message", [
    ("lr='1e-4'", r"lr must be a number; got '1e-4' \(str\) \(it is quoted"),
    ("epochs=3.5", r"epochs must be an integer; got 3.5"),
    ("hflip=1", r"hflip must be true or false; got 1"),
    ("label_files=base.csv", r"label_files must be a list; got 'base.csv'"),
    ("momentum=.nan", r"momentum must be a number; got nan"),
    ("log_interval=0", r"log_interval must be a positive integer; got 0"),
    ("maybe_share=1", r"maybe_share must be in \[0, 1\) \(at 1 a 'maybe' weighs as much as the 'yes'"),
    ("task=../other", r"task '../other' must be usable as a file and folder name"),
    ("min_image_side=-1", r"min_image_side must be null or >= 0"),
    ("download_max_mb=0", r"download_max_mb must be > 0"),
])
def test_values_of_the_wrong_type_or_range_are_rejected(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_a_misspelt_profile_section_is_an_error(tmp_path):
    task = _write(tmp_path / "t.yaml", {"task": "t", "profiles": {"dmeo": {"epochs": 2}}})
    with pytest.raises(ConfigError, match=r"t\.yaml: profiles\.dmeo: no profile 'dmeo'"):
        load_config(task, profile="demo")
    # a profile of the folder's own (its YAML next to the task file) is a profile
    _write(tmp_path / "quick.yaml", {"epochs": 1})
    task = _write(tmp_path / "t.yaml", {"task": "t", "profiles": {"quick": {"epochs": 2}}})
    assert load_config(task, profile="quick")["epochs"] == 2


def test_unknown_keys_in_a_profile_section_not_used_now_are_errors_too(tmp_path):
    task = _write(tmp_path / "t.yaml", {"task": "t", "profiles": {"full": {"epoch": 40}}})
    with pytest.raises(ConfigError, match=r"profiles\.full\): unknown key 'epoch'"):
        load_config(task, profile="demo")


def test_keys_a_family_never_reads_are_refused_at_load(capsys):
    from gluonfashion.cli import main
    from gluonfashion.families import check_config
    cfg = load_config(None, ["folds=5"])                     # family: fashionai (single-label)
    with pytest.raises(ConfigError, match=r"the fashionai family does not use folds \(set to 5\)"):
        check_config(cfg)
    assert check_config(load_config(None, ["family=jd", "folds=5"])).name == "jd"
    with pytest.raises(ConfigError, match="the jd family does not use maybe_share"):
        check_config(load_config(None, ["family=jd", "maybe_share=0.5"]))
    assert main(["train", "--set", "loss=focal", "--set", "task=t"]) == 2
    assert "the fashionai family does not use loss" in capsys.readouterr().err
