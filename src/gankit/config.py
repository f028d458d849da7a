"""Typed configuration: one dataclass tree, YAML presets, ``--set key=value`` overrides.

The resolved tree is what a run records in ``config.yaml`` and in every checkpoint. Every key is
checked: an unknown key, a value of the wrong type, or a value outside its allowed choices is a
:class:`~gankit.errors.ConfigError` whose message names the dotted key.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml

from .errors import ConfigError

GCost = Literal["minimax", "non-saturating", "max-likelihood"]


@dataclass
class DataConfig:
    name: str = "mnist"            # a registered source: `gankit datasets` lists them
    path: Optional[str] = None     # file or folder for sources that read one (None: the default place)
    split: Literal["train", "test", "all"] = "train"
    resolution: int = 28           # images are resized (and centre-cropped) to resolution x resolution
    channels: int = 1              # 1 (grayscale) or 3 (RGB); sources convert as needed
    direction: Literal["AtoB", "BtoA"] = "AtoB"  # paired and unpaired sources: which side is the input
    range: Literal["auto", "unit", "signed", "8bit", "16bit"] = "auto"  # npz: the value range of the array (auto: from its dtype and values, refusing when they could be read two ways)
    max_length: int = 0            # token sources (text, names, words): the most symbols per sequence (0: the corpus's longest line; longer lines are truncated with a warning); oracle: 20
    level: Literal["char", "word"] = "char"  # text: one token per character, or per whitespace-separated word
    background: Literal["white", "black"] = "white"  # image files with transparency (RGBA, LA, palette) are composited onto this before the alpha is dropped


@dataclass
class NetConfig:
    """Settings of the noise-to-image and image-to-decision families (mlp, dcgan, resnet, toy).

    Other families register their own settings class (``NET_SETTINGS``); setting ``model.g.name`` or
    ``model.d.name`` to such a family switches the section to its class, keeping the keys both share."""
    name: str = "dcgan"            # a registered network family: `gankit presets` / nets/ list them
    width: int = 64                # base width; the family documents how layers scale with it
    norm: Literal["batch", "none"] = "batch"  # normalisation layers of the family (none: e.g. a WGAN-GP critic)
    minibatch_std: bool = False    # discriminators: a minibatch standard deviation feature before the output (Karras et al. 2018)
    spectral_norm: bool = False    # spectral normalisation of every conv/linear weight (Miyato et al. 2018)
    conditioning: str = "none"     # class conditioning (nets/conditioning.py): G none|concat|hadamard|cbn; D none|concat|projection|ac


@dataclass
class UNetConfig:
    """pix2pix's U-Net translator (nets/translate.py)."""
    name: str = "unet"
    width: int = 64                # channels of the first encoder layer; doubling per level up to 8x
    norm: Literal["batch", "instance", "none"] = "instance"  # instance: the paper's batch of 1
    dropout: float = 0.5           # dropout in the innermost decoder blocks, pix2pix's only noise (0: off)
    depth: int = 0                 # encoder levels (0: down to 1x1, the paper's layout)
    skips: bool = True             # false: a plain encoder-decoder (DiscoGAN's generator)
    spectral_norm: bool = False


@dataclass
class ResNetTranslatorConfig:
    """The ResNet translator of Johnson et al. 2016 / CycleGAN (nets/translate.py)."""
    name: str = "resnet-translator"
    width: int = 64
    norm: Literal["batch", "instance", "none"] = "instance"
    blocks: int = 6                # residual blocks at the lowest resolution (6 at 128 px, 9 at 256 in CycleGAN)
    dropout: float = 0.0
    spectral_norm: bool = False


@dataclass
class PatchGANConfig:
    """pix2pix's PatchGAN discriminator: one decision per overlapping patch (nets/translate.py)."""
    name: str = "patchgan"
    width: int = 64
    norm: Literal["batch", "instance", "none"] = "batch"
    patch: Literal["auto", "pixel", "image"] = "auto"  # receptive field: auto (the paper's 70/256 of the image side), pixel (1x1), image (the whole image)
    layers: int = 0                # > 0: this many stride-2 layers, overriding patch
    spectral_norm: bool = False


@dataclass
class StarGANDConfig:
    """StarGAN's discriminator: a patch adversarial head and a domain-classification head (nets/translate.py)."""
    name: str = "stargan"
    width: int = 64
    layers: int = 0                # stride-2 layers (0: down to 2x2, the paper's 6 at 128 px)
    spectral_norm: bool = False


@dataclass
class AutoEncoderConfig:
    """An auto-encoder discriminator (EBGAN, BEGAN): its reconstruction error is the energy (nets/autoencoder.py)."""
    name: str = "autoencoder"
    width: int = 64
    code: int = 64                 # dimensions of the code between encoder and decoder (BEGAN's h)
    blocks: Literal["dcgan", "began"] = "dcgan"  # dcgan: stride-2 4x4 convolutions (EBGAN); began: 3x3 ELU pairs per scale (BEGAN)
    norm: Literal["batch", "none"] = "batch"
    spectral_norm: bool = False


@dataclass
class StyleConfig:
    """The style-based generator (StyleGAN2-lite, nets/style.py): mapping network, modulated convolutions."""
    name: str = "style"
    w_dim: int = 128               # dimensions of the intermediate latent w (512 in the paper)
    mapping_layers: int = 4        # fully connected layers of the mapping network z -> w (8 in the paper)
    mapping_lr_mul: float = 0.01   # learning-rate multiplier of the mapping network (the paper's 0.01)
    channels: str = "128,128,64,32"  # channels per resolution, the constant's first (4, 8, 16, 32 px); a shorter list repeats its last
    noise: bool = True             # per-pixel noise inputs with a learned strength per layer
    spectral_norm: bool = False


@dataclass
class LSTMConfig:
    """The LSTM sequence generator (nets/sequence.py): embedding -> LSTM -> logits over the vocabulary."""
    name: str = "lstm"
    embedding: int = 32            # size of the token embedding (SeqGAN's oracle experiment: 32)
    hidden: int = 32               # LSTM hidden units (SeqGAN: 32)
    layers: int = 1                # stacked LSTM layers


@dataclass
class SequenceCNNConfig:
    """The CNN sequence discriminator (nets/sequence.py; SeqGAN's): embedding, 1-D convolutions of several
    widths max-pooled over time, a highway layer, dropout, one logit."""
    name: str = "cnn"
    embedding: int = 64            # size of the token embedding (SeqGAN: 64)
    widths: str = "1,2,3,4,5,6,7,8,9,10,15,20"  # convolution widths (those longer than the sequence are left out)
    counts: str = "100,200,200,200,200,100,100,100,100,100,160,160"  # filters per width (SeqGAN's)
    dropout: float = 0.25          # before the logit (SeqGAN: keep probability 0.75)
    highway: bool = True           # a highway layer on the pooled features (Srivastava et al. 2015)


#: family name -> settings class of ``model.g`` / ``model.d`` (families not named here use NetConfig)
NET_SETTINGS: dict[str, type] = {"unet": UNetConfig, "resnet-translator": ResNetTranslatorConfig,
                                 "patchgan": PatchGANConfig, "stargan": StarGANDConfig,
                                 "autoencoder": AutoEncoderConfig, "style": StyleConfig, "lstm": LSTMConfig,
                                 "cnn": SequenceCNNConfig}


@dataclass
class ModelConfig:
    latent_dim: int = 100          # noise-driven games
    num_classes: int = 0           # classes of a conditional model (0: the dataset's; a run records the count it used)
    g: NetConfig = field(default_factory=NetConfig)
    d: NetConfig = field(default_factory=NetConfig)


@dataclass
class LossConfig:
    name: str = "gan"              # a registered objective: gan, wasserstein, hinge, lsgan, fgan
    g_cost: GCost = "non-saturating"  # generator cost of the cross-entropy game (Goodfellow 2016, §3.2)
    ls_targets: tuple[float, float, float] = (0.0, 1.0, 1.0)  # lsgan (a, b, c): fake, real, G's target
    divergence: Literal["kl", "reverse-kl", "pearson", "squared-hellinger", "js", "gan"] = "js"  # fgan
    ac_weight: float = 1.0         # ACGAN (model.d.conditioning=ac): weight of the class cross-entropy for D (real and fake) and G (fake)


@dataclass
class PenaltyConfig:
    gp: float = 0.0                # WGAN-GP gradient penalty weight lambda (10 in the paper; 0: off)
    r1: float = 0.0                # R1 penalty weight gamma on real data (0: off)
    r1_every: int = 1              # lazy R1: every k D steps, scaled by k
    r1_steps: int = 0              # R1 only during the first N training steps (G iterations); 0: throughout
    clip: float = 0.0              # WGAN weight clipping of D's parameters to [-c, c] (0.01 in the paper; 0: off)


@dataclass
class TricksConfig:
    label_smoothing: float = 0.0   # one-sided: real targets 1 - s in the cross-entropy D loss (Salimans et al. 2016)
    instance_noise: float = 0.0    # std of Gaussian noise added to every image D sees (0: off)
    instance_noise_steps: int = 0  # anneal that std linearly to 0 over this many steps (0: keep it constant)
    feature_matching: bool = False  # G matches the mean of D's last hidden features on real data (Salimans et al. 2016)
    diffaugment: str = ""          # DiffAugment policy, e.g. "color,translation,cutout" (Zhao et al. 2020)
    topk: float = 1.0              # top-k training: G's loss over the fraction k of its batch D rates most real (Sinha et al. 2020); 1: off
    topk_steps: int = 0            # anneal that fraction linearly from 1 to tricks.topk over this many steps (0: from the start)
    pack: int = 1                  # PacGAN: D judges packs of m samples, concatenated along channels/features (Lin et al. 2018); train.batch_size must be a multiple
    diffusion: bool = False        # Diffusion-GAN (Wang et al. 2023): D judges images diffused by t ~ {0..T} steps, told t (one more input channel), T adapted to D's overfitting (gankit/diffusion.py)
    diffusion_t_min: int = 5       # T's range: it starts at T_min and stays in [T_min, T_max] (the paper's 5 and 500)
    diffusion_t_max: int = 500     # ... and the beta schedule runs linearly from 1e-4 to 2e-2 over T_max steps
    diffusion_target: float = 0.6  # the target of r_d = E sign(D(x_t)) on real data: above it T rises, below it T falls (the paper's d_target)
    diffusion_every: int = 4       # adjust T every N D steps, from the real decisions of those steps
    diffusion_ada_kimg: float = 500.0  # speed of T: this many thousand real images take it across [T_min, T_max]
    diffusion_ts_dist: Literal["priority", "uniform"] = "priority"  # timesteps: p(t) = t / sum(t) (priority) or uniform over {0..T}
    diffusion_sigma: float = 0.05  # std sigma of the diffusion's noise: x_t = sqrt(abar_t) x + sqrt(1 - abar_t) sigma eps


@dataclass
class OptimConfig:
    name: Literal["adam", "rmsprop"] = "adam"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)  # adam
    alpha: float = 0.99            # rmsprop's smoothing constant
    eps: float = 1e-8
    weight_decay: float = 0.0
    ramp_down: float = 0.0         # schedule: constant, then falling linearly to 0 over this last fraction of the run (train.steps, or train.max_seconds if that runs out first); 0: constant


@dataclass
class Optims:
    """``optim.default`` and per-player overrides ``optim.<player>`` (the player's name in lower case,
    e.g. ``optim.d.lr``): a player runs with the default updated by its own keys. ``cfg.optim.g`` (or
    :meth:`resolve`) is what player G runs with."""
    default: OptimConfig = field(default_factory=OptimConfig)
    players: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resolve(self, player: str) -> OptimConfig:
        return dataclasses.replace(self.default, **self.players.get(player.lower(), {}))

    def __getattr__(self, name: str) -> OptimConfig:
        if name.startswith("_") or name in ("default", "players"):
            raise AttributeError(name)
        return self.resolve(name)


@dataclass
class TrainConfig:
    steps: int = 2000              # training iterations (each: d_steps D updates, then one G update)
    batch_size: int = 64
    d_steps: int = 1               # discriminator updates per generator update
    max_seconds: float = 0.0       # stop (with the usual final checkpoint and grid) after this much training time (0: no limit)
    clock: Literal["wall", "cpu"] = "wall"  # what max_seconds counts: wall time, or this process's CPU time (fair on a shared machine)
    sample_every: int = 250        # write a grid from the game's fixed preview inputs every N steps (0: never)
    checkpoint_every: int = 1000   # write checkpoints/step-N.pt and last.pt every N steps (0: only at the end)
    keep_checkpoints: int = 3      # periodic checkpoints kept besides last.pt (-1: all)
    log_every: int = 10            # metrics.jsonl / TensorBoard / progress bar every N steps
    grid_size: int = 64            # images in each sample grid
    ema_decay: float = 0.0         # EMA of the weights of the game's averaged players (its generators) for pictures, sampling and evaluation (e.g. 0.999; 0: off)
    ema_bn_stats: Literal["recompute", "live"] = "recompute"  # BatchNorm statistics of the EMA generator: re-estimated for its averaged weights before sampling (recompute), or the live G's (live)
    device: str = "auto"           # auto | cpu | cuda | cuda:N (under torchrun: each process takes cuda:LOCAL_RANK)
    threads: int = 0               # torch intra-op threads on CPU (0: the cores, shared among the processes of this machine)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # autocast for training steps; auto: bf16 on CUDA where supported, fp32 on CPU; fp16 adds a gradient scaler per player
    channels_last: bool = True     # NHWC memory format for the players' convolutions and the batches (faster on CPU and with tensor cores)
    malloc_tuning: bool = True     # Linux/glibc: keep freed buffers in the process (mallopt) instead of page-faulting them back every step
    compile: bool = False          # torch.compile the players' training forward passes
    sync_batchnorm: bool = False   # under DDP on CUDA: BatchNorm statistics over the global batch (default: each process's own batch)
    tensorboard: bool = True
    progress: bool = True


@dataclass
class EvalConfig:
    every: int = 0                 # score samples every N steps during training (0: never); best.pt keeps the best eval.best
    n: int = 2000                  # samples per evaluation
    metrics: tuple[str, ...] = ("fid",)  # registered metrics: fid, kid, is, pr, dc, classes, memorization, modes, l1, psnr, ssim, accuracy, cycle, domains, cluster
    best: str = "auto"             # the score checkpoints/best.pt follows (a metric or score name, e.g. fid, l1, ssim); auto: the first of eval.metrics; none: no best.pt
    extractor: str = "classifier"  # classifier | classifier:NAME | inception-v3 | auto (Inception is slow on a CPU)
    inception_weights: Optional[str] = None


@dataclass
class SampleConfig:
    jacobian_keep: float = 1.0     # Jacobian-based truncation (sampling.py): draw 1/keep latents per sample and keep the fraction with the smallest ||dG/dz|| (1: off). Applies to gankit sample / eval and the benchmarks, not to training
    jacobian_directions: int = 8   # random directions that estimate ||dG/dz||_F when the latent has more than 16 dimensions (exact below)


@dataclass
class GameSettings:
    """Base of every game's settings (``game.*``); each registered game has its own subclass."""
    name: str = "gan"              # a registered training game: gan, pix2pix, cyclegan, stargan, ebgan, began, infogan


def game_settings(name: str, key: str = "game.name") -> type:
    """The settings class of the game registered as ``name``."""
    from .games import GAMES

    return GAMES.get(name, key=key).Settings


def _default_game() -> GameSettings:
    return game_settings("gan")()


@dataclass
class Config:
    description: str = ""
    seed: int = 0
    game: GameSettings = field(default_factory=_default_game)  # game.name and that game's own keys
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    penalty: PenaltyConfig = field(default_factory=PenaltyConfig)
    tricks: TricksConfig = field(default_factory=TricksConfig)
    optim: Optims = field(default_factory=Optims)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)

    def to_dict(self) -> dict[str, Any]:
        d = _plain(dataclasses.asdict(self))
        d["optim"] = {"default": d["optim"]["default"], **d["optim"]["players"]}
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def validate(self) -> "Config":
        t, d = self.train, self.data
        _require(t.steps >= 0, "train.steps", t.steps, "must be >= 0")
        _require(t.batch_size >= 1, "train.batch_size", t.batch_size, "must be >= 1")
        _require(t.d_steps >= 1, "train.d_steps", t.d_steps, "must be >= 1")
        for key in ("sample_every", "checkpoint_every", "threads"):
            _require(getattr(t, key) >= 0, f"train.{key}", getattr(t, key), "must be >= 0")
        _require(t.max_seconds >= 0, "train.max_seconds", t.max_seconds, "must be >= 0")
        _require(t.log_every >= 1, "train.log_every", t.log_every, "must be >= 1")
        _require(0.0 <= t.ema_decay < 1.0, "train.ema_decay", t.ema_decay, "must lie in [0, 1)")
        _require(t.grid_size >= 1, "train.grid_size", t.grid_size, "must be >= 1")
        _require(t.keep_checkpoints >= -1, "train.keep_checkpoints", t.keep_checkpoints, "must be >= -1")
        _require(not getattr(self.model.g, "minibatch_std", False), "model.g.minibatch_std", True, "applies to discriminators only")
        pen = self.penalty
        for key in ("gp", "r1", "clip"):
            _require(getattr(pen, key) >= 0, f"penalty.{key}", getattr(pen, key), "must be >= 0")
        _require(pen.r1_every >= 1, "penalty.r1_every", pen.r1_every, "must be >= 1")
        _require(pen.r1_steps >= 0, "penalty.r1_steps", pen.r1_steps, "must be >= 0")
        tr = self.tricks
        _require(0 <= tr.label_smoothing < 0.5, "tricks.label_smoothing", tr.label_smoothing, "must lie in [0, 0.5)")
        _require(tr.label_smoothing == 0 or self.loss.name == "gan", "tricks.label_smoothing", tr.label_smoothing,
                 f"applies to the cross-entropy objective (loss.name=gan), not {self.loss.name!r}")
        _require(tr.pack >= 1, "tricks.pack", tr.pack, "must be >= 1")
        _require(t.batch_size % tr.pack == 0, "train.batch_size", t.batch_size,
                 f"must be a multiple of tricks.pack ({tr.pack}): D judges packs of {tr.pack} samples")
        _require(0 < tr.topk <= 1, "tricks.topk", tr.topk, "must lie in (0, 1]")
        _require(tr.topk_steps >= 0, "tricks.topk_steps", tr.topk_steps, "must be >= 0")
        _require(tr.topk == 1 or not tr.feature_matching, "tricks.topk", tr.topk,
                 "does not combine with tricks.feature_matching (G's loss there is not per sample)")
        _require(tr.instance_noise >= 0, "tricks.instance_noise", tr.instance_noise, "must be >= 0")
        _require(tr.instance_noise_steps >= 0, "tricks.instance_noise_steps", tr.instance_noise_steps, "must be >= 0")
        from .augment import parse_policy
        try:
            parse_policy(tr.diffaugment)
        except ValueError as e:
            raise ConfigError(f"tricks.diffaugment: {e}") from None
        _validate_diffusion(self)
        _require(self.eval.every >= 0, "eval.every", self.eval.every, "must be >= 0")
        _require(self.eval.n >= 2, "eval.n", self.eval.n, "must be >= 2")
        from .metrics.registry import METRICS

        bad = [m for m in self.eval.metrics if m not in METRICS]
        _require(not bad and len(self.eval.metrics) > 0, "eval.metrics", list(self.eval.metrics),
                 f"must be a non-empty list of {', '.join(METRICS.names())}")
        _require(0 < self.sample.jacobian_keep <= 1, "sample.jacobian_keep", self.sample.jacobian_keep,
                 "must lie in (0, 1]")
        _require(self.sample.jacobian_directions >= 1, "sample.jacobian_directions",
                 self.sample.jacobian_directions, "must be >= 1")
        _require(d.channels in (1, 3), "data.channels", d.channels, "must be 1 or 3")
        _require(d.resolution >= 4, "data.resolution", d.resolution, "must be >= 4")
        _require(d.max_length >= 0, "data.max_length", d.max_length, "must be >= 0 (0: the corpus's longest line)")
        _require(self.model.latent_dim >= 1, "model.latent_dim", self.model.latent_dim, "must be >= 1")
        _validate_conditioning(self)
        for p in ("g", "d"):
            net = getattr(self.model, p)
            if hasattr(net, "width"):
                _require(net.width >= 1, f"model.{p}.width", net.width, "must be >= 1")
        if isinstance(self.model.g, StyleConfig):
            g = self.model.g
            _require(g.w_dim >= 1, "model.g.w_dim", g.w_dim, "must be >= 1")
            _require(g.mapping_layers >= 1, "model.g.mapping_layers", g.mapping_layers, "must be >= 1")
            _require(0 < g.mapping_lr_mul <= 1, "model.g.mapping_lr_mul", g.mapping_lr_mul, "must lie in (0, 1]")
        if isinstance(self.model.g, LSTMConfig):
            for key in ("embedding", "hidden", "layers"):
                _require(getattr(self.model.g, key) >= 1, f"model.g.{key}", getattr(self.model.g, key), "must be >= 1")
        for p in ("default", *self.optim.players):
            o: OptimConfig = self.optim.resolve(p) if p != "default" else self.optim.default
            _require(o.lr > 0, f"optim.{p}.lr", o.lr, "must be > 0")
            _require(all(0 <= b < 1 for b in o.betas), f"optim.{p}.betas", list(o.betas), "must lie in [0, 1)")
            _require(0.0 <= o.ramp_down <= 1.0, f"optim.{p}.ramp_down", o.ramp_down, "must lie in [0, 1]")
        validate = getattr(self.game, "validate", None)
        if validate is not None:
            validate(self)
        return self


def _validate_diffusion(cfg: "Config") -> None:
    """The ``tricks.diffusion_*`` ranges; with ``tricks.diffusion`` on, the game and objective it needs."""
    tr = cfg.tricks
    _require(tr.diffusion_t_min >= 1, "tricks.diffusion_t_min", tr.diffusion_t_min, "must be >= 1")
    _require(tr.diffusion_t_min <= tr.diffusion_t_max <= 100_000, "tricks.diffusion_t_max", tr.diffusion_t_max,
             f"must lie in [tricks.diffusion_t_min ({tr.diffusion_t_min}), 100000]")
    _require(-1 < tr.diffusion_target < 1, "tricks.diffusion_target", tr.diffusion_target,
             "must lie in (-1, 1) (r_d is a mean of signs)")
    _require(tr.diffusion_every >= 1, "tricks.diffusion_every", tr.diffusion_every, "must be >= 1")
    _require(tr.diffusion_ada_kimg > 0, "tricks.diffusion_ada_kimg", tr.diffusion_ada_kimg, "must be > 0")
    _require(tr.diffusion_sigma > 0, "tricks.diffusion_sigma", tr.diffusion_sigma, "must be > 0")
    if not tr.diffusion:
        return
    from .diffusion import decision_boundary
    from .games import GAMES
    from .games.gan import GANGame

    games = [name for name in GAMES.names() if issubclass(GAMES.get(name), GANGame)]
    _require(cfg.game.name in games, "tricks.diffusion", True,
             f"applies to the games that judge G(z) with a noise-family D ({', '.join(games)}), not game.name={cfg.game.name}")
    _require(decision_boundary(cfg.loss) is not None or tr.diffusion_t_min == tr.diffusion_t_max, "tricks.diffusion", True,
             f"adapts T to the sign of D's output, which has no meaning for loss.name={cfg.loss.name} (its critic's "
             f"offset is free); fix T with tricks.diffusion_t_min = tricks.diffusion_t_max")


G_CONDITIONINGS = ("none", "concat", "hadamard", "cbn")
D_CONDITIONINGS = ("none", "concat", "projection", "ac")


def _validate_conditioning(cfg: "Config") -> None:
    m = cfg.model
    for p, allowed in (("g", G_CONDITIONINGS), ("d", D_CONDITIONINGS)):
        c = getattr(getattr(m, p), "conditioning", "none")
        _require(c in allowed, f"model.{p}.conditioning", c, f"is not one of {', '.join(allowed)}")
    _require(m.num_classes == 0 or m.num_classes >= 2, "model.num_classes", m.num_classes, "must be 0 or >= 2")
    _require(cfg.loss.ac_weight >= 0, "loss.ac_weight", cfg.loss.ac_weight, "must be >= 0")
    if getattr(m.g, "conditioning", "none") == "none" and getattr(m.d, "conditioning", "none") == "none":
        return
    _require(isinstance(m.g, NetConfig) and isinstance(m.d, NetConfig), "model", f"{m.g.name}/{m.d.name}",
             "cannot be class-conditional (conditioning needs the mlp, dcgan, resnet or toy families)")
    _require(m.g.conditioning != "none", "model.g.conditioning", "none",
             f"must be set when D is conditional (model.d.conditioning={m.d.conditioning})")
    _require(m.d.conditioning != "none", "model.d.conditioning", "none",
             f"must be set when G is conditional (model.g.conditioning={m.g.conditioning})")
    _require(m.g.conditioning != "cbn" or m.g.norm == "batch", "model.g.conditioning", "cbn",
             "needs BatchNorm in G (model.g.norm=batch)")
    _require(cfg.tricks.pack == 1, "tricks.pack", cfg.tricks.pack, "must be 1 for a conditional model")
    _require(not m.d.minibatch_std or m.d.conditioning == "concat", "model.d.minibatch_std", True,
             f"does not combine with model.d.conditioning={m.d.conditioning}")
    _require(cfg.game.name == "gan", "game.name", cfg.game.name, "has no class-conditional form (conditioning needs game.name=gan)")


def _require(ok: bool, key: str, value: Any, why: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {value!r} {why}")


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


# ----------------------------------------------------------------------------------------------
# Building a Config from plain dicts, with type checks
# ----------------------------------------------------------------------------------------------

def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config dict as dotted keys: {"train": {"steps": 5}} -> {"train.steps": 5}."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def from_dict(data: dict[str, Any], base: Config | None = None) -> Config:
    """Merge a nested dict into ``base`` (default: all defaults), checking every key and type."""
    cfg = dataclasses.replace(base) if base is not None else Config()
    cfg = _merge(cfg, data, prefix="")
    return cfg


def _merge(obj: Any, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {data!r}")
    if isinstance(obj, Optims):
        return _merge_optims(obj, data, prefix)
    if "name" in data and hasattr(obj, "name"):  # a tagged section: the name chooses the settings class
        obj = _retag(obj, data["name"], f"{prefix}name")
    hints = typing.get_type_hints(type(obj))
    names = [f.name for f in dataclasses.fields(obj)]
    updates = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(_unknown_key(full, key, names, getattr(obj, "name", None)))
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict) and "name" in [f.name for f in dataclasses.fields(current)]:
                value = {"name": value}  # `loss: hinge` is short for `loss: {name: hinge}`
            updates[key] = _merge(dataclasses.replace(current), value, prefix=f"{full}.")
        else:
            updates[key] = coerce(value, hints[key], full)
    return dataclasses.replace(obj, **updates)


def _retag(obj: Any, name: Any, key: str) -> Any:
    """``obj`` as the settings class that ``name`` selects (games; network families), keeping the
    values of the keys both classes share that were set away from the old class's defaults."""
    if isinstance(obj, GameSettings):
        cls = game_settings(coerce(name, str, key), key)
    elif isinstance(obj, (NetConfig, *NET_SETTINGS.values())):
        cls = NET_SETTINGS.get(coerce(name, str, key), NetConfig)
    else:
        return obj
    if type(obj) is cls:
        return obj
    default = type(obj)()
    shared = {f.name for f in dataclasses.fields(cls)} & {f.name for f in dataclasses.fields(obj)}
    kept = {k: getattr(obj, k) for k in shared if k != "name" and getattr(obj, k) != getattr(default, k)}
    return cls(**kept)


def _merge_optims(obj: Optims, data: dict, prefix: str) -> Optims:
    default, players = obj.default, {k: dict(v) for k, v in obj.players.items()}
    hints = typing.get_type_hints(OptimConfig)
    names = [f.name for f in dataclasses.fields(OptimConfig)]
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key == "default":
            default = _merge(dataclasses.replace(default), value, f"{full}.")
            continue
        if not isinstance(key, str) or not key.replace("_", "").isalnum():
            raise ConfigError(f"{full}: expected a player name (optim.<player>.<key>, e.g. optim.d.lr)")
        if not isinstance(value, dict):
            raise ConfigError(f"{full}: expected a mapping of optimizer settings, got {value!r}")
        own = players.setdefault(key.lower(), {})
        for k, v in value.items():
            if k not in names:
                raise ConfigError(_unknown_key(f"{full}.{k}", k, names))
            own[k] = coerce(v, hints[k], f"{full}.{k}")
    return Optims(default, players)


MOVED = {"train.lr_ramp_down": "optim.default.ramp_down (or optim.<player>.ramp_down)",
         "game": "game.name"}


def _unknown_key(full: str, key: str, names: list[str], tag: str | None = None) -> str:
    if full in MOVED:
        return f"config key {full!r} has moved: use {MOVED[full]}"
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {full[: len(full) - len(key)]}{close[0]}?)" if close else ""
    where = f" for {tag!r}" if tag is not None and full.startswith(("game.", "model.")) else ""
    return f"unknown config key {full!r}{where}{hint}"


#: the largest integer setting accepted (every integer up to it is exact as a float; seeds, steps and counts
#: beyond it are typing errors, and would run for ever or overflow torch)
MAX_INT = 2 ** 53


def _coerce_int(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:  # "1e4": YAML 1.1 leaves it a string
                f = float(value)
                if f.is_integer():
                    return int(f)
            except ValueError:
                pass
    raise ConfigError(f"{key}: expected an integer, got {value!r}")


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` to type ``tp`` or raise a ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "~")):
            if type(None) in args:
                return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, key)
            except ConfigError as e:
                errors.append(e)
        raise errors[0] if errors else ConfigError(f"{key}: {value!r} is not allowed")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, args))}")
        return value
    if origin is tuple:
        if isinstance(value, str) and len(args) == 2 and args[1] is Ellipsis and not value.lstrip().startswith("["):
            value = [v.strip() for v in value.split(",") if v.strip()]  # "fid,kid" -> ["fid", "kid"]
        elif isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list like [0.5, 0.999], got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], key) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)}")
        return tuple(coerce(v, a, key) for v, a in zip(value, args))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off"):
            return value.lower() in ("true", "yes", "on")
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        out = _coerce_int(value, key)
        if abs(out) > MAX_INT:
            raise ConfigError(f"{key}: {value!r} is out of range (at most 2**53 = {MAX_INT:,} in size)")
        return out
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads "1e-4" as a string
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (dict, list, tuple)) or value is None:
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"unsupported config type {tp!r} for {key}")  # a bug in this file, not user input


def parse_override(text: str) -> dict[str, Any]:
    """``"train.steps=200"`` -> ``{"train": {"steps": 200}}`` (values parsed as YAML scalars)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: bad key {key!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    out: dict[str, Any] = {}
    node = out
    parts = key.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


# ----------------------------------------------------------------------------------------------
# Presets
# ----------------------------------------------------------------------------------------------

#: the preset ``gankit train`` trains when none is named (benchmarks/results/quality_budget.md measures it)
DEFAULT_PRESET = "acgan-mnist"


def _preset_dir():
    return resources.files("gankit") / "presets"


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in _preset_dir().iterdir() if p.name.endswith(".yaml"))


def read_yaml(path: str | Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config file {str(path)!r}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping at the top level")
    return data


def _is_path(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or "/" in name


def preset_dict(name: str, _chain: tuple[str, ...] = (), _base: Path | None = None) -> dict[str, Any]:
    """A preset by name, or a YAML file by path, with what it ``extends`` merged in.

    ``extends: NAME`` (a preset, or a YAML file; relative paths from the extending file's folder) takes
    that preset and applies this one's keys over it, section by section: a nested mapping merges key by
    key, except that a section whose ``name`` changes (another dataset, network family, game) is
    replaced whole; anything else is replaced."""
    if _is_path(name):
        path = Path(name) if _base is None or Path(name).is_absolute() else _base / name
        data, key, base = read_yaml(path), str(path.resolve()), path.parent
    else:
        res = _preset_dir() / f"{name}.yaml"
        if not res.is_file():
            names = preset_names()
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown preset {name!r}{hint}; available: {', '.join(names)}")
        data, key, base = yaml.safe_load(res.read_text()) or {}, name, None
    if "extends" not in data:
        return data
    parent = data.pop("extends")
    if not isinstance(parent, str) or not parent:
        raise ConfigError(f"{name}: extends: expected the name of a preset or a YAML file, got {parent!r}")
    if key in _chain:
        raise ConfigError(f"{name}: extends itself through {' -> '.join([*_chain, key])}")
    return _extend(preset_dict(parent, (*_chain, key), base), data)


def _extend(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(parent)
    for key, value in child.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and value.get("name", old.get("name")) == old.get("name"):
            out[key] = _extend(old, value)
        else:
            out[key] = value
    return out


def load_config(preset: str | None = None, overrides: list[str] | tuple[str, ...] = (),
                base: Config | dict | None = None) -> Config:
    """Defaults <- preset (or ``base``) <- ``--set`` overrides, then validated."""
    if isinstance(base, Config):
        cfg = base
    elif isinstance(base, dict):
        cfg = from_dict(base)
    else:
        cfg = Config()
    if preset is not None:
        cfg = from_dict(preset_dict(preset), cfg)
    for text in overrides:
        cfg = from_dict(parse_override(text), cfg)
    return cfg.validate()
