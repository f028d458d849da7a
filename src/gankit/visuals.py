"""Pictures to look at and share: latent interpolations, latent arithmetic, a film of training.

- :func:`interpolate` walks the latent space of a noise-driven run between random endpoints: spherical
  interpolation (slerp, White 2016) for Gaussian z, whose mass lies on a shell of radius ~sqrt(d) that
  a straight line cuts through (its midpoint between two orthogonal draws has norm |z| / sqrt 2, a
  latent G hardly ever saw); linear interpolation in W for a style-based run, as StyleGAN does (W is
  not Gaussian, its paths are straight lines). A conditional run keeps each row's class along the row,
  an InfoGAN run each row's codes.
- :func:`arithmetic` is the DCGAN paper's figure 7 on a labelled dataset (Radford et al. 2016): the
  dataset classifier (metrics/classifier.py) reads ``n`` samples, the latents of the ``k`` samples it
  reads most confidently as class A, as B and as C are averaged, and the image of
  mean_A - mean_B + mean_C is drawn with eight neighbours (the result plus 0.25 N(0, I)), each read
  again by the classifier.
- :func:`film` turns the fixed-input previews the trainer saved (``RUN/samples/step-*.png`` and
  ``final.png``) into an animated GIF, one captioned frame per preview.

Every function takes a run directory or checkpoint (or a loaded :class:`gankit.api.Run`) and draws
through the run's own ``game.generate`` (the EMA players where the run kept them); GIFs are written
with Pillow.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .errors import GankitError

Batch = dict[str, torch.Tensor]

#: the noise scale of the neighbours of an arithmetic result (DCGAN paper: z + 0.25 N(0, I))
NEIGHBOUR_NOISE = 0.25
NEIGHBOURS = 8

#: class names by data source (the classifier's class index -> name); sources not listed are named by
#: their class index, folders by their first-level subfolders
_DIGITS = tuple(str(i) for i in range(10))
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "digits": _DIGITS, "mnist": _DIGITS, "fonts": _DIGITS, "mnist-color": _DIGITS, "mnist-attributes": _DIGITS,
    "fashion-mnist": ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                      "ankle boot"),
}

#: default A - B + C per data source: ankle boot - sneaker (the shaft of a boot) + sandal; where no
#: triple is listed, --a/--b/--c are required
DEFAULT_TRIPLES: dict[str, tuple[str, str, str]] = {
    "fashion-mnist": ("ankle boot", "sneaker", "sandal"),
}


# ---------------------------------------------------------------------------------------------------
# paths in latent space


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Linear interpolation: (..., D) endpoints and (T,) fractions -> (..., T, D); t = 0 gives ``a``
    and t = 1 gives ``b`` exactly."""
    t = t.double().view(*([1] * (a.dim() - 1)), -1, 1)
    a64, b64 = a.double().unsqueeze(-2), b.double().unsqueeze(-2)
    return ((1 - t) * a64 + t * b64).to(a.dtype)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for GAN latents): (..., D) endpoints and (T,)
    fractions -> (..., T, D), along the great circle through ``a`` and ``b``: for endpoints of equal
    norm every point keeps that norm (a straight line between orthogonal ones dips to 1/sqrt 2 of it).
    t = 0 gives ``a`` and t = 1 gives ``b`` exactly; (nearly) parallel endpoints are interpolated linearly."""
    a64, b64 = a.double(), b.double()
    na, nb = a64.norm(dim=-1, keepdim=True), b64.norm(dim=-1, keepdim=True)
    cos = ((a64 / na.clamp_min(1e-300)) * (b64 / nb.clamp_min(1e-300))).sum(-1, keepdim=True).clamp(-1, 1)
    omega = torch.arccos(cos).unsqueeze(-2)                        # (..., 1, 1)
    so = torch.sin(omega)
    t64 = t.double().view(*([1] * (a.dim() - 1)), -1, 1)           # (..., T, 1)
    safe = so.abs() > 1e-6
    so_safe = torch.where(safe, so, torch.ones_like(so))
    wa = torch.where(safe, torch.sin((1 - t64) * omega) / so_safe, 1 - t64)
    wb = torch.where(safe, torch.sin(t64 * omega) / so_safe, t64)
    return (wa * a64.unsqueeze(-2) + wb * b64.unsqueeze(-2)).to(a.dtype)


class LatentSpace:
    """Where a run's pictures are walked: z (the game's Gaussian noise) or, for a style-based generator,
    w (the mapping network's output, shared by every layer). ``encode`` takes the game's inputs to
    latents (N, D); ``decode`` draws the images of latents, with the rest of the inputs (classes,
    codes) given in ``others``."""

    def __init__(self, run, what: str):
        game, name = run.game, run.cfg.game.name
        if game.kind == "translation":
            raise GankitError(f"{what}: not available for game {name}: its outputs are computed from input images, "
                              f"it has no latent to walk")
        if game.kind == "sequence":
            raise GankitError(f"{what}: not available for game {name}: it draws token sequences one token at a "
                              f"time, it has no latent to walk")
        if game.kind != "noise":
            raise GankitError(f"{what}: not available for game {name} (outputs of kind {game.kind!r})")
        probe = game.sample_inputs(1, 0)
        if "z" not in probe:
            raise GankitError(f"{what}: not available for game {name}: it draws from {', '.join(sorted(probe))}, "
                              f"not from a latent z")
        self.run, self.game = run, game
        G = run.players.get("G", getattr(game, "G", None))
        self.G = G
        self.style = hasattr(game, "mixing_grid") and hasattr(G, "ws") and hasattr(G, "synthesis")
        self.name = "w" if self.style else "z"
        #: z ~ N(0, I): paths default to slerp; w and a non-Gaussian z (InfoGAN's game.noise=uniform)
        #: default to lerp
        self.gaussian = not self.style and game.gaussian_noise
        shape = self.decode(self.encode(probe), {k: v for k, v in probe.items() if k != "z"}).shape
        if len(shape) != 4:
            raise GankitError(f"{what}: run {name!r} draws points of {shape[1]} coordinates, not images; "
                              f"draw them with gankit sample --out FILE.png (a scatter plot)")

    @torch.no_grad()
    def encode(self, inputs: Batch, batch_size: int = 500) -> torch.Tensor:
        z = inputs["z"]
        if not self.style:
            return z.float().cpu()
        from .games.base import eval_mode, module_device

        dev = module_device(self.G)
        with eval_mode(self.G):  # (eval: the average w is not updated)
            return torch.cat([self.G.ws(z[i:i + batch_size].to(dev))[:, 0].float().cpu()
                              for i in range(0, len(z), batch_size)])

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, others: Batch | None = None, batch_size: int = 500) -> torch.Tensor:
        others = {k: v for k, v in (others or {}).items() if k != "z"}
        if not self.style:
            return self.run.generate({**others, "z": latents}, batch_size)
        from .games.base import eval_mode, module_device

        dev, G = module_device(self.G), self.G
        out = []
        with eval_mode(G):
            for i in range(0, len(latents), batch_size):
                w = latents[i:i + batch_size].to(dev)
                out.append(G.synthesis(w[:, None].expand(-1, G.num_ws, -1)).clamp(-1, 1).float().cpu())
        return torch.cat(out)


def _run(path_or_run, device: str):
    from .api import Run, load_run

    return path_or_run if isinstance(path_or_run, Run) else load_run(path_or_run, device)


# ---------------------------------------------------------------------------------------------------
# interpolate


@dataclass
class Interpolation:
    """Rows of latent paths: ``images`` (rows * steps, C, H, W) row-major (row i is the path from
    endpoint i to endpoint rows + i of ``endpoints``); ``latents`` (rows, steps, D) the path points in
    ``space`` ("z" or "w"); ``endpoints`` the game inputs of the 2 * rows endpoints (``run.generate(
    endpoints)`` draws the first and last columns); ``method`` "slerp" or "lerp"."""

    images: torch.Tensor
    latents: torch.Tensor
    endpoints: Batch
    space: str
    method: str
    rows: int
    steps: int


def interpolate(path, steps: int = 10, rows: int = 8, seed: int = 0, method: str | None = None,
                device: str = "cpu") -> Interpolation:
    """``rows`` latent paths of ``steps`` points between random endpoints (drawn from ``seed``:
    ``game.sample_inputs(2 * rows, seed)``, row i from input i to input rows + i). ``method``: "slerp"
    or "lerp" (default: slerp in a Gaussian z, lerp in a uniform z and in the W of a style-based run). A conditional run
    keeps row i at class i mod K, an InfoGAN run keeps each row's codes (those of its first endpoint)."""
    if not 2 <= steps <= 64:
        raise GankitError(f"--steps {steps}: an interpolation has 2 to 64 steps")
    if not 1 <= rows <= 64:
        raise GankitError(f"--rows {rows}: an interpolation has 1 to 64 rows")
    if method not in (None, "slerp", "lerp"):
        raise GankitError(f"interpolate: method {method!r}: slerp or lerp")
    run = _run(path, device)
    space = LatentSpace(run, "interpolate")
    game = run.game
    labels = None
    if getattr(game, "conditional", False) and getattr(game, "num_classes", None):
        labels = (torch.arange(rows) % game.num_classes).repeat(2)  # start and end of row i: class i mod K
    ends = game.sample_inputs(2 * rows, seed, **({} if labels is None else {"labels": labels}))
    # every input but the noise is the row's own, at both ends (classes, InfoGAN's codes)
    ends = {k: (v if k == "z" else torch.cat([v[:rows], v[:rows]])) for k, v in ends.items()}
    method = method or ("slerp" if space.gaussian else "lerp")
    lat = space.encode(ends)
    t = torch.linspace(0, 1, steps, dtype=torch.float64)
    path_pts = (slerp if method == "slerp" else lerp)(lat[:rows], lat[rows:], t)  # (rows, steps, D)
    path_pts[:, 0], path_pts[:, -1] = lat[:rows], lat[rows:]
    others = {k: v[:rows].repeat_interleave(steps, 0) for k, v in ends.items() if k != "z"}
    images = space.decode(path_pts.flatten(0, 1), others)
    return Interpolation(images, path_pts, ends, space.name, method, rows, steps)


def _upscale_for(width: int, min_size: int = 256) -> int:
    return max(1, math.ceil(min_size / max(1, width)))


def interpolation_frames(res: Interpolation, min_size: int = 256) -> list:
    """The GIF frames of an interpolation: one per step, every row in it (a square-ish grid), played
    forward then back without repeating the ends (2 * steps - 2 frames, a seamless loop); a bar under
    the grid shows where along the path the frame is."""
    from PIL import Image

    from .utils.images import make_grid

    per = res.images.view(res.rows, res.steps, *res.images.shape[1:])
    nrow = max(1, math.ceil(math.sqrt(res.rows)))
    up = _upscale_for(nrow * per.shape[-1], min_size)
    order = list(range(res.steps)) + list(range(res.steps - 2, 0, -1))
    frames = []
    for s in order:
        grid = make_grid(per[:, s], nrow=nrow, upscale=up)
        h, w, c = grid.shape
        bar = np.full((6, w, c), 255, np.uint8)
        bar[1:5, 2:2 + round((w - 4) * s / (res.steps - 1))] = 0
        frame = np.concatenate([grid, bar])
        frames.append(Image.fromarray(frame[..., 0] if c == 1 else frame))
    return frames


def save_gif(frames: Sequence, path: str | Path, fps: float, hold_last: int = 1) -> Path:
    """Write PIL images as an endlessly looping GIF at ``fps`` frames a second (the last one held
    ``hold_last`` times as long), atomically. Frames of another size than the first are resized to it."""
    from PIL import Image

    if not frames:
        raise GankitError("no frames to write")
    if not (math.isfinite(fps) and 0 < fps <= 50):
        raise GankitError(f"--fps {fps:g}: between 0 and 50 frames a second")
    size = frames[0].size
    mode = "RGB" if any(f.mode not in ("L", "1") for f in frames) else "L"
    frames = [f.convert(mode) if f.size == size else f.convert(mode).resize(size, Image.Resampling.NEAREST)
              for f in frames]
    ms = max(20, round(1000 / fps))
    durations = [ms] * len(frames)
    durations[-1] = ms * max(1, hold_last)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    os.replace(tmp, path)
    return path


def save_interpolation(res: Interpolation, out: str | Path, fps: float = 8) -> Path:
    """A .png grid (one row per path, ``steps`` columns) or a .gif (one frame per step)."""
    from .utils.images import save_image_grid

    out = Path(out)
    if out.suffix.lower() == ".gif":
        return save_gif(interpolation_frames(res), out, fps)
    if out.suffix.lower() == ".png":
        return save_image_grid(res.images, out, nrow=res.steps)
    raise GankitError(f"--out {str(out)!r}: give a .png (grid) or .gif (animation) file name")


# ---------------------------------------------------------------------------------------------------
# arithmetic


@dataclass
class Reading:
    """The classifier's reading of one image: its most probable class and that probability."""

    label: int
    name: str
    prob: float

    def __str__(self) -> str:
        return f"{self.name} ({self.prob:.2f})"


@dataclass
class Arithmetic:
    """A - B + C in latent space. ``classes``: the three class names; ``picked``: by class letter, the
    indices (into the ``n`` samples) of the k samples read most confidently as it, ``latents`` their
    latents (k, D), ``sample_images`` their images; ``means`` (3, D) the averages of A, B and C;
    ``result`` (D,) = (mean_A - mean_B) + mean_C; ``neighbours`` (8, D) the result plus noise;
    ``images`` (12, C, H, W) the images of the three means, the result and its neighbours;
    ``readings`` the classifier's reading of each of those 12 (``result_readings``: of the result and
    its neighbours)."""

    classes: tuple[str, str, str]
    space: str
    n: int
    k: int
    picked: dict[str, torch.Tensor]
    latents: dict[str, torch.Tensor]
    sample_images: dict[str, torch.Tensor]
    confidences: dict[str, torch.Tensor]
    means: torch.Tensor
    result: torch.Tensor
    neighbours: torch.Tensor
    noise: float
    images: torch.Tensor
    readings: list[Reading]
    classifier: str = ""

    @property
    def result_readings(self) -> list[Reading]:
        return self.readings[3:]

    def tally(self) -> dict[str, int]:
        """How many of the result and its neighbours the classifier reads as each class (most first)."""
        counts: dict[str, int] = {}
        for r in self.result_readings:
            counts[r.name] = counts.get(r.name, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def class_names(data_cfg, num_classes: int | None = None) -> tuple[str, ...] | None:
    """The names of a dataset's classes by index (None where unknown and ``num_classes`` is not
    given): the table above, a folder's sorted first-level subfolders, else the class indices."""
    names = CLASS_NAMES.get(data_cfg.name)
    if names is None and data_cfg.name == "folder" and data_cfg.path:
        root = Path(data_cfg.path).expanduser()
        subs = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        names = tuple(subs) if len(subs) >= 2 else None
    if names is not None and num_classes is not None and len(names) != num_classes:
        names = None
    if names is None and num_classes is not None:
        names = tuple(str(i) for i in range(num_classes))
    return names


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def find_class(text: str, names: Sequence[str], flag: str = "--a") -> int:
    """The index of class ``text`` among ``names``: its name (case, spaces, hyphens and underscores
    ignored; one part of a name with a slash, e.g. "top" or "t-shirt"), or its index."""
    key = _norm(str(text))
    for i, name in enumerate(names):
        if key and (_norm(name) == key or key in (_norm(part) for part in name.split("/"))):
            return i
    if str(text).strip().isdigit() and int(text) < len(names):
        return int(text)
    raise GankitError(f"{flag} {text!r}: not a class of this run's data; its classes: {', '.join(names)}")


@torch.no_grad()
def read_classes(clf, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Class probabilities (N, K) of ``images`` (N, C, H, W) in [-1, 1] by a dataset classifier (a
    :class:`gankit.metrics.classifier.TrainedClassifier`: its model gives (features, logits))."""
    from .games.base import eval_mode, module_device

    model = clf.model
    dev = module_device(model)
    with eval_mode(model):
        return torch.cat([model(images[i:i + batch_size].to(dev, torch.float32))[1].float().softmax(1).cpu()
                          for i in range(0, len(images), batch_size)])


def _refuse_conditional(run) -> None:
    game, name = run.game, run.cfg.game.name
    extra = sorted(set(game.sample_inputs(1, 0)) - {"z", "psi"})
    if getattr(game, "conditional", False) or "y" in extra:
        raise GankitError(f"arithmetic: not available for a class-conditional run (game {name}): the class input "
                          f"y, not z, sets the class, so class averages of z alone mean nothing; show the classes "
                          f"with gankit sample --classes all")
    if extra:
        raise GankitError(f"arithmetic: not available for game {name}: its generator also takes {', '.join(extra)}, "
                          f"which set what is drawn, so averages of z alone mean nothing")


def arithmetic(path, a: str | None = None, b: str | None = None, c: str | None = None, n: int = 2000, k: int = 3,
               seed: int = 0, device: str = "cpu", noise: float = NEIGHBOUR_NOISE, verbose: bool = True) -> Arithmetic:
    """Latent arithmetic A - B + C (DCGAN paper, fig. 7) read by the dataset classifier: ``n`` samples
    from ``seed``; per class the ``k`` samples it reads as that class most confidently, their latents
    averaged; the result (mean_A - mean_B) + mean_C and 8 neighbours, the result plus ``noise`` N(0, I)
    (in w, noise times each coordinate's spread over the n samples), drawn from seed + 1. Classes are
    names (or indices) of the run's data; defaults: :data:`DEFAULT_TRIPLES`."""
    if not 1 <= k <= 64:
        raise GankitError(f"--k {k}: average 1 to 64 samples per class")
    if n < 3 * k:
        raise GankitError(f"--n {n}: draw at least 3 x k = {3 * k} samples")
    if not (math.isfinite(noise) and noise >= 0):
        raise GankitError(f"arithmetic: noise {noise}: a number >= 0")
    run = _run(path, device)
    space = LatentSpace(run, "arithmetic")
    _refuse_conditional(run)
    data = run.cfg.data
    names = class_names(data)
    if names is not None:  # the class names are checked before a classifier is loaded (or trained)
        triple = _triple(a, b, c, names, data.name)
    from .metrics import classifier as classifier_module

    try:
        clf = classifier_module.classifier_for(data, device, verbose=verbose)
    except GankitError as e:
        why = str(e).split("; ")[0]  # (without the advice on gankit eval's options)
        raise GankitError(f"arithmetic: no classifier of the run's data ({data.name}) to read its samples: "
                          f"{why}") from None
    num_classes = clf.model.num_classes
    names = class_names(data, num_classes)
    triple = _triple(a, b, c, names, data.name)

    inputs = run.game.sample_inputs(n, seed)
    lat = space.encode(inputs)
    probs = read_classes(clf, space.decode(lat))
    read = probs.argmax(1)
    picked, latents, confidences = {}, {}, {}
    for letter, idx in zip("ABC", triple):
        cand = (read == idx).nonzero().flatten()
        if len(cand) < k:
            raise GankitError(f"arithmetic: of {n} samples the classifier reads {len(cand)} as {names[idx]!r} "
                              f"({letter}), {k} needed: draw more with --n, lower --k, or train the run longer")
        conf = probs[cand, idx]
        order = conf.argsort(descending=True, stable=True)[:k]
        picked[letter], confidences[letter] = cand[order], conf[order]
        latents[letter] = lat[picked[letter]]
    means = torch.stack([latents[x].mean(0) for x in "ABC"])
    result = (means[0] - means[1]) + means[2]
    scale = noise if space.gaussian else noise * lat.std(0)
    eps = torch.randn(NEIGHBOURS, lat.shape[1], generator=torch.Generator().manual_seed(seed + 1))
    neighbours = result + scale * eps
    images = space.decode(torch.cat([means, result[None], neighbours]))
    p = read_classes(clf, images)
    readings = [Reading(int(i), names[int(i)], float(pi[i])) for pi, i in zip(p, p.argmax(1))]
    sample_images = space.decode(torch.cat([latents[x] for x in "ABC"]))
    sample_images = dict(zip("ABC", sample_images.split(k)))
    accuracy = getattr(clf, "accuracy", None)
    tag = f"classifier:{getattr(clf, 'dataset', data.name)}" + (f" ({100 * accuracy:.1f}% on held-out images)"
                                                               if accuracy is not None else "")
    return Arithmetic(tuple(names[i] for i in triple), space.name, n, k, picked, latents, sample_images, confidences,
                      means, result, neighbours, noise, images, readings, tag)


def _triple(a, b, c, names: Sequence[str], source: str) -> tuple[int, int, int]:
    given = (a, b, c)
    if all(x is None for x in given) and source in DEFAULT_TRIPLES:
        given = DEFAULT_TRIPLES[source]
    if any(x is None for x in given):
        missing = ", ".join(f"--{f}" for f, x in zip("abc", given) if x is None)
        raise GankitError(f"arithmetic: give {missing} (there is no default A - B + C for {source}): classes of "
                          f"{source}: {', '.join(names)}")
    return tuple(find_class(x, names, f"--{f}") for f, x in zip("abc", given))


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # (Pillow without FreeType: the bitmap font)
        return ImageFont.load_default()


def _cell(img: torch.Tensor, up: int) -> np.ndarray:
    x = img.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    x = x.repeat_interleave(up, 1).repeat_interleave(up, 2)
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return x.permute(1, 2, 0).numpy()


def arithmetic_figure(res: Arithmetic) -> np.ndarray:
    """The figure of :func:`arithmetic` (uint8 (H, W, 3)): three columns A, B, C with the k samples
    behind each average above the image of the average, then '=' and a 3 x 3 block with the result in
    its centre and its eight neighbours around it; the classifier's reading under each average and
    under the result."""
    from PIL import Image, ImageDraw

    h = res.images.shape[-1]
    up = max(1, math.ceil(56 / h))
    s = h * up                      # cell size
    pad, gap, op, line = 3, 10, 18, 16  # between cells, above the averages, operator columns, a text line
    font, small = _font(16), _font(11)
    k = res.k
    head = 40                       # the legend, then the column labels
    ym = head + k * (s + pad) + gap  # the row of the averages
    right_h = 3 * s + 2 * pad
    top = max(head, ym + s // 2 - right_h // 2)  # the result level with the averages
    legend = (f"{res.classes[0]} - {res.classes[1]} + {res.classes[2]} in {res.space} (top: the {k} samples read "
              f"most confidently as each; bottom: their average)")
    right_note = f"result (centre), neighbours +{res.noise:g}N(0,I)"
    tally = "of the 9: " + ", ".join(f"{count} read as {name}" for name, count in res.tally().items())
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    labels = [f"{letter}: {name}" for letter, name in zip("ABC", res.classes)] + [str(r) for r in res.readings[:3]]
    cw = max(s, *(int(probe.textlength(t, font=small)) + 4 for t in labels))  # a column: its cells or its labels
    col_x = [10 + i * (cw + op) for i in range(3)]
    eq_x = col_x[2] + s + 4
    right_x = max(eq_x + op, col_x[2] + cw + 4)
    width = max(right_x + 3 * s + 2 * pad, 10 + int(probe.textlength(legend, font=small)),
                right_x + int(max(probe.textlength(t, font=small) for t in (right_note, tally)))) + 10
    height = max(ym + s + line + 6, top + right_h + 2 * line + 6)
    im = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(im)
    d.text((10, 4), legend, fill="black", font=small)
    for i, letter in enumerate("ABC"):
        d.text((col_x[i], head - line), f"{letter}: {res.classes[i]}", fill="black", font=small)
        for j in range(k):
            im.paste(Image.fromarray(_cell(res.sample_images[letter][j], up)), (col_x[i], head + j * (s + pad)))
        im.paste(Image.fromarray(_cell(res.images[i], up)), (col_x[i], ym))
        d.line([(col_x[i], ym - gap // 2), (col_x[i] + s, ym - gap // 2)], fill=(160, 160, 160))
        d.text((col_x[i], ym + s + 2), str(res.readings[i]), fill="black", font=small)
        if i < 2:
            d.text(((col_x[i] + s + col_x[i + 1]) // 2 - 4, ym + s // 2 - 8), "-" if i == 0 else "+", fill="black",
                   font=font)
    d.text(((col_x[2] + s + right_x) // 2 - 4, ym + s // 2 - 8), "=", fill="black", font=font)
    d.text((right_x, top - line), right_note, fill="black", font=small)
    order = [0, 1, 2, 3, None, 4, 5, 6, 7]  # the neighbours around the centre
    for pos, nb in enumerate(order):
        r, col = divmod(pos, 3)
        img = res.images[3] if nb is None else res.images[4 + nb]
        xy = (right_x + col * (s + pad), top + r * (s + pad))
        im.paste(Image.fromarray(_cell(img, up)), xy)
        if nb is None:
            d.rectangle([xy[0] - 2, xy[1] - 2, xy[0] + s + 1, xy[1] + s + 1], outline=(220, 40, 40), width=2)
    d.text((right_x, top + right_h + 2), f"result: {res.readings[3]}", fill="black", font=small)
    d.text((right_x, top + right_h + 2 + line), tally, fill="black", font=small)
    return np.asarray(im)


def save_arithmetic_figure(res: Arithmetic, out: str | Path) -> Path:
    from PIL import Image

    out = Path(out)
    if out.suffix.lower() != ".png":
        raise GankitError(f"--out {str(out)!r}: give a .png file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    Image.fromarray(arithmetic_figure(res)).save(tmp, format="PNG")
    os.replace(tmp, out)
    return out


# ---------------------------------------------------------------------------------------------------
# film

_STEP = re.compile(r"^step-(\d+)$")


@dataclass
class Film:
    """A film of a run's previews: the GIF ``path``, the ``captions`` of its frames in order, their ``size``."""

    path: Path
    captions: list[str]
    size: tuple[int, int]


def preview_files(run_dir: str | Path) -> list[tuple[str, Path]]:
    """The preview grids the trainer saved in ``RUN/samples`` as (caption, path), by step, final.png last."""
    p = Path(run_dir)
    if p.is_file():  # a checkpoint: its run directory
        p = p.parent.parent if p.parent.name == "checkpoints" else p.parent
    folder = p / "samples"
    steps = []
    for f in folder.glob("step-*.png") if folder.is_dir() else []:
        m = _STEP.match(f.stem)
        if m and f.is_file():
            steps.append((int(m.group(1)), f))
    out = [(f"step {step:,}", f) for step, f in sorted(steps)]
    if (folder / "final.png").is_file():
        out.append(("final", folder / "final.png"))
    if not out:
        why = "" if folder.is_dir() else " (no such folder)"
        raise GankitError(f"film: no preview grids (step-*.png, final.png) in {str(folder)!r}{why}; the trainer "
                          f"saves one every train.sample_every steps")
    return out


def film(run_dir: str | Path, out: str | Path, fps: float = 4, every: int = 1) -> Film:
    """The run's preview grids (``RUN/samples/step-*.png``, every ``every``-th, and ``final.png``) as an
    animated GIF at ``fps``, each frame captioned with its step; frames of another size are resized to
    the first's; the last frame is held three times as long."""
    from PIL import Image, ImageDraw

    if every < 1:
        raise GankitError(f"--every {every}: must be >= 1")
    if Path(out).suffix.lower() != ".gif":
        raise GankitError(f"--out {str(out)!r}: give a .gif file name")
    files = preview_files(run_dir)
    steps, final = [x for x in files if x[0] != "final"], [x for x in files if x[0] == "final"]
    chosen = steps[::every] + final
    font = _font(13)
    frames, size = [], None
    for caption, f in chosen:
        with Image.open(f) as im:
            im.load()
            mode = "L" if im.mode in ("1", "L", "I", "I;16", "F") else "RGB"
            im = im.convert(mode)
        if size is None:
            size = im.size
        elif im.size != size:
            im = im.resize(size, Image.Resampling.NEAREST)
        strip = 20
        frame = Image.new(im.mode, (size[0], size[1] + strip), 255 if im.mode == "L" else (255, 255, 255))
        frame.paste(im, (0, strip))
        ImageDraw.Draw(frame).text((4, 3), caption, fill=0 if im.mode == "L" else (0, 0, 0), font=font)
        frames.append(frame)
    path = save_gif(frames, out, fps, hold_last=3)
    return Film(path, [c for c, _ in chosen], frames[0].size)
