"""StarGAN: its domain codes, its losses by hand, target parsing, a tiny run on a user's domain folders
(trains, records its domains, resumes bit-exactly, translates --to a domain). No built-in dataset."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.api import load_run, prepare_training, train, translate
from gankit.cli import main
from gankit.config import load_config
from gankit.errors import ConfigError, GankitError
from gankit.games import DataInfo
from gankit.games.stargan import (StarGANGame, all_codes, classification_loss, joint_index, parse_groups,
                                  predicted_codes, tile)
from gankit.train.checkpoint import load_checkpoint
from helpers.state import assert_same

RES = 16
DOMAINS = {"blue": (40, 60, 220), "green": (50, 200, 60), "red": (210, 40, 50)}  # sorted: the label order


def _colour_image(rng, rgb):
    img = np.clip(np.array(rgb)[None, None, :] + rng.normal(0, 20, (RES, RES, 3)), 0, 255).astype(np.uint8)
    img[rng.integers(0, RES), :] = 255  # a white stroke, so images of one domain differ
    return img


@pytest.fixture(scope="module")
def domains(tmp_path_factory):
    """DIR/train/<colour>/ (5 images each) and DIR/test/<colour>/ (2 each), 16x16 RGB."""
    root = tmp_path_factory.mktemp("domains") / "data"
    rng = np.random.default_rng(0)
    for split, n in (("train", 5), ("test", 2)):
        for name, rgb in DOMAINS.items():
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(_colour_image(rng, rgb)).save(root / split / name / f"{name}{i}.png")
    return root


def tiny(root, *extra, steps=3):
    return ["data.name=domains", f"data.path={root}", f"data.resolution={RES}", "data.channels=3",
            "model.g.width=4", "model.d.width=4", "train.batch_size=4", "train.d_steps=2",
            "train.progress=false", "train.tensorboard=false", "train.sample_every=0", "train.checkpoint_every=0",
            "train.log_every=1", "optim.default.ramp_down=0", f"train.steps={steps}", *extra]


# ---------------------------------------------------------------------------------------------------
# domain codes

GROUPS = [(0, 1, 2), (3,)]  # colour {red, green, blue} one of three, thick binary


def test_parse_groups():
    assert parse_groups(("red|green|blue", "thick")) == (["red", "green", "blue", "thick"], GROUPS)
    assert parse_groups((" a | b ", "c", "d|e")) == (["a", "b", "c", "d", "e"], [(0, 1), (2,), (3, 4)])


def test_all_codes_are_the_valid_codes_in_joint_index_order():
    codes = all_codes(GROUPS, 4)
    torch.testing.assert_close(codes, torch.tensor([[1., 0, 0, 0], [1, 0, 0, 1], [0, 1, 0, 0], [0, 1, 0, 1],
                                                    [0, 0, 1, 0], [0, 0, 1, 1]]))
    assert torch.equal(joint_index(codes, GROUPS), torch.arange(6))
    # a shuffled batch of codes maps back to its indices
    perm = torch.tensor([4, 0, 5, 5, 2, 1])
    assert torch.equal(joint_index(codes[perm], GROUPS), perm)
    # one group of four: the one-hot codes, the identity
    assert torch.equal(all_codes([(0, 1, 2, 3)], 4), torch.eye(4))
    # two binary attributes: 00, 01, 10, 11
    torch.testing.assert_close(all_codes([(0,), (1,)], 2), torch.tensor([[0., 0], [0, 1], [1, 0], [1, 1]]))


def test_predicted_codes_take_the_argmax_of_each_group_and_the_sign_of_binary_logits():
    logits = torch.tensor([[0.1, 2.0, -1.0, 0.5],
                           [3.0, 0.0, 0.0, -0.2],
                           [-5.0, -4.0, -3.0, 1e-3]])
    torch.testing.assert_close(predicted_codes(logits, GROUPS), torch.tensor([[0., 1, 0, 1], [1, 0, 0, 0],
                                                                               [0, 0, 1, 1]]))
    codes = all_codes(GROUPS, 4)
    torch.testing.assert_close(predicted_codes(codes * 4 - 2, GROUPS), codes)  # logits ±2 read back


def test_classification_loss_is_cross_entropy_per_group():
    codes = all_codes(GROUPS, 4)
    zero = torch.zeros(6, 4)
    torch.testing.assert_close(classification_loss(zero, codes, GROUPS), torch.tensor(math.log(3) + math.log(2)))
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    want = F.cross_entropy(logits[:, :3], codes[:, :3].argmax(1)) \
        + F.binary_cross_entropy_with_logits(logits[:, 3], codes[:, 3])
    torch.testing.assert_close(classification_loss(logits, codes, GROUPS), want)
    # confident, right logits cost almost nothing; confident wrong ones a lot
    right = codes * 40 - 20
    assert float(classification_loss(right, codes, GROUPS)) < 1e-6
    assert float(classification_loss(-right, codes, GROUPS)) > 40


def test_tile_appends_the_code_as_constant_channels():
    x = torch.randn(2, 3, 5, 5)
    code = torch.tensor([[1., 0, 0, 1], [0, 0, 1, 0]])
    out = tile(x, code)
    assert out.shape == (2, 7, 5, 5)
    torch.testing.assert_close(out[:, :3], x, rtol=0, atol=0)
    torch.testing.assert_close(out[:, 3:], code[:, :, None, None].expand(2, 4, 5, 5), rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------------
# targets, as gankit translate --to names them


@pytest.fixture(scope="module")
def colour_game():
    cfg = load_config("stargan-mnist-attributes", ["data.name=domains", f"data.resolution={RES}", "model.g.width=4",
                                                   "model.d.width=4",
                                                   "game.domains=[red|green|blue,thick]"])
    return StarGANGame(cfg, DataInfo({"x": (3, RES, RES)}, None, "domains"))


def test_parse_target(colour_game):
    g = colour_game
    assert g.names == ["red", "green", "blue", "thick"] and g.groups == GROUPS
    torch.testing.assert_close(g.parse_target("green+thick"), torch.tensor([0., 1, 0, 1]))
    torch.testing.assert_close(g.parse_target("thick+green"), torch.tensor([0., 1, 0, 1]))
    torch.testing.assert_close(g.parse_target("green"), torch.tensor([0., 1, 0, 0]))  # binary attributes off
    listing = r"red \| green \| blue \(one of\), thick \(binary\)"
    with pytest.raises(GankitError, match=r"unknown domain 'purple'.*" + listing):
        g.parse_target("purple")
    with pytest.raises(GankitError, match=r"name exactly one of red \| green \| blue"):
        g.parse_target("red+green")
    with pytest.raises(GankitError, match=r"name exactly one of red \| green \| blue"):
        g.parse_target("thick")


def test_translate_inputs_want_a_target_domain_not_a_direction(colour_game):
    g = colour_game
    x = torch.zeros(2, 3, RES, RES)
    with pytest.raises(GankitError, match=r"--direction: .*use --to DOMAIN"):
        g.translate_inputs(x, direction="AtoB")
    with pytest.raises(GankitError, match=r"name the target domain with --to \(red \| green \| blue"):
        g.translate_inputs(x)
    with pytest.raises(GankitError, match=r"the run translates 3x16x16 inputs"):
        g.translate_inputs(torch.zeros(2, 1, RES, RES), to="red")
    inputs = g.translate_inputs(x, to="blue+thick")
    assert inputs["x"] is x
    torch.testing.assert_close(inputs["code"], torch.tensor([[0., 0, 1, 1]] * 2))


def test_domains_are_checked():
    base = ["data.name=domains", f"data.resolution={RES}", "model.g.width=4", "model.d.width=4"]
    cfg = load_config("stargan-mnist-attributes", base)
    with pytest.raises(ConfigError, match=r"stargan needs images with domains"):
        StarGANGame(cfg, DataInfo({"x": (3, RES, RES)}, None, "folder"))
    with pytest.raises(ConfigError, match=r"stargan translates between the domains of one image set"):
        StarGANGame(cfg, DataInfo({"A": (3, RES, RES), "B": (3, RES, RES)}, None, "unpaired"))
    cfg = load_config("stargan-mnist-attributes", base + ["game.domains=[a|b,c]"])
    with pytest.raises(ConfigError, match=r"game.domains: \['a\|b', 'c'\] but data.name='domains' has \['x\|y'\]"):
        StarGANGame(cfg, DataInfo({"x": (3, RES, RES)}, None, "domains", (("x", "y"),)))
    cfg = load_config("stargan-mnist-attributes", base + ["game.domains=[a|b,a]"])
    with pytest.raises(ConfigError, match=r"game.domains: a name appears twice"):
        StarGANGame(cfg, DataInfo({"x": (3, RES, RES)}, None, "domains"))


# ---------------------------------------------------------------------------------------------------
# the losses by hand


def test_d_and_g_losses_equal_a_hand_computation(tmp_path, domains):
    trainer = prepare_training("stargan-mnist-attributes", tiny(domains), out=tmp_path / "run")
    game = trainer.game
    s = game.settings
    assert s.domains == ("blue|green|red",) and game.groups == [(0, 1, 2)]
    phases = game.phases()
    assert [(p.name, p.players, p.data) for p in phases] == [("D", ("D",), True), ("D", ("D",), True),
                                                            ("G", ("G",), False)]
    batch = trainer._batch()
    x, code = batch["x"], batch["attrs"]
    torch.testing.assert_close(code, F.one_hot(batch["domain"], 3).float())  # the domains source's codes
    # the targets: the batch's own codes, permuted by the game's generator (predicted from a copy of its state)
    g = torch.Generator().set_state(game.generator.get_state())
    want_target = code[torch.randperm(len(code), generator=g)]

    for m in game.players.values():
        m.zero_grad(set_to_none=True)
    d_stats = game.run_phase(phases[1], batch, phases[2])
    kept_x, kept_code, target, kept_fake = game._kept
    assert kept_x is x and kept_code is code
    assert kept_fake.requires_grad  # G(x, c) kept with its graph for the G phase (one G forward saved)
    torch.testing.assert_close(target, want_target, rtol=0, atol=0)
    assert (target != code).any(1).sum() >= 2  # some images go to another domain (else rec would not tell c from c')
    with torch.no_grad():  # no optimizer step has happened: D and G are the phase's own
        real_src, real_cls = game.D(x)
        fake = game.G(tile(x, target))
        fake_src, _ = game.D(fake)
    torch.testing.assert_close(kept_fake.detach(), fake, rtol=0, atol=1e-6)
    cls = classification_loss(real_cls, code, game.groups)
    torch.testing.assert_close(cls, F.cross_entropy(real_cls, batch["domain"]))
    torch.testing.assert_close(d_stats["loss/D_cls"], cls, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(d_stats["loss/D_adv"], fake_src.mean() - real_src.mean(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(d_stats["loss/D"], d_stats["loss/D_adv"] + s.lambda_cls * cls
                               + trainer.cfg.penalty.gp * d_stats["penalty/gp"], rtol=1e-5, atol=1e-6)
    assert all(p.grad is not None for p in game.D.parameters())
    assert all(p.grad is None for p in game.G.parameters())

    for m in game.players.values():
        m.zero_grad(set_to_none=True)
    g_stats = game.run_phase(phases[2], None, None)
    assert game._kept is None
    with torch.no_grad():
        fake = game.G(tile(x, target))
        fake_src, fake_cls = game.D(fake)
        rec = (game.G(tile(fake, code)) - x).abs().mean()
    torch.testing.assert_close(g_stats["loss/reconstruction"], rec, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_stats["loss/G_cls"], classification_loss(fake_cls, target, game.groups),
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_stats["loss/G_adv"], -fake_src.mean(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_stats["loss/G"], -fake_src.mean() + s.lambda_cls * g_stats["loss/G_cls"]
                               + s.lambda_rec * rec, rtol=1e-5, atol=1e-6)
    assert all(p.grad is not None for p in game.G.parameters())
    assert all(p.grad is None for p in game.D.parameters())
    assert all(p.requires_grad for p in game.D.parameters())
    with pytest.raises(GankitError, match="reuses the batch of the D phase"):
        game.run_phase(phases[2], None, None)


# ---------------------------------------------------------------------------------------------------
# a run on a user's domain folders


@pytest.fixture(scope="module")
def star_run(tmp_path_factory, domains):
    out = tmp_path_factory.mktemp("star") / "run"
    train("stargan-mnist-attributes", tiny(domains, steps=3), out=out)
    return out


def test_a_domains_run_trains_and_records_its_domains(tmp_path, star_run, domains):
    rows = [json.loads(line) for line in (star_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    for key in ("loss/D", "loss/D_cls", "loss/G", "loss/reconstruction", "penalty/gp"):
        assert all(math.isfinite(r[key]) for r in rows), key
    assert load_checkpoint(star_run)["config"]["game"]["domains"] == ["blue|green|red"]
    assert "blue|green|red" in (star_run / "config.yaml").read_text()
    # the run needs its data no more: the recorded domains rebuild the game
    copy = tmp_path / "run"
    shutil.copytree(star_run, copy)
    moved = domains.parent / "moved"
    domains.rename(moved)
    try:
        run = load_run(copy)
        assert run.game.names == ["blue", "green", "red"] and run.game.input_shape == (3, RES, RES)
        x = torch.rand(2, 3, RES, RES) * 2 - 1
        out = translate(copy, x, to="green")
    finally:
        moved.rename(domains)
    with torch.no_grad():
        torch.testing.assert_close(out, run.game.G(tile(x, torch.tensor([[0., 1, 0]] * 2))))


def test_resume_is_bit_exact(tmp_path, domains):
    train("stargan-mnist-attributes", tiny(domains, steps=4), out=tmp_path / "straight")
    train("stargan-mnist-attributes", tiny(domains, steps=2), out=tmp_path / "split")
    mid = load_checkpoint(tmp_path / "split")
    train(resume=tmp_path / "split", overrides=["train.steps=4"])
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split")
    assert a["step"] == b["step"] == 4
    for key in ("players", "optimizers", "game", "sampler", "rng"):
        assert_same(a[key], b[key], key)
    assert not torch.equal(mid["game"]["rng"], a["game"]["rng"])  # the target draws moved on


def test_translate_command_translates_to_a_domain(tmp_path, star_run, capsys):
    from gankit.data.inputs import read_translation_inputs

    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(9)
    for name, rgb in (("r.png", DOMAINS["red"]), ("b.png", DOMAINS["blue"])):
        Image.fromarray(_colour_image(rng, rgb)).save(src / name)
    names, x, _ = read_translation_inputs(src, RES, 3)
    assert names == ["b.png", "r.png"]
    run = load_run(star_run)
    with torch.no_grad():
        source = predicted_codes(run.game.D(x)[1], run.game.groups)  # the way back: D's reading of the inputs
    # a target other than D's reading of the first input, so the reconstruction is not another translation
    to = next(n for i, n in enumerate(run.game.names) if source[0, i] == 0)
    code = run.game.parse_target(to).expand(len(x), -1)
    with torch.no_grad():
        want = run.game.G(tile(x, code))
        back = run.game.G(tile(want, source))
    assert main(["translate", str(star_run), "--input", str(src), "--out", str(tmp_path / "out"), "--to", to,
                 "--grid", str(tmp_path / "grid.png")]) == 0
    for i, name in enumerate(names):
        got = torch.from_numpy(np.array(Image.open(tmp_path / "out" / name))).permute(2, 0, 1).float() / 127.5 - 1
        torch.testing.assert_close(got, want[i], rtol=0, atol=1 / 127.5 + 1e-6)
    torch.testing.assert_close(translate(star_run, x, to=to), want)
    # the grid: input | translation | reconstruction for each input
    grid = np.array(Image.open(tmp_path / "grid.png"))
    per_row, up = 3 * len(names), math.ceil(256 / (3 * len(names) * RES))
    cell = RES * up + 2
    assert grid.shape == (cell + 2, per_row * cell + 2, 3)
    for i in range(len(names)):
        for j, col in enumerate((x, want, back)):
            left = 2 + (3 * i + j) * cell
            tile_ = torch.from_numpy(grid[2:2 + RES * up:up, left:left + RES * up:up].copy()).permute(2, 0, 1)
            torch.testing.assert_close(tile_.float() / 127.5 - 1, col[i], rtol=0, atol=1 / 127.5 + 1e-6)
    # a direction, no target, an unknown one: exit 2, one line naming the domains
    for extra in (["--direction", "AtoB"], [], ["--to", "purple"]):
        capsys.readouterr()
        assert main(["translate", str(star_run), "--input", str(src), "--out", str(tmp_path / "bad"), *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "blue | green | red (one of)" in err, err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("net", ["resnet-translator", "unet"])
def test_the_generator_sees_its_target_code(net):
    """G(x, c) must depend on c. The code is tiled as constant channels; a first layer that pads by
    reflection and then normalises each channel over the image (InstanceNorm) removes a constant
    channel's contribution exactly, and G would translate every image to one output whatever the target."""
    sets = ["data.name=domains", f"data.resolution={RES}", "model.g.width=4", "model.d.width=4",
            "game.domains=[red|green|blue,thick]", f"model.g.name={net}"]
    if net == "resnet-translator":
        sets.append("model.g.blocks=1")
    cfg = load_config("stargan-mnist-attributes", sets)
    assert cfg.model.g.norm == "instance" or net == "unet"
    game = StarGANGame(cfg, DataInfo({"x": (3, RES, RES)}, None, "domains"))
    x = torch.rand(2, 3, RES, RES, generator=torch.Generator().manual_seed(0)) * 2 - 1
    outs = [game.generate({"x": x, "code": c.expand(2, -1)}) for c in game.codes]
    gaps = [float((o - outs[0]).abs().max()) for o in outs[1:]]
    assert min(gaps) > 1e-3, f"{net}: G's outputs for the {len(outs)} targets differ by at most {max(gaps):.2e}"


def test_cycle_metric_translates_each_held_out_image_away_and_back(star_run, domains):
    from gankit.api import evaluate_run
    from gankit.config import DataConfig
    from gankit.data import load_data

    res = evaluate_run(star_run, metrics=["cycle"])
    assert set(res.scores) == {"cycle_l1[pixels]"}
    held = load_data(DataConfig(name="domains", path=str(domains), split="test", resolution=RES, channels=3))
    assert len(held) == 6
    b = held.batch(torch.arange(6))
    own = b["domain"]
    target = (own + torch.arange(6) % 2 + 1) % 3  # image i goes to the (i mod 2 + 1)-th other domain
    assert (target != own).all()
    run = load_run(star_run)
    with torch.no_grad():
        out = run.game.G(tile(b["x"], F.one_hot(target, 3).float()))
        back = run.game.G(tile(out, F.one_hot(own, 3).float()))
    assert res.scores["cycle_l1[pixels]"] == pytest.approx(float((back - b["x"]).abs().mean()), rel=1e-5)
