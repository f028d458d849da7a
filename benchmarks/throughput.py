"""How fast does gankit train, against the loop students copy, on the same networks and batch?

    python benchmarks/throughput.py [--repeats 5] [--threads 0] [--also train.precision=bf16]

For ``gan-mnist`` (the seed's MLP) and ``dcgan-mnist`` (DCGAN, 28 px) this measures steady-state
training images per second of

- **reference**: a plain loop written here in the style of the seed's code (PyTorch-GAN's gan.py /
  dcgan.py): torchvision's ``MNIST`` dataset with ``Compose([Resize(img_size), ToTensor(),
  Normalize([0.5], [0.5])])``, its per-item operations written out one for one (torchvision does not
  import beside this torch), a ``DataLoader`` with shuffling, noise from ``np.random.normal`` turned
  into a float32 tensor, D ending in a Sigmoid with ``nn.BCELoss``, default ``torch.optim.Adam``, the
  G step first (``g_loss`` through D, whose weight gradients are computed and thrown away), then the D
  step on ``real`` and ``gen_imgs.detach()`` as two forwards, and the seed's per-batch print of both
  losses (to ``os.devnull``; the sample image it saves every 400 batches is left out);
- **reference, lean decoding**: the reference used until 2026-12-03, a row of its own and not the
  denominator of the ratios: the same loop without the print, with only the essential per-item
  operations (uint8 -> PIL -> array -> float in [-1, 1]), about half of torchvision's cost per item;
- **gankit**: ``gankit.api.prepare_training(preset)`` + ``Trainer.fit`` with sampling, checkpoints and
  TensorBoard off, the same networks (built by gankit's own factories for both loops), batch 64 and
  the same data (the MNIST subset, 4,500 images).

Each measurement runs in its own process (fresh allocator state), the two loops alternate in every
repeat, and the median over repeats is reported with the ratio, the peak resident memory of each
process, the achieved GFLOP/s of one DCGAN training iteration (FLOPs counted by
``torch.utils.flop_counter``) against this machine's float32 matmul peak measured in the same run, and
where the time of gankit's DCGAN step goes (torch.profiler, top operators). Results go to
benchmarks/results/throughput.md. The exit status is 1 when a goal (MLP >= 2x, DCGAN >= 1.3x) is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn

MODELS = {"mlp": "gan-mnist", "dcgan": "dcgan-mnist"}
DEVICE = torch.device("cpu")  # --device: both loops train there
GOALS = {"mlp": 2.0, "dcgan": 1.3}
BATCH = 64
LEAN = "reference, lean decoding"  # the row of the reference used before 2026-12-03 (not the denominator)


def _nets(preset: str):
    from gankit.config import load_config
    from gankit.nets import build_discriminator, build_generator

    cfg = load_config(preset)
    shape = (cfg.data.channels, cfg.data.resolution, cfg.data.resolution)
    return cfg, build_generator(cfg.model, shape), build_discriminator(cfg.model, shape)


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


# -- the reference loop, in the seed's style -------------------------------------------------------

class LeanSeedStyleMNIST(torch.utils.data.Dataset):
    """The per-item decoding of the seed's data pipeline with only its essential operations (uint8 ->
    PIL image -> array -> float in [-1, 1]): the reference used before 2026-12-03, kept as a row of
    its own. It costs about half of what torchvision's pipeline does per item (see below)."""

    def __init__(self, images_u8: torch.Tensor):
        self.images = images_u8[:, 0]  # (N, H, W) uint8, as torchvision keeps MNIST

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        import numpy as np
        from PIL import Image

        img = Image.fromarray(self.images[i].numpy(), mode="L")
        x = torch.from_numpy(np.array(img, dtype=np.uint8)).float().div(255).unsqueeze(0)  # ToTensor
        return (x - 0.5) / 0.5, 0  # Normalize([0.5], [0.5])


# What the seed's script (PyTorch-GAN's gan.py / dcgan.py) does per item: torchvision's ``MNIST``
# dataset with ``Compose([Resize(img_size), ToTensor(), Normalize([0.5], [0.5])])``. torchvision does
# not import beside this torch, so the operations its code performs per item are written out here,
# one for one (argument checks, the API-usage log call, the dtype table, the copies, the views, the
# zero-std check), as torchvision's own functions do them. Resize and Normalize are ``nn.Module``s
# there, so they are here too (their ``__call__`` goes through ``Module._call_impl``).

def _log_api_usage(fn) -> None:  # torchvision's _log_api_usage_once
    torch._C._log_api_usage_once(f"{fn.__module__}.{fn.__name__}")


def _to_tensor(pic):
    import numpy as np
    from PIL import Image

    _log_api_usage(_to_tensor)
    if not (isinstance(pic, Image.Image) or isinstance(pic, np.ndarray)):
        raise TypeError(f"pic should be PIL Image or ndarray, got {type(pic)}")
    default_float_dtype = torch.get_default_dtype()
    mode_to_nptype = {"I": np.int32, "I;16": np.int16, "F": np.float32}
    img = torch.from_numpy(np.array(pic, mode_to_nptype.get(pic.mode, np.uint8), copy=True))
    if pic.mode == "1":
        img = 255 * img
    img = img.view(pic.size[1], pic.size[0], len(pic.getbands()))
    img = img.permute((2, 0, 1)).contiguous()  # HWC -> CHW
    if isinstance(img, torch.ByteTensor):
        return img.to(dtype=default_float_dtype).div(255)
    return img


def _normalize(tensor: torch.Tensor, mean, std) -> torch.Tensor:
    _log_api_usage(_normalize)
    if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point() or tensor.ndim < 3:
        raise TypeError("expected a float tensor image (C, H, W)")
    tensor = tensor.clone()  # inplace=False
    mean = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device)
    std = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device)
    if (std == 0).any():
        raise ValueError("std evaluated to zero")
    if mean.ndim == 1:
        mean = mean.view(-1, 1, 1)
    if std.ndim == 1:
        std = std.view(-1, 1, 1)
    return tensor.sub_(mean).div_(std)


def _resize(img, size: int):
    from PIL import Image

    _log_api_usage(_resize)
    _channels, (width, height) = len(img.getbands()), img.size  # get_dimensions
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)  # the smaller edge is matched to size
    new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
    if [height, width] == [new_h, new_w]:
        return img  # MNIST at 28 px: torchvision returns the image untouched
    return img.resize((new_w, new_h), Image.BILINEAR)


class _Resize(nn.Module):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, img):
        return _resize(img, self.size)


class _ToTensor:
    def __call__(self, pic):
        return _to_tensor(pic)


class _Normalize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, tensor):
        return _normalize(tensor, self.mean, self.std)


class _Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img


class SeedStyleMNIST(torch.utils.data.Dataset):
    """torchvision's ``MNIST.__getitem__`` with the seed's transform (see above)."""

    def __init__(self, images_u8: torch.Tensor, img_size: int):
        self.data = images_u8[:, 0]  # (N, H, W) uint8, as torchvision keeps MNIST
        self.targets = torch.zeros(len(images_u8), dtype=torch.long)
        self.transform = _Compose([_Resize(img_size), _ToTensor(), _Normalize([0.5], [0.5])])

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index):
        from PIL import Image

        img, target = self.data[index], int(self.targets[index])
        img = Image.fromarray(img.numpy(), mode="L")
        return self.transform(img), target


def reference_rate(preset: str, warmup: int, iters: int, lean: bool = False) -> float:
    """The seed's loop, timed. ``lean``: with the lean per-item decoding (the reference before 2026-12-03)."""
    import numpy as np

    from gankit.config import load_config
    from gankit.data import load_data

    cfg, generator, D = _nets(preset)
    discriminator = nn.Sequential(D, nn.Sigmoid())
    adversarial_loss = nn.BCELoss()
    generator, discriminator, adversarial_loss = generator.to(DEVICE), discriminator.to(DEVICE), adversarial_loss.to(DEVICE)
    lr, betas = cfg.optim.g.lr, tuple(cfg.optim.g.betas)
    optimizer_G = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
    data = load_data(load_config(preset).data)
    dataset = LeanSeedStyleMNIST(data.images) if lean else SeedStyleMNIST(data.images, cfg.data.resolution)
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, drop_last=True)
    terminal = open(os.devnull, "w")  # the seed prints both losses every batch: to the cheapest terminal there is
    latent_dim = cfg.model.latent_dim
    done, t0 = 0, None
    while True:
        for imgs, _ in dataloader:
            if done == warmup:
                _sync()
                t0 = time.perf_counter()
            valid = torch.ones(imgs.size(0), 1, device=DEVICE)
            fake = torch.zeros(imgs.size(0), 1, device=DEVICE)
            real_imgs = imgs.to(DEVICE)  # the seed's imgs.type(Tensor)

            optimizer_G.zero_grad()
            z = torch.tensor(np.random.normal(0, 1, (imgs.shape[0], latent_dim)), dtype=torch.float32, device=DEVICE)
            gen_imgs = generator(z)
            g_loss = adversarial_loss(discriminator(gen_imgs).view(-1, 1), valid)
            g_loss.backward()
            optimizer_G.step()

            optimizer_D.zero_grad()
            real_loss = adversarial_loss(discriminator(real_imgs).view(-1, 1), valid)
            fake_loss = adversarial_loss(discriminator(gen_imgs.detach()).view(-1, 1), fake)
            d_loss = (real_loss + fake_loss) / 2
            d_loss.backward()
            optimizer_D.step()
            if not lean:
                print(f"[Batch {done}] [D loss: {d_loss.item():f}] [G loss: {g_loss.item():f}]", file=terminal)
            done += 1
            if done == warmup + iters:
                _sync()
                rate = iters * BATCH / (time.perf_counter() - t0)
                terminal.close()
                return rate


# -- gankit's trainer ------------------------------------------------------------------------------

def gankit_rate(preset: str, warmup: int, iters: int, extra: list[str]) -> float:
    import tempfile

    from gankit.api import prepare_training

    log_every = 10
    with tempfile.TemporaryDirectory() as tmp:
        trainer = prepare_training(preset, [f"train.steps={warmup + iters}", f"train.batch_size={BATCH}",
                                            "train.sample_every=0", "train.checkpoint_every=0",
                                            "train.tensorboard=false", "train.progress=false", "train.ema_decay=0",
                                            "eval.every=0", f"train.log_every={log_every}",
                                            f"train.device={DEVICE}", *extra],
                                   out=Path(tmp) / "run")
        trainer.fit()
        rows = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    # each row's img_per_s covers the log window that ends at its step: keep the windows after warmup
    windows = [r["img_per_s"] for r in rows if "img_per_s" in r and r["step"] > warmup]
    return len(windows) / sum(1.0 / w for w in windows)  # time-weighted mean over equal windows


# -- FLOPs, peak and profile (in the parent process) ----------------------------------------------

def step_flops(preset: str, extra: list[str]) -> float:
    """FLOPs of one gankit training iteration of ``preset`` (D phase + G phase), counted by torch."""
    import tempfile

    from torch.utils.flop_counter import FlopCounterMode

    from gankit.api import prepare_training

    with tempfile.TemporaryDirectory() as tmp:
        tr = prepare_training(preset, [f"train.batch_size={BATCH}", *extra], out=Path(tmp) / "r")
        phases = tr.game.phases()
        counter = FlopCounterMode(display=False)
        with counter:
            for i, ph in enumerate(phases):
                for name in ph.players:
                    tr.optimizers[name].zero_grad(set_to_none=True)
                batch = tr._batch() if ph.data else None
                tr.game.run_phase(ph, batch, phases[i + 1] if i + 1 < len(phases) else None)
        return float(counter.get_total_flops())


def matmul_peak(seconds: float = 3.0, dtype: torch.dtype = torch.float32) -> float:
    """Median GFLOP/s of a square matrix product on DEVICE (2048² on a CPU, 8192² on a GPU; float32
    without TF32 unless ``dtype`` says otherwise)."""
    n = 8192 if DEVICE.type == "cuda" else 2048
    a, b = torch.randn(n, n, device=DEVICE, dtype=dtype), torch.randn(n, n, device=DEVICE, dtype=dtype)
    torch.mm(a, b)
    rates = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        _sync()
        t0 = time.perf_counter()
        torch.mm(a, b)
        _sync()
        rates.append(2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return statistics.median(rates)


def profile_dcgan(extra: list[str], steps: int = 20) -> list[tuple[str, float, float]]:
    import tempfile

    from torch.profiler import ProfilerActivity, profile

    from gankit.api import prepare_training

    with tempfile.TemporaryDirectory() as tmp:
        tr = prepare_training("dcgan-mnist", [f"train.batch_size={BATCH}", f"train.device={DEVICE}", *extra],
                              out=Path(tmp) / "r")
        phases = tr.game.phases()
        autocast = torch.autocast(DEVICE.type, dtype=tr.amp_dtype, enabled=tr.amp_dtype is not None)

        def step():
            for i, ph in enumerate(phases):
                opts = [tr.optimizers[name] for name in ph.players]
                for opt in opts:
                    opt.zero_grad(set_to_none=True)
                batch = tr._batch() if ph.data else None
                with autocast:
                    tr.game.run_phase(ph, batch, phases[i + 1] if i + 1 < len(phases) else None)
                for opt in opts:
                    opt.step()

        for _ in range(5):
            step()
        gpu = DEVICE.type == "cuda"
        with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])) as prof:
            for _ in range(steps):
                step()
            _sync()
    events = prof.key_averages()
    # on a GPU: where the device's time goes (kernels); on a CPU: each operator's own CPU time
    t = (lambda e: e.self_device_time_total) if gpu else (lambda e: e.self_cpu_time_total)
    total = sum(t(e) for e in events)
    top = sorted(events, key=t, reverse=True)[:10]
    return [(e.key, t(e) / total, t(e) / steps / 1e3) for e in top] + [("total", 1.0, total / steps / 1e3)]


# -- driver ----------------------------------------------------------------------------------------

def worker(kind: str, model: str, warmup: int, iters: int, extra: list[str]) -> None:
    preset = MODELS[model]
    rate = (reference_rate(preset, warmup, iters, lean=kind == "reference-lean") if kind.startswith("reference")
            else gankit_rate(preset, warmup, iters, extra))
    gpu_mb = torch.cuda.max_memory_allocated(DEVICE) / 2**20 if DEVICE.type == "cuda" else None
    print(json.dumps({"img_per_s": rate, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "gpu_mb": gpu_mb}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, the cores)")
    ap.add_argument("--models", default="mlp,dcgan")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]: where both loops train")
    ap.add_argument("--set", dest="extra", action="append", default=[], help="extra gankit settings")
    ap.add_argument("--also", action="append", default=[], metavar="KEY=VALUE",
                    help="also measure gankit with this opt-in setting (a row of its own, not judged by the goals)")
    ap.add_argument("--results", help="default benchmarks/results/throughput.md, or throughput-cuda.md on a GPU")
    ap.add_argument("--worker", nargs=4, metavar=("KIND", "MODEL", "WARMUP", "ITERS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        kind, model, warmup, iters = args.worker
        worker(kind, model, int(warmup), int(iters), args.extra)
        return

    gpu = DEVICE.type == "cuda"
    # (warmup, timed) iterations per measurement
    lengths = {"mlp": (200, 2000), "dcgan": (100, 1000)} if gpu else {"mlp": (100, 800), "dcgan": (15, 150)}
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}))
    variants = {"reference": [], LEAN: [], "gankit": list(args.extra),
                **{f"gankit {a}": [*args.extra, a] for a in args.also}}
    results: dict[str, dict[str, list[dict]]] = {}
    for model in args.models.split(","):
        warmup, iters = lengths[model]
        results[model] = {v: [] for v in variants}
        for rep in range(args.repeats):
            for name, settings in variants.items():
                kind = {"reference": "reference", LEAN: "reference-lean"}.get(name, "gankit")
                cmd = [sys.executable, __file__, "--worker", kind, model, str(warmup), str(iters), "--device", args.device,
                       *(f"--set={e}" for e in settings)] + (["--threads", str(args.threads)] if args.threads else [])
                out = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    raise SystemExit(f"{name} {model} failed:\n{out.stderr[-2000:]}")
                r = json.loads(out.stdout.strip().splitlines()[-1])
                results[model][name].append(r)
                print(f"{model:5s} {name:28s} repeat {rep}: {r['img_per_s']:8.1f} img/s  "
                      f"(peak RSS {r['max_rss_mb']:.0f} MB)", flush=True)

    peak = matmul_peak()
    peak_bf16 = matmul_peak(dtype=torch.bfloat16) if gpu else None
    extra = list(args.extra)
    flops = {model: step_flops(MODELS[model], extra) for model in results}
    prof = profile_dcgan(extra) if "dcgan" in results else []
    peak_after = matmul_peak()

    med = {m: {v: statistics.median(x["img_per_s"] for x in r[v]) for v in r} for m, r in results.items()}
    lines = ["# Training throughput: gankit's trainer against the seed-style loop", "",
             f"Command: `python benchmarks/throughput.py --repeats {args.repeats}"
             + (f" --device {args.device}" if gpu else "")
             + (f" --threads {args.threads}" if args.threads else "")
             + "".join(f" --set {e}" for e in args.extra) + "".join(f" --also {a}" for a in args.also)
             + f"` ({time.strftime('%Y-%m-%d %H:%M')}).", "",
             f"Machine: {platform.platform()}, {platform.processor() or 'x86_64'}, {os.cpu_count()} CPU cores, "
             f"torch {torch.__version__}, "
             + (f"{torch.cuda.get_device_name(DEVICE)}; float32 (no TF32) 8192² matmul peak measured in this run: "
                f"{peak:.0f} GFLOP/s before the profile, {peak_after:.0f} after (bfloat16: {peak_bf16:.0f})"
                if gpu else
                f"{torch.get_num_threads()} threads; float32 2048² matmul peak measured in this run: {peak:.0f} "
                f"GFLOP/s before the profile, {peak_after:.0f} after")
             + f". Batch {BATCH}, the MNIST subset (4,500 images, 28 px), the same networks in both loops "
             f"(gankit's factories), both on {DEVICE}. Each measurement is its own process; the loops alternate "
             f"within every repeat; medians over {args.repeats} repeats. "
             + ("gankit's defaults on CUDA train in bfloat16 autocast (train.precision=auto); the reference in "
                "float32. The goals are for the CPU and are not judged here." if gpu else
                "The goals are judged on gankit's defaults (float32 on CPU)."), "",
             "| model | loop | img/s (median) | ratio to reference | goal | GFLOP/s (share of matmul peak) "
             + ("| peak GPU memory (MB) " if gpu else "") + "| peak RSS (MB) | all repeats (img/s) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | " + ("---: | " if gpu else "") + "--- |"]
    missed = []
    for model, r in results.items():
        ref = med[model]["reference"]
        for name in r:
            rate, ratio = med[model][name], med[model][name] / ref
            goal = ""
            if name == "gankit" and not gpu:
                ok = ratio >= GOALS[model]
                goal = f"≥ {GOALS[model]}× {'met' if ok else 'MISSED'}"
                if not ok:
                    missed.append(model)
            gflops = flops[model] * rate / BATCH / 1e9
            every = ", ".join(f"{x['img_per_s']:.0f}" for x in r[name])
            lines.append(f"| {model} (`{MODELS[model]}`) | {name} | {rate:.0f} | "
                         f"{'1' if name == 'reference' else '%.2f×' % ratio if name == LEAN else '**%.2f×**' % ratio} | {goal} | "
                         f"{gflops:.0f} ({100 * gflops / peak:.0f}%) | "
                         + (f"{max(x['gpu_mb'] for x in r[name]):.0f} | " if gpu else "")
                         + f"{max(x['max_rss_mb'] for x in r[name]):.0f} | {every} |")
    lines += ["", "FLOPs of one iteration (D phase + G phase, batch %d, counted by torch.utils.flop_counter on "
              "gankit's step): %s. The GFLOP/s column applies that count to every loop's rate (the reference "
              "does slightly more work per iteration: its G step also computes D's weight gradients)."
              % (BATCH, ", ".join(f"{m} {f / 1e9:.2f} GFLOP" for m, f in flops.items()))]
    if prof:
        lines += ["", "Where gankit's DCGAN step spends its time (torch.profiler, "
                  + ("self GPU time of the kernels" if gpu else "self CPU time") + ", 20 steps):", "",
                  "| operator | share | ms per step |", "| --- | ---: | ---: |"]
        lines += [f"| `{k}` | {100 * share:.1f}% | {ms:.2f} |" if k != "total" else f"| all operators | 100% | {ms:.2f} |"
                  for k, share, ms in prof]
    results_path = Path(args.results or f"benchmarks/results/throughput{'-cuda' if gpu else ''}.md")
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
