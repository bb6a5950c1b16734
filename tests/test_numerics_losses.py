"""The float64 Monte Carlo loss estimators (eq. 6, eq. 13) against closed forms and exact identities.

Monte Carlo assertions use 5 standard errors: a correct estimator fails one with probability < 1e-6.
"""

import numpy as np
import pytest

from memlab import numerics


def _setup(seed, n=12, d=4, k=3, draws=40):
    ds = numerics.make_gmm_dataset(d=d, k=k, n=n, seed=seed)
    noise = np.random.default_rng(seed + 1).standard_normal((n, draws, d))
    return ds, noise


def test_mc_estimate_mean_and_standard_error_by_hand():
    values = np.array([[1.0, 3.0], [2.0, 6.0], [0.0, 0.0]])  # per-sample means 2, 4, 0; variances 2, 8, 0
    est = numerics.mc_estimate(values)
    assert est.mean == pytest.approx(2.0)
    assert est.se == pytest.approx(np.sqrt((2 + 8 + 0) / 2) / 3)
    assert est.draws == 2
    np.testing.assert_allclose(est.per_sample_var, [2.0, 8.0, 0.0])


def test_mc_estimate_single_draw_has_undefined_se():
    assert np.isnan(numerics.mc_estimate(np.ones((3, 1))).se)


def test_per_time_loss_of_rescaling_denoiser_matches_closed_form():
    # x_hat(x) = x / alpha has error (sigma/alpha) z: loss = d sigma^2/alpha^2, per-draw variance 2 d (sigma/alpha)^4.
    ds, noise = _setup(3, n=50, d=6, draws=200)
    alpha, sigma = 0.8, 0.6
    est = numerics.per_time_loss(lambda x: x / alpha, ds.x_train, alpha=alpha, sigma=sigma, noise=noise)
    exact = 6 * sigma**2 / alpha**2
    assert abs(est.mean - exact) < 5 * est.se
    exact_se = np.sqrt(2 * 6 * (sigma / alpha) ** 4 / 200 / 50)
    assert est.se == pytest.approx(exact_se, rel=0.1)  # chi2 spread of 50 sample variances: rel. s.d. ~ 1.4%


@pytest.mark.parametrize("t", [0.05, 0.36028, 0.9])
def test_orthogonality_identity_and_cross_term(t):
    # L(x) - L(mem) - E|x - mem|^2 = 2 E<x - mem, mem - x^i> exactly (same noise); the cross term has mean 0 (eq. 13).
    ds, noise = _setup(7, n=15, d=5, draws=60)
    alpha, sigma = np.sqrt(1 - t * t), t
    gen = lambda x: numerics.isotropic_gmm_denoiser(x, alpha=alpha, sigma=sigma, means=ds.means, variance=ds.sigma2)
    mem = lambda x: numerics.memorizing_denoiser(x, alpha=alpha, sigma=sigma, train=ds.x_train)
    loss_gen = numerics.per_time_loss(gen, ds.x_train, alpha=alpha, sigma=sigma, noise=noise)
    loss_mem = numerics.per_time_loss(mem, ds.x_train, alpha=alpha, sigma=sigma, noise=noise)
    excess = numerics.excess_loss(gen, ds.x_train, alpha=alpha, sigma=sigma, noise=noise)
    cross = np.empty(noise.shape[:2])
    for i, x_i in enumerate(ds.x_train):
        x_t = alpha * x_i + sigma * noise[i]
        cross[i] = np.sum((gen(x_t) - mem(x_t)) * (mem(x_t) - x_i), axis=-1)
    cross_est = numerics.mc_estimate(cross)
    assert loss_gen.mean - loss_mem.mean - excess.mean == pytest.approx(2 * cross_est.mean, abs=1e-9)
    assert abs(cross_est.mean) <= 5 * cross_est.se + 1e-12  # at small t x_mem = x^i and the term is exactly 0
    assert excess.mean >= 0 and excess.se >= 0


def test_excess_pmem_is_zero_at_m_equal_n_and_positive_below():
    ds, noise = _setup(11, n=8, d=3, draws=10)
    ests = numerics.excess_losses_pmem(ds.x_train, alpha=0.9, sigma=np.sqrt(1 - 0.81), noise=noise)
    assert len(ests) == 8
    assert ests[-1].mean == 0.0 and ests[-1].se == 0.0
    assert all(e.mean > 0 for e in ests[:-1])
    single = numerics.excess_loss_pmem(ds.x_train, m=3, alpha=0.9, sigma=np.sqrt(0.19), noise=noise)
    assert single.mean == ests[2].mean and single.se == ests[2].se


def test_excess_pmem_by_hand_with_one_point_prefix():
    # M = 1: x_pmem = x^1 for every input, so the excess is |x^1 - x_mem(X)|^2 averaged.
    ds, noise = _setup(5, n=6, d=3, draws=7)
    alpha, sigma = 0.6, 0.8
    est = numerics.excess_loss_pmem(ds.x_train, m=1, alpha=alpha, sigma=sigma, noise=noise)
    values = np.empty((6, 7))
    for i in range(6):
        x_t = alpha * ds.x_train[i] + sigma * noise[i]
        values[i] = np.sum(
            (ds.x_train[0] - numerics.memorizing_denoiser(x_t, alpha=alpha, sigma=sigma, train=ds.x_train)) ** 2,
            axis=-1,
        )
    assert est.mean == pytest.approx(values.mean(), rel=1e-12)


def test_noise_shape_is_checked():
    ds, noise = _setup(1, n=5, d=3, draws=4)
    with pytest.raises(ValueError):
        numerics.per_time_loss(lambda x: x, ds.x_train, alpha=0.5, sigma=0.5, noise=noise[:4])
    with pytest.raises(ValueError):
        numerics.excess_loss(lambda x: x, ds.x_train, alpha=0.5, sigma=0.5, noise=noise[..., :2])
