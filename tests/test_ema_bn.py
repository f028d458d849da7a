"""BatchNorm statistics of the EMA generator: re-estimated for the averaged weights (train.ema_bn_stats)."""
from __future__ import annotations

import torch
import torch.nn as nn

from gankit.api import load_run, prepare_training, sample
from gankit.train.ema import EMA, recompute_batchnorm_stats

DCGAN_TINY = ["model.g.name=dcgan", "model.d.name=dcgan", "model.g.width=8", "model.d.width=8"]


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))


def test_statistics_are_the_plain_average_over_the_noise_batches():
    net = _net()
    before = [p.detach().clone() for p in net.parameters()]

    def inputs(n, g):
        return (torch.randn(n, 3, generator=g) * 2 + 1,)

    recompute_batchnorm_stats(net, inputs, batch_size=50, batches=4, seed=11)
    # by hand: the same 4 batches, batch mean and unbiased batch variance of BN's input, averaged
    g = torch.Generator().manual_seed(11)
    h = [net[0](inputs(50, g)[0]).detach() for _ in range(4)]
    bn = net[1]
    torch.testing.assert_close(bn.running_mean, torch.stack([x.mean(0) for x in h]).mean(0))
    torch.testing.assert_close(bn.running_var, torch.stack([x.var(0, unbiased=True) for x in h]).mean(0))
    assert bn.momentum == 0.1 and not net.training  # restored, left in eval mode
    for a, b in zip(before, net.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # weights untouched
    # deterministic and independent of the statistics it starts from
    first = bn.running_mean.clone()
    bn.running_mean.fill_(123.0)
    recompute_batchnorm_stats(net, inputs, batch_size=50, batches=4, seed=11)
    torch.testing.assert_close(bn.running_mean, first, rtol=0, atol=0)


def test_ema_copy_gets_statistics_of_its_own_weights_not_the_live_ones():
    live = _net()
    ema = EMA(live, decay=0.99)
    g = torch.Generator().manual_seed(0)
    for step in range(30):  # the live weights random-walk away from their average
        with torch.no_grad():
            for p in live.parameters():
                p.add_(0.3 * torch.randn(p.shape, generator=g))
            live(torch.randn(64, 3, generator=g) * 3 + 2)  # training mode: updates the live running statistics
        ema.update(live, step)
    torch.testing.assert_close(ema.module[1].running_mean, live[1].running_mean)  # copied from the live net
    recompute_batchnorm_stats(ema.module, lambda n, g: (torch.randn(n, 3, generator=g) * 3 + 2,), 256, batches=8)
    with torch.no_grad():
        h = ema.module[0](torch.randn(4096, 3, generator=torch.Generator().manual_seed(1)) * 3 + 2)
    # now they describe what the averaged first layer actually produces, unlike the live net's
    err_recomputed = (ema.module[1].running_mean - h.mean(0)).abs().max()
    err_live = (live[1].running_mean - h.mean(0)).abs().max()
    scale = float(h.std(0).max())
    assert err_recomputed < 0.1 * scale < err_live


def test_trainer_pictures_and_gankit_sample_use_the_same_recomputed_generator(tmp_path, fast):
    extra = fast + DCGAN_TINY + ["train.steps=12", "train.ema_decay=0.9", "train.sample_every=0",
                                 "train.checkpoint_every=0"]
    trainer = prepare_training("gan-digits", extra, out=tmp_path / "run")
    trainer.fit()
    G = trainer.sampling_players()["G"]
    live_bn = [m for m in trainer.players["G"].modules() if isinstance(m, nn.BatchNorm2d)]
    ema_bn = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    assert ema_bn and not torch.equal(ema_bn[0].running_mean, live_bn[0].running_mean)
    z = torch.randn(8, trainer.cfg.model.latent_dim, generator=torch.Generator().manual_seed(0))
    run = load_run(tmp_path / "run")
    torch.testing.assert_close(trainer.game.generate({"z": z}, {"G": G}), run.generate({"z": z}),
                               rtol=0, atol=1e-6)  # NHWC vs NCHW kernels
    # "live" keeps the copied statistics: different pictures from the same checkpoint's weights
    trainer_live = prepare_training("gan-digits", extra + ["train.ema_bn_stats=live"], out=tmp_path / "live")
    trainer_live.fit()
    a = sample(tmp_path / "run", 8, seed=0)
    b = sample(tmp_path / "live", 8, seed=0)
    assert not torch.allclose(a, b)


def test_statistics_do_not_depend_on_the_thread_count():
    from gankit.nets import build_generator
    from gankit.config import load_config

    cfg = load_config("gan-digits")  # the seed's MLP G with BatchNorm1d
    G = build_generator(cfg.model, (1, 16, 16))
    threads = torch.get_num_threads()
    stats = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            recompute_batchnorm_stats(G, lambda k, g: (torch.randn(k, cfg.model.latent_dim, generator=g),), 32)
            stats.append([b.clone() for b in G.buffers()])
    finally:
        torch.set_num_threads(threads)
    for other in stats[1:]:
        for a, b in zip(stats[0], other):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
