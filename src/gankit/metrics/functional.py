"""The metrics themselves: pure functions of features, statistics or class probabilities.

Every function accepts numpy arrays or torch tensors (any device, any float dtype), computes in
float64 and returns Python floats. Conventions follow the reference implementations, so numbers are
comparable with published ones:

- FID: Heusel et al. 2017 (``pytorch-fid``); the matrix square root is taken through symmetric
  eigendecompositions instead of ``scipy.linalg.sqrtm``, which is faster and never goes complex.
- KID: Bińkowski et al. 2018, unbiased MMD² with the cubic polynomial kernel; the subsets are drawn
  exactly as ``torch-fidelity`` draws them, so equal seeds give equal numbers.
- IS: Salimans et al. 2016, consecutive splits as in ``torch-fidelity`` with ``shuffle=False``.
- Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020): the
  conventions of the ``prdc`` package (k-th neighbour radii excluding the point itself, strict ``<``).

Note one deliberate difference: ``torch-fidelity`` computes KID in the dtype of the features it is
given (float32 for Inception features); here everything is float64.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

__all__ = ["sqrtm_psd", "frechet_distance", "kernel_inception_distance", "inception_score",
           "precision_recall", "density_coverage", "class_coverage"]

# Elements of one (rows x columns) block of a distance matrix: 2**24 float64 = 128 MiB.
_BLOCK_ELEMENTS = 1 << 24


def _np64(x, name: str) -> np.ndarray:
    """A float64 numpy copy/view of an array or tensor."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: cannot be read as a float array ({e})") from None


def _t64(x, name: str) -> torch.Tensor:
    """A float64 CPU tensor of (N, d) features."""
    t = x.detach().cpu().to(torch.float64) if isinstance(x, torch.Tensor) else torch.from_numpy(_np64(x, name))
    if t.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, d) array of features, got shape {tuple(t.shape)}")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)})")
    return t


def _square(m: np.ndarray, name: str) -> None:
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a square (d, d) matrix, got shape {m.shape}")


# --------------------------------------------------------------------------------------------- FID

def sqrtm_psd(sigma) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix.

    ``sigma`` is symmetrised, ``(S + Sᵀ)/2``, and decomposed with ``np.linalg.eigh``; eigenvalues below
    zero (round-off on singular or rank-deficient covariances) are set to zero. The result ``R`` is
    symmetric PSD with ``R @ R ≈ sigma``.
    """
    s = _np64(sigma, "sigma")
    _square(s, "sigma")
    w, v = np.linalg.eigh((s + s.T) / 2)
    b = v * np.sqrt(np.sqrt(np.clip(w, 0.0, None)))  # R = B Bᵀ: exactly symmetric, and numpy uses syrk
    return b @ b.T


def _congruence_lower(f: np.ndarray, s: np.ndarray, blocks: int = 8) -> np.ndarray:
    """The lower triangle of fᵀ s f (entries above the diagonal blocks are left at 0).

    ``eigvalsh(..., UPLO="L")`` reads only the lower triangle, i.e. it decomposes the exactly symmetric
    matrix defined by it; the lower triangle is all that is computed here. The second product is
    done in row blocks that stop at the diagonal, about 45% fewer flops than a full product.
    """
    a = f.T @ s
    d = a.shape[0]
    out = np.zeros((d, d))
    edges = np.linspace(0, d, min(blocks, d) + 1).astype(int)
    for lo, hi in itertools.pairwise(edges):
        out[lo:hi, :hi] = a[lo:hi] @ f[:, :hi]
    return out


def frechet_distance(mu1, sigma1, mu2, sigma2, *, sqrt_sigma1=None) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (FID on Inception features).

    FID = |mu1 − mu2|² + tr Σ1 + tr Σ2 − 2 tr((√Σ1 Σ2 √Σ1)^½).

    The last trace is the sum of the square roots of the eigenvalues of the symmetric PSD matrix
    √Σ1 Σ2 √Σ1 (it has the eigenvalues of Σ1 Σ2), from ``np.linalg.eigvalsh``, negative eigenvalues
    set to zero. Only the lower triangle of that matrix is computed, the part ``eigvalsh`` reads, so
    the matrix decomposed is exactly symmetric (Σ2 is used as given: covariances from ``np.cov`` or
    ``RunningStats`` are exactly symmetric). Nothing here can go complex or NaN, so singular
    covariances and fewer samples than dimensions are fine; non-finite inputs are a ``ValueError``.

    ``sqrt_sigma1``: ``sqrtm_psd(sigma1)`` when the caller has it cached (reference statistics that are
    compared against many times); it is not checked against ``sigma1``. Without it, when Σ1 is
    positive definite, Lᵀ Σ2 L with Σ1 = L Lᵀ (Cholesky) is used instead of √Σ1 Σ2 √Σ1: it has the
    same eigenvalues and costs far less than an eigendecomposition of Σ1. When the Cholesky
    factorisation fails (singular Σ1) the root comes from ``sqrtm_psd``.

    Scalars are accepted for 1-D Gaussians (``mu`` and the variance).

    Accuracy and the clip at 0: eigenvalues come out of ``eigvalsh`` with an absolute error δ of about
    d·ε·λmax, and the square root turns δ on an eigenvalue near 0 into up to √δ, so singular or nearly
    singular products (N < d, rank-deficient features) carry an absolute error of up to about
    2·k·√δ, k the number of eigenvalues within δ of 0 (≈ 1e-7 for 50 samples of 128-d). The exact
    value is ≥ 0, so a negative result above ``-(1e-8·(tr Σ1 + tr Σ2 + |mu1 − mu2|²) + 2·k·√δ)`` is
    round-off and is returned as 0.0. A more negative value is returned unchanged: it means a
    covariance was not positive semi-definite.
    """
    m1, m2 = np.atleast_1d(_np64(mu1, "mu1")), np.atleast_1d(_np64(mu2, "mu2"))
    s1, s2 = np.atleast_2d(_np64(sigma1, "sigma1")), np.atleast_2d(_np64(sigma2, "sigma2"))
    if m1.ndim != 1 or m2.ndim != 1:
        raise ValueError(f"mu1 and mu2 must be vectors, got shapes {m1.shape} and {m2.shape}")
    if m1.shape != m2.shape:
        raise ValueError(f"mu1 and mu2 differ in length: {m1.shape[0]} vs {m2.shape[0]}")
    d = m1.shape[0]
    if d == 0:
        raise ValueError("mu1 and mu2 are empty")
    for name, s in (("sigma1", s1), ("sigma2", s2)):
        if s.shape != (d, d):
            raise ValueError(f"{name} must be ({d}, {d}) to match the means, got shape {s.shape}")
    if sqrt_sigma1 is not None:
        r1 = np.atleast_2d(_np64(sqrt_sigma1, "sqrt_sigma1"))
        if r1.shape != (d, d):
            raise ValueError(f"sqrt_sigma1 must be ({d}, {d}), got shape {r1.shape}")
    else:
        r1 = None
    for name, a in (("mu1", m1), ("mu2", m2), ("sigma1", s1), ("sigma2", s2), ("sqrt_sigma1", r1)):
        if a is not None and not np.isfinite(a).all():
            raise ValueError(f"{name} has non-finite entries")
    f = r1
    if f is None:
        try:  # Σ1 = L Lᵀ: Lᵀ Σ2 L is similar to √Σ1 Σ2 √Σ1, at a fraction of the cost of eigh
            f = np.linalg.cholesky((s1 + s1.T) / 2)
        except np.linalg.LinAlgError:  # singular Σ1
            f = sqrtm_psd(s1)
    ev = np.linalg.eigvalsh(_congruence_lower(f, s2), UPLO="L")
    tr_covmean = float(np.sqrt(np.clip(ev, 0.0, None)).sum())
    diff = m1 - m2
    mean_term = float(diff @ diff)
    tr1, tr2 = float(np.trace(s1)), float(np.trace(s2))
    fid = mean_term + tr1 + tr2 - 2.0 * tr_covmean
    if fid < 0:
        delta = d * np.finfo(np.float64).eps * float(np.abs(ev).max())
        near_zero = int((np.abs(ev) <= delta).sum())
        if fid > -(1e-8 * (abs(tr1) + abs(tr2) + mean_term) + 2.0 * near_zero * np.sqrt(delta)):
            fid = 0.0
    return float(fid)


# --------------------------------------------------------------------------------------------- KID

def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² of two equal-size samples: off-diagonal means of k(x, x') and k(y, y'), full mean
    of k(x, y)."""
    m = x.shape[0]
    kxx, kyy, kxy = _poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y)
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2.0 * kxy.sum() / (m * m))


def kernel_inception_distance(f_real, f_fake, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """KID: mean and (ddof=0) standard deviation over ``subsets`` of the unbiased MMD² between
    ``subset_size`` real and ``subset_size`` fake features, kernel k(x, y) = (xᵀy / d + 1)³.

    Subsets are drawn without replacement with ``np.random.RandomState(seed)``, real then fake for
    each subset, as ``torch-fidelity`` draws them. The unbiased estimate can be slightly negative when
    the two distributions are equal.
    """
    fr, ff = _t64(f_real, "f_real").numpy(), _t64(f_fake, "f_fake").numpy()
    if fr.shape[1] != ff.shape[1]:
        raise ValueError(f"f_real and f_fake differ in feature size: {fr.shape[1]} vs {ff.shape[1]}")
    n1, n2 = fr.shape[0], ff.shape[0]
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    if subset_size < 2:
        raise ValueError(f"subset_size must be >= 2 for the unbiased estimate, got {subset_size}")
    if subset_size > n1 or subset_size > n2:
        raise ValueError(f"KID subset_size={subset_size} exceeds the number of samples "
                         f"(real: {n1}, fake: {n2}); use a subset_size <= {min(n1, n2)}")
    rng = np.random.RandomState(seed)
    mmds = np.empty(subsets)
    for i in range(subsets):
        ir = rng.choice(n1, subset_size, replace=False)
        jf = rng.choice(n2, subset_size, replace=False)
        mmds[i] = _mmd2_unbiased(fr[ir], ff[jf])
    return float(mmds.mean()), float(mmds.std())


# ---------------------------------------------------------------------------------------------- IS

def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """Inception score of class probabilities ``probs`` (N, K), rows summing to 1.

    The rows are cut into ``splits`` consecutive parts ``[i*N//splits : (i+1)*N//splits]``; each part
    scores exp(mean_i KL(p_i ‖ p̄)) with p̄ its mean row, and 0·log 0 = 0. Returns the mean and the
    population (ddof=0) standard deviation of the part scores.
    """
    p = _np64(probs, "probs")
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"probs must be a non-empty (N, K) array of class probabilities, got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("probs must be finite and non-negative (pass probabilities, not logits)")
    row_err = np.abs(p.sum(1) - 1.0).max()
    if row_err > 1e-4:
        raise ValueError(f"probs rows must sum to 1 (worst row is off by {row_err:.3g}); pass softmax outputs")
    n = p.shape[0]
    if not 1 <= splits <= n:
        raise ValueError(f"splits must be between 1 and the number of samples ({n}), got {splits}")
    scores = []
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]
        mean = part.mean(0, keepdims=True)
        pos = part > 0  # mean > 0 wherever part > 0
        terms = np.where(pos, part * (np.log(np.where(pos, part, 1.0)) - np.log(np.where(pos, mean, 1.0))), 0.0)
        scores.append(np.exp(terms.sum(1).mean()))
    scores = np.asarray(scores)
    return float(scores.mean()), float(scores.std())


# -------------------------------------------------------------------- precision/recall, density/coverage

def _sq_norms(x: torch.Tensor) -> torch.Tensor:
    return (x * x).sum(1)


def _sq_dists(a: torch.Tensor, a2: torch.Tensor, b: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between rows of ``a`` and ``b`` (norms ``a2``, ``b2`` precomputed)."""
    return (a2[:, None] + b2[None, :] - 2.0 * (a @ b.T)).clamp_min_(0.0)


def _rows_per_block(cols: int) -> int:
    return max(1, _BLOCK_ELEMENTS // max(cols, 1))


def _kth_nn_sq(x: torch.Tensor, x2: torch.Tensor, k: int) -> torch.Tensor:
    """Squared distance from each row of ``x`` to its k-th nearest other row.

    As in ``prdc``: the k+1-th smallest distance of a row whose own (diagonal) entry is exactly 0,
    so a duplicate point counts as a neighbour at distance 0.
    """
    n = x.shape[0]
    out = torch.empty(n, dtype=torch.float64)
    step = _rows_per_block(n)
    for s in range(0, n, step):
        d = _sq_dists(x[s:s + step], x2[s:s + step], x, x2)
        rows = torch.arange(d.shape[0])
        d[rows, rows + s] = 0.0
        out[s:s + step] = torch.kthvalue(d, k + 1, dim=1).values
    return out


def _check_pair(f_real, f_fake, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    r, f = _t64(f_real, "f_real"), _t64(f_fake, "f_fake")
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"f_real and f_fake differ in feature size: {r.shape[1]} vs {f.shape[1]}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    for name, t in (("f_real", r), ("f_fake", f)):
        if t.shape[0] <= k:
            raise ValueError(f"k={k} nearest neighbours need more than {k} samples in {name}, got {t.shape[0]}")
    return r, f


def precision_recall(f_real, f_fake, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019), ``prdc`` conventions.

    Each point's ball has the radius of its k-th nearest neighbour in its own set (itself excluded).
    Precision: fraction of fakes strictly inside some real ball. Recall: fraction of reals strictly
    inside some fake ball. Distances are Euclidean, computed in blocks (never all N×M at once).
    """
    r, f = _check_pair(f_real, f_fake, k)
    r2, f2 = _sq_norms(r), _sq_norms(f)
    rad_r, rad_f = _kth_nn_sq(r, r2, k), _kth_nn_sq(f, f2, k)
    fake_hit = torch.zeros(f.shape[0], dtype=torch.bool)
    real_hit = torch.empty(r.shape[0], dtype=torch.bool)
    step = _rows_per_block(f.shape[0])
    for s in range(0, r.shape[0], step):
        d = _sq_dists(r[s:s + step], r2[s:s + step], f, f2)  # (reals in block, fakes)
        fake_hit |= (d < rad_r[s:s + step, None]).any(0)
        real_hit[s:s + step] = (d < rad_f[None, :]).any(1)
    return float(fake_hit.double().mean()), float(real_hit.double().mean())


def density_coverage(f_real, f_fake, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020), ``prdc`` conventions.

    Real balls have the radius of the k-th nearest real neighbour (itself excluded). Density:
    (1/k) × the mean over fakes of the number of real balls strictly containing the fake (can
    exceed 1). Coverage: fraction of reals whose nearest fake lies strictly inside the real's ball.
    """
    r, f = _check_pair(f_real, f_fake, k)
    r2, f2 = _sq_norms(r), _sq_norms(f)
    rad_r = _kth_nn_sq(r, r2, k)
    inside = torch.zeros((), dtype=torch.float64)
    covered = torch.empty(r.shape[0], dtype=torch.bool)
    step = _rows_per_block(f.shape[0])
    for s in range(0, r.shape[0], step):
        d = _sq_dists(r[s:s + step], r2[s:s + step], f, f2)
        rad = rad_r[s:s + step, None]
        inside += (d < rad).sum()
        covered[s:s + step] = d.min(1).values < rad[:, 0]
    density = inside.item() / (k * f.shape[0])
    return float(density), float(covered.double().mean())


# ---------------------------------------------------------------------------------- class coverage

_KL_FLOOR = 1e-12


def class_coverage(pred_fake, real_hist=None, num_classes: int | None = None) -> dict:
    """How the samples spread over the classes of a classifier (mode collapse shows here first).

    ``pred_fake``: integer class predictions (N,), or an (N, K) array of probabilities (arg-maxed).
    ``real_hist``: the class frequencies of the real data (counts or probabilities; normalised here);
    default uniform. ``num_classes``: K; default the width of the probabilities, else the length of
    ``real_hist``, else the largest prediction + 1.

    Returns ``{"classes_hit": classes with at least one sample, "num_classes": K, "kl": KL(sample
    histogram ‖ real histogram) in nats}``. Sample classes with frequency 0 contribute 0 (0·log 0 = 0,
    exactly, no smoothing); real classes with frequency 0 are raised to 1e-12 (then renormalised), so a
    sample class the real data never shows costs about 27.6 nats times its frequency instead of ∞.
    """
    if isinstance(pred_fake, torch.Tensor):
        pred_fake = pred_fake.detach().cpu().numpy()
    pred = np.asarray(pred_fake)
    if pred.ndim == 2:
        if num_classes is None:
            num_classes = pred.shape[1]
        pred = pred.argmax(1)
    if pred.ndim != 1 or pred.size == 0:
        raise ValueError("pred_fake must be (N,) class indices or (N, K) probabilities, "
                         f"got shape {np.shape(pred_fake)}")
    if pred.dtype.kind == "f":
        if not np.all(pred == np.round(pred)):
            raise ValueError("pred_fake holds non-integer class indices")
    elif pred.dtype.kind not in "iub":
        raise ValueError(f"pred_fake must hold class indices, got dtype {pred.dtype}")
    pred = pred.astype(np.int64)
    q = None
    if real_hist is not None:
        q = _np64(real_hist, "real_hist")
        if q.ndim != 1 or q.size == 0 or not np.isfinite(q).all() or (q < 0).any() or q.sum() <= 0:
            raise ValueError("real_hist must be a non-empty vector of non-negative frequencies with a positive sum")
        if num_classes is None:
            num_classes = q.size
        elif q.size != num_classes:
            raise ValueError(f"real_hist has {q.size} classes but num_classes is {num_classes}")
    if num_classes is None:
        num_classes = int(pred.max()) + 1
    num_classes = int(num_classes)
    if pred.min() < 0 or pred.max() >= num_classes:
        raise ValueError(f"class predictions must lie in [0, {num_classes}), got range [{pred.min()}, {pred.max()}]")
    counts = np.bincount(pred, minlength=num_classes)
    p = counts / counts.sum()
    q = np.full(num_classes, 1.0 / num_classes) if q is None else q / q.sum()
    q = np.where(q > 0, q, _KL_FLOOR)
    q = q / q.sum()
    pos = p > 0
    kl = float(np.sum(p[pos] * (np.log(p[pos]) - np.log(q[pos]))))
    return {"classes_hit": int(pos.sum()), "num_classes": num_classes, "kl": kl}
