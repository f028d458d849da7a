"""The style-based generator and its game: the mechanisms, checked by value.

Truncation (psi = 0 draws one image), demodulation (unit-variance activations whatever the style's
scale), the equalised learning rate and the mapping network's multiplier, style mixing (the coarse
layers' activations are the row source's, exactly), path-length regularisation (the spread of the
path lengths shrinks), the game's state across a resume, and the command line's --truncation / --mix.
"""
from __future__ import annotations

import math

import pytest
import torch

from gankit.api import sample, style_mix, train
from gankit.cli import main
from gankit.nets.style import EqualLinear, StyleGenerator, modulated_conv2d, parse_channels
from gankit.train.checkpoint import load_checkpoint

SHAPE = (1, 16, 16)
FAST = ["train.progress=false", "train.tensorboard=false", "train.log_every=2", "train.sample_every=0",
        "train.checkpoint_every=0", "data.resolution=16", "model.g.channels=16,16,8", "model.g.w_dim=16",
        "model.latent_dim=16", "model.d.width=8", "train.batch_size=8", "game.pl_every=2", "penalty.r1_every=2"]


def _G(**kw) -> StyleGenerator:
    torch.manual_seed(0)
    return StyleGenerator(16, SHAPE, **{"w_dim": 16, "channels": "16,16,8", **kw})


@pytest.fixture(scope="module")
def style_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("style") / "run"
    train("stylegan-mnist", FAST + ["train.steps=4", "train.ema_decay=0.9"], out=out)
    return out


def test_channels_setting_is_parsed_per_stage():
    assert parse_channels("128,128,64,32", 3) == [128, 128, 64, 32]
    assert parse_channels("64", 2) == [64, 64, 64] and parse_channels("8,4,2,1,1", 1) == [8, 4]
    with pytest.raises(ValueError, match="comma-separated"):
        parse_channels("a,b", 2)


def test_layer_count_and_resolutions():
    G = _G()
    assert G.num_ws == 2 + 3 * 2 and G.ws_resolution == [4, 4, 8, 8, 8, 16, 16, 16]
    assert G(torch.randn(3, 16)).shape == (3, *SHAPE)
    assert StyleGenerator(8, (1, 28, 28), w_dim=8, channels="8").const.shape == (8, 7, 7)  # 28 = 7 * 2^2


def test_demodulation_keeps_unit_variance_whatever_the_style_scale():
    torch.manual_seed(0)
    x = torch.randn(16, 32, 8, 8)
    weight = torch.randn(32, 32, 3, 3)
    for scale in (0.1, 1.0, 10.0):
        styles = scale * (1 + 0.5 * torch.randn(16, 32)).abs()
        demod = modulated_conv2d(x, weight, styles, demodulate=True, padding=1)
        assert 0.8 < demod[:, :, 1:-1, 1:-1].std().item() < 1.2  # (the border sees zero padding)
    small = modulated_conv2d(x, weight, 0.1 * torch.ones(16, 32), demodulate=False, padding=1).std()
    large = modulated_conv2d(x, weight, 10 * torch.ones(16, 32), demodulate=False, padding=1).std()
    assert large / small == pytest.approx(100, rel=1e-4)  # without demodulation the style's scale passes through


def test_modulated_conv_equals_a_per_sample_convolution():
    torch.manual_seed(1)
    x, weight, styles = torch.randn(3, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.rand(3, 4) + 0.5
    out = modulated_conv2d(x, weight, styles, demodulate=True, padding=1)
    for i in range(3):
        w = weight * styles[i][None, :, None, None]
        w = w / w.square().sum((1, 2, 3), keepdim=True).add(1e-8).sqrt()
        torch.testing.assert_close(out[i:i + 1], torch.nn.functional.conv2d(x[i:i + 1], w, padding=1))


def test_equalised_learning_rate_and_mapping_multiplier():
    torch.manual_seed(0)
    for lr_mul in (1.0, 0.01):
        fc = EqualLinear(256, 64, lr_mul=lr_mul)
        effective = fc.weight * fc.scale
        assert effective.std().item() == pytest.approx(1 / math.sqrt(256), rel=0.05)  # He init, any lr_mul
        before = effective.detach().clone()
        opt = torch.optim.Adam(fc.parameters(), lr=0.1)
        fc(torch.randn(32, 256)).sum().backward()
        opt.step()
        step = (fc.weight * fc.scale - before).abs().mean().item()
        # Adam's first step moves every parameter by lr; the layer's effective weight by lr * lr_mul / sqrt(in)
        assert step == pytest.approx(0.1 * lr_mul / math.sqrt(256), rel=0.02)


def test_truncation_psi_zero_draws_one_image(style_run):
    same = sample(style_run, 6, seed=3, truncation=0.0)
    assert (same - same[:1]).abs().max().item() == 0
    free = sample(style_run, 6, seed=3)
    assert (free[1:] - free[:1]).abs().amax((1, 2, 3)).min().item() > 1e-4
    torch.testing.assert_close(sample(style_run, 6, seed=3, truncation=1.0), free, rtol=0, atol=0)
    half = sample(style_run, 6, seed=3, truncation=0.5)
    # psi pulls every w (and so, for this smooth G, every image) toward the average's image
    assert (half - same).abs().mean() < (free - same).abs().mean()


def test_w_avg_follows_the_mapped_latents_in_training_only():
    G = _G(w_avg_beta=0.5)
    z = torch.randn(64, 16)
    G.eval()
    G(z)
    assert G.w_avg.abs().max() == 0
    G.train()
    G(z)
    torch.testing.assert_close(G.w_avg, 0.5 * G.mapping(z).mean(0).detach())


def test_style_mixing_keeps_the_coarse_layers_of_the_row_source():
    G = _G().eval()
    acts = {}
    G.convs[2].register_forward_hook(lambda m, i, o: acts.setdefault("8px", []).append(o))
    G.convs[4].register_forward_hook(lambda m, i, o: acts.setdefault("16px", []).append(o))
    z = torch.randn(2, 16)
    ws = G.ws(z)
    mixed = torch.cat([ws[:1, :5], ws[1:, 5:]], 1)  # 4-8 px styles of source 0, 16 px styles of source 1
    G.synthesis(ws[:1])
    G.synthesis(mixed)
    a8, m8 = acts["8px"]
    a16, m16 = acts["16px"]
    torch.testing.assert_close(m8, a8, rtol=0, atol=0)  # the coarse activations are source 0's, exactly
    assert (m16 - a16).abs().max() > 1e-3  # the fine ones are not


def test_the_mixing_grid_puts_the_sources_on_the_border(style_run):
    grid = style_mix(style_run, 2, 3, seed=5)
    assert grid.shape == ((2 + 1) * (3 + 1), *SHAPE)
    assert (grid[0] == -1).all()  # the blank corner
    rows, cols = grid[4::4], grid[1:4]
    again = style_mix(style_run, 2, 3, seed=5)
    torch.testing.assert_close(grid, again, rtol=0, atol=0)
    cells = grid.view(3, 4, *SHAPE)[1:, 1:]
    assert not torch.equal(cells[0, 0], rows[0]) and not torch.equal(cells[0, 0], cols[0])


def test_path_length_regularisation_narrows_the_spread_of_path_lengths():
    G = _G(noise=False)
    G.train()
    opt = torch.optim.Adam(G.parameters(), lr=0.01, betas=(0.0, 0.99))
    gen = torch.Generator().manual_seed(0)

    def lengths():
        z = torch.randn(64, 16, generator=gen)
        images, ws = G(z, return_ws=True)
        y = torch.randn(images.shape, generator=gen) / math.sqrt(16 * 16)
        grad, = torch.autograd.grad((images * y).sum(), ws, create_graph=True)
        return grad.square().sum(2).mean(1).sqrt()

    before = lengths().detach()
    mean = before.mean().item()
    for _ in range(60):
        ln = lengths()
        mean += 0.01 * (ln.mean().item() - mean)
        loss = (ln - mean).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = lengths().detach()
    assert after.std() / after.mean() < 0.7 * (before.std() / before.mean())  # relative spread shrinks


def test_the_games_state_resumes_exactly(tmp_path):
    train("stylegan-mnist", FAST + ["train.steps=6"], out=tmp_path / "straight")
    train("stylegan-mnist", FAST + ["train.steps=3"], out=tmp_path / "split")
    train(resume=tmp_path / "split", overrides=["train.steps=6"])
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split")
    assert a["game"]["pl_mean"] == b["game"]["pl_mean"] > 0
    for k, v in a["players"]["G"].items():
        torch.testing.assert_close(v, b["players"]["G"][k], rtol=0, atol=0, msg=k)


def test_the_command_line_draws_truncated_samples_and_mixing_grids(style_run, tmp_path, capsys):
    assert main(["sample", str(style_run), "--n", "4", "--truncation", "0", "--out", str(tmp_path / "t.npy")]) == 0
    import numpy as np

    x = np.load(tmp_path / "t.npy")
    assert np.abs(x - x[:1]).max() == 0
    assert main(["sample", str(style_run), "--mix", "2,3", "--out", str(tmp_path / "mix.png")]) == 0
    from PIL import Image

    assert Image.open(tmp_path / "mix.png").size[0] > Image.open(tmp_path / "mix.png").size[1]  # 4 wide, 3 high
    capsys.readouterr()
    assert main(["sample", str(style_run), "--mix", "2", "--out", str(tmp_path / "m.png")]) == 2
    assert "ROWS,COLS" in capsys.readouterr().err
    assert main(["sample", str(style_run), "--truncation", "nan", "--out", str(tmp_path / "m.png")]) == 2
    assert main(["sample", str(style_run), "--truncation", "0.5", "--jacobian-keep", "0.5",
                 "--out", str(tmp_path / "m.png")]) == 2


def _game(*sets: str):
    from gankit.config import load_config
    from gankit.games import GAMES, DataInfo

    torch.manual_seed(0)
    cfg = load_config("stylegan-mnist", [s for s in FAST if s.startswith(("model.", "data.", "game."))] + list(sets))
    return GAMES.get("stylegan")(cfg, DataInfo({"x": SHAPE}, 10, "mnist"))


def test_the_mixing_grid_cells_are_row_coarse_and_column_fine_styles():
    game = _game()
    G = game.G.eval()
    grid = game.mixing_grid(2, 3, seed=5)
    z = game.noise(5, generator=torch.Generator().manual_seed(5))
    ws = G.ws(z)
    fine = torch.tensor([r > 8 for r in G.ws_resolution])
    for i in range(2):
        for j in range(3):
            mixed = torch.where(fine[None, :, None], ws[2 + j:3 + j], ws[i:i + 1])
            torch.testing.assert_close(grid[(i + 1) * 4 + j + 1], G.synthesis(mixed)[0].clamp(-1, 1))
    torch.testing.assert_close(grid[1:4], G.synthesis(ws[2:]).clamp(-1, 1))  # the column sources on top
    torch.testing.assert_close(grid[4::4], G.synthesis(ws[:2]).clamp(-1, 1))  # the row sources on the left


def test_the_games_path_length_phase_follows_the_official_formula():
    from gankit.games import Phase

    grads = {}
    for every in (2, 4):
        game = _game(f"game.pl_every={every}", "game.mixing=0")
        game._batch_size = 8
        torch.manual_seed(1)
        stats = game.run_phase(Phase("G_pl", ("G",), data=False, every=every), None)
        # a <- a + 0.01 (mean length - a), from a = 0, before the penalty uses it
        assert game.pl_mean == pytest.approx(0.01 * stats["pl/length"].item())
        assert stats["penalty/pl"].item() > 0
        grads[every] = torch.cat([p.grad.flatten() for p in game.G.parameters() if p.grad is not None])
        assert all(p.grad is not None for p in game.G.parameters())  # every parameter in the graph (DDP)
    torch.testing.assert_close(grads[4], 2 * grads[2])  # the lazy penalty is scaled by its interval
