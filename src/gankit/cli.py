"""The ``gankit`` command: train, sample, translate, eval, interpolate, arithmetic, film, report, demo,
presets, datasets.

Exit codes: 0 success; 1 training diverged; 2 bad usage or bad input (one line on stderr);
130 interrupted (after saving a checkpoint).
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .config import DEFAULT_PRESET
from .errors import GankitError, Interrupted, TrainingDiverged


class _Parser(argparse.ArgumentParser):
    """argparse with gankit's error format: one line naming the problem and where help is, exit 2."""

    def error(self, message: str):
        print(f"gankit: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gankit", description="Train, sample, evaluate and look at GANs.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help=f"train a preset (default: {DEFAULT_PRESET}) or resume a run",
                       description="Train a GAN. Settings come from a preset (or a YAML file) and --set overrides.")
    t.add_argument("preset", nargs="?", help=f"preset name or YAML file (default: {DEFAULT_PRESET})")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting, e.g. --set train.steps=500 (repeatable)")
    t.add_argument("--out", help="run directory (default: runs/<preset>-<time>/); with --resume: a new directory "
                                 "that branches from the checkpoint, leaving the old run as it is")
    t.add_argument("--resume", metavar="DIR_OR_CHECKPOINT",
                   help="continue the run in DIR from its last checkpoint (or from a checkpoint file)")
    t.add_argument("--rewind", action="store_true",
                   help="with --resume CHECKPOINT earlier than the run's last: rewind the run to it (the later "
                        "checkpoints and metrics are kept under RUN/rewound/)")
    t.add_argument("--device", help="auto | cpu | cuda | cuda:N (default: auto)")

    s = sub.add_parser("sample", help="draw samples from a trained generator")
    s.add_argument("path", metavar="DIR_OR_CHECKPOINT")
    s.add_argument("--n", type=int, default=None, help="number of samples (default 64; --traverse: rows, default 10)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default=None,
                   help=".png (a grid), .npy (float32 array in [-1, 1], NCHW) or DIR/ (one PNG per sample); sequence "
                        "runs: .txt (one sequence a line; default: standard output)")
    s.add_argument("--temperature", type=float, default=None, metavar="T",
                   help="sequence runs: sampling temperature (0: greedy; default: the run's game.temperature)")
    s.add_argument("--device", default="cpu")
    s.add_argument("--class", dest="klass", type=int, default=None, metavar="K",
                   help="conditional runs: every sample of class K")
    s.add_argument("--classes", choices=["all"], default=None,
                   help="conditional runs: a grid with one row per class and --n columns, the same noise in every row")
    s.add_argument("--jacobian-keep", type=float, default=None, metavar="Q",
                   help="Jacobian-based truncation: keep this fraction of the latent draws, those with the smallest "
                        "||dG/dz|| (default: the run's sample.jacobian_keep, 1 = off)")
    s.add_argument("--code", dest="codes", action="append", default=[], metavar="NAME=VALUE",
                   help="runs with latent codes (infogan): fix one, e.g. --code c=3 (category) or --code cont0=1.5 "
                        "(repeatable)")
    s.add_argument("--traverse", metavar="CODE",
                   help="runs with continuous codes (infogan): a grid sweeping CODE (e.g. cont0) from -2 to 2 along "
                        "each row, everything else fixed; row i shows category i mod K unless --code c=K")
    s.add_argument("--steps", type=int, default=10, help="--traverse: columns of the sweep (default 10)")
    s.add_argument("--truncation", type=float, default=None, metavar="PSI",
                   help="style-based runs (stylegan): pull w toward its average by PSI (1: off; 0: the same image "
                        "for every z; 0.7 is common)")
    s.add_argument("--mix", metavar="ROWS,COLS",
                   help="style-based runs: a style-mixing grid (.png): coarse styles (4-8 px) from the ROWS sources, "
                        "fine ones from the COLS sources")

    r = sub.add_parser("translate", help="translate images with a trained translation run (e.g. pix2pix)",
                       description="Translate an image or a folder of images with a translation run: one output "
                                   "per input, under the same relative name, in --out.")
    r.add_argument("path", metavar="DIR_OR_CHECKPOINT")
    r.add_argument("--input", required=True, metavar="IMAGE_OR_FOLDER",
                   help="an image, or a folder of images (recursive); a folder with A/ and B/ subfolders of "
                        "matching names translates A and shows B as the targets in --grid")
    r.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs")
    r.add_argument("--direction", choices=["AtoB", "BtoA"], default=None,
                   help="two-way runs (cyclegan, discogan, dualgan): which translator (default AtoB)")
    r.add_argument("--to", metavar="DOMAIN", default=None,
                   help="multi-domain runs (stargan): the target domain, attributes joined by + (e.g. green+thick)")
    r.add_argument("--grid", metavar="FILE.png", help="also write a grid of input | output (| reconstruction) "
                                                     "(| target) columns (the first 64 inputs)")
    r.add_argument("--device", default="cpu")

    e = sub.add_parser("eval", help="score a run (or any images) with FID, KID, IS, precision/recall, ...",
                       description="Score a run's samples against its dataset, or --fake images against --real ones.")
    e.add_argument("path", nargs="?", metavar="DIR_OR_CHECKPOINT")
    e.add_argument("--real", help="with --fake: a dataset name (mnist, fashion-mnist, digits) or a folder of images")
    e.add_argument("--fake", help="a folder of images or a .npz/.npy file to score instead of a run")
    e.add_argument("--metrics", default=None,
                   help="comma-separated: fid,kid,is,pr,dc,classes,accuracy,memorization,modes,l1,psnr,ssim,cycle,domains,"
                        "cluster,ppl or all (default: all that apply; modes and ppl by name only)")
    e.add_argument("--n", type=int, default=None,
                   help="samples drawn from the run (default 5000; for modes the protocol's 2,500 on 2-D data, "
                        "26,000 on stacked-mnist; ppl: that many pairs of latents)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--extractor", default="auto",
                   help="auto | inception-v3 | classifier | classifier:DATASET (default auto: Inception if its "
                        "weights are here, else the dataset classifier)")
    e.add_argument("--inception-weights", metavar="PATH", help="pt_inception-2015-12-05-6726825d.pth")
    e.add_argument("--jacobian-keep", type=float, default=None, metavar="Q",
                   help="Jacobian-based truncation: keep this fraction of the latent draws, those with the smallest "
                        "||dG/dz|| (default: the run's sample.jacobian_keep, 1 = off)")
    e.add_argument("--truncation-sweep", metavar="PSIS", default=None,
                   help="style-based runs: score the samples at each truncation psi, e.g. 0.5,0.7,1.0 (one row per "
                        "score and psi; default metrics fid,pr)")
    e.add_argument("--temperature", metavar="T", default=None,
                   help="sequence runs: the sampling temperature (default the run's game.temperature), or several, "
                        "e.g. 0.7,1.0: a temperature sweep (every sample-based score once per temperature)")
    e.add_argument("--fake-range", choices=["auto", "unit", "signed", "8bit", "16bit"], default="auto",
                   help="the value range of a --fake .npz/.npy: unit [0, 1], signed [-1, 1], 8bit [0, 255], 16bit "
                        "[0, 65535] (default auto: from the dtype and values; ambiguous arrays are refused)")
    e.add_argument("--json", metavar="FILE", help="also write the scores as JSON")
    e.add_argument("--device", default="cpu")

    m = sub.add_parser("demo", help="draw a theory figure with gankit's own objectives (--list: which)",
                       description="Draw a theory figure computed by gankit's own objectives into a PNG file.")
    m.add_argument("name", nargs="?", metavar="NAME", help="the demo to draw (see --list)")
    m.add_argument("--out", metavar="FILE.png", help="PNG file to write (required with NAME)")
    m.add_argument("--list", action="store_true", help="list the demos and exit")

    i = sub.add_parser("interpolate", help="rows of latent paths between random endpoints (.png grid or .gif)",
                       description="Walk a noise-driven run's latent space between random endpoints: one row per "
                                   "path (.png), or one frame per step with every row, played forward then back "
                                   "(.gif). Slerp in a Gaussian z, lerp in a style-based run's W (by default).")
    i.add_argument("path", metavar="DIR_OR_CHECKPOINT")
    i.add_argument("--out", required=True, metavar="FILE.png|FILE.gif")
    i.add_argument("--steps", type=int, default=10, help="points along each path, ends included (default 10)")
    i.add_argument("--rows", type=int, default=8, help="paths (default 8)")
    i.add_argument("--seed", type=int, default=0)
    how = i.add_mutually_exclusive_group()
    how.add_argument("--slerp", dest="method", action="store_const", const="slerp",
                     help="spherical interpolation (default for a Gaussian z)")
    how.add_argument("--lerp", dest="method", action="store_const", const="lerp",
                     help="linear interpolation (default in a style-based run's W)")
    i.add_argument("--fps", type=float, default=8, help=".gif: frames a second (default 8)")
    i.add_argument("--device", default="cpu")

    a = sub.add_parser("arithmetic", help="latent arithmetic A - B + C read by the dataset classifier (DCGAN fig. 7)",
                       description="Average the latents of the samples the dataset classifier reads most confidently "
                                   "as A, as B and as C; draw mean_A - mean_B + mean_C and 8 noisy neighbours, and "
                                   "print how the classifier reads them.")
    a.add_argument("path", metavar="DIR_OR_CHECKPOINT")
    a.add_argument("--out", required=True, metavar="FILE.png")
    a.add_argument("--a", default=None, metavar="CLASS", help="class name or index (fashion-mnist default: ankle boot)")
    a.add_argument("--b", default=None, metavar="CLASS", help="(fashion-mnist default: sneaker)")
    a.add_argument("--c", default=None, metavar="CLASS", help="(fashion-mnist default: sandal)")
    a.add_argument("--n", type=int, default=2000, help="samples the classifier reads (default 2000)")
    a.add_argument("--k", type=int, default=3, help="samples averaged per class (default 3, as the DCGAN paper)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--device", default="cpu")

    f = sub.add_parser("film", help="the run's preview grids over training as an animated GIF",
                       description="Make an animated GIF of the fixed-input previews the trainer saved "
                                   "(RUN/samples/step-*.png, then final.png), each frame captioned with its step.")
    f.add_argument("path", metavar="RUN_DIR")
    f.add_argument("--out", required=True, metavar="FILE.gif")
    f.add_argument("--fps", type=float, default=4, help="frames a second (default 4)")
    f.add_argument("--every", type=int, default=1, metavar="K", help="every K-th preview (default 1: all)")

    o = sub.add_parser("report", help="one self-contained HTML page of a run (--compare: several side by side)",
                       description="Write one self-contained HTML page of a run: its preview grids over training, "
                                   "curves of every logged key, evaluation scores, config. Images are embedded; the "
                                   "page loads nothing from the network (it can be mailed or opened offline).")
    o.add_argument("run", metavar="RUN_DIR")
    o.add_argument("--out", metavar="FILE.html", help="the page to write (default RUN_DIR/report.html)")
    o.add_argument("--compare", nargs="+", default=[], metavar="RUN2",
                   help="other runs to show side by side: curves overlaid, one table of final values")

    sub.add_parser("presets", help="list the shipped presets")
    sub.add_parser("datasets", help="list data sources and whether they are available here")
    return p


def _cmd_train(args) -> int:
    from .api import prepare_training

    from .train.distributed import shutdown

    finished = False
    try:
        trainer = prepare_training(args.preset, args.overrides, args.out, args.resume, args.device, args.rewind)
        d, t = trainer.dist, trainer.cfg.train
        if trainer.is_main:
            procs = (f", {d.world_size} processes x batch {t.batch_size} = global batch {d.world_size * t.batch_size}"
                     if d.enabled else "")
            shape = trainer.data.shape
            what = (trainer.data.describe() if hasattr(trainer.data, "describe")  # token data says what it holds
                    else f"{len(trainer.data)} points in {shape[0]}-D" if len(shape) == 1
                    else f"{len(trainer.data)} images {'x'.join(map(str, shape))}")
            print(f"run directory: {trainer.run_dir}  (device {trainer.device}{procs}, {what}, "
                  f"step {trainer.step} -> {t.steps})", file=sys.stderr)
        r = trainer.fit()
        finished = True
    finally:
        shutdown(finished)
    if trainer.is_main:
        per_proc = f" ({r['img_per_s'] / r['processes']:.0f} per process)" if r["processes"] > 1 else ""
        print(f"done: {r['steps']} steps, {r['images_seen'] / 1000:.1f}k images seen; this session "
              f"{r['seconds']:.0f} s at {r['img_per_s']:.0f} img/s{per_proc}\nfinal grid: {r['final_grid']}\n"
              f"checkpoint: {r['checkpoint']}")
    return 0


def _cmd_sample(args) -> int:
    import numpy as np

    from .api import parse_codes, sample
    from .utils.images import save_image_grid

    if args.out is None or args.out.lower().endswith(".txt"):  # text: a sequence run's samples
        return _sample_text(args)
    if args.temperature is not None:
        raise GankitError("--temperature applies to sequence runs (written as text: --out FILE.txt)")
    out = Path(args.out)
    to_dir = args.out.endswith(("/", "\\")) or out.is_dir()
    if not to_dir and out.suffix.lower() not in (".png", ".npy"):
        raise GankitError(f"--out {args.out!r}: use a .png (grid) or .npy (array) file name, or a folder ending in /")
    from .api import _check_folder

    _check_folder(out if to_dir else out.parent, f"--out {args.out!r}")
    nrow = None
    codes = parse_codes(args.codes)
    if args.mix is not None:
        from .api import style_mix

        try:
            rows, cols = (int(v) for v in args.mix.split(","))
        except ValueError:
            raise GankitError(f"--mix {args.mix!r}: give ROWS,COLS, e.g. --mix 4,6") from None
        if to_dir or out.suffix.lower() != ".png":
            raise GankitError("--mix draws one grid: give --out FILE.png")
        images = style_mix(args.path, rows, cols, seed=args.seed, device=args.device,
                           truncation=1.0 if args.truncation is None else args.truncation)
        nrow, args.n = cols + 1, len(images)
    elif args.traverse is not None:
        if args.classes is not None or args.klass is not None:
            raise GankitError("--traverse takes --code, not --class/--classes")
        from .api import traversal

        images = traversal(args.path, args.traverse, rows=10 if args.n is None else args.n, steps=args.steps,
                           seed=args.seed, device=args.device, codes=codes)
        nrow, args.n = args.steps, len(images)
    elif args.classes is not None:
        if args.klass is not None:
            raise GankitError("give --class K or --classes all, not both")
        from .api import class_grid

        columns = 64 if args.n is None else args.n
        images = class_grid(args.path, columns, seed=args.seed, device=args.device)
        nrow, args.n = columns, len(images)
    else:
        args.n = 64 if args.n is None else args.n
        images = sample(args.path, args.n, seed=args.seed, device=args.device, labels=args.klass,
                        jacobian_keep=args.jacobian_keep, codes=codes or None, truncation=args.truncation)
    out.parent.mkdir(parents=True, exist_ok=True)
    if to_dir:
        from .utils.images import save_images

        save_images(images, out)
    elif out.suffix.lower() == ".npy":
        np.save(out, images.numpy().astype(np.float32))
    else:
        save_image_grid(images, out, nrow=nrow)
    print(f"wrote {args.n} samples to {out}")
    return 0


def _sample_text(args) -> int:
    """``gankit sample`` of a sequence run: one sequence a line, to --out FILE.txt or standard output."""
    from .api import _check_folder, sample_text

    image_flags = {"--class": args.klass, "--classes": args.classes, "--jacobian-keep": args.jacobian_keep,
                   "--code": args.codes or None, "--traverse": args.traverse, "--truncation": args.truncation,
                   "--mix": args.mix}
    used = [flag for flag, value in image_flags.items() if value is not None]
    if used:
        raise GankitError(f"{used[0]} applies to image runs, not to text samples")
    n = 64 if args.n is None else args.n
    if args.out is not None:
        _check_folder(Path(args.out).parent, f"--out {args.out!r}")
    lines = sample_text(args.path, n, seed=args.seed, device=args.device, temperature=args.temperature)
    text = "".join(line + "\n" for line in lines)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {n} samples to {out}")
    return 0


def _cmd_translate(args) -> int:
    import torch

    from .api import load_run
    from .utils.images import save_image_grid, save_named_images

    run = load_run(args.path, args.device)
    if run.game.kind != "translation":
        raise GankitError(f"{args.path!r} is a {run.cfg.game.name!r} run, which does not translate images; "
                          f"draw from it with gankit sample")
    from .data.inputs import read_translation_inputs

    out, src = Path(args.out).resolve(), Path(args.input).resolve()
    if out.exists() and not out.is_dir():
        raise GankitError(f"--out {args.out!r} is a file; give a folder for the translations")
    if out == src or src in out.parents or out in src.parents:  # outputs would overwrite inputs, or be read as inputs
        raise GankitError(f"--out {args.out!r} overlaps --input {args.input!r}; write the translations elsewhere")
    how = {k: v for k, v in (("direction", args.direction), ("to", args.to)) if v is not None}
    shape = run.game.input_shape_for(**how)  # (a bad --to or --direction fails here, before reading)
    names, images, _ = read_translation_inputs(args.input, shape[1], shape[0])
    inputs = run.game.translate_inputs(images, **how)
    outputs = run.generate(inputs, batch_size=100)
    paths = save_named_images(outputs, args.out, names)
    print(f"wrote {len(paths)} translations to {args.out}")
    if args.grid:
        _, _, targets = read_translation_inputs(args.input, shape[1], shape[0], target_channels=outputs.shape[1])
        k = min(64, len(images))
        first = {key: v[:k] for key, v in inputs.items()}
        back = run.game.reconstruct(first, outputs[:k], run.players) if run.game.reversible else None
        cols = ([images[:k], outputs[:k]] + ([back.float().cpu()] if back is not None else [])
                + ([targets[:k]] if targets is not None else []))
        c = max(col.shape[1] for col in cols)  # grey columns beside colour ones
        cols = [col.expand(-1, c, -1, -1) if col.shape[1] != c else col for col in cols]
        grid = torch.stack(cols, 1).flatten(0, 1)  # (k * columns, C, H, W): input, output, target, input, ...
        per_row = len(cols) * max(1, min(4, k))
        print(f"grid: {save_image_grid(grid, args.grid, nrow=per_row)}")
    return 0


def _cmd_eval(args) -> int:
    import json

    from .metrics.evaluate import check_device, format_table, parse_metrics, parse_psis, save_closest_pairs

    metrics = parse_metrics(args.metrics) if args.metrics else None
    psis = parse_psis(args.truncation_sweep) if args.truncation_sweep is not None else None
    if args.n is not None and args.n < 2:
        raise GankitError(f"--n must be >= 2, got {args.n}")
    check_device(args.device)  # a CPU-only torch asked for cuda: one line, before anything is loaded
    if args.fake or args.real:
        if not (args.fake and args.real) or args.path:
            raise GankitError("score images with both --real SOURCE_OR_FOLDER and --fake FOLDER_OR_NPZ (and no run)")
        if psis is not None:
            raise GankitError("--truncation-sweep draws a run's samples at each psi; --fake images have no psi")
        if args.temperature is not None:
            raise GankitError("--temperature draws a sequence run's samples; --fake images have no temperature")
        res, out_dir = _eval_images(args, metrics), None
    else:
        if not args.path:
            raise GankitError("give a run directory or checkpoint, or --real and --fake")
        from .api import evaluate_run
        from .train.checkpoint import find_checkpoint

        res = evaluate_run(args.path, metrics, args.n, args.extractor, args.seed, args.device, args.inception_weights,
                           jacobian_keep=args.jacobian_keep, truncation=psis, temperature=args.temperature)
        out_dir = find_checkpoint(args.path).parent.parent / "eval"
    if not res.scores:
        raise GankitError("nothing could be scored: " + "; ".join(res.notes or ["no metric applies"]))
    print(format_table(res))
    for note in res.notes:
        print(f"note: {note}", file=sys.stderr)
    if out_dir is not None:
        grid = save_closest_pairs(res, out_dir / "closest_pairs.png")
        if grid is not None:
            print(f"closest sample/training pairs: {grid}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        doc = {"extractor": res.extractor, "scores": res.scores, "extractor_info": res.info, "notes": res.notes}
        if res.sweep:  # the same scores, by psi (or by temperature)
            doc["temperature_sweep" if args.temperature is not None else "truncation_sweep"] = {
                f"{psi:g}": scores for psi, scores in res.sweep.items()}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0


def _eval_images(args, metrics):
    import dataclasses

    from .api import load_images
    from .config import DataConfig
    from .data import load_data
    from .data.sources import SOURCES
    from .metrics.evaluate import check_sample_count, evaluate, needs_extractor
    from .metrics.extractors import build_extractor

    fake = load_images(args.fake, value_range=args.fake_range)  # both inputs first: a bad one fails before any classifier is trained
    if len(fake) == 0:
        raise GankitError(f"--fake {args.fake!r} holds no images")
    c, r, _ = fake.shape
    if args.real in SOURCES:
        data_cfg = DataConfig(name=args.real, resolution=r, channels=c)
    elif Path(args.real).suffix.lower() in (".npz", ".npy"):
        data_cfg = DataConfig(name="npz", path=args.real, resolution=r, channels=c)
    else:
        data_cfg = DataConfig(name="folder", path=args.real, resolution=r, channels=c)
    train = load_data(dataclasses.replace(data_cfg, split="train"))
    check_sample_count(metrics, len(fake))
    check_sample_count(metrics, len(train), "real images")
    ext = (build_extractor(args.extractor, data_cfg, args.device, args.inception_weights)
           if needs_extractor(metrics, data_cfg) else None)
    images = fake.images.float().mul(2 / 255).sub(1)
    return evaluate(images, data_cfg, ext, metrics, train=train, seed=args.seed)


def _cmd_demo(args) -> int:
    from .demos import describe_demos, make_demo

    if args.list:
        demos = describe_demos()
        width = max(len(name) for name, _ in demos)
        for name, summary in demos:
            print(f"{name:<{width}}  {summary}")
        return 0
    if not args.name or not args.out:
        raise GankitError("usage: gankit demo NAME --out FILE.png (gankit demo --list shows the demos)")
    print(f"wrote {make_demo(args.name, args.out)}")
    return 0


def _visual_out(out: str, suffixes: tuple[str, ...]) -> Path:
    """--out of a picture command, checked before anything is loaded."""
    from .api import _check_folder

    path = Path(out)
    if path.suffix.lower() not in suffixes or out.endswith(("/", "\\")):
        raise GankitError(f"--out {out!r}: give a {' or '.join(suffixes)} file name")
    if path.is_dir():
        raise GankitError(f"--out {out!r} is a folder; give a {' or '.join(suffixes)} file name")
    _check_folder(path.parent, f"--out {out!r}")
    return path


def _cmd_interpolate(args) -> int:
    from .visuals import interpolate, save_interpolation

    out = _visual_out(args.out, (".png", ".gif"))
    res = interpolate(args.path, steps=args.steps, rows=args.rows, seed=args.seed, method=args.method,
                      device=args.device)
    path = save_interpolation(res, out, fps=args.fps)
    frames = f", {2 * res.steps - 2} frames" if out.suffix.lower() == ".gif" else ""
    print(f"wrote {res.rows} paths of {res.steps} steps ({res.method} in {res.space}{frames}) to {path}")
    return 0


def _cmd_arithmetic(args) -> int:
    from .visuals import arithmetic, save_arithmetic_figure

    out = _visual_out(args.out, (".png",))
    res = arithmetic(args.path, a=args.a, b=args.b, c=args.c, n=args.n, k=args.k, seed=args.seed, device=args.device)
    print(f"{res.classes[0]} - {res.classes[1]} + {res.classes[2]} in {res.space}, the {res.k} of {res.n} samples "
          f"read most confidently as each class by {res.classifier}:")
    for i, letter in enumerate("ABC"):
        probs = ", ".join(f"{p:.2f}" for p in res.confidences[letter].tolist())
        print(f"  {letter} = {res.classes[i]}: samples read at {probs}; their average reads as {res.readings[i]}")
    result, *near = res.result_readings
    print(f"  A - B + C reads as {result}; its {len(near)} neighbours (+{res.noise:g} N(0, I)): "
          f"{', '.join(map(str, near))}")
    print("  of the 9: " + ", ".join(f"{count} read as {name}" for name, count in res.tally().items()))
    print(f"wrote {save_arithmetic_figure(res, out)}")
    return 0


def _cmd_film(args) -> int:
    from .visuals import film

    out = _visual_out(args.out, (".gif",))
    res = film(args.path, out, fps=args.fps, every=args.every)
    print(f"wrote {len(res.captions)} frames ({res.captions[0]} .. {res.captions[-1]}) to {res.path}")
    return 0


def _cmd_report(args) -> int:
    from .report import write_report

    print(f"wrote {write_report(args.run, args.out, args.compare)}")
    return 0


def _cmd_presets(args) -> int:
    from .config import load_config, preset_names

    names = preset_names()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {load_config(name).description}")
    return 0


def _cmd_datasets(args) -> int:
    from .data.sources import describe_sources

    rows = describe_sources()
    w = max(len(r[0]) for r in rows)
    for name, status, where, desc in rows:
        print(f"{name:<{w}} {status:<9}  {desc}\n{'':<{w}} {'':<9}  -> {where}")
    return 0


def _one_line_warnings(message, category, filename, lineno, file=None, line=None):
    return f"gankit: warning: {message}\n"


def _os_error(e: OSError) -> str:
    """An operating-system error as one line naming the file: 'Permission denied: 'ro/x.png''."""
    what = e.strerror or str(e) or type(e).__name__
    if e.filename is None:
        return what
    return f"{what}: {str(e.filename)!r}" + (f" -> {str(e.filename2)!r}" if e.filename2 is not None else "")


def _say(line: str) -> None:
    """One line on stderr; a closed stderr swallows it (the exit code still tells)."""
    try:
        print(line, file=sys.stderr)
    except (OSError, ValueError):
        pass


#: commands whose whole product is what they print: a reader that stops early (| head) is no failure
_LISTINGS = ("presets", "datasets", "demo")


def _internal_error(e: BaseException, argv: list[str]) -> str:
    """Save the traceback of an unexpected exception to a log file; the one line that points at it."""
    import os
    import tempfile
    import time
    import traceback

    text = "".join(traceback.format_exception(e))
    head = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}".rstrip(": ")
    try:
        fd, log = tempfile.mkstemp(prefix=f"gankit-error-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".log")
        with os.fdopen(fd, "w") as f:
            f.write(f"gankit {' '.join(argv)}\n\n{text}")
        where = f"the traceback is in {log}"
    except OSError:
        where = "the traceback could not be saved"
    return f"gankit: internal error (a bug in gankit, please report it): {head[:300]}; {where}"


def main(argv: list[str] | None = None) -> int:
    """Run one command. Every way out is one line on stderr and an exit code: 0 done, 1 training diverged
    or an internal error (a bug: its traceback goes to a log file named in the line), 2 bad usage or bad
    input, 130 interrupted. No traceback reaches the terminal."""
    warnings.formatwarning = _one_line_warnings
    args = None
    try:
        args = _parser().parse_args(argv)
        commands = {"train": _cmd_train, "sample": _cmd_sample, "translate": _cmd_translate, "eval": _cmd_eval,
                    "interpolate": _cmd_interpolate, "arithmetic": _cmd_arithmetic, "film": _cmd_film,
                    "report": _cmd_report, "presets": _cmd_presets, "datasets": _cmd_datasets, "demo": _cmd_demo}
        seed = getattr(args, "seed", None)
        if seed is not None and not 0 <= seed < 2 ** 63:
            raise GankitError(f"--seed {seed}: must lie in [0, 2**63)")
        return commands[args.command](args)
    except SystemExit as e:  # argparse's usage errors (2) and --help (0) keep their code
        return 0 if e.code is None else e.code if isinstance(e.code, int) else 2
    except BrokenPipeError:  # the reader of our output went away
        import os

        try:  # no second error at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        # a listing read by `| head` is fine; a command whose work was cut short is not (nothing to say it on)
        return 0 if args is not None and args.command in _LISTINGS else 1
    except KeyboardInterrupt:  # Ctrl-C outside training's own handler (start-up, sampling, eval)
        _say("gankit: aborted; the last checkpoint was left as it was")
        return 130
    except Interrupted as e:
        _say(f"gankit: {e}; continue with: gankit train --resume {e.path.parent.parent}")
        return 130
    except TrainingDiverged as e:
        _say(f"gankit: error: {e}")
        return 1
    except GankitError as e:
        _say(f"gankit: error: {e}")
        return 2
    except MemoryError:
        _say("gankit: error: out of memory; lower train.batch_size or --n")
        return 2
    except OSError as e:
        if e.filename is None and type(e).__name__ != "UnidentifiedImageError":  # not about a user's file: logged
            _say(_internal_error(e, sys.argv[1:] if argv is None else list(argv)))
            return 1
        _say(f"gankit: error: {_os_error(e)}")  # the environment refused: permissions, a full disk, ...
        return 2
    except Exception as e:
        if type(e).__name__ == "OutOfMemoryError":  # torch's (CUDA) out of memory, without importing torch here
            _say("gankit: error: out of device memory; lower train.batch_size or --n")
            return 2
        _say(_internal_error(e, sys.argv[1:] if argv is None else list(argv)))  # a bug: the traceback in a log
        return 1


if __name__ == "__main__":
    sys.exit(main())
