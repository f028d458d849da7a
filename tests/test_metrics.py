"""gankit.metrics.functional: golden values from the reference implementations, and properties.

The golden values (tests/golden/metrics_golden.json) come from pytorch-fid, torch-fidelity and prdc,
computed by tests/golden/make_metric_golden.py on inputs that tests/golden/metric_inputs.py
regenerates here from seeds.
"""
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from gankit.metrics import functional as M

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN_DIR))
import metric_inputs as I  # noqa: E402

GOLDEN = json.loads((GOLDEN_DIR / "metrics_golden.json").read_text())
RTOL = 1e-6


# ------------------------------------------------------------------------------------ golden values

def test_golden_file_covers_every_case():
    assert GOLDEN["fid"].keys() == I.FID_CASES.keys()
    assert GOLDEN["kid"].keys() == I.KID_CASES.keys()
    assert GOLDEN["is"].keys() == I.IS_CASES.keys()
    assert GOLDEN["prdc"].keys() == I.PRDC_CASES.keys()
    for group in ("fid", "kid", "is", "prdc"):  # the stored parameters are the ones regenerated here
        cases = {"fid": I.FID_CASES, "kid": I.KID_CASES, "is": I.IS_CASES, "prdc": I.PRDC_CASES}[group]
        for name, entry in GOLDEN[group].items():
            assert entry["params"] == cases[name], (group, name)


SLOW_FID = {"fid_d2048_n3000"}
_slow = pytest.mark.skipif(os.environ.get("GANKIT_SLOW_TESTS") != "1",
                           reason="2048-d: set GANKIT_SLOW_TESTS=1 (benchmarks/fid_speed.py checks it too)")


@pytest.mark.parametrize("name", [pytest.param(n, marks=_slow) if n in SLOW_FID else n for n in sorted(GOLDEN["fid"])])
def test_fid_matches_pytorch_fid(name):
    entry = GOLDEN["fid"][name]
    mu1, s1, mu2, s2 = I.fid_inputs(entry["params"])
    assert_allclose(M.frechet_distance(mu1, s1, mu2, s2), entry["fid"], rtol=RTOL)


@pytest.mark.parametrize("name", sorted(GOLDEN["kid"]))
def test_kid_matches_torch_fidelity(name):
    entry, p = GOLDEN["kid"][name], GOLDEN["kid"][name]["params"]
    real, fake = I.pair_inputs(p)
    mean, std = M.kernel_inception_distance(real, fake, subsets=p["subsets"], subset_size=p["subset_size"],
                                            seed=p["rng_seed"])
    assert_allclose([mean, std], [entry["mean"], entry["std"]], rtol=RTOL)


@pytest.mark.parametrize("name", sorted(GOLDEN["is"]))
def test_inception_score_matches_torch_fidelity(name):
    entry, p = GOLDEN["is"][name], GOLDEN["is"][name]["params"]
    mean, std = M.inception_score(I.softmax(I.is_inputs(p)), splits=p["splits"])
    assert_allclose([mean, std], [entry["mean"], entry["std"]], rtol=RTOL)


@pytest.mark.parametrize("name", sorted(GOLDEN["prdc"]))
def test_prdc_matches_prdc(name):
    entry, p = GOLDEN["prdc"][name], GOLDEN["prdc"][name]["params"]
    real, fake = I.pair_inputs(p)
    for k, ref in entry["by_k"].items():
        k = int(k)
        got = M.precision_recall(real, fake, k=k) + M.density_coverage(real, fake, k=k)
        want = [ref["precision"], ref["recall"], ref["density"], ref["coverage"]]
        assert_allclose(got, want, rtol=RTOL, err_msg=f"k={k}")


# -------------------------------------------------------------------------------------------- FID

def _stats(seed, n=500, d=64, **kw):
    return I.stats(I.features(n, d, seed, **kw))


class _Accumulator:
    """Mean and ddof=1 covariance from running sums, fed in batches."""

    def __init__(self, d):
        self.n, self.s, self.ss = 0, np.zeros(d), np.zeros((d, d))

    def add(self, x):
        self.n += len(x)
        self.s += x.sum(0)
        self.ss += x.T @ x

    def stats(self):
        mu = self.s / self.n
        return mu, (self.ss - self.n * np.outer(mu, mu)) / (self.n - 1)


def test_fid_of_identical_statistics_is_zero():
    mu, s = _stats(5, shift=3.0)
    assert abs(M.frechet_distance(mu, s, mu, s)) <= 1e-8


def test_fid_is_symmetric():
    a, b = _stats(5), _stats(6, dist_seed=1, shift=0.1)
    f_ab, f_ba = M.frechet_distance(*a, *b), M.frechet_distance(*b, *a)
    assert f_ab > 0.1
    assert_allclose(f_ab, f_ba, rtol=1e-10)


def test_fid_does_not_depend_on_the_batch_size_of_the_statistics():
    x = I.features(500, 64, 7, shift=2.0)
    ref = I.stats(I.features(400, 64, 8, dist_seed=2))
    fids = []
    for batch in (500, 37, 1):
        acc = _Accumulator(64)
        for s in range(0, len(x), batch):
            acc.add(x[s:s + batch])
        fids.append(M.frechet_distance(*ref, *acc.stats()))
    fids.append(M.frechet_distance(*ref, x.mean(0), np.cov(x, rowvar=False)))
    assert_allclose(fids, fids[-1], rtol=1e-9)


def test_fid_with_fewer_samples_than_dimensions_is_finite_and_non_negative():
    a, b = _stats(5, n=50, d=128), _stats(6, n=50, d=128)
    assert np.linalg.matrix_rank(a[1]) == 49
    f = M.frechet_distance(*a, *b)
    assert math.isfinite(f) and f > 1.0
    assert_allclose(M.frechet_distance(*b, *a), f, rtol=1e-7)  # singular: sqrt of round-off, see the docstring
    same = M.frechet_distance(*a, *a)  # unclipped this comes out about -3e-7
    assert 0.0 <= same <= 1e-8


def test_fid_with_exactly_singular_covariances_equals_the_full_rank_fid_of_their_support():
    """Embed 24-d statistics in 40-d (16 constant features) and rotate: covariances of rank 24 whose
    null space is not axis-aligned. FID is invariant under the common rotation."""
    (mu1, s1), (mu2, s2) = _stats(9, d=24), _stats(10, d=24, dist_seed=4, shift=0.2)
    want = M.frechet_distance(mu1, s1, mu2, s2)
    q, _ = np.linalg.qr(np.random.RandomState(0).randn(40, 40))
    pad = np.zeros((40, 40))

    def embed(mu, s):
        big = pad.copy()
        big[:24, :24] = s
        return q @ np.r_[mu, np.full(16, 1.5)], q @ big @ q.T

    e1, e2 = embed(mu1, s1), embed(mu2, s2)
    assert np.linalg.matrix_rank(e1[1]) == 24
    got = M.frechet_distance(*e1, *e2)
    assert math.isfinite(got)
    assert_allclose(got, want, rtol=1e-6)


def test_fid_closed_form_for_one_dimensional_gaussians():
    # (mu1 - mu2)^2 + (sigma1 - sigma2)^2 with sigma1 = 2, sigma2 = 0.5
    assert_allclose(M.frechet_distance(1.0, 4.0, -0.5, 0.25), 1.5 ** 2 + 1.5 ** 2, rtol=1e-12)
    assert_allclose(M.frechet_distance([1.0], [[4.0]], [-0.5], [[0.25]]), 4.5, rtol=1e-12)
    assert M.frechet_distance(0.0, 1.0, 0.0, 0.0) == pytest.approx(1.0, rel=1e-12)  # a point mass


def test_fid_closed_form_for_diagonal_covariances():
    rng = np.random.RandomState(1)
    a, b = rng.uniform(0.0, 3.0, 20), rng.uniform(0.0, 3.0, 20)
    a[:3] = 0.0  # singular too
    m1, m2 = rng.randn(20), rng.randn(20)
    want = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert_allclose(M.frechet_distance(m1, np.diag(a), m2, np.diag(b)), want, rtol=1e-10)
    assert_allclose(M.frechet_distance(np.zeros(2), np.diag([1.0, 0.0]), np.zeros(2), np.diag([0.0, 1.0])), 2.0,
                    rtol=1e-12)


def test_fid_closed_form_for_non_commuting_2x2_covariances():
    # For 2x2 PSD A: tr sqrt(A) = sqrt(tr A + 2 sqrt(det A)), applied to A ~ sqrt(S1) S2 sqrt(S1).
    s1 = np.array([[2.0, 0.8], [0.8, 1.0]])
    s2 = np.array([[0.5, -0.3], [-0.3, 1.5]])
    assert not np.allclose(s1 @ s2, s2 @ s1)
    tr_sqrt = np.sqrt(np.trace(s1 @ s2) + 2 * np.sqrt(np.linalg.det(s1) * np.linalg.det(s2)))
    want = 0.5 ** 2 + 0.25 ** 2 + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert_allclose(M.frechet_distance([0.5, 0.0], s1, [0.0, 0.25], s2), want, rtol=1e-12)


def test_fid_singular_sigma1_gives_the_same_value_through_either_root():
    # Σ1 of rank 49 (Cholesky fails, the eigh root is used) vs the same root passed in as cached.
    a, b = _stats(14, n=50, d=64), _stats(15, d=64, dist_seed=6)
    plain = M.frechet_distance(*a, *b)
    assert_allclose(M.frechet_distance(*a, *b, sqrt_sigma1=M.sqrtm_psd(a[1])), plain, rtol=1e-12)
    assert plain > 0.5


def test_fid_cached_root_equals_plain_path_and_tensors_equal_arrays():
    a, b = _stats(11, shift=0.5), _stats(12, dist_seed=5)
    plain = M.frechet_distance(*a, *b)
    root = M.sqrtm_psd(a[1])
    assert_allclose(M.frechet_distance(*a, *b, sqrt_sigma1=root), plain, rtol=1e-12)
    as_t = [torch.from_numpy(v).float() for v in (*a, *b)]  # float32 tensors: read as float64
    want = M.frechet_distance(*[t.double().numpy() for t in as_t])
    assert_allclose(M.frechet_distance(*as_t), want, rtol=1e-12)
    assert isinstance(plain, float)


def test_sqrtm_psd_is_a_symmetric_psd_square_root_even_with_round_off_negative_eigenvalues():
    _, s = _stats(13, n=30, d=40)  # rank 29: tiny negative eigenvalues from round-off
    r = M.sqrtm_psd(s)
    assert np.isfinite(r).all()
    assert_allclose(r, r.T, atol=1e-14)
    assert np.linalg.eigvalsh(r).min() > -1e-7
    assert_allclose(r @ r, s, atol=1e-12)
    assert_allclose(M.sqrtm_psd(np.diag([4.0, 9.0, 0.0])), np.diag([2.0, 3.0, 0.0]), atol=1e-15)


def test_fid_rejects_mismatched_shapes():
    mu, s = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="differ in length"):
        M.frechet_distance(mu, s, np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="sigma2 must be"):
        M.frechet_distance(mu, s, mu, np.eye(4))
    with pytest.raises(ValueError, match="sigma1 must be"):
        M.frechet_distance(mu, np.ones((3, 2)), mu, s)
    with pytest.raises(ValueError, match="sqrt_sigma1"):
        M.frechet_distance(mu, s, mu, s, sqrt_sigma1=np.eye(2))
    with pytest.raises(ValueError, match="square"):
        M.sqrtm_psd(np.ones((2, 3)))
    with pytest.raises(ValueError, match="sigma2 has non-finite"):
        M.frechet_distance(mu, s, mu, np.full((3, 3), np.nan))


def test_fid_does_not_hide_a_covariance_that_is_not_psd():
    # sqrtm_psd(-I) = 0, so the trace term vanishes: tr(-I) = -3, far beyond round-off, comes back unclipped.
    assert M.frechet_distance(np.zeros(3), -np.eye(3), np.zeros(3), np.eye(3) * 0) == pytest.approx(-3.0)


# -------------------------------------------------------------------------------------------- KID

def test_kid_hand_computed_two_point_sets():
    # d = 2, k(x, y) = (x.y/2 + 1)^3. k(x1, x2) = 8, k(y1, y2) = 1/8, every k(x, y) = 1:
    # (2*8 + 2/8) / (2*1) - 2 * 4 / 4 = 6.125, whatever order the subset draws the points in.
    x = np.array([[2.0, 0.0], [1.0, 0.0]])
    y = np.array([[0.0, 1.0], [0.0, -1.0]])
    mean, std = M.kernel_inception_distance(x, y, subsets=3, subset_size=2, seed=1)
    assert_allclose([mean, std], [6.125, 0.0], atol=1e-12)


def test_kid_is_about_zero_for_one_distribution_and_positive_for_a_shift():
    a, b = I.features(600, 32, 40), I.features(500, 32, 41)
    shifted = I.features(500, 32, 42, shift=0.3)
    mean, std = M.kernel_inception_distance(a, b, subsets=40, subset_size=200, seed=3)
    assert std > 0
    assert abs(mean) < 3 * std / np.sqrt(40)
    mean_s, std_s = M.kernel_inception_distance(a, shifted, subsets=40, subset_size=200, seed=3)
    assert mean_s > 10 * std_s > 0
    assert mean_s > 50 * abs(mean)


def test_kid_is_reproducible_from_the_seed_and_reads_tensors():
    a, b = I.features(300, 16, 43), I.features(250, 16, 44, shift=0.1)
    r1 = M.kernel_inception_distance(a, b, subsets=5, subset_size=100, seed=9)
    r2 = M.kernel_inception_distance(torch.from_numpy(a), torch.from_numpy(b), subsets=5, subset_size=100, seed=9)
    r3 = M.kernel_inception_distance(a, b, subsets=5, subset_size=100, seed=10)
    assert r1 == r2
    assert r1 != r3
    assert all(isinstance(v, float) for v in r1)


def test_kid_rejects_a_subset_larger_than_a_sample():
    a, b = np.zeros((100, 4)), np.zeros((300, 4))
    with pytest.raises(ValueError, match=r"subset_size=200.*real: 100, fake: 300"):
        M.kernel_inception_distance(a, b, subsets=2, subset_size=200)
    with pytest.raises(ValueError, match="feature size"):
        M.kernel_inception_distance(a, np.zeros((300, 5)), subset_size=10)


# --------------------------------------------------------------------------------------------- IS

def test_inception_score_of_uniform_predictions_is_one():
    mean, std = M.inception_score(np.full((100, 10), 0.1), splits=10)
    assert_allclose([mean, std], [1.0, 0.0], atol=1e-12)


def test_inception_score_of_confident_even_predictions_is_the_number_of_classes():
    k = 10
    probs = np.eye(k)[np.arange(200) % k]  # every split of 20 rows holds each class twice
    mean, std = M.inception_score(probs, splits=10)
    assert_allclose([mean, std], [k, 0.0], atol=1e-10)
    assert_allclose(M.inception_score(torch.from_numpy(probs).float(), splits=1), (k, 0.0), atol=1e-5)


def test_inception_score_of_a_single_class_is_one():
    probs = np.zeros((50, 7))
    probs[:, 3] = 1.0
    assert_allclose(M.inception_score(probs, splits=5), (1.0, 0.0), atol=1e-12)


def test_inception_score_splits_are_consecutive_and_std_is_population():
    # split 1: two confident classes -> IS 2; split 2: one class -> IS 1. mean 1.5, std (ddof=0) 0.5.
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    assert_allclose(M.inception_score(probs, splits=2), (1.5, 0.5), atol=1e-12)


def test_inception_score_rejects_what_are_not_probabilities():
    with pytest.raises(ValueError, match="non-negative"):
        M.inception_score(np.array([[1.5, -0.5], [0.5, 0.5]]), splits=1)
    with pytest.raises(ValueError, match="sum to 1"):
        M.inception_score(np.array([[2.0, 3.0], [0.5, 0.5]]), splits=1)
    with pytest.raises(ValueError, match="splits"):
        M.inception_score(np.full((3, 2), 0.5), splits=4)


# ---------------------------------------------------------------------- precision/recall, density/coverage

def _col(values):
    return np.asarray(values, dtype=np.float64)[:, None]


def test_prdc_hand_computed_one_dimensional_configuration():
    """k = 1. Real radii (nearest other real): 1 for all of 0, 1, 2, 3, 10, 11.
    Fake radii: 0.5 -> 2.4, 2.9 -> 2.1, 5 -> 2.1, 16.5 -> 3.5, 20 -> 3.5.
    precision: 0.5 (by 0), 2.9 (by 3) are inside real balls; 5, 16.5, 20 are not -> 2/5.
    recall: 0, 1, 2 (ball of 0.5) and 3 (ball of 2.9) are inside fake balls; 10, 11 are not -> 4/6.
    density: 0.5 lies in the balls of 0 and 1, 2.9 in those of 2 and 3, the rest in none -> 4/5.
    coverage: nearest fakes of 0, 1, 2, 3 are within 1; of 10 (5) and 11 (16.5) are not -> 4/6."""
    real, fake = _col([0, 1, 2, 3, 10, 11]), _col([0.5, 2.9, 5, 20, 16.5])
    assert_allclose(M.precision_recall(real, fake, k=1), (2 / 5, 4 / 6), rtol=1e-12)
    assert_allclose(M.density_coverage(real, fake, k=1), (4 / 5, 4 / 6), rtol=1e-12)


def test_prdc_comparisons_are_strict_and_duplicates_are_neighbours():
    # Real radii (k=1) are 1 for 0, 1, 2: fakes at distance exactly 1 (3 and -1) are outside.
    assert M.precision_recall(_col([0, 1, 2]), _col([3, -1, 0.5, 10]), k=1)[0] == 0.25
    # A duplicated real point has radius 0 (the duplicate is its nearest neighbour): its ball is empty,
    # so the fake on top of it is not inside; 3.5 is inside the ball of 3 (radius 1) -> precision 1/3.
    p, _ = M.precision_recall(_col([0, 0, 3, 4]), _col([0, 3.5, 10]), k=1)
    assert p == pytest.approx(1 / 3, rel=1e-12)
    # Density: only 3.5 is in balls (of 3 and of 4): 2 / (1 * 3). Coverage: the fake at 0 is at
    # distance 0 from the duplicated 0s, and 0 < 0 is false; 3 and 4 are covered by 3.5 -> 2/4.
    assert M.density_coverage(_col([0, 0, 3, 4]), _col([0, 3.5, 10]), k=1) == pytest.approx((2 / 3, 0.5), rel=1e-12)


def test_prdc_identical_sets_and_far_away_fakes():
    pts = np.random.RandomState(0).randn(60, 2)
    p, r = M.precision_recall(pts, pts, k=3)
    d, c = M.density_coverage(pts, pts, k=3)
    assert (p, r, c) == (1.0, 1.0, 1.0)
    assert d > 0.5
    far = pts + 1000.0
    assert M.precision_recall(pts, far, k=3) == (0.0, 0.0)
    assert M.density_coverage(pts, far, k=3) == (0.0, 0.0)


def test_prdc_blocks_do_not_change_the_result(monkeypatch):
    real, fake = I.features(130, 8, 50), I.features(110, 8, 51, shift=0.1)
    whole = M.precision_recall(real, fake, k=3) + M.density_coverage(real, fake, k=5)
    monkeypatch.setattr(M, "_BLOCK_ELEMENTS", 7 * 130)  # 7 rows at a time, ragged last block
    blocked = M.precision_recall(torch.from_numpy(real), fake, k=3) + M.density_coverage(real, fake, k=5)
    monkeypatch.setattr(M, "_BLOCK_ELEMENTS", 1)  # one row at a time
    rows = M.precision_recall(real, fake, k=3) + M.density_coverage(real, fake, k=5)
    assert whole == blocked == rows
    assert 0 < min(whole[:2]) and max(whole[:2]) < 1


def test_prdc_rejects_bad_inputs():
    with pytest.raises(ValueError, match="feature size"):
        M.precision_recall(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match="more than 5 samples in f_fake"):
        M.density_coverage(np.zeros((10, 3)), np.zeros((5, 3)), k=5)


# --------------------------------------------------------------------------------- class coverage

def test_class_coverage_hand_cases():
    cc = M.class_coverage(np.array([0, 0, 1, 1]), num_classes=4)  # p = (1/2, 1/2, 0, 0) vs uniform 1/4
    assert cc == {"classes_hit": 2, "num_classes": 4, "kl": pytest.approx(math.log(2), rel=1e-12)}
    even = M.class_coverage(np.arange(30) % 10)
    assert even["classes_hit"] == 10 and even["num_classes"] == 10 and abs(even["kl"]) < 1e-15
    # real_hist as counts (2, 1, 1) equals the sample histogram -> KL 0
    assert M.class_coverage([0, 1, 2, 0], real_hist=[2, 1, 1])["kl"] == pytest.approx(0.0, abs=1e-15)
    # KL(p || q) with p = (3/4, 1/4), q = (1/4, 3/4): 3/4 log 3 + 1/4 log(1/3) = log(3) / 2
    assert M.class_coverage([0, 0, 0, 1], real_hist=[0.25, 0.75])["kl"] == pytest.approx(math.log(3) / 2, rel=1e-12)


def test_class_coverage_reads_probabilities_and_keeps_kl_finite_for_unseen_real_classes():
    probs = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    assert M.class_coverage(probs) == M.class_coverage([1, 0, 2], num_classes=3)
    cc = M.class_coverage(torch.tensor([2, 2, 2, 2]), real_hist=[0.5, 0.5, 0.0])
    assert cc["classes_hit"] == 1
    assert cc["kl"] == pytest.approx(-math.log(1e-12 / (1 + 1e-12)), rel=1e-12)  # about 27.6 nats


def test_class_coverage_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        M.class_coverage([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="num_classes is 4"):
        M.class_coverage([0, 1], real_hist=[0.5, 0.5], num_classes=4)
    with pytest.raises(ValueError, match="non-integer"):
        M.class_coverage(np.array([0.5, 1.0]))
