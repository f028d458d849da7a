"""Pixel metrics of translations against their paired targets: L1, PSNR and SSIM.

Pure functions of two image tensors ``fake`` and ``target`` of the same shape (N, C, H, W) in the
networks' [-1, 1] range (any float dtype, any device). Everything is computed in float64, one chunk
of at most ``batch_size`` images at a time (fewer for large images, to bound memory); per-image
values are kept and reduced once at the end, so the result does not depend on ``batch_size``.
Results are Python floats. Values outside [-1, 1] are used as they are (not clipped).

- :func:`l1`: mean absolute error over every pixel and channel, in [-1, 1] units (as pix2pix
  reports it): 0 for identical images, 2 for opposite extremes.
- :func:`psnr`: per image, 10 log10(L² / MSE) with L = ``data_range`` (2 for [-1, 1]), averaged over
  the images. An image identical to its target (MSE 0) has PSNR +inf, so the mean is +inf too.
- :func:`ssim`: Wang, Bovik, Sheikh & Simoncelli 2004, as the authors' reference code
  ``ssim_index.m``: an 11x11 Gaussian window with sigma 1.5 (normalised to sum 1), K1 = 0.01,
  K2 = 0.03, C1 = (K1 L)², C2 = (K2 L)², local statistics over the valid region only (no padding,
  ``filter2(..., 'valid')``), each channel on its own; the SSIM map is averaged over pixels and
  channels, then over images. The images are shifted to [0, 2] (x + 1) first: SSIM is unchanged
  when intensities and L are scaled together, but not when intensities are shifted, and on [0, 2]
  with L = 2 it equals the authors' SSIM of the same images as 8-bit [0, 255] with L = 255 (the
  luminance term assumes non-negative intensities). Images smaller than 11 px on a side use a
  window of the largest odd size that fits, same sigma (1.5). The authors' later ``ssim.m`` also
  downsamples images larger than 256 px; that is not done here.
"""
from __future__ import annotations

import torch

__all__ = ["l1", "psnr", "ssim", "paired_scores", "SSIM_WINDOW", "SSIM_SIGMA", "SSIM_K1", "SSIM_K2"]

SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03
_CHUNK_VALUES = 1 << 22  # 32 MiB of float64 per image tensor per chunk: 500 images of 3x32x32, 21 of 3x256x256


def _check(fake: torch.Tensor, target: torch.Tensor) -> None:
    if not isinstance(fake, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError("fake and target must be torch tensors")
    if fake.dim() != 4 or fake.shape != target.shape:
        raise ValueError(f"fake and target must be (N, C, H, W) of one shape, got {tuple(fake.shape)} "
                         f"and {tuple(target.shape)}")
    if fake.shape[0] == 0:
        raise ValueError("no images")


def _chunks(fake: torch.Tensor, target: torch.Tensor, batch_size: int):
    """float64 chunks of at most ``batch_size`` images and at most _CHUNK_VALUES values each (SSIM
    holds about 10 planes per image plane at once)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    step = max(1, min(batch_size, _CHUNK_VALUES // fake[0].numel()))
    for s in range(0, fake.shape[0], step):
        yield (fake[s:s + step].detach().to(torch.float64),
               target[s:s + step].detach().to(torch.float64))


def _abs_error_sums(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).abs().flatten(1).sum(1)


def _mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).square().flatten(1).mean(1)


def _psnr_values(mse: torch.Tensor, data_range: float) -> torch.Tensor:
    # 10 log10(L² / 0) = +inf for an exact match (torch gives inf for a positive number over 0).
    return 10.0 * torch.log10((data_range * data_range) / mse)


def _gaussian_window(size: int, sigma: float, device) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    w = torch.exp(-x * x / (2 * sigma * sigma))
    return w / w.sum()  # the 2-D window is the outer product: fspecial('gaussian', size, sigma)


def _valid_filter(x: torch.Tensor, taps: torch.Tensor, dim: int) -> torch.Tensor:
    """Valid correlation with a 1-D kernel along ``dim``, as a sum of shifted slices (several times
    faster than a float64 conv2d on CPU, and exactly per image)."""
    weights = taps.tolist()
    n = x.shape[dim] - len(weights) + 1
    out = x.narrow(dim, 0, n) * weights[0]
    for i, wt in enumerate(weights[1:], 1):
        out.add_(x.narrow(dim, i, n), alpha=wt)
    return out


def _window_size(h: int, w: int) -> int:
    size = min(SSIM_WINDOW, h, w)
    return size if size % 2 == 1 else size - 1


def _ssim_values(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """Per-image SSIM of float64 (n, C, H, W) images in [-1, 1]."""
    n, c, h, w = x.shape
    size = _window_size(h, w)
    g = _gaussian_window(size, SSIM_SIGMA, x.device)
    x, y = x + 1.0, y + 1.0  # [-1, 1] -> [0, 2]: see the module docstring
    # The five local moments at once through the separable window, valid positions only.
    planes = torch.stack([x, y, x * x, y * y, x * y], 2)                # (n, c, 5, h, w)
    moments = _valid_filter(_valid_filter(planes, g, 4), g, 3)
    mx, my, exx, eyy, exy = moments.unbind(2)
    vx, vy, cxy = exx - mx * mx, eyy - my * my, exy - mx * my
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return smap.flatten(1).mean(1)


def l1(fake: torch.Tensor, target: torch.Tensor, *, batch_size: int = 500) -> float:
    """Mean absolute error over all pixels and channels, in [-1, 1] units."""
    _check(fake, target)
    sums = torch.cat([_abs_error_sums(x, y).cpu() for x, y in _chunks(fake, target, batch_size)])
    return float(sums.sum() / fake[0].numel() / fake.shape[0])


def psnr(fake: torch.Tensor, target: torch.Tensor, data_range: float = 2.0, *, batch_size: int = 500) -> float:
    """Mean over images of 10 log10(data_range² / MSE) in dB (+inf if any image equals its target)."""
    _check(fake, target)
    values = torch.cat([_psnr_values(_mse(x, y), data_range).cpu() for x, y in _chunks(fake, target, batch_size)])
    return float(values.mean())


def ssim(fake: torch.Tensor, target: torch.Tensor, data_range: float = 2.0, *, batch_size: int = 500) -> float:
    """Mean over images of SSIM (Wang et al. 2004; the conventions are in the module docstring)."""
    _check(fake, target)
    values = torch.cat([_ssim_values(x, y, data_range).cpu() for x, y in _chunks(fake, target, batch_size)])
    return float(values.mean())


def paired_scores(fake: torch.Tensor, target: torch.Tensor, batch_size: int = 500,
                  data_range: float = 2.0) -> dict[str, float]:
    """``{"l1", "psnr", "ssim"}`` of ``fake`` against ``target`` in one pass over the images."""
    _check(fake, target)
    abs_sums, psnrs, ssims = [], [], []
    for x, y in _chunks(fake, target, batch_size):
        abs_sums.append(_abs_error_sums(x, y).cpu())
        psnrs.append(_psnr_values(_mse(x, y), data_range).cpu())
        ssims.append(_ssim_values(x, y, data_range).cpu())
    n = fake.shape[0]
    return {"l1": float(torch.cat(abs_sums).sum() / fake[0].numel() / n),
            "psnr": float(torch.cat(psnrs).mean()),
            "ssim": float(torch.cat(ssims).mean())}
