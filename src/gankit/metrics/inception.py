"""The Inception-v3 of the TensorFlow FID reference, weight-compatible with pytorch-fid.

FID numbers are only comparable when they come from the very network that the original TensorFlow
code used (the 2015-12-05 graph, 1008 classes). pytorch-fid ported its weights to
``pt_inception-2015-12-05-6726825d.pth``; :class:`FIDInceptionV3` reproduces that network layer by layer
with the same parameter names, so the file loads with ``strict=True`` unchanged.

The graph differs from the ImageNet Inception-v3 of torchvision in three places, all reproduced here:

* the pool branch of the 35x35 (``Mixed_5*``), 17x17 (``Mixed_6b``-``6e``) and first 8x8 block
  (``Mixed_7b``) averages over the valid pixels only (TensorFlow's ``SAME`` average pool, i.e.
  ``count_include_pad=False``);
* the pool branch of the last block (``Mixed_7c``) is a 3x3 *max* pool;
* the classifier has 1008 outputs (ImageNet's 1000 plus 8 unused).

Nothing is downloaded: :func:`find_inception_weights` looks for the file in an explicit path,
``$GANKIT_INCEPTION_WEIGHTS`` and torch hub's checkpoint folder (where pytorch-fid caches it).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GankitError

__all__ = ["FIDInceptionV3", "find_inception_weights", "load_fid_inception", "WEIGHTS_NAME", "WEIGHTS_ENV"]

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_ENV = "GANKIT_INCEPTION_WEIGHTS"
INPUT_SIZE = 299


class ConvBN(nn.Module):
    """Bias-free convolution, BatchNorm (eps 1e-3, as in the TensorFlow graph) and ReLU."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg3(x):
    # TensorFlow's SAME average pool: padded pixels are not counted in the mean.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class Block35(nn.Module):
    """35x35 block (``Mixed_5b``-``5d``): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1."""

    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = ConvBN(cin, 64, 1)
        self.branch5x5_1 = ConvBN(cin, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(cin, pool_features, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        d = self.branch_pool(_avg3(x))
        return torch.cat([a, b, c, d], 1)


class Reduce35(nn.Module):
    """35x35 -> 17x17 (``Mixed_6a``): 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = ConvBN(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        c = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([a, b, c], 1)


class Block17(nn.Module):
    """17x17 block (``Mixed_6b``-``6e``) with 7x7 convolutions factorised into 1x7 and 7x1."""

    def __init__(self, cin: int, c7: int):
        super().__init__()
        row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        self.branch1x1 = ConvBN(cin, 192, 1)
        self.branch7x7_1 = ConvBN(cin, c7, 1)
        self.branch7x7_2 = ConvBN(c7, c7, **row)
        self.branch7x7_3 = ConvBN(c7, 192, **col)
        self.branch7x7dbl_1 = ConvBN(cin, c7, 1)
        self.branch7x7dbl_2 = ConvBN(c7, c7, **col)
        self.branch7x7dbl_3 = ConvBN(c7, c7, **row)
        self.branch7x7dbl_4 = ConvBN(c7, c7, **col)
        self.branch7x7dbl_5 = ConvBN(c7, 192, **row)
        self.branch_pool = ConvBN(cin, 192, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            c = layer(c)
        d = self.branch_pool(_avg3(x))
        return torch.cat([a, b, c, d], 1)


class Reduce17(nn.Module):
    """17x17 -> 8x8 (``Mixed_7a``): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = ConvBN(cin, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(cin, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b = layer(b)
        c = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([a, b, c], 1)


class Block8(nn.Module):
    """8x8 block (``Mixed_7b``, ``7c``) with split 1x3/3x1 heads; ``pool`` is "avg" or "max"."""

    def __init__(self, cin: int, pool: str):
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', not {pool!r}")
        self.pool = pool
        self.branch1x1 = ConvBN(cin, 320, 1)
        self.branch3x3_1 = ConvBN(cin, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(cin, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(cin, 192, 1)

    def extra_repr(self) -> str:
        return f"pool={self.pool}"

    def forward(self, x):
        a = self.branch1x1(x)
        t = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(t), self.branch3x3_2b(t)], 1)
        t = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        c = torch.cat([self.branch3x3dbl_3a(t), self.branch3x3dbl_3b(t)], 1)
        if self.pool == "avg":
            p = _avg3(x)
        else:
            p = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        d = self.branch_pool(p)
        return torch.cat([a, b, c, d], 1)


class FIDInceptionV3(nn.Module):
    """Inception-v3 of the TensorFlow FID code; parameter names as in pytorch-fid's ``fid_inception_v3``.

    ``forward(x)`` takes images ``(N, C, H, W)`` in [-1, 1] with C = 1 (repeated to RGB) or 3, of any
    size, and returns ``{"pool": (N, 2048), "logits": (N, 1008)}``: the pool3 features after the final
    global average pool (what FID and KID use) and the classifier's logits (Inception Score).
    """

    num_features = 2048
    num_classes = 1008

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = Block35(192, pool_features=32)
        self.Mixed_5c = Block35(256, pool_features=64)
        self.Mixed_5d = Block35(288, pool_features=64)
        self.Mixed_6a = Reduce35(288)
        self.Mixed_6b = Block17(768, c7=128)
        self.Mixed_6c = Block17(768, c7=160)
        self.Mixed_6d = Block17(768, c7=160)
        self.Mixed_6e = Block17(768, c7=192)
        self.Mixed_7a = Reduce17(768)
        self.Mixed_7b = Block8(1280, pool="avg")
        self.Mixed_7c = Block8(2048, pool="max")
        self.fc = nn.Linear(self.num_features, self.num_classes)

    @staticmethod
    def preprocess(x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images of any size -> the network's 3x299x299 input in [-1, 1].

        pytorch-fid is given [0, 1] images, resizes them, then maps them to [-1, 1] with 2x - 1. The
        same steps in the same order are taken here (after the [-1, 1] -> [0, 1] map), so the
        features agree with pytorch-fid's to float rounding.
        """
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"expected images (N, 1 or 3, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (x + 1) / 2
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return 2 * x - 1

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pool3 features (N, 2048) of an already preprocessed input (N, 3, 299, 299)."""
        x = self.Conv2d_1a_3x3(x)
        x = self.Conv2d_2a_3x3(x)
        x = self.Conv2d_2b_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_3b_1x1(x)
        x = self.Conv2d_4a_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                      self.Mixed_7c):
            x = block(x)
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        pool = self.features(self.preprocess(x))
        return {"pool": pool, "logits": self.fc(pool)}


def _hub_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME


def find_inception_weights(path: str | os.PathLike | None = None) -> Path:
    """The FID Inception weight file, never downloaded: ``path`` if given (it must exist); otherwise
    ``$GANKIT_INCEPTION_WEIGHTS`` (if set) and torch hub's ``checkpoints/pt_inception-2015-12-05-6726825d.pth``
    (where pytorch-fid caches it); the first existing file wins. Raises :class:`GankitError` naming
    every place looked when there is none.
    """
    places: list[Path] = []
    looked: list[str] = []
    if path is not None and str(path) != "":
        given = Path(path).expanduser()
        if not given.is_file():  # a path the user typed must exist: falling back would hide the typo
            raise GankitError(f"--inception-weights {str(given)!r} does not exist")
        return given
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        places.append(Path(env).expanduser())
        looked.append(f"${WEIGHTS_ENV} {places[-1]}")
    else:
        looked.append(f"${WEIGHTS_ENV} (unset)")
    hub = _hub_weights_path()
    places.append(hub)
    looked.append(f"torch hub cache {hub}")
    for p in places:
        if p.is_file():
            return p
    where = "; ".join(looked)
    raise GankitError(f"FID Inception weights {WEIGHTS_NAME} not found (looked at: {where}); copy "
                      f"pytorch-fid's {WEIGHTS_NAME} to {hub}, set ${WEIGHTS_ENV}=PATH, or pass "
                      f"--inception-weights PATH")


def load_fid_inception(path: str | os.PathLike | None = None, device="cpu") -> FIDInceptionV3:
    """:class:`FIDInceptionV3` with the weights of :func:`find_inception_weights` ``(path)``, in eval
    mode, without gradients, on ``device``."""
    file = find_inception_weights(path)
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated file, a non-torch file, a pickle with arbitrary objects
        msg = " ".join(str(e).split())[:200]
        raise GankitError(f"{file}: not a readable torch weight file ({type(e).__name__}: {msg})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GankitError(f"{file}: not a state dict of tensors (expected pytorch-fid's {WEIGHTS_NAME})")
    model = FIDInceptionV3()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        missing = sorted(set(model.state_dict()) - set(state))
        extra = sorted(set(state) - set(model.state_dict()))
        detail = (f"{len(missing)} missing keys (e.g. {missing[0]})" if missing else
                  f"{len(extra)} unexpected keys (e.g. {extra[0]})" if extra else
                  " ".join(str(e).split("\n")[1:2]).strip()[:200] or "shape mismatch")
        raise GankitError(f"{file}: does not match the FID Inception-v3 ({detail}; expected pytorch-fid's "
                          f"{WEIGHTS_NAME})") from None
    model.eval().requires_grad_(False)
    return model.to(device)
