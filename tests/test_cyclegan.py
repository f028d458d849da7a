"""CycleGAN and its relatives (DiscoGAN, DualGAN presets): the image pool, the losses by hand, the
ablation settings, bit-exact resumption with the pools, translation and the cycle metric, all on tiny
unpaired folders (no built-in dataset)."""
from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.api import evaluate_run, load_run, prepare_training, train, translate
from gankit.cli import main
from gankit.config import load_config
from gankit.errors import ConfigError
from gankit.games import DataInfo
from gankit.games.cyclegan import CycleGANGame, ImagePool
from gankit.train.checkpoint import load_checkpoint
from helpers.state import assert_same

RES = 16
COUNTS = {"trainA": 8, "trainB": 6, "testA": 5, "testB": 3}


@pytest.fixture(scope="module")
def unpaired(tmp_path_factory):
    """CycleGAN's layout: trainA/ trainB/ testA/ testB/ of 16x16 grey images (A: noise, B: bars)."""
    root = tmp_path_factory.mktemp("unpaired")
    rng = np.random.default_rng(0)
    for folder, n in COUNTS.items():
        (root / folder).mkdir()
        for i in range(n):
            if folder.endswith("A"):
                img = rng.integers(0, 256, (RES, RES), dtype=np.uint8)
            else:
                img = np.zeros((RES, RES), dtype=np.uint8)
                img[:, rng.integers(0, RES, 4)] = 255
            Image.fromarray(img).save(root / folder / f"{folder}{i}.png")
    return root


def tiny(root, *extra, steps=3, blocks=True):
    return (["data.name=unpaired", f"data.path={root}", f"data.resolution={RES}", "data.channels=1",
             "model.g.width=4", "model.d.width=4", "train.batch_size=4", "train.progress=false",
             "train.tensorboard=false", "train.sample_every=0", "train.checkpoint_every=0", "train.log_every=1",
             "optim.default.ramp_down=0", f"train.steps={steps}"]
            + (["model.g.blocks=1"] if blocks else []) + list(extra))


# ---------------------------------------------------------------------------------------------------
# the image pool


def ids(n, start):
    """n 1x2x2 images, image i constant ``start + i`` (its id)."""
    return torch.arange(start, start + n, dtype=torch.float32)[:, None, None, None].expand(n, 1, 2, 2).clone()


def id_of(images):
    assert (images == images[:, :1, :1, :1]).all()  # every returned image is one whole stored image
    return [int(v) for v in images[:, 0, 0, 0]]


def test_pool_of_size_zero_returns_the_fakes_themselves():
    pool = ImagePool(0, seed=1)
    x = torch.randn(4, 1, 2, 2)
    assert pool.query(x) is x
    assert pool.count == 0 and pool.images is None


def test_pool_fills_then_swaps_half_of_the_new_fakes_for_old_ones():
    size = 10
    pool = ImagePool(size, seed=3)
    # filling: the new fakes are returned unchanged, and stored in order
    first = ids(6, 0)
    torch.testing.assert_close(pool.query(first), first, rtol=0, atol=0)
    assert pool.count == 6
    second = ids(6, 6)  # 4 fill the pool, the last 2 already meet a full pool
    out = pool.query(second)
    assert pool.count == size
    assert id_of(out[:4]) == [6, 7, 8, 9]
    # the pool, simulated as a multiset of ids: what comes back is the new fake or a stored one, which the
    # new fake then replaces
    stored = set(range(10))
    for k, got in zip((10, 11), id_of(out[4:])):
        if got != k:
            assert got in stored
            stored = (stored - {got}) | {k}
    assert sorted(id_of(pool.images)) == sorted(stored)
    swapped, total, start = 0, 0, 12
    for _ in range(250):
        new = ids(8, start)
        got = id_of(pool.query(new))
        for k, g in zip(range(start, start + 8), got):
            if g == k:
                continue
            assert g in stored, f"{g} was never stored (or already handed out)"
            stored = (stored - {g}) | {k}
            swapped += 1
        assert sorted(id_of(pool.images)) == sorted(stored)
        total += 8
        start += 8
    # Binomial(2000, 0.5): sd = 0.011 of the fraction; 0.06 is over 5 sd
    assert abs(swapped / total - 0.5) < 0.06, swapped / total


@pytest.mark.parametrize("before", [0, 3, 14])  # empty, filling, full and swapping
def test_pool_state_round_trips_through_a_weights_only_file(before):
    def queries():
        g = torch.Generator().manual_seed(7)
        return [torch.randn(3, 1, 4, 4, generator=g) for _ in range(12)]

    straight = ImagePool(5, seed=11)
    expected = [straight.query(q) for q in queries()]
    first = ImagePool(5, seed=11)
    qs = queries()
    for q in qs[:before // 3]:
        first.query(q)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    resumed = ImagePool(5, seed=999)  # another seed: the saved generator state must win
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    assert resumed.count == first.count
    for i, q in enumerate(qs[before // 3:], start=before // 3):
        torch.testing.assert_close(resumed.query(q), expected[i], rtol=0, atol=0)
    torch.testing.assert_close(resumed.images, straight.images, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------------
# the losses by hand


def _g_cost(loss_name):
    if loss_name == "lsgan":
        return lambda out: 0.5 * (out - 1).pow(2).mean()
    return lambda out: F.softplus(-out).mean()  # the non-saturating cross-entropy cost


def _d_cost(loss_name):
    if loss_name == "lsgan":
        return lambda real, fake: 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()
    return lambda real, fake: F.softplus(-real).mean() + F.softplus(fake).mean()


@pytest.mark.parametrize("preset,extra,blocks", [
    ("cyclegan-mnist2fonts", ["game.lambda_identity=0.5"], True),  # lsgan, L1, weight 2, identity 0.5·λ
    ("cyclegan-mnist2fonts", ["game.cycle_loss=l2", "game.lambda_cycle=3", "game.lambda_identity=0.2",
                              "game.adversarial_weight=0.7"], True),
    ("discogan-mnist2fonts", ["game.lambda_identity=0.5"], False),  # cross-entropy, squared error, BatchNorm
])
def test_g_and_d_losses_equal_a_hand_computation(tmp_path, unpaired, preset, extra, blocks):
    trainer = prepare_training(preset, tiny(unpaired, *extra, blocks=blocks), out=tmp_path / "run")
    game, cfg = trainer.game, trainer.cfg
    s = cfg.game
    G_AB, G_BA, D_A, D_B = (game.players[k] for k in ("G_AB", "G_BA", "D_A", "D_B"))
    dist = ((lambda x, y: (x - y).abs().mean()) if s.cycle_loss == "l1" else (lambda x, y: (x - y).pow(2).mean()))
    g_cost, d_cost = _g_cost(cfg.loss.name), _d_cost(cfg.loss.name)
    batch = trainer._batch()
    a, b = batch["A"], batch["B"]
    with torch.no_grad():  # the same forwards as the game, in training mode (batch statistics)
        fake_b, fake_a = G_AB(a), G_BA(b)
        cyc = dist(G_BA(fake_b), a) + dist(G_AB(fake_a), b)
        idt = dist(G_BA(a), a) + dist(G_AB(b), b)
        adv = g_cost(D_B(fake_b).flatten()) + g_cost(D_A(fake_a).flatten())
        want_g = s.adversarial_weight * adv + s.lambda_cycle * cyc + s.lambda_identity * s.lambda_cycle * idt
        want_d = d_cost(D_A(a).flatten(), D_A(fake_a).flatten()) + d_cost(D_B(b).flatten(), D_B(fake_b).flatten())
    assert s.lambda_identity > 0 and s.lambda_cycle > 0

    phases = game.phases()
    assert [(p.name, p.players, p.data) for p in phases] == [("G", ("G_AB", "G_BA"), True),
                                                            ("D", ("D_A", "D_B"), False)]
    for m in game.players.values():
        m.zero_grad(set_to_none=True)
    stats = game.run_phase(phases[0], batch, phases[1])
    torch.testing.assert_close(stats["loss/cycle"], cyc, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(stats["loss/identity"], idt, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(stats["loss/G_adv"], adv, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(stats["loss/G"], want_g, rtol=1e-5, atol=1e-6)
    # G's phase: both translators get gradients, neither discriminator (frozen, then unfrozen again)
    for name in ("G_AB", "G_BA"):
        grads = [p.grad for p in game.players[name].parameters()]
        assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads), name
    for name in ("D_A", "D_B"):
        assert all(p.grad is None for p in game.players[name].parameters()), name
        assert all(p.requires_grad for p in game.players[name].parameters()), name

    for m in game.players.values():
        m.zero_grad(set_to_none=True)
    d_stats = game.run_phase(phases[1], None, None)
    # a fresh pool (DiscoGAN: none) hands D the newest fakes, those of the G phase
    torch.testing.assert_close(d_stats["loss/D"], want_d, rtol=1e-5, atol=1e-6)
    for name in ("D_A", "D_B"):
        grads = [p.grad for p in game.players[name].parameters()]
        assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads), name
    for name in ("G_AB", "G_BA"):
        assert all(p.grad is None for p in game.players[name].parameters()), name


def test_d_phase_through_the_trainer_steps_only_the_discriminators(tmp_path, unpaired):
    trainer = prepare_training("cyclegan-mnist2fonts", tiny(unpaired, steps=1), out=tmp_path / "run")
    before = {k: {n: p.detach().clone() for n, p in m.named_parameters()} for k, m in trainer.players.items()}
    trainer.fit()
    changed = {k for k, m in trainer.players.items()
               if any(not torch.equal(p, before[k][n]) for n, p in m.named_parameters())}
    assert changed == {"G_AB", "G_BA", "D_A", "D_B"}
    assert set(trainer.optimizers) == {"G_AB", "G_BA", "D_A", "D_B"}


# ---------------------------------------------------------------------------------------------------
# ablations and settings


def test_cycle_alone_has_no_discriminators(tmp_path, unpaired):
    trainer = prepare_training("cyclegan-mnist2fonts", tiny(unpaired, "game.adversarial=false", "game.lambda_identity=0.5"),
                               out=tmp_path / "run")
    game = trainer.game
    assert set(game.players) == {"G_AB", "G_BA"} and set(trainer.optimizers) == {"G_AB", "G_BA"}
    assert [(p.name, p.players) for p in game.phases()] == [("G", ("G_AB", "G_BA"))]
    stats = game.run_phase(game.phases()[0], trainer._batch(), None)
    assert "loss/G_adv" not in stats
    s = game.settings
    torch.testing.assert_close(stats["loss/G"], s.lambda_cycle * stats["loss/cycle"]
                               + s.lambda_identity * s.lambda_cycle * stats["loss/identity"])
    trainer.fit()


def test_gan_alone_reports_no_cycle_or_identity_loss(tmp_path, unpaired):
    trainer = prepare_training("cyclegan-mnist2fonts", tiny(unpaired, "game.lambda_cycle=0"), out=tmp_path / "run")
    game = trainer.game
    stats = game.run_phase(game.phases()[0], trainer._batch(), game.phases()[1])
    assert "loss/cycle" not in stats and "loss/identity" not in stats
    torch.testing.assert_close(stats["loss/G"], game.settings.adversarial_weight * stats["loss/G_adv"])
    game.run_phase(game.phases()[1], None, None)


def test_settings_that_cannot_work_are_config_errors():
    cfg = load_config("cyclegan-mnist2fonts", ["data.name=unpaired", "model.g.width=4", "model.g.blocks=1",
                                               "model.d.width=4", f"data.resolution={RES}", "game.lambda_identity=0.5"])
    info = DataInfo({"A": (1, RES, RES), "B": (3, RES, RES)}, None, "unpaired")
    with pytest.raises(ConfigError, match=r"game.lambda_identity: .*A has 1 channel\(s\) and B 3"):
        CycleGANGame(cfg, info)
    cfg.game.lambda_identity = 0.0  # without the identity loss, grey <-> colour is fine
    game = CycleGANGame(cfg, info)
    assert game.G_AB(torch.zeros(2, 1, RES, RES)).shape == (2, 3, RES, RES)
    assert game.G_BA(torch.zeros(2, 3, RES, RES)).shape == (2, 1, RES, RES)
    with pytest.raises(ConfigError, match=r"game.lambda_cycle: 0 with game.adversarial=false"):
        load_config("cyclegan-mnist2fonts", ["game.adversarial=false", "game.lambda_cycle=0"])
    with pytest.raises(ConfigError, match=r"game.lambda_cycle: -1.0 must be >= 0"):
        load_config("cyclegan-mnist2fonts", ["game.lambda_cycle=-1"])
    with pytest.raises(ConfigError, match=r"tricks.pack: 2 is not used by game 'cyclegan'"):
        load_config("cyclegan-mnist2fonts", ["tricks.pack=2"])
    with pytest.raises(ConfigError, match=r"game.name: cyclegan translates between two image sets"):
        CycleGANGame(cfg, DataInfo({"x": (1, RES, RES)}, None, "digits"))


def test_the_cycle_gradient_lowers_the_cycle_loss(tmp_path, unpaired):
    sets = tiny(unpaired, "game.adversarial=false", "game.lambda_identity=0", "optim.default.lr=1e-3")
    trainer = prepare_training("cyclegan-mnist2fonts", sets, out=tmp_path / "run")
    game = trainer.game
    batch = trainer._batch()
    phase = game.phases()[0]
    losses = []
    for _ in range(6):
        for o in trainer.optimizers.values():
            o.zero_grad(set_to_none=True)
        losses.append(float(game.run_phase(phase, batch)["loss/cycle"]))
        for o in trainer.optimizers.values():
            o.step()
    losses.append(float(game.run_phase(phase, batch)["loss/cycle"]))
    assert losses[-1] < 0.9 * losses[0], losses
    assert all(b < a for a, b in zip(losses, losses[1:])), losses


def test_dualgan_runs_two_critic_steps_and_clips_them(tmp_path, unpaired):
    trainer = prepare_training("dualgan-mnist2fonts", tiny(unpaired, steps=3, blocks=False), out=tmp_path / "run")
    game = trainer.game
    assert [(p.name, p.data) for p in game.phases()] == [("D", True), ("G", True), ("D", False)]
    clip = trainer.cfg.penalty.clip
    assert clip == 0.01 and trainer.cfg.loss.name == "wasserstein"
    assert max(p.abs().max() for d in ("D_A", "D_B") for p in game.players[d].parameters()) > clip  # before: unclipped
    trainer.fit()
    for d in ("D_A", "D_B"):
        for name, p in game.players[d].named_parameters():
            assert p.abs().max() <= clip, f"{d}.{name}"
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["loss/D"]) and math.isfinite(r["loss/G"]) for r in rows)


# ---------------------------------------------------------------------------------------------------
# resumption


def test_resume_is_bit_exact_with_the_image_pools(tmp_path, unpaired):
    sets = tiny(unpaired, "game.pool_size=6")  # batch 4: the pools fill at step 2, then swap
    train("cyclegan-mnist2fonts", sets + ["train.steps=6"], out=tmp_path / "straight")
    train("cyclegan-mnist2fonts", sets + ["train.steps=3"], out=tmp_path / "split")
    mid = load_checkpoint(tmp_path / "split")
    assert {d: p["count"] for d, p in mid["game"]["pools"].items()} == {"D_A": 6, "D_B": 6}
    train(resume=tmp_path / "split", overrides=["train.steps=6"])
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split")
    assert a["step"] == b["step"] == 6
    for key in ("players", "optimizers", "game", "sampler", "rng"):
        assert_same(a[key], b[key], key)
    # the pools moved on after the split point (their random state too)
    assert not torch.equal(mid["game"]["pools"]["D_A"]["rng"], a["game"]["pools"]["D_A"]["rng"])


def test_a_run_resumes_with_another_pool_size(tmp_path, unpaired):
    from gankit.errors import GankitError

    train("cyclegan-mnist2fonts", tiny(unpaired, "game.pool_size=6"), out=tmp_path / "run")
    saved = load_checkpoint(tmp_path / "run")["game"]["pools"]
    # a larger pool keeps the stored fakes and fills up the rest
    tr = prepare_training(resume=tmp_path / "run", overrides=["train.steps=4", "game.pool_size=10"])
    for d, pool in tr.game.pools.items():
        assert pool.count == 6 and pool.images.shape[0] == 10
        torch.testing.assert_close(pool.images[:6], saved[d]["images"], rtol=0, atol=0)
    # a smaller one must not crash on the stored fakes with a bare RuntimeError: either a clear error that
    # names the setting, or a pool holding no more than its size that trains on
    try:
        tr = prepare_training(resume=tmp_path / "run", overrides=["train.steps=4", "game.pool_size=4"])
    except GankitError as e:
        assert "game.pool_size" in str(e)
    else:
        assert all(p.count <= 4 and p.images.shape[0] == 4 for p in tr.game.pools.values())
        tr.fit()
        assert all(p.count == 4 for p in tr.game.pools.values())


# ---------------------------------------------------------------------------------------------------
# translation and scoring


@pytest.fixture(scope="module")
def cycle_run(tmp_path_factory, unpaired):
    out = tmp_path_factory.mktemp("cycle") / "run"
    train("cyclegan-mnist2fonts", tiny(unpaired, steps=2), out=out)
    return out


def _read_png(path):
    return torch.from_numpy(np.array(Image.open(path))).float() / 127.5 - 1


def test_translate_command_chooses_the_translator(tmp_path, cycle_run, capsys):
    from gankit.data.inputs import read_translation_inputs

    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(5)
    for name in ("x.png", "sub/y.png"):
        Image.fromarray(rng.integers(0, 256, (RES, RES), dtype=np.uint8)).save(src / name)
    run = load_run(cycle_run)
    assert run.players == {}  # no EMA: drawing uses the live translators
    names, x, _ = read_translation_inputs(src, RES, 1)
    assert names == ["sub/y.png", "x.png"]
    with torch.no_grad():
        want_ba, want_ab = run.game.G_BA(x), run.game.G_AB(x)
        want_rec = run.game.G_AB(want_ba)
    assert (want_ba - want_ab).abs().max() > 1e-3  # the two translators differ

    assert main(["translate", str(cycle_run), "--input", str(src), "--out", str(tmp_path / "ba"),
                 "--direction", "BtoA", "--grid", str(tmp_path / "grid.png")]) == 0
    assert sorted(p.relative_to(tmp_path / "ba").as_posix() for p in (tmp_path / "ba").rglob("*.png")) == \
        ["sub/y.png", "x.png"]
    for i, name in enumerate(names):
        torch.testing.assert_close(_read_png(tmp_path / "ba" / name), want_ba[i, 0], rtol=0, atol=1 / 127.5 + 1e-6)
    torch.testing.assert_close(translate(cycle_run, x, direction="BtoA"), want_ba)

    # the grid: input | translation | reconstruction per input, side by side (nearest-upscaled, 2 px padding)
    grid = np.array(Image.open(tmp_path / "grid.png"))
    per_row, up = 3 * len(names), math.ceil(256 / (3 * len(names) * RES))
    cell = RES * up + 2
    assert grid.shape == (cell + 2, per_row * cell + 2)
    cols = [x, want_ba, want_rec]
    for i in range(len(names)):
        for j, col in enumerate(cols):
            left = 2 + (3 * i + j) * cell
            tile = torch.from_numpy(grid[2:2 + RES * up:up, left:left + RES * up:up].copy()).float() / 127.5 - 1
            torch.testing.assert_close(tile, col[i, 0], rtol=0, atol=1 / 127.5 + 1e-6)

    # --to B is --direction AtoB
    assert main(["translate", str(cycle_run), "--input", str(src), "--out", str(tmp_path / "toB"), "--to", "B"]) == 0
    assert main(["translate", str(cycle_run), "--input", str(src), "--out", str(tmp_path / "ab"),
                 "--direction", "AtoB"]) == 0
    for name in names:
        to_b, ab = (np.array(Image.open(tmp_path / d / name)) for d in ("toB", "ab"))
        assert np.array_equal(to_b, ab)
        torch.testing.assert_close(_read_png(tmp_path / "ab" / name), want_ab[names.index(name), 0], rtol=0,
                                   atol=1 / 127.5 + 1e-6)
    # an unknown domain: exit 2, one line naming the run's domains, nothing written
    capsys.readouterr()
    assert main(["translate", str(cycle_run), "--input", str(src), "--out", str(tmp_path / "toC"), "--to", "C"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gankit: error: --to 'C'") and "A and B" in err
    assert not (tmp_path / "toC").exists()
    assert main(["translate", str(cycle_run), "--input", str(src), "--out", str(tmp_path / "both"),
                 "--to", "A", "--direction", "AtoB"]) == 2
    assert "contradicts" in capsys.readouterr().err


def test_cycle_metric_scores_both_directions_on_the_held_out_images(cycle_run, unpaired, capsys):
    from gankit.config import DataConfig
    from gankit.data import load_data

    res = evaluate_run(cycle_run, metrics=["cycle"])
    assert set(res.scores) == {"AtoB/cycle_l1[pixels]", "BtoA/cycle_l1[pixels]"}
    run = load_run(cycle_run)
    held = load_data(DataConfig(name="unpaired", path=str(unpaired), split="test", resolution=RES, channels=1))
    a = held.side("A").batch(torch.arange(COUNTS["testA"]))["x"]
    b = held.side("B").batch(torch.arange(COUNTS["testB"]))["x"]
    with torch.no_grad():
        want_a = (run.game.G_BA(run.game.G_AB(a)) - a).abs().mean()
        want_b = (run.game.G_AB(run.game.G_BA(b)) - b).abs().mean()
    assert res.scores["AtoB/cycle_l1[pixels]"] == pytest.approx(float(want_a), rel=1e-5)
    assert res.scores["BtoA/cycle_l1[pixels]"] == pytest.approx(float(want_b), rel=1e-5)
    assert float(want_a) != pytest.approx(float(want_b), rel=1e-3)  # the views are not swapped
    # the command prints the same scores
    capsys.readouterr()
    assert main(["eval", str(cycle_run), "--metrics", "cycle"]) == 0
    out = capsys.readouterr().out
    assert "AtoB/cycle_l1[pixels]" in out and "BtoA/cycle_l1[pixels]" in out
