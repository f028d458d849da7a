"""The registered metrics (see registry.py): each a function of an evaluation context."""
from __future__ import annotations

import torch

from ..errors import GankitError
from . import functional as M
from .registry import register_metric

PRDC_MAX = 10_000  # precision/recall/density/coverage on at most this many points per side (k-NN is O(N²))


@register_metric("fid", {"features"}, "Fréchet distance of the features to the train split's (and the "
                 "floor: the real test split's)", {"fid": False, "fid_floor": False})
def _fid(ctx) -> dict[str, float]:
    ext, ref = ctx.ext, ctx.reference()
    from .evaluate import stats_of

    mu, sigma = stats_of(ctx.features()[0])
    s = {f"fid[{ext}]": M.frechet_distance(ref.mu, ref.sigma, mu, sigma, sqrt_sigma1=ref.sqrt_sigma)}
    held = ctx.heldout_reference()
    if held is not None:
        s[f"fid_floor[{ext}]"] = M.frechet_distance(ref.mu, ref.sigma, held.mu, held.sigma, sqrt_sigma1=ref.sqrt_sigma)
    return s


@register_metric("kid", {"features"}, "kernel inception distance (unbiased MMD, 100 subsets)", {"kid": False})
def _kid(ctx) -> dict[str, float]:
    f_fake, ref = ctx.features()[0], ctx.reference()
    m = min(1000, len(f_fake), len(ref.features))
    mean, std = M.kernel_inception_distance(ref.features, f_fake, subsets=100, subset_size=m, seed=ctx.seed)
    return {f"kid[{ctx.ext}]": mean, f"kid_std[{ctx.ext}]": std}


@register_metric("is", {"features"}, "inception score of the class probabilities", {"is": True})
def _is(ctx) -> dict[str, float]:
    p = ctx.features()[1]
    if p is None:
        raise GankitError(f"is: the {ctx.ext} extractor gives no class probabilities")
    mean, std = M.inception_score(p, splits=10 if len(p) >= 100 else 1)
    return {f"is[{ctx.ext}]": mean, f"is_std[{ctx.ext}]": std}


def _prdc_sets(ctx):
    f_fake, ref = ctx.features()[0], ctx.reference()
    g = torch.Generator().manual_seed(ctx.seed)
    n = min(len(f_fake), len(ref.features), PRDC_MAX)
    return (ref.features[torch.randperm(len(ref.features), generator=g)[:n]],
            f_fake[torch.randperm(len(f_fake), generator=g)[:n]])


@register_metric("pr", {"features"}, "improved precision and recall (k = 3)", {"precision": True, "recall": True})
def _pr(ctx) -> dict[str, float]:
    fr, ff = _prdc_sets(ctx)
    p, r = M.precision_recall(fr, ff, k=3)
    return {f"precision[{ctx.ext}]": p, f"recall[{ctx.ext}]": r}


@register_metric("dc", {"features"}, "density and coverage (k = 5)", {"density": True, "coverage": True})
def _dc(ctx) -> dict[str, float]:
    fr, ff = _prdc_sets(ctx)
    d, c = M.density_coverage(fr, ff, k=5)
    return {f"density[{ctx.ext}]": d, f"coverage[{ctx.ext}]": c}


@register_metric("classes", {"probs", "train_labels"}, "classes the classifier finds, and the KL of their "
                 "histogram to the data's", {"classes_hit": True, "class_kl": False})
def _classes(ctx) -> dict[str, float]:
    p = ctx.features()[1]
    hist = torch.bincount(ctx.train.labels, minlength=p.shape[1]).double()
    cc = M.class_coverage(p.argmax(1).numpy(), real_hist=(hist / hist.sum()).numpy(), num_classes=p.shape[1])
    return {f"classes_hit[{ctx.ext}]": float(cc["classes_hit"]), f"class_kl[{ctx.ext}]": float(cc["kl"])}


@register_metric("memorization", {"heldout", "pixels"}, "nearest-neighbour distance ratio to the train vs the "
                 "test split, and near copies (pixels)", {"nn_ratio": True, "near_copies": False})
def _memorization(ctx) -> dict[str, float]:
    from .evaluate import unit
    from .memorization import memorization

    real_train = unit(ctx.train.images)
    rep = memorization(ctx.fake.float().cpu(), real_train, unit(ctx.heldout.images))
    order = rep.sample_distance.argsort()[:8]
    ctx.result.closest_pairs = (ctx.fake[order].cpu(), real_train[rep.sample_neighbour[order]])
    return {"nn_ratio[pixels]": rep.nn_ratio, "near_copies[pixels]": rep.near_copies}


@register_metric("modes", {"modes"}, "modes captured and the KL to uniform, with the papers' protocols",
                 {"modes": True, "reverse_kl": False, "kl": False, "hq_percent": True}, explicit_only=True)
def _modes(ctx) -> dict[str, float]:
    from .modes import evaluate_modes

    scores, info, notes = evaluate_modes(ctx.fake, ctx.train)
    ctx.result.notes += notes
    if not ctx.result.extractor and info:
        ctx.result.extractor, ctx.result.info = "classifier:mnist", info
    return scores


@register_metric("accuracy", {"probs", "labels"}, "the dataset classifier's accuracy on the outputs, read as the "
                 "classes they should show; translations: also on the untranslated inputs (the baseline) and on "
                 "real images of the output domain (the ceiling: the true targets, else its held-out split)",
                 {"class_acc": True, "class_acc_targets": True, "class_acc_inputs": True, "class_acc_real": True,
                  "intra_fid": False})
def _accuracy(ctx) -> dict[str, float]:
    from .conditional import class_accuracy, conditional_scores

    p, labels = ctx.features()[1], ctx.labels.cpu().long()
    k = p.shape[1]
    if ctx.targets is None and ctx.sources is None:  # conditional samples: accuracy, intra-class FID, per class
        if ctx.train.labels is None:
            raise GankitError("accuracy: the dataset has no labels")
        return conditional_scores(ctx.features()[0], p, labels, ctx.reference().features, ctx.train.labels, k, ctx.ext)
    out = {f"class_acc[{ctx.ext}]": class_accuracy(p, labels, k)[0]}
    if ctx.sources is not None:
        out[f"class_acc_inputs[{ctx.ext}]"] = class_accuracy(ctx.extractor.extract(ctx.sources)[1], labels, k)[0]
    if ctx.targets is not None:
        out[f"class_acc_targets[{ctx.ext}]"] = class_accuracy(ctx.target_features()[1], labels, k)[0]
    else:
        held = ctx.heldout_reference()
        if held is not None and held.probs is not None and held.labels is not None:
            out[f"class_acc_real[{ctx.ext}]"] = class_accuracy(held.probs, held.labels.cpu().long(), k)[0]
    return out


@register_metric("cycle", {"reconstructions"}, "mean absolute error of the outputs translated back to the "
                 "inputs (cycle consistency), in [-1, 1] units", {"cycle_l1": False})
def _cycle(ctx) -> dict[str, float]:
    from . import paired

    return {"cycle_l1[pixels]": float(paired.l1(ctx.reconstructions.float(), ctx.sources.float()))}


@register_metric("domains", {"codes"}, "a domain classifier's error on the outputs, read as their target "
                 "domains, next to its error on real held-out images (StarGAN's protocol)",
                 {"domain_err": False, "domain_err_real": False})
def _domains(ctx) -> dict[str, float]:
    from .classifier import domain_classifier_for

    return domain_classifier_for(ctx.data_cfg, ctx.game).errors(ctx.fake, ctx.codes)


@register_metric("cluster", {"encoder", "heldout"}, "InfoGAN: the categorical code Q reads off the real test "
                 "images, as an unsupervised classifier (each category matched to one class by the Hungarian "
                 "method): its accuracy", {"cluster_acc": True})
def _cluster(ctx) -> dict[str, float]:
    from .conditional import matched_accuracy

    held = ctx.heldout
    if held.labels is None:
        raise GankitError(f"cluster: the {ctx.data_cfg.name!r} test split has no labels")
    predicted = ctx.game.infer_categories(held.batch(torch.arange(len(held)))["x"].cpu())
    return {"cluster_acc[heldout]": matched_accuracy(predicted, held.labels.cpu())}


def _paired(name: str):
    def compute(ctx) -> dict[str, float]:
        from . import paired

        return {f"{name}[pixels]": float(getattr(paired, name)(ctx.fake.float(), ctx.targets.float()))}
    return compute


register_metric("l1", {"targets"}, "mean absolute error to the paired targets, in [-1, 1] units",
                {"l1": False})(_paired("l1"))
register_metric("psnr", {"targets"}, "peak signal-to-noise ratio to the paired targets (dB)",
                {"psnr": True})(_paired("psnr"))
register_metric("ssim", {"targets"}, "structural similarity to the paired targets (Wang et al. 2004)",
                {"ssim": True})(_paired("ssim"))
