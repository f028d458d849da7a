"""Conditional GANs: every conditioning mode in every family, projection and ACGAN by hand, the trainer's
class grid, class-controlled sampling, and the conditional metrics on hand-built inputs."""
from __future__ import annotations

import math
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gankit.api import class_grid, prepare_training, sample
from gankit.cli import main
from gankit.config import load_config
from gankit.errors import ConfigError, GankitError
from gankit.metrics.conditional import class_accuracy, intra_class_fid
from gankit.nets import build_discriminator, build_generator
from gankit.nets.conditioning import ConditionalBatchNorm

K = 3
# family -> (sample shape, G width, D width, D norm)
FAMILIES = {"mlp": ((1, 8, 8), 4, 4, "none"), "dcgan": ((1, 8, 8), 4, 4, "batch"),
            "resnet": ((1, 8, 8), 4, 4, "none"), "toy": ((2,), 8, 8, "none")}


def _model(family: str, g: str = "none", d: str = "none"):
    shape, gw, dw, dnorm = FAMILIES[family]
    cfg = load_config(None, [f"model.g.name={family}", f"model.d.name={family}", f"model.g.width={gw}",
                             f"model.d.width={dw}", f"model.d.norm={dnorm}", "model.latent_dim=6",
                             f"model.g.conditioning={g}", f"model.d.conditioning={d}"])
    return cfg.model, shape


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("mode", ["concat", "hadamard", "cbn"])
def test_generator_modes_forward_backward(family, mode):
    torch.manual_seed(0)
    model, shape = _model(family, g=mode, d="concat")
    G = build_generator(model, shape, K)
    if mode == "cbn":  # class gains start at 1 and biases at 0 (no label effect yet): make them differ
        for m in G.modules():
            if isinstance(m, ConditionalBatchNorm):
                nn.init.normal_(m.gain.weight, 1.0, 0.5)
                nn.init.normal_(m.bias.weight, 0.0, 0.5)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    with torch.no_grad():  # eval mode (BatchNorm's running statistics): rows 0, 1, 2 share z
        out = G.eval()(torch.randn(1, 6).repeat(6, 1), y)
    assert out.shape == (6, *shape)
    # the label changes the sample for a fixed z; equal labels give equal samples
    assert not torch.allclose(out[0], out[1]) and not torch.allclose(out[1], out[2])
    torch.testing.assert_close(out[0], out[3])
    z = torch.randn(6, 6)
    G.train()(z, y).square().mean().backward()
    for name, p in G.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    label_params = [p for n, p in G.named_parameters() if "embed" in n or ".gain" in n or ".bias.weight" in n]
    if mode != "concat":
        assert label_params and all(p.grad.abs().sum() > 0 for p in label_params)
    with pytest.raises(ValueError, match="needs class labels"):
        G(z)


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("mode", ["concat", "projection", "ac"])
def test_discriminator_modes_forward_backward(family, mode):
    torch.manual_seed(0)
    model, shape = _model(family, g="concat", d=mode)
    D = build_discriminator(model, shape, K)
    x = torch.randn(6, *shape)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    out = D(x, y)
    if mode == "ac":
        adv, cls = out
        assert adv.shape == (6,) and cls.shape == (6, K)
        loss = adv.mean() + F.cross_entropy(cls, y)
    else:
        assert out.shape == (6,)
        loss = out.mean()
    loss.backward()
    for name, p in D.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("family", ["mlp", "dcgan", "resnet"])
def test_projection_output_depends_on_label_as_in_the_paper(family):
    torch.manual_seed(0)
    model, shape = _model(family, g="concat", d="projection")
    D = build_discriminator(model, shape, K).eval()
    x = torch.randn(1, *shape).repeat(K, *([1] * len(shape)))  # one image, every label
    out = D(x, torch.arange(K))
    assert len(set(out.tolist())) == K  # the same image scores differently under each label
    phi = D.features(x[:1])  # (1, F)
    expected = (D.adv(phi).squeeze(1) + D.embed.weight @ phi[0])  # psi(phi) + <e(y), phi> for y = 0..K-1
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_conditional_batchnorm_uses_class_gain_and_bias():
    bn = ConditionalBatchNorm(nn.BatchNorm1d(2), num_classes=2)
    with torch.no_grad():
        bn.gain.weight.copy_(torch.tensor([[1.0, 1.0], [2.0, 3.0]]))
        bn.bias.weight.copy_(torch.tensor([[0.0, 0.0], [5.0, -1.0]]))
    x = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    bn.y = torch.tensor([0, 1])
    x_hat = (x - x.mean(0)) / (x.var(0, unbiased=False) + 1e-5).sqrt()
    expected = torch.stack([x_hat[0], torch.tensor([2.0, 3.0]) * x_hat[1] + torch.tensor([5.0, -1.0])])
    torch.testing.assert_close(bn(x), expected)


class _ScriptedD(nn.Module):
    """Returns queued (adversarial, class logits) pairs, differentiable through one parameter."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = list(outputs)
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x, y=None):
        adv, cls = self.outputs.pop(0)
        return adv * self.w, cls * self.w


def test_acgan_losses_by_hand(fast, tmp_path):
    trainer = prepare_training("gan-digits", fast + ["model.g.conditioning=concat", "model.d.conditioning=ac",
                                                     "loss.ac_weight=0.5", "train.batch_size=2"],
                               out=tmp_path / "run")
    game = trainer.game
    ln4 = math.log(4.0)
    real_cls = torch.tensor([[ln4, 0.0, 0, 0, 0, 0, 0, 0, 0, 0], [0.0] * 10])
    fake_cls = torch.tensor([[0.0, ln4] + [0.0] * 8, [0.0, ln4] + [0.0] * 8])
    zero = torch.zeros(2)
    stub = _ScriptedD([(zero, real_cls), (zero, fake_cls), (zero, fake_cls)])
    game._wrapped = {"G": game.G, "D": stub, "D:frozen": stub}
    game._joint_d_batch = False
    game.labels = lambda n, device=None, generator=None: torch.tensor([1, 0])  # the fake labels
    losses = []
    game.backward = lambda loss, player: losses.append(loss.detach())
    real = torch.zeros(2, 1, 8, 8)
    phases = game.phases()
    stats = game.run_phase(phases[0], {"x": real, "y": torch.tensor([0, 2])}, phases[1])
    # softmax over 10 logits: class 0 of [ln4, 0, ...] has p = 4/13; a zero row has p = 1/10
    ce_real = (-math.log(4 / 13) - math.log(1 / 10)) / 2          # labels 0 and 2
    ce_fake = (-math.log(4 / 13) - math.log(1 / 13)) / 2          # labels 1 and 0
    d_adv = 2 * math.log(2.0)  # softplus(-0) + softplus(0), non-saturating cross-entropy
    torch.testing.assert_close(stats["loss/D_class"], torch.tensor(ce_real + ce_fake))
    torch.testing.assert_close(losses[0], torch.tensor(d_adv + 0.5 * (ce_real + ce_fake)))
    stats = game.run_phase(phases[1], None, None)
    torch.testing.assert_close(stats["loss/G_class"], torch.tensor(ce_fake))
    torch.testing.assert_close(losses[1], torch.tensor(math.log(2.0) + 0.5 * ce_fake))


def test_joint_and_separate_d_batches_agree_for_acgan(fast, tmp_path):
    trainer = prepare_training("gan-digits", fast + ["model.g.conditioning=hadamard", "model.d.conditioning=ac",
                                                     "model.g.width=8", "model.d.width=8", "train.batch_size=4"],
                               out=tmp_path / "run")
    game = trainer.game
    batch = trainer._batch()
    losses = []
    game.backward = lambda loss, player: losses.append(loss.detach())
    for joint in (True, False):
        game._joint_d_batch = joint
        torch.manual_seed(3)
        game.run_phase(game.phases()[0], batch, None)
    torch.testing.assert_close(losses[0], losses[1])


@pytest.mark.parametrize("d_mode,loss", [("projection", "hinge"), ("concat", "wasserstein")])
def test_conditional_training_with_other_objectives(fast, tmp_path, d_mode, loss):
    extra = ["penalty.gp=10", "model.d.norm=none"] if loss == "wasserstein" else []
    out = tmp_path / "run"
    prepare_training("gan-digits", fast + [f"model.d.conditioning={d_mode}", "model.g.conditioning=cbn",
                                           f"loss={loss}", "train.steps=2", "model.g.width=8",
                                           "model.d.width=8"] + extra, out=out).fit()
    assert (out / "checkpoints" / "last.pt").is_file()


def test_class_grid_and_class_sampling_through_the_trainer(fast, tmp_path):
    out = tmp_path / "run"
    trainer = prepare_training("gan-digits", fast + ["model.g.conditioning=cbn", "model.d.conditioning=projection",
                                                     "train.steps=2", "train.grid_size=25", "train.ema_decay=0.5",
                                                     "model.g.width=8", "model.d.width=8"],
                               out=out)
    calls = []
    real_generate = trainer.game.generate
    trainer.game.generate = lambda inputs, players=None: calls.append(inputs["y"]) or real_generate(inputs, players)
    summary = trainer.fit()
    # the trainer's fixed grid: one row per class (25 // 10 = 2 columns), the same noise in every row
    fixed_z, fixed_y = trainer.preview["z"], trainer.preview["y"]
    assert fixed_y.tolist() == [k for k in range(10) for _ in range(2)]
    torch.testing.assert_close(fixed_z[:2].repeat(10, 1), fixed_z)
    assert calls and all(torch.equal(y, fixed_y) for y in calls)
    from PIL import Image
    w, h = Image.open(summary["final_grid"]).size
    assert h > 4 * w  # 10 rows of 2
    # class K from the trained run: the game's own sampler on the run's generator, with label K
    imgs = sample(out, 6, seed=1, labels=7)
    z = torch.randn(6, trainer.cfg.model.latent_dim, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(imgs, real_generate({"z": z, "y": torch.full((6,), 7)}, {"G": trainer.ema["G"].module}))
    grid = class_grid(out, columns=3, seed=2)
    assert grid.shape == (30, 1, 16, 16)
    with pytest.raises(GankitError, match=r"\[0, 9\]"):
        sample(out, 2, labels=10)
    assert main(["sample", str(out), "--classes", "all", "--n", "3", "--out", str(tmp_path / "grid.png")]) == 0
    assert Image.open(tmp_path / "grid.png").size[1] > 3 * Image.open(tmp_path / "grid.png").size[0]


def test_conditional_evaluation_reads_the_samples_once(fast, tmp_path, monkeypatch):
    import gankit.metrics.extractors as extractors
    from gankit.api import evaluate_run

    out = tmp_path / "run"
    prepare_training("gan-digits", fast + ["model.g.conditioning=cbn", "model.d.conditioning=projection",
                                           "train.steps=2", "model.g.width=8", "model.d.width=8"], out=out).fit()
    seen, build = [], extractors.build_extractor

    def counting_build(*args, **kwargs):
        ext = build(*args, **kwargs)
        extract = ext.extract
        ext.extract = lambda x: seen.append(len(x)) or extract(x)
        return ext

    monkeypatch.setattr(extractors, "build_extractor", counting_build)
    res = evaluate_run(out, metrics=["fid", "classes", "accuracy"], n=200)
    assert seen.count(200) == 1  # FID, class coverage and the conditional scores share one pass
    _, probs = res.fake_features
    asked = torch.arange(200) % 10  # balanced samples, class i mod K
    assert res.scores["class_acc[classifier:digits]"] == pytest.approx(float((probs.argmax(1) == asked).double().mean()))
    assert "intra_fid[classifier:digits]" in res.scores and "fid[classifier:digits]" in res.scores


def test_conditioning_errors_are_one_line(fast, tmp_path):
    with pytest.raises(ConfigError, match="model.g.conditioning: 'nope' is not one of"):
        load_config("gan-digits", ["model.g.conditioning=nope"])
    with pytest.raises(ConfigError, match="model.g.conditioning: 'none' must be set when D is conditional"):
        load_config("gan-digits", ["model.d.conditioning=ac"])
    with pytest.raises(ConfigError, match="tricks.pack"):
        load_config("gan-digits", ["model.d.conditioning=ac", "model.g.conditioning=concat", "tricks.pack=2"])
    model, shape = _model("mlp", g="concat", d="concat")
    with pytest.raises(ConfigError, match="model.g.conditioning: class conditioning needs a labelled dataset"):
        build_generator(model, shape, None)  # what a dataset without labels gives
    with pytest.raises(GankitError, match="unconditional"):
        prepare_training("gan-digits", fast + ["train.steps=1"], out=tmp_path / "u").fit()
        sample(tmp_path / "u", 2, labels=1)


def test_conditional_metrics_on_hand_built_inputs():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    acc, per = class_accuracy(probs, torch.tensor([0, 1, 1, 1]), 2)
    assert acc == pytest.approx(0.75) and per == pytest.approx([1.0, 2 / 3])
    g = torch.Generator().manual_seed(0)
    real = torch.randn(400, 3, generator=g, dtype=torch.float64)
    y = torch.arange(400) % 2
    same, per = intra_class_fid(real, y, real, y, 2)
    assert same == pytest.approx(0.0, abs=1e-6)
    shifted = real + torch.tensor([2.0, 0.0, 0.0], dtype=torch.float64) * y[:, None]  # class 1 moves by 2
    mean, per = intra_class_fid(shifted, y, real, y, 2)
    assert per == pytest.approx([0.0, 4.0], abs=1e-6) and mean == pytest.approx(2.0, abs=1e-6)
