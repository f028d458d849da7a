"""Pixel metrics of paired translations (gankit.metrics.paired): L1, PSNR and SSIM checked against
analytic values, an independent per-window SSIM written with numpy loops, and their properties."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit.metrics.paired import l1, paired_scores, psnr, ssim

C1, C2 = (0.01 * 2.0) ** 2, (0.03 * 2.0) ** 2  # K1 L, K2 L squared with L = 2 ([-1, 1] images)


def _rand(*shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1).to(dtype)


def _ssim_reference(fake: np.ndarray, target: np.ndarray, window: int = 11, sigma: float = 1.5) -> float:
    """SSIM as the authors define it, slowly: the images as 8-bit intensities [0, 255] with L = 255,
    every valid window position visited in a Python loop, the weighted moments summed explicitly."""
    a = (fake.astype(np.float64) + 1) * 127.5
    b = (target.astype(np.float64) + 1) * 127.5
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    r = np.arange(window) - window // 2
    yy, xx = np.meshgrid(r, r, indexing="ij")
    wgt = np.exp(-(xx ** 2 + yy ** 2) / (2 * sigma ** 2))
    wgt /= wgt.sum()
    per_image = []
    for img_a, img_b in zip(a, b):
        values = []
        for pa, pb in zip(img_a, img_b):  # channels
            h, w = pa.shape
            for i in range(h - window + 1):
                for j in range(w - window + 1):
                    wa, wb = pa[i:i + window, j:j + window], pb[i:i + window, j:j + window]
                    mu_a, mu_b = (wgt * wa).sum(), (wgt * wb).sum()
                    var_a = (wgt * (wa - mu_a) ** 2).sum()
                    var_b = (wgt * (wb - mu_b) ** 2).sum()
                    cov = (wgt * (wa - mu_a) * (wb - mu_b)).sum()
                    values.append((2 * mu_a * mu_b + c1) * (2 * cov + c2)
                                  / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)))
        per_image.append(np.mean(values))
    return float(np.mean(per_image))


# ----------------------------------------------------------------------------------------------
# L1 and PSNR
# ----------------------------------------------------------------------------------------------

def test_identical_images():
    x = _rand(3, 2, 12, 12)
    assert l1(x, x) == 0.0
    assert psnr(x, x) == math.inf
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-12)
    assert paired_scores(x, x) == {"l1": 0.0, "psnr": math.inf, "ssim": pytest.approx(1.0, abs=1e-12)}


def test_l1_is_the_mean_absolute_error_in_unit_range():
    x = _rand(4, 3, 8, 8)
    assert l1(x + 0.25, x) == pytest.approx(0.25, rel=1e-12)
    assert l1(torch.ones(2, 1, 4, 4), -torch.ones(2, 1, 4, 4)) == 2.0
    # Half the pixels off by 0.5, the others exact: 0.25.
    y = x.clone()
    y[:, :, :, :4] += 0.5
    assert l1(y, x) == pytest.approx(0.25, rel=1e-12)
    assert l1(y, x) == pytest.approx(float((y - x).abs().mean()), rel=1e-12)


def test_psnr_of_a_uniform_error():
    x = _rand(5, 1, 8, 8, seed=1)
    for e in (0.5, 0.1, 0.01):
        assert psnr(x + e, x) == pytest.approx(10 * math.log10(4 / e ** 2), rel=1e-12)
        assert psnr(x - e, x) == pytest.approx(10 * math.log10(4 / e ** 2), rel=1e-12)
    assert psnr(x + 0.1, x, data_range=1.0) == pytest.approx(20.0, rel=1e-12)


def test_psnr_averages_per_image_values_and_an_exact_match_is_infinite():
    x = _rand(2, 3, 6, 6, seed=2)
    errors = torch.tensor([0.5, 0.05], dtype=torch.float64).view(2, 1, 1, 1)
    want = np.mean([10 * math.log10(4 / 0.5 ** 2), 10 * math.log10(4 / 0.05 ** 2)])  # not PSNR of the mean MSE
    assert psnr(x + errors, x) == pytest.approx(want, rel=1e-12)
    y = x.clone()
    y[1] += 0.1
    assert psnr(y, x) == math.inf  # image 0 is exact


# ----------------------------------------------------------------------------------------------
# SSIM
# ----------------------------------------------------------------------------------------------

def test_ssim_of_constant_images_is_the_luminance_term():
    for a, b in ((-0.5, 0.25), (0.9, 0.8), (-1.0, 1.0), (0.0, -0.3)):
        fake = torch.full((2, 3, 16, 16), a, dtype=torch.float64)
        target = torch.full((2, 3, 16, 16), b, dtype=torch.float64)
        mx, my = a + 1, b + 1  # the intensities in [0, 2] that SSIM reads
        want = (2 * mx * my + C1) / (mx ** 2 + my ** 2 + C1)
        assert ssim(fake, target) == pytest.approx(want, rel=1e-12, abs=1e-14)


def test_ssim_matches_a_per_window_reference_on_random_images():
    fake = _rand(2, 2, 15, 17, seed=3)
    target = (0.6 * fake + 0.4 * _rand(2, 2, 15, 17, seed=4)).clamp(-1, 1)
    want = _ssim_reference(fake.numpy(), target.numpy())
    assert 0.2 < want < 0.95
    assert ssim(fake, target) == pytest.approx(want, rel=1e-10)
    assert ssim(fake.float(), target.float()) == pytest.approx(want, rel=1e-5)  # float32 in, float64 inside


def test_ssim_of_images_smaller_than_the_window_shrinks_it():
    fake = _rand(3, 1, 7, 9, seed=5)
    target = (fake + 0.3 * _rand(3, 1, 7, 9, seed=6)).clamp(-1, 1)
    assert ssim(fake, target) == pytest.approx(_ssim_reference(fake.numpy(), target.numpy(), window=7), rel=1e-10)
    tiny_f, tiny_t = _rand(2, 1, 4, 6, seed=7), _rand(2, 1, 4, 6, seed=8)  # even side 4: window 3
    assert ssim(tiny_f, tiny_t) == pytest.approx(_ssim_reference(tiny_f.numpy(), tiny_t.numpy(), window=3), rel=1e-10)


def test_ssim_properties():
    x = _rand(4, 3, 20, 20, seed=9)
    noise = _rand(4, 3, 20, 20, seed=10)
    values = [ssim((x + s * noise).clamp(-1, 1), x) for s in (0.05, 0.2, 0.5, 1.0)]
    assert all(a > b for a, b in zip(values, values[1:])) and values[0] < 1
    assert ssim(-x, x) < 0  # anticorrelated structure
    y = (x + 0.3 * noise).clamp(-1, 1)
    assert ssim(x, y) == pytest.approx(ssim(y, x), rel=1e-14)
    assert l1(x, y) == pytest.approx(l1(y, x), rel=1e-14) and psnr(x, y) == pytest.approx(psnr(y, x), rel=1e-14)
    # The mean over images of per-image values, each channel on its own.
    per_image = [ssim(x[i:i + 1], y[i:i + 1]) for i in range(4)]
    assert ssim(x, y) == pytest.approx(np.mean(per_image), rel=1e-12)
    per_channel = [ssim(x[:, c:c + 1], y[:, c:c + 1]) for c in range(3)]
    assert ssim(x, y) == pytest.approx(np.mean(per_channel), rel=1e-12)


# ----------------------------------------------------------------------------------------------
# Batching and paired_scores
# ----------------------------------------------------------------------------------------------

def test_results_do_not_depend_on_the_batch_size():
    fake = _rand(23, 3, 16, 16, seed=11, dtype=torch.float32)
    target = _rand(23, 3, 16, 16, seed=12, dtype=torch.float32)
    full = paired_scores(fake, target, batch_size=500)
    for bs in (1, 4, 7, 23):
        assert paired_scores(fake, target, batch_size=bs) == pytest.approx(full, rel=1e-13)
        assert l1(fake, target, batch_size=bs) == pytest.approx(full["l1"], rel=1e-13)
        assert psnr(fake, target, batch_size=bs) == pytest.approx(full["psnr"], rel=1e-13)
        assert ssim(fake, target, batch_size=bs) == pytest.approx(full["ssim"], rel=1e-13)
    assert set(full) == {"l1", "psnr", "ssim"} and all(isinstance(v, float) for v in full.values())
    assert full == pytest.approx({"l1": l1(fake, target), "psnr": psnr(fake, target), "ssim": ssim(fake, target)},
                                 rel=1e-14)


def test_bad_inputs():
    x = _rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="one shape"):
        l1(x, x[:1])
    with pytest.raises(ValueError, match="one shape"):
        ssim(x[0], x[0])
    with pytest.raises(ValueError, match="no images"):
        psnr(x[:0], x[:0])
    with pytest.raises(ValueError, match="batch_size"):
        paired_scores(x, x, batch_size=0)
