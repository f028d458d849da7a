"""The throughput benchmark's reference loop: its data pipeline is what it claims to be."""
import torch


def test_seed_style_pipeline_gives_torchvision_values_and_resizes_like_it(benchmark_module):
    bench = benchmark_module("throughput")
    g = torch.Generator().manual_seed(0)
    u8 = torch.randint(0, 256, (7, 1, 28, 28), dtype=torch.uint8, generator=g)
    u8[0, 0, 0, 0], u8[0, 0, 0, 1] = 0, 255
    faithful, lean = bench.SeedStyleMNIST(u8, 28), bench.LeanSeedStyleMNIST(u8)
    assert len(faithful) == 7
    for i in range(7):
        x, target = faithful[i]
        assert x.dtype == torch.float32 and x.shape == (1, 28, 28) and target == 0 and isinstance(target, int)
        # ToTensor then Normalize([0.5], [0.5]): u8 / 255 mapped to [-1, 1], the same bits as the lean decoding
        assert torch.equal(x, (u8[i].float() / 255 - 0.5) / 0.5)
        assert torch.equal(x, lean[i][0])
    assert faithful[0][0][0, 0, 0] == -1 and faithful[0][0][0, 0, 1] == 1
    # Resize(32) on 28 px (PyTorch-GAN's dcgan.py) really resizes, bilinearly: a constant image stays constant
    x32, _ = bench.SeedStyleMNIST(torch.full((1, 1, 28, 28), 51, dtype=torch.uint8), 32)[0]
    assert x32.shape == (1, 32, 32)
    assert torch.allclose(x32, torch.full_like(x32, (51 / 255 - 0.5) / 0.5))
    # the source image is never changed in place (Normalize works on a clone)
    assert torch.equal(faithful.data[3], u8[3, 0])


def test_reference_loop_prints_the_seed_losses_every_batch(benchmark_module, tmp_path, monkeypatch):
    """The seed-style loop trains the seed's way: its per-batch print shows both BCE losses, which
    start near ln 2 for a fresh D; the lean row (the reference before 2026-12-03) prints nothing."""
    import math
    import os
    import re

    bench = benchmark_module("throughput")
    torch.manual_seed(0)
    terminal = tmp_path / "terminal.txt"
    monkeypatch.setattr(os, "devnull", str(terminal))
    assert bench.reference_rate("gan-mnist", warmup=1, iters=2) > 0
    lines = terminal.read_text().splitlines()
    assert len(lines) == 3  # warmup + timed batches
    for line in lines:
        d_loss, g_loss = map(float, re.fullmatch(r"\[Batch \d+\] \[D loss: (\S+)\] \[G loss: (\S+)\]", line).groups())
        assert abs(d_loss - math.log(2)) < 0.2 and abs(g_loss - math.log(2)) < 0.3
    terminal.unlink()
    assert bench.reference_rate("gan-mnist", warmup=1, iters=2, lean=True) > 0
    assert terminal.read_text() == ""
