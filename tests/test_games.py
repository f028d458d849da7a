"""The game contract: every registered game trains, resumes bit-exactly, round-trips its state, and
draws its previews and outputs through one ``generate`` with the documented shapes."""
from __future__ import annotations

import copy
import io
import json

import pytest
import torch

from gankit.api import load_run, prepare_training, train
from gankit.games import GAMES, Game
from gankit.train.checkpoint import load_checkpoint
from helpers.state import assert_same

SEQ_TINY = ["model.g.hidden=16", "model.g.embedding=8", "model.d.embedding=8", "model.d.widths=1,3",
            "model.d.counts=4,4", "train.batch_size=8", "game.pretrain_steps=1", "game.pretrain_d_steps=1",
            "train.ema_decay=0.9"]
# One tiny configuration per registered game: a new game adds its line here (the first test says so).
CONTRACT = {
    "gan": ("gan-digits", ["model.g.width=8", "model.d.width=8", "train.ema_decay=0.9"]),
    "pix2pix": ("pix2pix-edges2digits", ["data.resolution=16", "model.g.width=4", "model.d.width=4",
                                         "train.batch_size=8", "optim.default.ramp_down=0"]),
    "cyclegan": ("cyclegan-mnist2fonts", ["data.resolution=16", "model.g.width=4", "model.g.blocks=1",
                                          "model.d.width=4", "train.batch_size=4", "game.pool_size=6",
                                          "optim.default.ramp_down=0"]),
    "stargan": ("stargan-mnist-attributes", ["data.resolution=16", "model.g.width=4",
                                             "model.d.width=4", "train.batch_size=4", "train.d_steps=2",
                                             "optim.default.ramp_down=0"]),
    "ebgan": ("ebgan-mnist", ["data.resolution=16", "model.g.width=4", "model.d.width=4", "model.d.code=8",
                              "train.batch_size=8", "train.ema_decay=0.9"]),
    "began": ("began-mnist", ["data.resolution=16", "model.g.width=4", "model.d.width=4", "model.d.code=8",
                              "model.latent_dim=8", "train.batch_size=8"]),
    "infogan": ("infogan-mnist", ["data.resolution=16", "model.g.width=4", "model.d.width=4", "game.q_width=8",
                                  "train.batch_size=8", "train.grid_size=20"]),
    "stylegan": ("stylegan-mnist", ["data.resolution=16", "model.g.channels=8,8,4", "model.g.w_dim=8",
                                    "model.latent_dim=8", "model.d.width=4", "train.batch_size=8", "game.pl_every=2",
                                    "penalty.r1_every=2", "train.ema_decay=0.9"]),
    "mle": ("mle-names", ["model.g.hidden=16", "model.g.embedding=8", "train.batch_size=8", "train.ema_decay=0.9"]),
    # the sequence GANs pass through all three stages (MLE, D alone, adversarial) within the test's steps
    "seqgan": ("seqgan-names", [*SEQ_TINY, "game.rollouts=2", "train.d_steps=2"]),
    "gumbel": ("gumbel-names", [*SEQ_TINY, "game.anneal_steps=2"]),
    "softmax": ("wgan-gp-names", [*SEQ_TINY, "train.d_steps=2"]),
}  # (no learning-rate ramp: the resume test stops a shorter run; tests/test_lr_ramp.py resumes ramps)
FAST = ["train.progress=false", "train.tensorboard=false", "train.log_every=2", "train.sample_every=0",
        "train.checkpoint_every=0"]


def test_every_registered_game_has_a_contract_configuration():
    assert set(GAMES.names()) == set(CONTRACT)


def _overrides(name: str, steps: int) -> tuple[str, list[str]]:
    preset, extra = CONTRACT[name]
    return preset, FAST + extra + [f"train.steps={steps}"]


@pytest.fixture(params=sorted(CONTRACT))
def game_name(request):
    return request.param


def test_a_few_steps_train_and_log_finite_losses(tmp_path, game_name):
    preset, sets = _overrides(game_name, 4)
    summary = train(preset, sets, out=tmp_path / "run")
    assert summary["steps"] == 4
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]
    losses = [[k for k in r if k.startswith("loss/")] for r in rows]  # (a game with stages logs by stage)
    assert all(losses) and all(torch.isfinite(torch.tensor(r[k])) for r, ks in zip(rows, losses) for k in ks)
    state = load_checkpoint(tmp_path / "run")
    assert state["format"] == 2 and state["config"]["game"]["name"] == game_name


def test_resume_is_bit_exact(tmp_path, game_name):
    preset, sets = _overrides(game_name, 6)
    train(preset, sets, out=tmp_path / "straight")
    train(preset, _overrides(game_name, 3)[1], out=tmp_path / "split")
    train(resume=tmp_path / "split", overrides=["train.steps=6"])
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split")
    for who in ("players", "ema"):
        assert a[who].keys() == b[who].keys()
        for name in a[who]:
            for k in a[who][name]:
                torch.testing.assert_close(a[who][name][k], b[who][name][k], rtol=0, atol=0, msg=f"{who}.{name}.{k}")
    for name in a["optimizers"]:
        for i, st in a["optimizers"][name]["state"].items():
            for k in st:
                torch.testing.assert_close(st[k], b["optimizers"][name]["state"][i][k], rtol=0, atol=0)
    assert_same(a["game"], b["game"])
    assert a["sampler"] == b["sampler"] and a["images_seen"] == b["images_seen"]


def test_previews_and_generate_have_the_documented_shapes(tmp_path, game_name):
    preset, sets = _overrides(game_name, 1)
    trainer = prepare_training(preset, sets + ["train.grid_size=12"], out=tmp_path / "run")
    game: Game = trainer.game
    assert isinstance(game, Game) and game.kind in ("noise", "translation", "sequence")
    assert set(game.optimized) <= set(game.players) and set(game.averaged) <= set(game.players)
    phases = game.phases()
    assert phases and all(set(p.players) <= set(game.optimized) and p.every >= 1 for p in phases)
    preview = trainer.preview
    out = game.generate(preview)
    n = len(next(iter(preview.values())))
    assert 1 <= n <= 12 and out.shape == (n, *trainer.data.shape)
    if game.kind == "sequence":  # token ids of the vocabulary, previewed as text, one sequence a line
        assert out.dtype == torch.int64 and 0 <= out.min() and out.max() < game.vocabulary.size
        text = game.preview_text(preview)
        assert text.splitlines() == game.vocabulary.decode_batch(out)
    else:
        assert out.dtype == torch.float32 and out.abs().max() <= 1
        assert game.preview_text(preview) is None
        images, nrow = game.picture(preview)
        assert images.shape[1:] == out.shape[1:] and len(images) % n == 0 and (nrow is None or nrow >= 1)
    # generate draws with the players it is given (an EMA copy, say), not the live ones
    other = {name: copy.deepcopy(m) for name, m in game.players.items()}
    for m in other.values():
        for p in m.parameters():
            p.data.mul_(0.5)
    assert not torch.equal(game.generate(preview, other), out)
    torch.testing.assert_close(game.generate(preview), out, rtol=0, atol=0)  # deterministic, live ones untouched
    if game.kind in ("noise", "sequence"):
        assert game.sample_inputs(5, seed=3).keys() == preview.keys() - {"y"} | ({"y"} & preview.keys())
        torch.testing.assert_close(game.generate(game.sample_inputs(5, seed=3)),
                                   game.generate(game.sample_inputs(5, seed=3)), rtol=0, atol=0)
    else:  # translate_inputs builds what generate drew for the preview (the first side / the first domain)
        first = {k: v[:3] for k, v in preview.items()}
        if "A" in preview:
            x, how = preview["A"][:3], {}
        else:
            x, how = preview["x"][:3], {"to": game.code_name(preview["code"][0])}
            first["code"] = preview["code"][:1].expand(len(x), -1)
        torch.testing.assert_close(game.generate(game.translate_inputs(x, **how)), game.generate(first)[:3],
                                   rtol=0, atol=1e-6)  # batch of 3
        if game.reversible:  # the way back has the input's shape
            assert game.reconstruct(first, game.generate(first)).shape == x.shape


def test_game_state_round_trips_through_a_weights_only_file(tmp_path, game_name):
    preset, sets = _overrides(game_name, 3)
    trainer = prepare_training(preset, sets, out=tmp_path / "run")
    trainer.fit()
    state = trainer.game.state_dict()
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    back = torch.load(buf, weights_only=True)
    fresh = prepare_training(preset, sets, out=tmp_path / "other").game
    fresh.load_state_dict(back)
    assert_same(fresh.state_dict(), state)


def test_load_run_draws_what_the_trainer_drew(tmp_path, game_name):
    preset, sets = _overrides(game_name, 2)
    trainer = prepare_training(preset, sets, out=tmp_path / "run")
    trainer.fit()
    run = load_run(tmp_path / "run")
    torch.testing.assert_close(run.generate(trainer.preview), trainer.game.generate(trainer.preview,
                                                                                       trainer.sampling_players()),
                               rtol=0, atol=1e-5)  # float32 sums may run in another order across thread counts
