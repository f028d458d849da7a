"""EBGAN, BEGAN and InfoGAN: known loss values, who each loss trains, BEGAN's k_t, InfoGAN's codes,
sampling with codes and the cluster metric (the game contract itself is tests/test_games.py)."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from gankit.api import prepare_training, sample, traversal, evaluate_run
from gankit.config import ConfigError, load_config
from gankit.errors import GankitError
from gankit.games.energy import pulling_away, reconstruction_energy
from gankit.metrics.conditional import matched_accuracy
from gankit.nets.autoencoder import AutoEncoder, BEGANGenerator

FAST = ["train.progress=false", "train.tensorboard=false", "train.sample_every=0", "train.checkpoint_every=0",
        "data.resolution=16", "model.g.width=4", "model.d.width=4", "train.batch_size=8"]
TINY = {"ebgan": ["model.d.code=8"], "began": ["model.d.code=8", "model.latent_dim=8"], "infogan": ["game.q_width=8"]}


def _trainer(game: str, tmp_path, *extra: str, steps: int = 2):
    return prepare_training(f"{game}-mnist", FAST + TINY[game] + [f"train.steps={steps}", *extra],
                            out=tmp_path / game)


# -- the pieces ------------------------------------------------------------------------------------

def test_pulling_away_term_by_hand():
    assert_close(pulling_away(torch.eye(3)), torch.tensor(0.0))                   # orthogonal codes
    assert_close(pulling_away(torch.tensor([[1.0, 2.0]] * 4)), torch.tensor(1.0))  # one direction
    # S = [(1, 0), (1, 1)]: cos^2 = 1/2 for both ordered pairs -> (1/2 + 1/2) / (2 * 1)
    assert_close(pulling_away(torch.tensor([[1.0, 0.0], [1.0, 1.0]])), torch.tensor(0.5))
    # scale-free per code, and it pulls: its gradient is non-zero on a non-orthogonal batch
    s = torch.tensor([[3.0, 0.0], [1.0, 1.0], [0.0, -2.0]], requires_grad=True)
    assert_close(pulling_away(s), pulling_away(s * torch.tensor([[2.0], [5.0], [0.5]])))
    pulling_away(s).backward()
    assert s.grad.abs().sum() > 0


def test_reconstruction_energy_by_hand():
    x = torch.zeros(2, 1, 2, 2)
    r = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5]]).view(2, 1, 2, 2)
    assert_close(reconstruction_energy(x, r, 2), torch.tensor([0.5, 0.25]))
    assert_close(reconstruction_energy(x, r, 1), torch.tensor([0.5, 0.5]))


@pytest.mark.parametrize("blocks", ["dcgan", "began"])
@pytest.mark.parametrize("resolution", [16, 28, 32])
def test_autoencoder_reconstructs_in_range_and_every_weight_learns(blocks, resolution):
    torch.manual_seed(0)
    ae = AutoEncoder((3, resolution, resolution), width=4, code=5, blocks=blocks,
                     norm="batch" if blocks == "dcgan" else "none")
    x = torch.rand(4, 3, resolution, resolution) * 2 - 1
    rec, code = ae(x)
    assert rec.shape == x.shape and code.shape == (4, 5)
    assert blocks == "began" or rec.abs().max() <= 1  # the dcgan decoder ends in tanh, BEGAN's is linear
    reconstruction_energy(x, rec, 1).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in ae.parameters())


def test_began_generator_is_the_decoder_layout():
    G = BEGANGenerator(latent_dim=6, shape=(1, 28, 28), width=4)
    out = G(torch.randn(3, 6))
    assert out.shape == (3, 1, 28, 28)
    ae = AutoEncoder((1, 28, 28), width=4, code=6, blocks="began", norm="none")
    assert [tuple(p.shape) for p in G.net.parameters()] == [tuple(p.shape) for p in ae.decoder.parameters()]


def test_matched_accuracy_is_the_best_one_to_one_matching():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    assert matched_accuracy((labels + 1) % 3, labels) == 1.0  # a renaming costs nothing
    # clusters 0,0,0,1,1,2: cluster 0 -> class 0 (2 right), 1 -> 1 (1), 2 -> 2 (1): 4/6 is the best
    assert matched_accuracy(torch.tensor([0, 0, 0, 1, 1, 2]), labels) == pytest.approx(4 / 6)
    # one cluster for everything: at most one class right
    assert matched_accuracy(torch.zeros(6, dtype=torch.long), labels) == pytest.approx(2 / 6)


# -- EBGAN -----------------------------------------------------------------------------------------

def test_ebgan_losses_by_hand(tmp_path):
    game = _trainer("ebgan", tmp_path, "game.margin=1.0", "game.lambda_pt=0.5").game
    e_real, e_fake = torch.tensor([0.1, 0.3]), torch.tensor([0.5, 2.0])
    loss, stats = game.d_loss(e_real, e_fake)
    assert_close(loss, torch.tensor(0.2 + (0.5 + 0.0) / 2))  # E(x) + max(0, m - E(G(z))), batch means
    assert_close(stats["ebgan/fakes_within_margin"], torch.tensor(0.5))
    codes = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    loss, stats = game.g_loss(e_fake, codes)
    assert_close(loss, torch.tensor(1.25 + 0.5 * 0.5))  # E(G(z)) + lambda_PT * f_PT
    assert_close(stats["ebgan/pt"], torch.tensor(0.5))


# -- BEGAN -----------------------------------------------------------------------------------------

def test_began_balance_updates_and_clips_k(tmp_path):
    game = _trainer("began", tmp_path, "game.gamma=0.5", "game.lambda_k=0.1").game
    game.k = torch.tensor(0.5)
    loss_d, _ = game.d_loss(torch.tensor([0.3, 0.5]), torch.tensor([0.2, 0.4]))
    assert_close(loss_d, torch.tensor(0.4 - 0.5 * 0.3))  # L(x) - k_t L(G(z_D))
    loss_g, stats = game.g_loss(torch.tensor([0.25, 0.35]), None)
    assert_close(loss_g, torch.tensor(0.3))  # L(G(z_G))
    # k += lambda_k (gamma L(x) - L(G(z_G))) = 0.5 + 0.1 * (0.2 - 0.3); M = L(x) + |0.2 - 0.3|
    assert_close(stats["began/k"], torch.tensor(0.49))
    assert_close(stats["began/M"], torch.tensor(0.5))
    game.k = torch.tensor(0.001)  # clipped at 0 (and at 1 from above)
    game.d_loss(torch.tensor([0.1]), torch.tensor([0.1]))
    assert game.g_loss(torch.tensor([0.9]), None)[1]["began/k"] == 0.0
    game.k = torch.tensor(0.999)
    game.d_loss(torch.tensor([0.9]), torch.tensor([0.1]))
    assert game.g_loss(torch.tensor([0.0]), None)[1]["began/k"] == 1.0


def test_began_each_loss_trains_only_its_player(tmp_path):
    """Not the port that sums L_D and L_G and backpropagates once: the D phase's gradient reaches D only
    and equals that of L(x) - k L(G(z)); the G phase's reaches G only."""
    trainer = _trainer("began", tmp_path)
    game = trainer.game
    game.k = torch.tensor(0.3)
    torch.manual_seed(5)
    batch = trainer.data.batch(torch.arange(8))
    D_phase, G_phase = game.phases()
    game.run_phase(D_phase, batch, G_phase)
    assert all(p.grad is None for p in game.G.parameters())
    got = {n: p.grad.clone() for n, p in game.D.named_parameters()}
    # the same loss by hand, from the same fake batch
    fake = game._fake.detach()
    game.D.zero_grad(set_to_none=True)
    real = batch["x"]
    l_real = reconstruction_energy(real, game.D(real)[0], 1).mean()
    l_fake = reconstruction_energy(fake, game.D(fake)[0], 1).mean()
    (l_real - 0.3 * l_fake).backward()
    for n, p in game.D.named_parameters():
        assert_close(got[n], p.grad, rtol=1e-4, atol=1e-7, msg=n)
    game.D.zero_grad(set_to_none=True)
    before = {n: p.detach().clone() for n, p in game.D.named_parameters()}
    stats = game.run_phase(G_phase, None)
    assert all(p.grad is None for p in game.D.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in game.G.parameters())
    assert all(torch.equal(before[n], p) for n, p in game.D.named_parameters())
    assert {"began/M", "began/k"} <= stats.keys()


def test_began_logs_m_and_k_every_step_and_checkpoints_k(tmp_path):
    from gankit.train.checkpoint import load_checkpoint

    trainer = _trainer("began", tmp_path, "train.log_every=1", "game.lambda_k=0.05", steps=5)
    trainer.fit()
    rows = [json.loads(line) for line in (tmp_path / "began" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(r["began/M"] > 0 and 0 <= r["began/k"] <= 1 for r in rows)
    state = load_checkpoint(tmp_path / "began")
    assert float(state["game"]["k"]) == pytest.approx(rows[-1]["began/k"]) and float(state["game"]["k"]) > 0


# -- InfoGAN ---------------------------------------------------------------------------------------

def test_infogan_categorical_term_is_cross_entropy_on_logits(tmp_path):
    game = _trainer("infogan", tmp_path, "game.lambda_cont=0").game
    torch.manual_seed(0)
    logits = torch.randn(4, 10, requires_grad=True)
    q = torch.cat([logits, torch.zeros(4, 2)], 1)
    c = torch.tensor([3, 1, 4, 1])
    loss, stats = game.information_loss(q, {"c": c, "cont": torch.zeros(4, 2)})
    assert_close(loss, F.cross_entropy(logits, c))
    # not the port's softmax-then-cross-entropy, whose values and gradients are flattened
    assert not torch.allclose(loss, F.cross_entropy(logits.softmax(1), c))
    assert_close(stats["info/mi_cat"], math.log(10) - loss.detach())
    loss.backward()
    assert_close(logits.grad, (logits.detach().softmax(1) - F.one_hot(c, 10)) / 4)  # d CE / d logits


def test_infogan_continuous_term_and_latent_layout(tmp_path):
    game = _trainer("infogan", tmp_path, "game.lambda_cat=0", "game.lambda_cont=2").game
    q = torch.cat([torch.zeros(2, 10), torch.tensor([[0.5, 0.0], [0.0, 0.0]])], 1)
    cont = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    loss, stats = game.information_loss(q, {"c": torch.tensor([0, 1]), "cont": cont})
    # lambda * 1/2 * mean over the batch of sum_j (c_j - mu_j)^2 = 2 * 0.5 * (1.25 + 1) / 2
    assert_close(loss, torch.tensor(1.125))
    z = torch.randn(2, game.latent_dim)
    latent = game.latent({"z": z, "c": torch.tensor([0, 9]), "cont": cont})
    k = game.latent_dim
    assert latent.shape == (2, k + 12)
    assert torch.equal(latent[:, :k], z) and torch.equal(latent[:, k + 10:], cont)
    assert latent[0, k] == 1 and latent[1, k + 9] == 1 and latent[:, k:k + 10].sum() == 2


def test_infogan_noise_is_normal_or_the_reference_codes_uniform(tmp_path):
    g = torch.Generator().manual_seed(0)
    normal = _trainer("infogan", tmp_path / "n", "game.noise=normal").game.noise(4000, generator=g)
    uniform = _trainer("infogan", tmp_path / "u", "game.noise=uniform").game.noise(4000, generator=g)
    assert normal.min() < -2 and normal.max() > 2 and abs(float(normal.std()) - 1) < 0.02
    assert -1 <= uniform.min() < -0.99 and 0.99 < uniform.max() <= 1
    assert abs(float(uniform.std()) - 1 / math.sqrt(3)) < 0.01  # U(-1, 1): variance 1/3


def test_affine_warp_moves_content_as_documented():
    from gankit.augment import affine_warp, geometric

    x = -torch.ones(1, 1, 9, 9)
    x[0, 0, 1, 4] = 1  # a dot three pixels above the centre (4, 4)
    one, zero, none = torch.ones(1), torch.zeros(1), torch.zeros(1, 2)

    def dot(y):
        return (y[0, 0] > 0).nonzero().tolist()

    assert_close(affine_warp(x, zero, one, one, zero, none), x)
    assert dot(affine_warp(x, torch.tensor([math.pi / 2]), one, one, zero, none)) == [[4, 7]]  # clockwise
    assert dot(affine_warp(x, zero, one, one, zero, torch.tensor([[2 / 9, 0.0]]))) == [[1, 5]]  # 1 px right
    assert dot(affine_warp(x, zero, one, one, zero, torch.tensor([[0.0, 2 / 9]]))) == [[2, 4]]  # 1 px down
    tall = affine_warp(x, zero, one, torch.tensor([4 / 3]), zero, none)  # 3 px above -> 4 px above
    assert dot(tall) == [[0, 4]]
    y = geometric(torch.rand(6, 1, 28, 28) * 2 - 1)
    assert y.shape == (6, 1, 28, 28) and -1 <= y.min() and y.max() <= 1


def test_infogan_invariance_term_is_cross_entropy_on_warped_fakes(tmp_path):
    game = _trainer("infogan", tmp_path, "game.lambda_aug=2").game
    fake = (torch.rand(8, 1, 16, 16) * 2 - 1).requires_grad_(True)
    codes = {"c": torch.arange(8) % 10}
    game.D.eval()
    torch.manual_seed(5)
    loss = game.invariance_loss(game.D, fake, codes)
    torch.manual_seed(5)
    from gankit.augment import geometric
    logits = game.D(geometric(fake.detach()))[1][:, :10]
    assert_close(loss, 2 * F.cross_entropy(logits, codes["c"]))
    loss.backward()  # G's images get a gradient through the warp
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    off = _trainer("infogan", tmp_path / "off").game
    assert off.lambda_aug == 0 and float(off.invariance_loss(off.D, fake, codes)) == 0.0


def test_infogan_q_learns_in_d_phase_and_g_phase_leaves_d_alone(tmp_path):
    trainer = _trainer("infogan", tmp_path)
    game = trainer.game
    batch = trainer.data.batch(torch.arange(8))
    D_phase, G_phase = game.phases()
    stats = game.run_phase(D_phase, batch, G_phase)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in game.D.q.parameters())
    assert all(p.grad is None for p in game.G.parameters())
    game.D.zero_grad(set_to_none=True)
    stats = game.run_phase(G_phase, None)
    assert all(p.grad is None for p in game.D.parameters())
    assert all(p.grad is not None for p in game.G.parameters())
    assert {"info/mi_cat", "info/cat_acc", "info/cont_mse", "loss/G_info"} <= stats.keys()


def test_infogan_previews_codes_and_traversal(tmp_path):
    game = _trainer("infogan", tmp_path).game
    preview = game.preview_inputs(None, None, 25, torch.Generator().manual_seed(0))
    assert torch.equal(preview["c"], torch.arange(10).repeat_interleave(2))  # row k: category k
    assert torch.equal(preview["z"][:2], preview["z"][2:4])  # the same noise down each column
    fixed = game.sample_inputs(6, seed=1, codes={"c": 7, "cont1": 1.5})
    assert (fixed["c"] == 7).all() and (fixed["cont"][:, 1] == 1.5).all()
    assert torch.equal(fixed["z"], game.sample_inputs(6, seed=1)["z"])
    t = game.traversal_inputs("cont0", rows=3, steps=5, seed=0)
    assert_close(t["cont"][:, 0], torch.linspace(-2, 2, 5).repeat(3))
    assert torch.equal(t["c"], torch.tensor([0, 1, 2]).repeat_interleave(5))
    for key in ("z", "c"):  # everything but the swept code is constant along a row
        rows = t[key].view(3, 5, -1)
        assert torch.equal(rows, rows[:, :1].expand_as(rows))
    assert torch.equal(t["cont"].view(3, 5, 2)[:, :, 1], t["cont"].view(3, 5, 2)[:, :1, 1].expand(3, 5))
    for bad in ({"c": 10}, {"c": 2.5}, {"c": -1}, {"cont2": 0.0}, {"cont0": float("nan")}):
        with pytest.raises(GankitError):
            game.sample_inputs(2, seed=0, codes=bad)
    with pytest.raises(GankitError, match="continuous codes are cont0, cont1"):
        game.traversal_inputs("c", 2, 5, 0)


def test_infogan_sampling_traversal_and_cluster_metric_from_a_run(tmp_path):
    _trainer("infogan", tmp_path, steps=3).fit()
    run = tmp_path / "infogan"
    a = sample(run, 6, seed=2, codes={"c": 4})
    assert a.shape == (6, 1, 16, 16) and not torch.equal(a, sample(run, 6, seed=2, codes={"c": 5}))
    grid = traversal(run, "cont1", rows=2, steps=4)
    assert grid.shape == (8, 1, 16, 16)
    res = evaluate_run(run, metrics=["cluster"], n=50)
    # the metric is Q's categories of the real test split, Hungarian-matched to its labels
    from gankit.api import load_run
    from gankit.data import load_heldout

    loaded = load_run(run)
    held = load_heldout(loaded.cfg.data)
    x = held.batch(torch.arange(len(held)))["x"]
    expected = matched_accuracy(loaded.game.infer_categories(x), held.labels)
    assert res.scores["cluster_acc[heldout]"] == pytest.approx(expected) and len(x) == 500
    with pytest.raises(GankitError, match="Jacobian-based truncation"):
        sample(run, 4, jacobian_keep=0.5)
    # the preset's z is uniform on [-1, 1], not Gaussian: its latent walks default to lerp, not slerp
    from gankit.visuals import LatentSpace, interpolate

    assert loaded.cfg.game.noise == "uniform" and not LatentSpace(loaded, "test").gaussian
    walk = interpolate(run, steps=3, rows=2)
    assert walk.method == "lerp"
    assert_close(walk.latents[:, 1], walk.latents[:, [0, 2]].mean(1))  # the midpoint of a straight line


# -- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("preset,setting,message", [
    ("began-mnist", "game.gamma=0", "game.gamma: 0.0 must lie in (0, 1]"),
    ("began-mnist", "game.gamma=1.5", "game.gamma: 1.5 must lie in (0, 1]"),
    ("ebgan-mnist", "game.margin=-1", "game.margin: -1.0 must be >= 0"),
    ("ebgan-mnist", "loss.name=hinge", "loss.name: 'hinge' is not used by game 'ebgan'"),
    ("began-mnist", "model.d.name=dcgan", "model.d.name: 'dcgan' is not an auto-encoder"),
    ("infogan-mnist", "game.categories=1", "game.categories: 1 must be 0 (none) or >= 2"),
    ("infogan-mnist", "game.noise=gauss", "game.noise: 'gauss' is not one of normal, uniform"),
    ("infogan-mnist", "game.categories=0,game.lambda_aug=1", "game.lambda_aug: the invariance term"),
    ("infogan-mnist", "model.d.minibatch_std=true", "model.d.minibatch_std"),
    ("infogan-mnist", "model.g.conditioning=concat,model.d.conditioning=ac", "'infogan' has no class-conditional form"),
])
def test_bad_settings_are_one_line_errors(tmp_path, preset, setting, message):
    with pytest.raises(ConfigError) as e:
        prepare_training(preset, [*setting.split(","), "train.steps=1"], out=tmp_path / "run")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_cli_code_errors_exit_2_with_one_line(tmp_path):
    _trainer("infogan", tmp_path, steps=1).fit()
    for args in (["--code", "c=10"], ["--code", "c"], ["--traverse", "cont9"], ["--code", "c=1", "--class", "2"]):
        r = subprocess.run([sys.executable, "-m", "gankit", "sample", str(tmp_path / "infogan"), "--out",
                            str(tmp_path / "x.png"), *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_presets_load_for_both_datasets():
    for game in ("ebgan", "began", "infogan"):
        for data in ("mnist", "fashion-mnist"):
            cfg = load_config(f"{game}-{data}")
            assert cfg.game.name == game and cfg.data.name == data


def test_began_samples_are_clipped_to_the_image_range(tmp_path):
    """BEGAN's G is linear (a tanh saturates at MNIST's black background); drawing clips to [-1, 1]."""
    game = _trainer("began", tmp_path).game
    with torch.no_grad():
        game.G.net.net[-1].weight.mul_(100)
    inputs = game.sample_inputs(6, seed=0)
    with torch.no_grad():
        game.G.eval()
        raw = game.G(inputs["z"])
    assert raw.abs().max() > 1
    assert torch.equal(game.generate(inputs), raw.clamp(-1, 1))
