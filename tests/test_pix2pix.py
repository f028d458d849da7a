"""pix2pix on the generalised core: its losses by hand, its ablation settings, translation and scoring."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from gankit.api import evaluate_run, load_run, prepare_training, train, translate
from gankit.cli import main
from gankit.config import load_config
from gankit.errors import ConfigError

TINY = ["train.steps=3", "data.resolution=16", "model.g.width=4", "model.d.width=4", "train.batch_size=8", "train.progress=false",
        "train.tensorboard=false", "train.sample_every=0", "train.checkpoint_every=0", "train.log_every=1"]


class _ConstD(nn.Module):
    """A patch 'discriminator' that answers ``value`` on a 2x2 patch map and records its inputs."""

    def __init__(self, value: float):
        super().__init__()
        self.value, self.seen = value, []
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.value + self.w * 0 + torch.zeros(x.shape[0], 1, 2, 2)


def _tiny(tmp_path, extra=()):
    return prepare_training("pix2pix-edges2digits", TINY + list(extra), out=tmp_path / "run")


def test_losses_by_hand_and_what_d_sees(tmp_path):
    trainer = _tiny(tmp_path, ["game.lambda_l1=10"])
    game = trainer.game
    D = _ConstD(0.0)
    game.players["D"] = game.D = D
    game._wrapped = {}
    losses = []
    game.backward = lambda loss, player: losses.append((player, loss.detach()))
    batch = trainer._batch()
    phases = game.phases()
    assert [(p.name, p.players, p.data) for p in phases] == [("D", ("D",), True), ("G", ("G",), False)]
    d_stats = game.run_phase(phases[0], batch, phases[1])
    # D judges (input, target) and (input, G(input)): the pair concatenated along channels
    real_in, fake_in = D.seen
    torch.testing.assert_close(real_in, torch.cat([batch["A"], batch["B"]], 1))
    fake = game._fake.detach()
    torch.testing.assert_close(fake_in, torch.cat([batch["A"], fake], 1))
    # logits 0: cross-entropy ln 2 on real and on fake; the paper halves D's objective
    assert losses[0][0] == "D"
    torch.testing.assert_close(d_stats["loss/D"], torch.tensor(2 * math.log(2)))
    torch.testing.assert_close(losses[0][1], torch.tensor(math.log(2)))
    g_stats = game.run_phase(phases[1], None, None)
    l1 = (fake - batch["B"]).abs().mean()
    torch.testing.assert_close(g_stats["loss/L1"], l1)
    torch.testing.assert_close(g_stats["loss/G_adv"], torch.tensor(math.log(2)))  # non-saturating at logit 0
    torch.testing.assert_close(losses[1][1], 10 * l1 + math.log(2))


def test_l1_gradient_pulls_the_output_toward_the_target(tmp_path):
    trainer = _tiny(tmp_path, ["game.adversarial=false"])
    game = trainer.game
    assert set(game.players) == {"G"} and [p.name for p in game.phases()] == ["G"]
    batch = trainer._batch()
    outs = []
    game.G.register_forward_hook(lambda m, i, o: o.retain_grad() or outs.append(o))
    game.run_phase(game.phases()[0], batch)
    out = outs[0]
    # d(lambda * mean|out - B|)/d out = lambda * sign(out - B) / N: every pixel is pushed toward its target
    expected = 100.0 * torch.sign(out.detach() - batch["B"]) / out.numel()
    torch.testing.assert_close(out.grad, expected)


def test_unconditional_d_sees_the_output_alone(tmp_path):
    trainer = _tiny(tmp_path, ["game.conditional_d=false", "train.steps=3"])
    assert next(trainer.game.D.parameters()).shape[1] == 1  # the first conv reads 1 channel, not 2
    trainer.fit()


def test_settings_are_checked():
    with pytest.raises(ConfigError, match=r"unknown config key 'game.lambda_l1' for 'gan'"):
        load_config("dcgan-mnist", ["game.lambda_l1=10"])
    with pytest.raises(ConfigError, match=r"tricks.pack: 2 is not used by game 'pix2pix'"):
        load_config("pix2pix-edges2digits", ["tricks.pack=2"])
    with pytest.raises(ConfigError, match="game.lambda_l1: -1.0 must be >= 0"):
        load_config("pix2pix-edges2digits", ["game.lambda_l1=-1"])
    with pytest.raises(ConfigError, match="did you mean game.lambda_l1"):
        load_config("pix2pix-edges2digits", ["game.lambda_l2=1"])
    cfg = load_config("dcgan-mnist", ["game.name=pix2pix", "data.name=edges2digits", "model.g.name=unet",
                                      "model.d.name=patchgan"])
    assert cfg.game.lambda_l1 == 100.0 and cfg.model.g.dropout == 0.5 and cfg.model.d.patch == "auto"
    assert cfg.model.g.width == 64  # the shared key, set by the preset, is kept when the family changes


def test_pix2pix_needs_paired_data_and_gan_needs_one_image_set(tmp_path):
    with pytest.raises(ConfigError, match="pix2pix learns from paired images; data.name='digits'"):
        prepare_training("pix2pix-edges2digits", TINY + ["data.name=digits"], out=tmp_path / "a")
    with pytest.raises(ConfigError, match="'gan' learns one image set, but data.name='edges2digits' yields A/B"):
        prepare_training("gan-digits", ["data.name=edges2digits"], out=tmp_path / "b")


def test_optimizer_keys_name_players(tmp_path):
    with pytest.raises(ConfigError, match=r"optim.g_ab: game 'pix2pix' has no optimized player 'g_ab'.*players: g, d"):
        _tiny(tmp_path, ["optim.g_ab.lr=1e-3"])
    tr = _tiny(tmp_path, ["optim.default.lr=1e-3", "optim.default.ramp_down=0", "optim.d.lr=4e-3", "optim.d.ramp_down=1", "train.steps=10"])
    assert tr.optimizers["G"].param_groups[0]["lr"] == 1e-3
    tr.fit()
    # D's rate fell linearly to 0 over the whole run; G's stayed constant (no ramp of its own)
    assert tr.optimizers["D"].param_groups[0]["lr"] == pytest.approx(4e-3 * 1 / 10)
    assert tr.optimizers["G"].param_groups[0]["lr"] == 1e-3


def test_translate_command_writes_one_output_per_input(tmp_path, capsys):
    train("pix2pix-edges2digits", TINY + ["train.steps=2"], out=tmp_path / "run")
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.png", "sub/b.png"):
        Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(src / name)
    (src / "broken.png").write_bytes(b"not an image")
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image\(s\): broken.png"):
        assert main(["translate", str(tmp_path / "run"), "--input", str(src), "--out", str(tmp_path / "out"),
                     "--grid", str(tmp_path / "grid.png")]) == 0
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png")) == \
        ["a.png", "sub/b.png"]
    # the written output is the run's translation of the decoded input (16 px, 8-bit)
    from gankit.data.inputs import read_translation_inputs

    names, x, _ = read_translation_inputs(src / "a.png", 16, 1)
    want = translate(tmp_path / "run", x)
    got = torch.from_numpy(np.array(Image.open(tmp_path / "out" / "a.png"))).float() / 127.5 - 1
    torch.testing.assert_close(got, want[0, 0], rtol=0, atol=1 / 127.5)
    assert Image.open(tmp_path / "grid.png").size[0] > Image.open(tmp_path / "grid.png").size[1]
    # a run that does not translate says so, exit 2
    train("gan-digits", TINY[4:] + ["train.steps=1"], out=tmp_path / "gan")
    capsys.readouterr()
    assert main(["translate", str(tmp_path / "gan"), "--input", str(src), "--out", str(tmp_path / "o2")]) == 2
    assert "does not translate images; draw from it with gankit sample" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "run"), "--out", str(tmp_path / "s.png")]) == 2
    assert "translates images; it does not sample from noise" in capsys.readouterr().err


def test_eval_scores_the_held_out_pairs(tmp_path):
    train("pix2pix-edges2digits", TINY + ["train.steps=2"], out=tmp_path / "run")
    res = evaluate_run(tmp_path / "run", metrics=["l1", "psnr", "ssim"], n=50)
    run = load_run(tmp_path / "run")
    from gankit.config import DataConfig
    from gankit.data import load_data

    held = load_data(DataConfig(name="edges2digits", split="test", resolution=16)).batch(torch.arange(50))
    out = run.generate({"A": held["A"]})
    assert res.scores["l1[pixels]"] == pytest.approx(float((out - held["B"]).abs().mean()), rel=1e-5)
    mse = (out.double() - held["B"].double()).pow(2).flatten(1).mean(1)
    assert res.scores["psnr[pixels]"] == pytest.approx(float((10 * torch.log10(4 / mse)).mean()), rel=1e-5)
    assert -1 <= res.scores["ssim[pixels]"] <= 1


def test_best_checkpoint_follows_l1(tmp_path):
    tr = _tiny(tmp_path, ["train.steps=4", "eval.every=2", "eval.n=16", "eval.metrics=[l1]", "eval.best=l1"])
    tr.fit()
    rows = [__import__("json").loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    scores = {r["step"]: r["eval/l1[pixels]"] for r in rows if "eval/l1[pixels]" in r}
    best_step = min(scores, key=scores.get)
    assert tr.best == {"metric": "l1[pixels]", "value": scores[best_step], "step": best_step}
    assert (tmp_path / "run" / "checkpoints" / "best.pt").is_file()
    with pytest.raises(ConfigError, match="eval.best: .nope. is not a score"):
        _tiny(tmp_path / "x", ["eval.every=2", "eval.best=nope"])
    with pytest.raises(ConfigError, match=r"eval.best: .psnr. is not a score of eval.metrics \(l1\)"):
        _tiny(tmp_path / "y", ["eval.every=2", "eval.metrics=[l1]", "eval.best=psnr"])


def test_a_resumed_run_trains_with_the_optimizer_settings_it_records(tmp_path):
    train("pix2pix-edges2digits", TINY + ["train.steps=2", "optim.default.ramp_down=0"], out=tmp_path / "run")
    tr = prepare_training(resume=tmp_path / "run", overrides=["train.steps=3", "optim.d.lr=1e-3",
                                                              "optim.d.betas=[0.0,0.9]"])
    group = tr.optimizers["D"].param_groups[0]
    assert group["lr"] == 1e-3 and group["betas"] == (0.0, 0.9)
    assert tr.optimizers["G"].param_groups[0]["lr"] == 2e-4
    tr.fit()
    assert "lr: 0.001" in (tmp_path / "run" / "config.yaml").read_text()


def test_a_users_unlabelled_pairs_train_and_score_what_can_be_scored(tmp_path, capsys):
    rng = np.random.default_rng(1)
    for i in range(10):
        a = rng.integers(0, 256, (16, 16), dtype=np.uint8)
        for side, img in (("A", a), ("B", 255 - a)):  # the target: the negative of the input
            (tmp_path / "pairs" / side).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(tmp_path / "pairs" / side / f"{i:02d}.png")
    train("pix2pix-edges2digits", TINY + ["data.name=paired", f"data.path={tmp_path / 'pairs'}"], out=tmp_path / "run")
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--n", "10"]) == 0
    out = capsys.readouterr()
    assert "l1[pixels]" in out.out and "ssim[pixels]" in out.out and "fid[" not in out.out
    assert "scored on training images: 'paired' has no held-out split" in out.err
    assert "feature metrics skipped: classifier:paired: no classifier for PairedData" in out.err
    # asked for by name, FID says why it cannot be had, exit 2
    assert main(["eval", str(tmp_path / "run"), "--metrics", "fid"]) == 2


def test_translate_refuses_to_write_over_its_inputs(tmp_path, capsys):
    train("pix2pix-edges2digits", TINY + ["train.steps=1"], out=tmp_path / "run")
    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(tmp_path / "in" / "a.png")
    (tmp_path / "file.txt").write_text("x")
    for out in (tmp_path / "in", tmp_path / "in" / "out", tmp_path / "file.txt"):
        capsys.readouterr()
        assert main(["translate", str(tmp_path / "run"), "--input", str(tmp_path / "in"), "--out", str(out)]) == 2
        assert capsys.readouterr().err.startswith("gankit: error: --out")
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["a.png"]


def test_config_errors_of_the_redesign_name_the_key():
    with pytest.raises(ConfigError, match=r"'train.lr_ramp_down' has moved: use optim.default.ramp_down"):
        load_config("gan-digits", ["train.lr_ramp_down=0.5"])
    with pytest.raises(ConfigError, match=r"model.g.name: 'unet' is not a network of game 'gan'"):
        load_config("gan-digits", ["model.g.name=unet"])
    with pytest.raises(ConfigError, match=r"train.ema_bn_stats: 'recompute' draws noise inputs"):
        load_config("pix2pix-edges2digits", ["model.g.norm=batch", "train.ema_decay=0.9"])


def test_resuming_with_another_optimizer_is_refused(tmp_path):
    train("pix2pix-edges2digits", TINY + ["train.steps=1"], out=tmp_path / "run")
    with pytest.raises(ConfigError, match=r"optim.d.name: the run trained player D with adam"):
        prepare_training(resume=tmp_path / "run", overrides=["train.steps=2", "optim.d.name=rmsprop"])


def test_a_conditional_gan_learns_domains_as_its_classes(tmp_path):
    rng = np.random.default_rng(2)
    for dom in ("cats", "dogs"):
        (tmp_path / "d" / dom).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "d" / dom / f"{i}.png")
    train("gan-digits", ["data.name=domains", f"data.path={tmp_path / 'd'}", "data.resolution=8",
                         "model.g.conditioning=concat", "model.d.conditioning=concat", "train.steps=2",
                         "train.batch_size=4", "train.progress=false", "train.tensorboard=false", "train.sample_every=0"],
          out=tmp_path / "run")
    assert load_run(tmp_path / "run").game.num_classes == 2
