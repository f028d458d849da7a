"""Golden outputs of pytorch-fid's FID Inception-v3 for ``tests/test_inception.py``.

Run in the reference virtualenv (torch, torchvision, pytorch-fid installed), from anywhere:

    /tmp/goldenv/bin/python tests/golden/make_inception_golden.py

Nothing is downloaded: pytorch-fid's ``load_state_dict_from_url`` is replaced by a function returning
seeded random weights (``inception_weights.py``, shared with the test), so the reference network is
built by pytorch-fid's own ``fid_inception_v3()`` and ``InceptionV3`` wrapper, code path unchanged.

Writes ``inception_golden.npz`` next to itself: the reference pool3 features (pytorch-fid's
``InceptionV3(output_blocks=[3])`` given the [0, 1] images ``(x + 1) / 2``) and logits (the ``fc``
output of the same network) for a 3x3x64x64 RGB batch, a 2x1x28x28 grayscale batch (repeated to 3
channels, as a user of pytorch-fid would) and one 3x384x384 image (downsampled), plus the sorted
state-dict key count and hash and the library versions (a JSON string under ``about``). Inputs are
regenerated from seeds, never stored.
"""
from __future__ import annotations

import json
import platform
import sys
from importlib.metadata import version
from pathlib import Path
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import inception_weights as W  # noqa: E402

import pytorch_fid.inception as PI  # noqa: E402

# name -> (n, channels, size, seed); images in [-1, 1] from inception_weights.images
# rgb384 is downsampled to 299: it would catch an antialiased resize (pytorch-fid has none).
CASES = {"rgb64": (3, 3, 64, 1), "gray28": (2, 1, 28, 2), "rgb384": (1, 3, 384, 3)}


def reference_weights() -> dict[str, torch.Tensor]:
    # The FID blocks subclass torchvision's with the same constructor arguments, so this model has the
    # key names and shapes of fid_inception_v3(); its strict load_state_dict below checks that.
    shapes_model = torchvision.models.Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    shapes = {k: tuple(v.shape) for k, v in shapes_model.state_dict().items()}
    return {k: torch.from_numpy(v) for k, v in W.random_state_dict(shapes).items()}


def main() -> None:
    torch.set_num_threads(2)
    state = reference_weights()

    def fake_download(url, progress=True, **_):
        assert url == PI.FID_WEIGHTS_URL, url
        return {k: v.clone() for k, v in state.items()}

    with mock.patch.object(PI, "load_state_dict_from_url", fake_download):
        net = PI.fid_inception_v3().eval()  # loads with strict=True
        wrapper = PI.InceptionV3(output_blocks=[3], resize_input=True, normalize_input=True).eval()
    keys = sorted(net.state_dict())
    out: dict[str, np.ndarray] = {"n_keys": np.array(len(keys)), "key_hash": np.array(W.key_hash(keys))}
    with torch.no_grad():
        for name, (n, c, size, seed) in CASES.items():
            x = torch.from_numpy(W.images(n, c, size, seed))  # [-1, 1], gankit's range
            if c == 1:
                x = x.repeat(1, 3, 1, 1)
            x01 = (x + 1) / 2  # pytorch-fid's input range
            pool = wrapper(x01)[0].flatten(1)
            # Logits: the full torchvision forward of the same network on the input the wrapper builds.
            net_in = 2 * F.interpolate(x01, size=(299, 299), mode="bilinear", align_corners=False) - 1
            logits = net(net_in)
            fc_of_pool = net.fc(pool)
            gap = float((fc_of_pool - logits).abs().max())
            assert gap < 1e-4, f"{name}: wrapper pool and full forward disagree ({gap})"
            out[f"{name}_pool"] = pool.numpy().astype(np.float32)
            out[f"{name}_logits"] = logits.numpy().astype(np.float32)
            print(f"{name}: pool mean {pool.mean():.4f} std {pool.std():.4f} max {pool.max():.4f}; "
                  f"logits std {logits.std():.4f}; |fc(pool) - logits| {gap:.2e}", file=sys.stderr)
    about = {
        "about": "Reference outputs of pytorch-fid's FID Inception-v3 with seeded random weights "
                 "(tests/golden/inception_weights.py) for tests/test_inception.py.",
        "command": "/tmp/goldenv/bin/python tests/golden/make_inception_golden.py",
        "cases": {k: dict(zip(("n", "channels", "size", "seed"), v)) for k, v in CASES.items()},
        "weights_seed": W.SEED,
        "reference": "pytorch_fid.inception.InceptionV3(output_blocks=[3], resize_input=True, "
                     "normalize_input=True) on (x + 1) / 2; logits = fid_inception_v3() forward",
        "libraries": {name: version(name) for name in ("pytorch-fid", "torch", "torchvision", "numpy")},
        "python": platform.python_version(),
    }
    out["about"] = np.array(json.dumps(about, sort_keys=True))
    np.savez_compressed(HERE / "inception_golden.npz", **out)
    print(f"wrote {HERE / 'inception_golden.npz'} ({(HERE / 'inception_golden.npz').stat().st_size} bytes)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
