"""The App. H.3 regression: predictor, relaxation limit, gradient, recovery of a known lambda, split, errors."""

import numpy as np
import pytest

from memlab import InvalidInputError, numerics
from memlab.numerics import LossGaps


def grid(steps=25):
    return 0.999 - 0.998 * np.arange(steps + 1) / steps


def synthetic_problems(count=30, steps=4, seed=0, span=False):
    """Tuples whose per-time gaps are lines a_l (c_l - M)/N with tuple- and time-specific slopes and zeros.

    The integrated gap's zero is sum_l w_l a_l c_l / sum_l w_l a_l: it depends on the whole weight vector
    (unlike the approximate losses), so lambda is identifiable from enough tuples.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        n = int(rng.integers(20, 61))
        m = np.arange(1, n + 1)
        a = rng.uniform(1, 3, steps + 1)
        c = rng.uniform(0.3, 0.8, steps + 1) * n
        out.append(
            LossGaps(
                n=n,
                d=1,
                k=None,
                m_values=m,
                gaps=a[:, None] * (c[:, None] - m[None, :]) / n,
                gaps_se=None,
                source="synthetic",
                normalize="span" if span else "per_dim",
                scale=1.0,
                sigma2=1.0,
                steps=steps,
                span_target=2.0 * (n - 1) / n if span else None,
            )
        )
    return out


def paper_grid_approx(ns=(50, 100, 150, 200), ds=(30, 40, 50, 60), ks=(3, 6, 9, 12)):
    return [numerics.approx_loss_gaps(n, d=d, k=k) for n in ns for d in ds for k in ks]


# ---- the predictor ----


@pytest.mark.parametrize("name,lam", [("x0", lambda t: np.ones_like(t)), ("eps", lambda t: (1 - t**2) / t**2)])
def test_approx_crossover_is_m_star(name, lam):
    """With the approximate gaps the zero of G is M* = N (1 - E[lam t^2] / (2 E[lam])) (VP, C = 2, sigma2 = 1)."""
    problems = paper_grid_approx(ns=(50, 100, 150, 200), ds=(30,), ks=(3,))
    t = grid()
    weights = numerics.grid_weighting(name)
    np.testing.assert_allclose(weights / weights.mean(), lam(t) / lam(t).mean(), rtol=1e-12)
    pred = numerics.predict_m_pt(problems, weights)
    ratio = 1 - np.mean(lam(t) * t**2) / (2 * np.mean(lam(t)))
    np.testing.assert_allclose(pred.crossover, ratio * np.array([50, 100, 150, 200]), rtol=1e-9)
    # the hard prediction is the candidate nearest to M* (G is linear in M: |G| is |M - M*| times a constant)
    np.testing.assert_array_equal(pred.hard, np.clip(np.round(pred.crossover), 1, [50, 100, 150, 200]))


def test_prediction_does_not_depend_on_scale_of_weights_or_on_d_and_k():
    problems = paper_grid_approx(ns=(100,), ds=(30, 60), ks=(3, 12))
    w = np.random.default_rng(0).uniform(0.1, 2.0, 26)
    a = numerics.predict_m_pt(problems, w)
    b = numerics.predict_m_pt(problems, 37.0 * w)
    np.testing.assert_allclose(a.relaxed, b.relaxed, rtol=1e-12)
    np.testing.assert_allclose(a.relaxed, a.relaxed[0], rtol=1e-12)  # per_dim approximations: no d, K


def test_relaxed_distribution_is_a_distribution_and_padding_is_empty():
    problems = paper_grid_approx(ns=(50, 200), ds=(30,), ks=(3,))
    pred = numerics.predict_m_pt(problems, np.ones(26))
    np.testing.assert_allclose(pred.p.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(pred.p[0, 50:] == 0) and np.all(pred.p >= 0)
    assert np.all(pred.entropy > 0) and np.all(pred.entropy <= np.log([50, 200]) + 1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_relaxation_tends_to_hard_argmin(seed):
    """Lemma D.1's bound: |M_hat - M_hard| <= max_j |m_j - m_k| * 2 (n-1) exp(-gamma / tau),

    gamma the gap between the smallest and second-smallest G^2 (so the bound is derived, not tuned).
    """
    problems = synthetic_problems(count=3, steps=6, seed=seed)
    w = np.random.default_rng(seed).uniform(0.1, 1.0, 7)
    stack = numerics.stack_gaps(problems)
    G = np.einsum("l,plc->pc", w / w.sum(), stack.gaps)
    for tau in [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]:
        pred = numerics.predict_m_pt(problems, w, tau=tau)
        err = np.abs(pred.relaxed - pred.hard)
        for i, p in enumerate(problems):
            sq = np.sort(G[i, : p.m_values.size] ** 2)
            gamma = sq[1] - sq[0]
            assert gamma > 0
            bound = (p.m_values.max() - p.m_values.min()) * 2 * (p.m_values.size - 1) * np.exp(-gamma / tau)
            assert err[i] <= bound + 1e-9 * p.n
    assert np.all(err < 1e-6)  # the limit: at tau = 1e-5 the relaxed M_hat is the hard argmin


# ---- the objective ----


@pytest.mark.parametrize("span", [False, True])
def test_objective_gradient_matches_finite_differences(span):
    problems = synthetic_problems(count=8, steps=5, seed=3, span=span)
    stack = numerics.stack_gaps(problems)
    targets = np.array([0.55 * p.n for p in problems])
    theta = np.random.default_rng(1).standard_normal(6)
    for beta in [0.0, 1e-2, 1.0]:
        value, grad, mse, entropy = numerics.regression_objective(theta, stack, targets, tau=0.05, beta=beta)
        assert value == pytest.approx(mse + beta * entropy, rel=1e-14)
        h = 1e-6
        fd = np.array(
            [
                (
                    numerics.regression_objective(theta + h * e, stack, targets, tau=0.05, beta=beta)[0]
                    - numerics.regression_objective(theta - h * e, stack, targets, tau=0.05, beta=beta)[0]
                )
                / (2 * h)
                for e in np.eye(6)
            ]
        )
        # central differences: error O(h^2 f''') plus rounding O(eps |f| / h); both far below 1e-7 here
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("span", [False, True])
def test_objective_parts_match_a_direct_computation(span):
    problems = synthetic_problems(count=4, steps=3, seed=7, span=span)
    targets = np.array([0.6 * p.n for p in problems])
    theta = np.array([0.3, -1.0, 0.5, 0.0])
    w = np.exp(theta) / np.exp(theta).sum()
    tau, beta = 0.05, 0.3
    mse_terms, entropies = [], []
    for p, y in zip(problems, targets):
        G = w @ p.gaps
        if span:
            G = G * p.span_target / (G[0] - G[-1])
        z = -(G**2) / tau
        q = np.exp(z - z.max())
        q /= q.sum()
        mse_terms.append(((q @ p.m_values - y) / y) ** 2)
        entropies.append(-np.sum(q * np.log(q)))
    _value, _, mse, entropy = numerics.regression_objective(theta, problems, targets, tau=tau, beta=beta)
    assert mse == pytest.approx(np.mean(mse_terms), rel=1e-12)
    assert entropy == pytest.approx(np.mean(entropies), rel=1e-12)


def test_span_normalisation_is_the_identity_for_the_approximations():
    w = np.random.default_rng(4).uniform(0.1, 3.0, 26)
    for n in (50, 200):
        span = numerics.predict_m_pt([numerics.approx_loss_gaps(n, d=40, normalize="span")], w)
        per_dim = numerics.predict_m_pt([numerics.approx_loss_gaps(n, d=40, normalize="per_dim")], w)
        np.testing.assert_allclose(span.relaxed, per_dim.relaxed, rtol=1e-12)
        np.testing.assert_array_equal(span.hard, per_dim.hard)


def test_span_normalisation_rescales_only():
    """The span rescaling leaves the crossover and the nearest M unchanged and fixes the drop of G."""
    problems = synthetic_problems(count=5, steps=4, seed=11, span=True)
    plain = synthetic_problems(count=5, steps=4, seed=11, span=False)
    w = np.array([0.1, 2.0, 0.3, 1.0, 0.5])
    a, b = numerics.predict_m_pt(problems, w), numerics.predict_m_pt(plain, w)
    np.testing.assert_allclose(a.crossover, b.crossover, rtol=1e-12)
    np.testing.assert_array_equal(a.hard, b.hard)


def test_span_normalisation_removes_the_flat_gap_optimum():
    """A timestep whose gaps hardly depend on M (low SNR) lets the relaxed fit flatten G: p becomes ~uniform and
    M_hat ~ the mean candidate, whatever the crossover. Targets at the mean candidate make that optimal for
    per_dim; the span rescaling keeps the distribution concentrated (entropy far below log N)."""
    rng = np.random.default_rng(2)

    def problems(span):
        out = []
        for _ in range(12):
            n = int(rng.integers(30, 60))
            m = np.arange(1, n + 1)
            informative = 2.0 * (0.8 * n - m[None, :]) / n * rng.uniform(0.8, 1.2, (3, 1))
            flat = 1e-4 * (0.3 * n - m[None, :]) / n
            out.append(
                LossGaps(
                    n=n,
                    d=1,
                    k=None,
                    m_values=m,
                    gaps=np.vstack([flat, informative]),
                    gaps_se=None,
                    source="synthetic",
                    normalize="span" if span else "per_dim",
                    scale=1.0,
                    sigma2=1.0,
                    steps=3,
                    span_target=2.0 * (n - 1) / n if span else None,
                )
            )
        return out

    state = rng.bit_generator.state
    flat_fit_problems = problems(False)
    rng.bit_generator.state = state
    span_problems = problems(True)
    targets = np.array([(p.n + 1) / 2 for p in flat_fit_problems])
    per_dim = numerics.fit_weighting(flat_fit_problems, targets, config=numerics.RegressionConfig(beta=0.0))
    span = numerics.fit_weighting(span_problems, targets, config=numerics.RegressionConfig(beta=0.0))
    log_n = np.mean(np.log([p.n for p in flat_fit_problems]))
    assert per_dim.mean_entropy > 0.95 * log_n  # the degenerate optimum: p nearly uniform
    assert span.mean_entropy < 0.8 * log_n


# ---- the fit ----


def test_fit_recovers_a_known_lambda():
    """Targets made by the predictor itself from lambda*; the fit must return lambda*.

    beta = 0, so eq. 30's minimum is 0.

    Tolerance derived from the fit's own residual: near the minimiser J(theta) ~ 1/2 dtheta' H dtheta, so
    |P dtheta| <= sqrt(2 J / h_min) with h_min the smallest Hessian eigenvalue off the softmax's shift direction
    (P projects it out); a factor 2 covers the quadratic approximation.
    """
    problems = synthetic_problems(count=30, steps=4, seed=0)
    train, test = numerics.split_tuples(len(problems), test_fraction=0.25, seed=1)
    lam = np.array([0.2, 1.5, 0.5, 2.0, 0.8])
    targets = numerics.predict_m_pt(problems, lam).relaxed
    stack = numerics.stack_gaps([problems[i] for i in train])
    config = numerics.RegressionConfig(beta=0.0, starts=("x0",), random_starts=1, seed=0)
    fit = numerics.fit_weighting(stack, targets[train], config=config)

    theta_star = np.log(lam)
    h = 1e-5
    hess = np.array(
        [
            (
                numerics.regression_objective(theta_star + h * e, stack, targets[train], beta=0.0)[1]
                - numerics.regression_objective(theta_star - h * e, stack, targets[train], beta=0.0)[1]
            )
            / (2 * h)
            for e in np.eye(5)
        ]
    )
    proj = np.eye(5) - np.ones((5, 5)) / 5
    eig = np.linalg.eigvalsh(proj @ ((hess + hess.T) / 2) @ proj)
    h_min = np.sort(eig)[1]  # eig[0] ~ 0 is the shift direction
    assert h_min > 0
    dtheta = proj @ (fit.theta - theta_star)
    assert np.linalg.norm(dtheta) <= 2 * np.sqrt(2 * max(fit.objective, 1e-30) / h_min) + 1e-7
    np.testing.assert_allclose(fit.weights, lam / lam.mean(), rtol=1e-5)
    test_pred = numerics.predict_m_pt([problems[i] for i in test], fit.weights).relaxed
    assert numerics.relative_errors(test_pred, targets[test]).max_abs_rel < 1e-6


def test_fit_on_approximate_losses_recovers_the_identifiable_number():
    """Approximations: only s = E[lam t^2] / E[lam] (VP) is identifiable; the fit must recover it and M*/N."""
    problems = paper_grid_approx(ns=(50, 100, 150, 200), ds=(30, 50), ks=(3,))
    t = grid()
    lam = ((1 - t**2) / t**2) ** 0.15  # a weighting between x0 and eps
    targets = numerics.predict_m_pt(problems, lam).relaxed
    fit = numerics.fit_weighting(problems, targets, config=numerics.RegressionConfig(beta=0.0))
    s_true = np.mean(lam * t**2) / np.mean(lam)
    s_fit = np.mean(fit.weights * t**2) / np.mean(fit.weights)
    assert fit.mse < 1e-16
    # d M_hat / d s is about -N / C = -N / 2, so relative M errors of sqrt(mse) mean |ds| <= 2 sqrt(mse) M/N
    assert abs(s_fit - s_true) <= 2 * np.sqrt(fit.mse) + 1e-8
    m_star_true = numerics.crossover(1.0, weights=lam).m_star_over_n
    m_star_fit = numerics.crossover(1.0, weights=fit.weights).m_star_over_n
    assert m_star_fit == pytest.approx(m_star_true, abs=1e-7)


def test_entropy_penalty_lowers_entropy():
    """For global minimisers: beta (H_beta - H_0) <= mse_0 - mse_beta <= 0, so H_beta <= H_0."""
    problems = synthetic_problems(count=20, steps=4, seed=5)
    targets = np.array([0.5 * p.n for p in problems])
    fits = {
        beta: numerics.fit_weighting(problems, targets, config=numerics.RegressionConfig(beta=beta))
        for beta in (0.0, 0.05)
    }
    assert fits[0.05].mean_entropy <= fits[0.0].mean_entropy + 1e-9
    assert fits[0.05].mse >= fits[0.0].mse - 1e-12


def test_fit_is_deterministic():
    problems = synthetic_problems(count=6, steps=3, seed=2)
    targets = np.array([0.6 * p.n for p in problems])
    config = numerics.RegressionConfig(random_starts=1, maxiter=100)
    a = numerics.fit_weighting(problems, targets, config=config)
    b = numerics.fit_weighting(problems, targets, config=config)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.starts == b.starts and np.isclose(a.weights.mean(), 1.0)


# ---- split, errors, validation ----


@pytest.mark.parametrize("count,fraction", [(2, 0.25), (10, 0.25), (64, 0.25), (7, 0.5), (5, 0.0)])
def test_split_tuples(count, fraction):
    train, test = numerics.split_tuples(count, test_fraction=fraction, seed=3)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(count))
    expected_test = 0 if fraction == 0 else min(max(1, round(fraction * count)), count - 1)
    assert test.size == expected_test and train.size >= 1
    again = numerics.split_tuples(count, test_fraction=fraction, seed=3)
    np.testing.assert_array_equal(train, again[0])


def test_relative_errors():
    s = numerics.relative_errors([90.0, 44.0], [100.0, 40.0])
    assert s.count == 2
    assert s.mse_rel == pytest.approx((0.01 + 0.01) / 2)
    assert s.rmse_rel == pytest.approx(0.1)
    assert s.mean_abs_rel == pytest.approx(0.1) and s.max_abs_rel == pytest.approx(0.1)
    assert s.mean_abs == pytest.approx(7.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda p: numerics.predict_m_pt(p, -np.ones(26)),
        lambda p: numerics.predict_m_pt(p, np.zeros(26)),
        lambda p: numerics.predict_m_pt(p, np.ones(5)),
        lambda p: numerics.predict_m_pt(p, np.ones(26), tau=0.0),
        lambda p: numerics.fit_weighting(p, [1.0]),
        lambda p: numerics.fit_weighting(p, [0.0, 1.0]),
        lambda p: numerics.RegressionConfig(tau=-1.0),
        lambda p: numerics.RegressionConfig(beta=-1.0),
        lambda p: numerics.RegressionConfig(starts=(), random_starts=0),
        lambda p: numerics.split_tuples(1, test_fraction=0.5),
        lambda p: numerics.split_tuples(4, test_fraction=1.0),
        lambda p: numerics.stack_gaps([]),
    ],
)
def test_bad_input(call):
    problems = paper_grid_approx(ns=(50, 100), ds=(30,), ks=(3,))
    with pytest.raises(InvalidInputError):
        call(problems)
