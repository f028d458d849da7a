"""Typed configuration: presets, `--set` overrides with type conversion, errors naming the dotted key,
and the YAML round trip that runs and checkpoints rely on."""
from __future__ import annotations

import dataclasses

import pytest
import yaml

from gankit.config import (Config, DataConfig, LossConfig, OptimConfig, coerce, from_dict, load_config, parse_override,
                           preset_dict, preset_names)
from gankit.errors import ConfigError, GankitError

SHIPPED = ["dcgan-fashion-mnist", "dcgan-mnist", "gan-digits", "gan-mnist"]


def test_preset_names_lists_the_shipped_presets():
    names = preset_names()
    assert names == sorted(names)
    assert set(SHIPPED) <= set(names)


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_loads_and_validates(name):
    cfg = load_config(name)
    assert isinstance(cfg, Config)
    assert cfg.validate() is cfg
    assert cfg.description  # every preset says what it is
    # A preset differs from the defaults somewhere, and what it sets (itself or what it extends) is what we get.
    raw = preset_dict(name)
    assert "extends" not in raw
    assert cfg.data.name == raw["data"]["name"]
    assert cfg.model.g.name == raw["model"]["g"]["name"]
    assert cfg.train.steps == raw["train"]["steps"]


def open_preset(name: str) -> str:
    from importlib import resources
    return (resources.files("gankit") / "presets" / f"{name}.yaml").read_text()


def test_gan_mnist_is_the_seed_setup():
    cfg = load_config("gan-mnist")
    assert cfg.data == DataConfig(name="mnist", path=None, split="train", resolution=28, channels=1)
    assert cfg.model.latent_dim == 100
    assert (cfg.model.g.name, cfg.model.g.width) == ("mlp", 128)
    assert (cfg.model.d.name, cfg.model.d.width) == ("mlp", 128)
    assert cfg.train.batch_size == 64
    for o in (cfg.optim.g, cfg.optim.d):
        assert o.name == "adam"
        assert o.lr == 2e-4 and isinstance(o.lr, float)
        assert o.betas == (0.5, 0.999)
        assert o.weight_decay == 0.0
    assert cfg.loss == LossConfig(name="gan", g_cost="non-saturating")
    assert cfg.game.name == "gan"


def test_defaults_without_preset():
    cfg = load_config()
    assert cfg == Config()
    assert cfg.optim.g.betas == (0.5, 0.999) and cfg.train.steps == 2000


# ----------------------------------------------------------------------------------------------
# Overrides
# ----------------------------------------------------------------------------------------------

def test_parse_override_builds_nested_dict():
    assert parse_override("train.steps=200") == {"train": {"steps": 200}}
    assert parse_override("optim.g.lr=0.001") == {"optim": {"g": {"lr": 0.001}}}
    assert parse_override("description=a=b") == {"description": "a=b"}  # split at the first '='
    assert parse_override("data.path=") == {"data": {"path": ""}}
    assert parse_override(" seed =3") == {"seed": 3}


@pytest.mark.parametrize("text,get,want", [
    ("train.steps=200", lambda c: c.train.steps, 200),
    ("train.steps=200.0", lambda c: c.train.steps, 200),
    ("optim.g.lr=1e-4", lambda c: c.optim.g.lr, 1e-4),
    ("optim.g.lr=0.001", lambda c: c.optim.g.lr, 0.001),
    ("optim.d.lr=1", lambda c: c.optim.d.lr, 1.0),
    ("optim.d.betas=[0,0.9]", lambda c: c.optim.d.betas, (0.0, 0.9)),
    ("optim.d.betas=[0.0, 0.99]", lambda c: c.optim.d.betas, (0.0, 0.99)),
    ("data.path=null", lambda c: c.data.path, None),
    ("data.path=~", lambda c: c.data.path, None),
    ("data.path=/tmp/imgs", lambda c: c.data.path, "/tmp/imgs"),
    ("data.path=123", lambda c: c.data.path, "123"),
    ("train.progress=false", lambda c: c.train.progress, False),
    ("train.tensorboard=no", lambda c: c.train.tensorboard, False),
    ("train.progress=True", lambda c: c.train.progress, True),
    ("loss=gan", lambda c: c.loss.name, "gan"),
    ("loss.g_cost=minimax", lambda c: c.loss.g_cost, "minimax"),
    ("data.split=all", lambda c: c.data.split, "all"),
    ("description=hello world", lambda c: c.description, "hello world"),
])
def test_override_values_are_converted(text, get, want):
    cfg = load_config("gan-mnist", [text])
    got = get(cfg)
    assert got == want and type(got) is type(want), (text, got)


def test_override_float_from_yaml_string():
    # YAML 1.1 reads "1e-4" (no dot) as a string; the float field still gets a float.
    assert parse_override("optim.g.lr=1e-4") == {"optim": {"g": {"lr": "1e-4"}}}
    cfg = load_config("gan-mnist", ["optim.g.lr=1e-4"])
    assert cfg.optim.g.lr == 1e-4 and isinstance(cfg.optim.g.lr, float)
    assert cfg.optim.d.lr == 2e-4  # the other player is untouched


def test_overrides_apply_in_order_and_keep_the_rest_of_the_preset():
    cfg = load_config("gan-digits", ["train.steps=5", "train.steps=7", "model.g.width=8"])
    base = load_config("gan-digits")
    assert cfg.train.steps == 7 and cfg.model.g.width == 8
    assert cfg.model.d.width == base.model.d.width == 32
    assert cfg.data == base.data
    # The base is not mutated by overriding a copy of it.
    assert base.train.steps == 300 and base.model.g.width == 32


def test_loss_shorthand_keeps_g_cost():
    cfg = load_config(None, ["loss.g_cost=max-likelihood", "loss=gan"])
    assert cfg.loss == LossConfig(name="gan", g_cost="max-likelihood")


def test_from_dict_with_base_and_dict_base():
    base = from_dict({"train": {"steps": 9}, "seed": 4})
    cfg = from_dict({"train": {"batch_size": 3}}, base)
    assert (cfg.train.steps, cfg.train.batch_size, cfg.seed) == (9, 3, 4)
    assert base.train.batch_size == 64
    assert load_config(None, ["seed=5"], base={"seed": 1, "train": {"steps": 3}}).train.steps == 3
    assert load_config(None, ["seed=5"], base={"seed": 1}).seed == 5


def test_coerce_directly():
    assert coerce("3", int, "k") == 3
    assert coerce(2.0, int, "k") == 2 and isinstance(coerce(2.0, int, "k"), int)
    assert coerce("2.5e-3", float, "k") == 2.5e-3
    assert coerce(3, float, "k") == 3.0 and isinstance(coerce(3, float, "k"), float)
    assert coerce("off", bool, "k") is False
    assert coerce([1, "0.5"], tuple[float, float], "k") == (1.0, 0.5)
    assert coerce("[1, 2, 3]", tuple[int, ...], "k") == (1, 2, 3)
    with pytest.raises(ConfigError, match="^k: "):
        coerce(True, int, "k")
    with pytest.raises(ConfigError, match="^k: "):
        coerce(True, float, "k")
    with pytest.raises(ConfigError, match="^k: expected 2 values"):
        coerce([1.0], tuple[float, float], "k")
    with pytest.raises(ConfigError, match="^k: "):
        coerce(None, str, "k")


# ----------------------------------------------------------------------------------------------
# Errors: always a ConfigError, always naming the dotted key
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,key", [
    ("train.steps=abc", "train.steps"),
    ("train.steps=1.5", "train.steps"),
    ("train.steps=true", "train.steps"),
    ("train.steps=[1,2]", "train.steps"),
    ("train.progress=maybe", "train.progress"),
    ("train.progress=1", "train.progress"),
    ("optim.g.lr=fast", "optim.g.lr"),
    ("optim.d.betas=0.5", "optim.d.betas"),
    ("optim.d.betas=[0.5]", "optim.d.betas"),
    ("optim.d.betas=[0.5,x]", "optim.d.betas"),
    ("description=[1,2]", "description"),
])
def test_wrong_type_names_the_key(text, key):
    with pytest.raises(ConfigError) as e:
        load_config("gan-mnist", [text])
    assert str(e.value).startswith(f"{key}: "), str(e.value)


@pytest.mark.parametrize("text,key", [
    ("loss.g_cost=foo", "loss.g_cost"),
    ("data.split=valid", "data.split"),
    ("optim.g.name=sgd", "optim.g.name"),
])
def test_bad_choice_names_the_key_and_choices(text, key):
    with pytest.raises(ConfigError) as e:
        load_config("gan-mnist", [text])
    msg = str(e.value)
    assert msg.startswith(f"{key}: "), msg
    if key == "loss.g_cost":
        assert "minimax" in msg and "non-saturating" in msg and "max-likelihood" in msg


@pytest.mark.parametrize("text,key", [
    ("data.channels=2", "data.channels"),
    ("data.resolution=2", "data.resolution"),
    ("train.batch_size=0", "train.batch_size"),
    ("train.steps=-1", "train.steps"),
    ("train.d_steps=0", "train.d_steps"),
    ("train.log_every=0", "train.log_every"),
    ("train.ema_decay=1.0", "train.ema_decay"),
    ("train.keep_checkpoints=-2", "train.keep_checkpoints"),
    ("optim.g.lr=-1", "optim.g.lr"),
    ("optim.d.lr=0", "optim.d.lr"),
    ("optim.g.betas=[0.5,1.0]", "optim.g.betas"),
    ("model.latent_dim=0", "model.latent_dim"),
    ("model.d.width=0", "model.d.width"),
])
def test_out_of_range_names_the_key(text, key):
    with pytest.raises(ConfigError) as e:
        load_config("gan-mnist", [text])
    assert str(e.value).startswith(f"{key}: "), str(e.value)


@pytest.mark.parametrize("text", ["train.steps=0", "train.ema_decay=0.999", "train.keep_checkpoints=-1",
                                  "data.channels=3", "optim.g.betas=[0,0]"])
def test_boundary_values_are_accepted(text):
    load_config("gan-mnist", [text])


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(ConfigError) as e:
        load_config("gan-mnist", ["train.stepz=5"])
    msg = str(e.value)
    assert "'train.stepz'" in msg and "did you mean train.steps?" in msg


def test_unknown_keys_at_every_level():
    with pytest.raises(ConfigError, match=r"unknown config key 'trian'"):
        load_config(None, ["trian.steps=5"])
    with pytest.raises(ConfigError, match=r"unknown config key 'optim\.g\.learning_rate'"):
        load_config(None, ["optim.g.learning_rate=0.1"])
    with pytest.raises(ConfigError, match=r"unknown config key 'model\.g\.zzz'") as e:
        from_dict({"model": {"g": {"zzz": 1}}})
    assert "did you mean" not in str(e.value)


def test_scalar_where_a_section_is_expected():
    with pytest.raises(ConfigError, match=r"^train: expected a mapping"):
        load_config(None, ["train=5"])
    with pytest.raises(ConfigError, match=r"^config: expected a mapping"):
        from_dict([1, 2])  # type: ignore[arg-type]


def test_unknown_preset_lists_available():
    with pytest.raises(ConfigError) as e:
        load_config("gan-mnsit")
    msg = str(e.value)
    assert "'gan-mnsit'" in msg and "did you mean 'gan-mnist'" in msg
    for name in SHIPPED:
        assert name in msg


@pytest.mark.parametrize("text", ["train.steps", "train.steps 200", ""])
def test_malformed_set_without_equals(text):
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config(None, [text])


@pytest.mark.parametrize("text", ["=5", "train..steps=5", ".steps=5", "train.=5"])
def test_malformed_set_key(text):
    with pytest.raises(ConfigError, match="bad key"):
        parse_override(text)


def test_config_errors_are_gankit_errors():
    assert issubclass(ConfigError, GankitError)
    with pytest.raises(GankitError):
        load_config(None, ["seed=x"])


def test_preset_from_yaml_file(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("data: {name: digits, resolution: 16}\ntrain: {steps: 12}\n")
    cfg = load_config(str(p), ["train.batch_size=8"])
    assert (cfg.data.name, cfg.data.resolution, cfg.train.steps, cfg.train.batch_size) == ("digits", 16, 12, 8)
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {steps: 1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(bad))
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(str(lst))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.yaml"))


def test_a_preset_extends_another(tmp_path):
    """``extends``: the parent's keys, this file's over them section by section; a section whose name
    changes is replaced whole; chains of files resolve relative to the extending file."""
    fashion = load_config("dcgan-fashion-mnist")
    parent = load_config("dcgan-mnist")
    assert yaml.safe_load(open_preset("dcgan-fashion-mnist"))["extends"] == "dcgan-mnist"
    assert fashion.model == parent.model and fashion.optim == parent.optim and fashion.loss == parent.loss
    assert (fashion.data.name, fashion.train.steps, fashion.train.batch_size, fashion.train.ema_decay) == \
        ("fashion-mnist", 5000, 64, 0.0)
    assert fashion.train.sample_every == parent.train.sample_every  # not restated: inherited

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.yaml").write_text("extends: dcgan-mnist\ntrain: {steps: 7}\n"
                                                "model: {g: {width: 8}, d: {width: 8}}\n")
    (tmp_path / "mine.yaml").write_text("extends: sub/base.yaml\ntrain: {batch_size: 4}\n"
                                        "model: {d: {name: mlp}}\n")
    cfg = load_config(str(tmp_path / "mine.yaml"))
    assert (cfg.train.steps, cfg.train.batch_size, cfg.train.ema_decay) == (7, 4, parent.train.ema_decay)
    assert (cfg.model.g.name, cfg.model.g.width, cfg.model.latent_dim) == ("dcgan", 8, 100)
    # model.d changed family: replaced whole, so base.yaml's width 8 does not reach the MLP (its default, 64)
    assert (cfg.model.d.name, cfg.model.d.width) == ("mlp", 64)
    assert load_config(str(tmp_path / "sub" / "base.yaml")).model.d.width == 8

    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match=r"extends itself through .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        load_config(str(tmp_path / "a.yaml"))
    (tmp_path / "typo.yaml").write_text("extends: dcgan-mnsit\n")
    with pytest.raises(ConfigError, match=r"unknown preset 'dcgan-mnsit' \(did you mean 'dcgan-mnist'\?\)"):
        load_config(str(tmp_path / "typo.yaml"))
    (tmp_path / "num.yaml").write_text("extends: 3\n")
    with pytest.raises(ConfigError, match=r"extends: expected the name of a preset or a YAML file, got 3"):
        load_config(str(tmp_path / "num.yaml"))


# ----------------------------------------------------------------------------------------------
# YAML round trip
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", preset_names())
def test_yaml_round_trip_of_presets(name):
    cfg = load_config(name)
    text = cfg.to_yaml()
    back = from_dict(yaml.safe_load(text))
    assert back == cfg
    assert back.validate() == cfg
    assert back.optim.g.betas == cfg.optim.g.betas and isinstance(back.optim.g.betas, tuple)


def test_yaml_round_trip_with_unusual_values():
    cfg = load_config("dcgan-mnist", ["data.path=/some/where", "optim.d.betas=[0,0.9]", "optim.g.lr=1e-4",
                                      "optim.g.eps=1e-12", "train.progress=false", "seed=123456789",
                                      "loss.g_cost=minimax", "train.device=cuda:1"])
    cfg = dataclasses.replace(cfg, description="a: b # not a comment, 'quoted' \"too\"\nsecond line")
    text = cfg.to_yaml()
    back = from_dict(yaml.safe_load(text))
    assert back == cfg
    assert back.description == "a: b # not a comment, 'quoted' \"too\"\nsecond line"
    assert back.optim.g.eps == 1e-12 and back.optim.d.betas == (0.0, 0.9)
    # The dumped YAML is plain: lists, not Python tuples.
    assert "!!python" not in text
    assert yaml.safe_load(text)["optim"]["d"]["betas"] == [0.0, 0.9]


def test_to_dict_matches_dataclass_fields():
    cfg = Config()
    d = cfg.to_dict()
    assert list(d) == [f.name for f in dataclasses.fields(Config)]
    assert d["optim"] == {"default": dataclasses.asdict(OptimConfig()) | {"betas": [0.5, 0.999]}}
    assert Config().optim.g.betas == (0.5, 0.999)  # a player not named runs with optim.default
    assert d["data"]["path"] is None
