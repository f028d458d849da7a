"""The registered metrics (see registry.py): each a function of an evaluation context.

Each declares its sample counts (``min_samples``: where its formula breaks down; ``recommended``:
below it ``evaluate`` warns), with the reasons in its docstring. The recommended counts are honest
rules of thumb, not guarantees: they follow the reference protocols where those state one (FID, KID,
IS) and otherwise keep the sampling error of a fraction near ±0.05 (0.5/√N, the worst binomial
standard error, at N = 100) or ±0.016 (N = 1,000). Scores from different sample counts are not
comparable in any case: FID and IS shift with N.
"""
from __future__ import annotations

import torch

from ..errors import GankitError
from . import functional as M
from .registry import register_metric

PRDC_MAX = 10_000  # precision/recall/density/coverage on at most this many points per side (k-NN is O(N²))
PR_K, DC_K = 3, 5  # the k of precision/recall (Kynkäänniemi et al.) and density/coverage (Naeem et al.)
INCEPTION_IS_N = 50_000  # the IS protocol of Salimans et al. 2016 (10 splits of 5,000)


def _feature_dim(ctx) -> int:
    """The extractor's feature size (Inception's 2,048 where unknown)."""
    return int(getattr(getattr(ctx, "extractor", None), "dim", 2048) or 2048)


def _classes(ctx) -> int:
    """The extractor's class count (10 where unknown: the built-in datasets' classifiers)."""
    return int(getattr(getattr(ctx, "extractor", None), "num_classes", 10) or 10)


def _fid_recommended(ctx) -> int:
    return 5 * _feature_dim(ctx)


def _is_recommended(ctx) -> int:
    return min(INCEPTION_IS_N, 100 * _classes(ctx))


def _conditional(ctx) -> bool:
    return ctx is not None and ctx.targets is None and ctx.sources is None and ctx.labels is not None


def _conditional_classes(ctx) -> int:
    """K for conditional samples (scored per class), 1 otherwise."""
    return (getattr(ctx.train, "num_classes", None) or _classes(ctx)) if _conditional(ctx) else 1


def _accuracy_minimum(ctx) -> int:
    # conditional samples are drawn i mod K: 2K give every class the 2 samples its intra-class FID needs
    return 2 * _conditional_classes(ctx) if _conditional(ctx) else 1


def _accuracy_recommended(ctx) -> int:
    return 100 * _conditional_classes(ctx)


@register_metric("fid", {"features"}, "Fréchet distance of the features to the train split's (and the "
                 "floor: the real test split's)", {"fid": False, "fid_floor": False},
                 min_samples=2, recommended=_fid_recommended,
                 min_reason="a covariance needs two points", counts_real=True)
def _fid(ctx) -> dict[str, float]:
    """Minimum 2: a covariance needs two points. Recommended 5 × the feature size (10,240 for Inception's
    2,048, 640 for the 128-d dataset classifiers): TTUR's authors (Heusel et al. 2017, the reference
    code's README) ask for at least 10,000 samples with Inception, since FID from fewer underestimates
    the generator's true FID, and below 2,048 the covariance is singular. The bias comes from the
    estimated statistics, e.g. E|μ̂ − μ|² = tr Σ / N, and grows with d / N (Chong & Forsyth 2020 show FID
    linear in 1/N), so the rule is scaled with the feature size."""
    ext, ref = ctx.ext, ctx.reference()
    from .evaluate import stats_of

    mu, sigma = stats_of(ctx.features()[0])
    s = {f"fid[{ext}]": M.frechet_distance(ref.mu, ref.sigma, mu, sigma, sqrt_sigma1=ref.sqrt_sigma)}
    held = ctx.heldout_reference()
    if held is not None:
        s[f"fid_floor[{ext}]"] = M.frechet_distance(ref.mu, ref.sigma, held.mu, held.sigma, sqrt_sigma1=ref.sqrt_sigma)
    return s


@register_metric("kid", {"features"}, "kernel inception distance (unbiased MMD, 100 subsets)", {"kid": False},
                 min_samples=2, recommended=1000,
                 min_reason="the unbiased MMD averages over pairs of samples", counts_real=True)
def _kid(ctx) -> dict[str, float]:
    """Minimum 2: the unbiased MMD² estimate averages over pairs of distinct samples. Recommended 1,000,
    the subset size of the protocol (Bińkowski et al. 2018; torch-fidelity's default): KID is unbiased
    at any size, but with fewer samples the subsets shrink, the estimate is noisier, and kid_std (the
    spread over subsets drawn from the same few samples) understates that noise."""
    f_fake, ref = ctx.features()[0], ctx.reference()
    m = min(1000, len(f_fake), len(ref.features))
    mean, std = M.kernel_inception_distance(ref.features, f_fake, subsets=100, subset_size=m, seed=ctx.seed)
    return {f"kid[{ctx.ext}]": mean, f"kid_std[{ctx.ext}]": std}


@register_metric("is", {"features"}, "inception score of the class probabilities", {"is": True},
                 min_samples=1, recommended=_is_recommended)
def _is(ctx) -> dict[str, float]:
    """Minimum 1. Recommended 100 × the class count (1,000 for a 10-class classifier; for Inception's
    1,008 classes the 50,000 of the protocol, Salimans et al. 2016): the score estimates the marginal
    p(y) from each of its (up to 10) splits, and a plug-in entropy of K classes from n samples is off by
    about (K − 1) / 2n nats for confident predictions (Miller-Madow; Chong & Forsyth 2020 measure IS
    biased in 1/N as FID): 10 splits of 10 samples per class keep that near 0.05 nats, about 5% of the
    score."""
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


@register_metric("pr", {"features"}, "improved precision and recall (k = 3)", {"precision": True, "recall": True},
                 min_samples=PR_K + 1, recommended=1000,
                 min_reason=f"the k = {PR_K} nearest neighbours of a point, itself excluded", counts_real=True)
def _pr(ctx) -> dict[str, float]:
    """Minimum k + 1 = 4 on each side: the k-th nearest neighbour of a point, itself excluded. Recommended
    1,000 (a rule of thumb): precision and recall are fractions, with a sampling error of up to
    0.5/√N (±0.016 at 1,000); the k-NN balls also shrink as N grows, so values move with N (the papers
    use 50,000, Kynkäänniemi et al. 2019, and 10,000, Naeem et al. 2020: gankit's cap, PRDC_MAX)."""
    fr, ff = _prdc_sets(ctx)
    p, r = M.precision_recall(fr, ff, k=PR_K)
    return {f"precision[{ctx.ext}]": p, f"recall[{ctx.ext}]": r}


@register_metric("dc", {"features"}, "density and coverage (k = 5)", {"density": True, "coverage": True},
                 min_samples=DC_K + 1, recommended=1000,
                 min_reason=f"the k = {DC_K} nearest neighbours of a point, itself excluded", counts_real=True)
def _dc(ctx) -> dict[str, float]:
    """Minimum k + 1 = 6 on each side (the k-th neighbour, itself excluded). Recommended 1,000, for the
    reasons of precision/recall (Naeem et al. 2020 use 10,000)."""
    fr, ff = _prdc_sets(ctx)
    d, c = M.density_coverage(fr, ff, k=DC_K)
    return {f"density[{ctx.ext}]": d, f"coverage[{ctx.ext}]": c}


@register_metric("classes", {"probs", "train_labels"}, "classes the classifier finds, and the KL of their "
                 "histogram to the data's", {"classes_hit": True, "class_kl": False},
                 min_samples=1, recommended=lambda ctx: 100 * _classes(ctx))
def _class_metric(ctx) -> dict[str, float]:
    """Minimum 1. Recommended 100 × the class count: N samples hit at most N classes, and the KL of an
    N-sample histogram of K classes is biased upward by about (K − 1) / 2N nats (Miller-Madow), 0.005
    at 100 per class."""
    p = ctx.features()[1]
    hist = torch.bincount(ctx.train.labels, minlength=p.shape[1]).double()
    cc = M.class_coverage(p.argmax(1).numpy(), real_hist=(hist / hist.sum()).numpy(), num_classes=p.shape[1])
    return {f"classes_hit[{ctx.ext}]": float(cc["classes_hit"]), f"class_kl[{ctx.ext}]": float(cc["kl"])}


@register_metric("memorization", {"heldout", "pixels"}, "nearest-neighbour distance ratio to the train vs the "
                 "test split, and near copies (pixels)", {"nn_ratio": True, "near_copies": False},
                 min_samples=1, recommended=100)
def _memorization(ctx) -> dict[str, float]:
    """Minimum 1. Recommended 100: near_copies counts samples closer to the training set than the 1st
    percentile of the held-out images' distances, so about 1% are flagged by chance alone; fewer than
    100 samples cannot tell 1% from 0."""
    from .evaluate import unit
    from .memorization import memorization

    real_train = unit(ctx.train.images)
    rep = memorization(ctx.fake.float().cpu(), real_train, unit(ctx.heldout.images))
    order = rep.sample_distance.argsort()[:8]
    ctx.result.closest_pairs = (ctx.fake[order].cpu(), real_train[rep.sample_neighbour[order]],
                                rep.sample_distance[order].cpu())
    return {"nn_ratio[pixels]": rep.nn_ratio, "near_copies[pixels]": rep.near_copies}


@register_metric("modes", {"modes"}, "modes captured and the KL to uniform, with the papers' protocols",
                 {"modes": True, "reverse_kl": False, "kl": False, "hq_percent": True}, explicit_only=True,
                 min_samples=1, recommended=1)
def _modes(ctx) -> dict[str, float]:
    """Minimum 1. No warning: the protocols fix their own counts (2,500 points, 26,000 stacked images),
    and the scores carry a note when fewer were drawn."""
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
                  "intra_fid": False}, min_samples=_accuracy_minimum,
                 recommended=_accuracy_recommended, min_reason="conditional samples: 2 of each class, for the "
                 "intra-class FID")
def _accuracy(ctx) -> dict[str, float]:
    """Minimum 1; conditional samples 2 per class (2K: they are drawn i mod K), which the intra-class
    FID of each class needs. Recommended 100 (conditional: 100 per class): an accuracy is a fraction
    with a sampling error of up to 0.5/√N, ±0.05 at 100. (The intra-class FID from 100 per class is
    still biased upward, see fid; compare it only between equal counts.)"""
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
                 "inputs (cycle consistency), in [-1, 1] units", {"cycle_l1": False}, min_samples=1, recommended=1)
def _cycle(ctx) -> dict[str, float]:
    """Minimum 1, no recommended count: a mean of per-image errors, unbiased at any count."""
    from . import paired

    return {"cycle_l1[pixels]": float(paired.l1(ctx.reconstructions.float(), ctx.sources.float()))}


@register_metric("domains", {"codes"}, "a domain classifier's error on the outputs, read as their target "
                 "domains, next to its error on real held-out images (StarGAN's protocol)",
                 {"domain_err": False, "domain_err_real": False}, min_samples=1, recommended=100)
def _domains(ctx) -> dict[str, float]:
    """Minimum 1. Recommended 100: an error rate is a fraction, ±0.05 (0.5/√N) at 100."""
    from .classifier import domain_classifier_for

    return domain_classifier_for(ctx.data_cfg, ctx.game).errors(ctx.fake, ctx.codes)


@register_metric("cluster", {"encoder", "heldout"}, "InfoGAN: the categorical code Q reads off the real test "
                 "images, as an unsupervised classifier (each category matched to one class by the Hungarian "
                 "method): its accuracy", {"cluster_acc": True}, min_samples=0, recommended=0)
def _cluster(ctx) -> dict[str, float]:
    """No sample count: it reads the real test split, not the samples."""
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
    compute.__doc__ = ("Minimum 1, no recommended count: a mean of per-image values against the true "
                       "targets, unbiased at any count.")
    return compute


register_metric("l1", {"targets"}, "mean absolute error to the paired targets, in [-1, 1] units",
                {"l1": False}, min_samples=1, recommended=1)(_paired("l1"))
register_metric("psnr", {"targets"}, "peak signal-to-noise ratio to the paired targets (dB)",
                {"psnr": True}, min_samples=1, recommended=1)(_paired("psnr"))
register_metric("ssim", {"targets"}, "structural similarity to the paired targets (Wang et al. 2004)",
                {"ssim": True}, min_samples=1, recommended=1)(_paired("ssim"))


PPL_RECOMMENDED = 5000  # pairs; StyleGAN used 100,000, StyleGAN2's code 50,000


@register_metric("ppl", {"features", "generator"}, "perceptual path length (Karras et al. 2019): squared feature "
                 "distance of images 1e-4 apart on latent paths, / 1e-4², in W (lerp) for the style-based G, else "
                 "in Z (slerp); 1st-99th percentiles; the extractor's features, not LPIPS", {"ppl": False},
                 explicit_only=True, min_samples=1, recommended=PPL_RECOMMENDED)
def _ppl(ctx) -> dict[str, float]:
    """Minimum 1 pair (``--n`` pairs, drawn by the metric itself: 2n more images): a mean of per-pair
    lengths. Recommended 5,000 (a rule of thumb): the per-pair lengths are heavy-tailed, so the mean's
    relative standard error, CV/√N, stays large until N is in the thousands (about 2% at 5,000 for a
    coefficient of variation of 1.5); and the 1%/99% trim drops nothing below 101 pairs and only a few
    pairs below 1,000, where its bounds, themselves extreme values, still swing the mean. The papers use
    100,000 pairs (StyleGAN) and 50,000 (StyleGAN2's code). Asked for by name only (``--metrics ppl``):
    it draws its own pairs, which the defaults should not pay for, and it needs a run (its game and
    players), not images. Lower is smoother."""
    from .ppl import EPS, perceptual_path_length

    n = len(ctx.fake)
    value, space, kept = perceptual_path_length(ctx.game, ctx.players, lambda x: ctx.extractor.extract(x)[0], n,
                                                ctx.seed, ctx.psi)
    how = "lerp in W" if space == "W" else "slerp in Z"
    ctx.result.notes.append(
        f"ppl[{ctx.ext}]: perceptual path length, {how}, t ~ U(0, 1), eps = {EPS:g}, the mean over the {kept:,} of "
        f"{n:,} pairs between the 1st and 99th percentiles, as squared distances of {ctx.ext} features: not the "
        f"VGG16/LPIPS PPL of the paper, comparable only at the same extractor, space and sample count")
    return {f"ppl[{ctx.ext}]": value}
