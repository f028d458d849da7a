"""A four-player game registered from outside the package (the shape of CycleGAN: two translators, two
discriminators, unpaired data) trains, resumes, draws and translates through the core unchanged."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from gankit.api import load_run, prepare_training, train, translate
from gankit.config import GameSettings
from gankit.errors import ConfigError
from gankit.games import GAMES, Game, Phase
from gankit.train.checkpoint import load_checkpoint


@dataclass
class TwoWaySettings(GameSettings):
    name: str = "two-way"
    lambda_cyc: float = 10.0


class TwoWayGame(Game):
    """G_AB and G_BA tied by cycle consistency, D_A and D_B judging each domain (non-saturating)."""

    Settings = TwoWaySettings
    kind = "translation"

    def __init__(self, cfg, info):
        super().__init__()
        c = info.shapes["A"][0]
        self.input_shape = tuple(info.shapes["A"])
        self.lam = cfg.game.lambda_cyc
        torch.manual_seed(cfg.seed)
        self.players = {"G_AB": nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.Tanh()),
                        "G_BA": nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.Tanh()),
                        "D_A": nn.Conv2d(c, 1, 4, 2, 1), "D_B": nn.Conv2d(c, 1, 4, 2, 1)}
        self.updates = 0

    def phases(self):
        return [Phase("G", ("G_AB", "G_BA")), Phase("D", ("D_A", "D_B"), data=False)]

    def run_phase(self, phase, batch, next_phase=None):
        p = self.players
        if phase.name == "G":
            a, b = batch["A"], batch["B"]
            fake_b, fake_a = self.train_module("G_AB")(a), self.train_module("G_BA")(b)
            self._fakes = (a, b, fake_a.detach(), fake_b.detach())
            cyc = ((self.train_module("G_BA")(fake_b) - a).abs().mean()
                   + (self.train_module("G_AB")(fake_a) - b).abs().mean())
            for d in ("D_A", "D_B"):
                p[d].requires_grad_(False)
            adv = F.softplus(-p["D_B"](fake_b)).mean() + F.softplus(-p["D_A"](fake_a)).mean()
            for d in ("D_A", "D_B"):
                p[d].requires_grad_(True)
            loss = adv + self.lam * cyc
            self.backward(loss, "G_AB")
            return {"loss/G": loss.detach(), "loss/cycle": cyc.detach()}
        a, b, fake_a, fake_b = self._fakes
        loss = sum(F.softplus(-self.train_module(d)(real)).mean() + F.softplus(self.train_module(d)(fake)).mean()
                   for d, real, fake in (("D_A", a, fake_a), ("D_B", b, fake_b)))
        self.backward(loss, "D_A")
        self.updates += 1
        return {"loss/D": loss.detach()}

    def state_dict(self):
        return {"updates": self.updates}

    def load_state_dict(self, state):
        self.updates = int(state["updates"])

    def preview_inputs(self, data, heldout, n, generator):
        src = (heldout if heldout is not None else data).side("A")
        return {"A": src.batch(torch.arange(min(n, len(src))))["x"]}

    @torch.no_grad()
    def generate(self, inputs, players=None):
        G = (players or {}).get("G_AB", self.players["G_AB"])
        return G(inputs["A"])

    def translate_inputs(self, images):
        return {"A": images}


@pytest.fixture
def two_way(monkeypatch, tmp_path):
    monkeypatch.setitem(GAMES._items, "two-way", TwoWayGame)
    rng = np.random.default_rng(0)
    for side, n in (("A", 20), ("B", 12)):  # unpaired: any names, any counts
        (tmp_path / "data" / side).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "data" / side / f"{side}{i}.png")
    preset = tmp_path / "two-way.yaml"  # a new game brings its own preset (no optim.g / optim.d of the GAN's)
    preset.write_text("game: {name: two-way}\ndata: {name: unpaired, resolution: 8}\n")
    return str(preset), [f"data.path={tmp_path / 'data'}", "train.batch_size=4", "train.progress=false",
                         "train.tensorboard=false", "train.sample_every=2", "train.checkpoint_every=0",
                         "train.log_every=1", "train.grid_size=6"]


def test_an_outside_four_player_game_trains_resumes_and_translates(tmp_path, two_way):
    preset, two_way = two_way
    with pytest.raises(ConfigError, match=r"optim.g_abc: .*did you mean optim.g_ab\?"):
        prepare_training(preset, two_way + ["optim.g_abc.lr=1e-3"], out=tmp_path / "bad")
    tr = prepare_training(preset, two_way + ["optim.g_ab.lr=1e-3", "train.steps=6"], out=tmp_path / "straight")
    assert set(tr.optimizers) == {"G_AB", "G_BA", "D_A", "D_B"}
    assert tr.optimizers["G_AB"].param_groups[0]["lr"] == 1e-3 and tr.optimizers["G_BA"].param_groups[0]["lr"] == 2e-4
    summary = tr.fit()
    assert summary["images_seen"] == 6 * 4  # one batch of (A, B) draws per iteration, counted once
    assert tr.game.updates == 6
    train(preset, two_way + ["optim.g_ab.lr=1e-3", "train.steps=3"], out=tmp_path / "split")
    train(resume=tmp_path / "split", overrides=["train.steps=6"])
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split")
    assert a["game"] == b["game"] == {"updates": 6} and a["sampler"] == b["sampler"]
    assert set(a["sampler"]) == {"A", "B"}  # the sides are shuffled independently
    for name in a["players"]:
        for k, t in a["players"][name].items():
            torch.testing.assert_close(t, b["players"][name][k], rtol=0, atol=0)
    # the progress grids come from the game's preview inputs; drawing and translating from the run
    assert (tmp_path / "straight" / "samples" / "step-0000002.png").is_file()
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    run = load_run(tmp_path / "straight")
    torch.testing.assert_close(translate(tmp_path / "straight", x), run.players.get("G_AB", run.game.players["G_AB"])(x).detach())
