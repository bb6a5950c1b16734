"""numerics.crossover against an independent plain-float evaluation written here from Section 2 and eq. 14."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from memlab import InvalidInputError, numerics, theory

SCHEDULES = ["vp", "ve", "linear"]
WEIGHTINGS = ["x0", "eps", "v", "score", "elbo"]


# ---- independent reference (Section 2: schedules; weightings relative to the x0-MSE) ----
def ref_alpha_sigma(schedule, t):
    t = np.asarray(t, dtype=float)
    alpha = {"vp": np.sqrt(1 - t * t), "ve": np.ones_like(t), "linear": 1 - t}[schedule]
    return alpha, t


def ref_lambda(weighting, schedule, t):
    alpha, sigma = ref_alpha_sigma(schedule, t)
    a2, s2 = alpha**2, sigma**2
    if weighting == "elbo":  # -psi'(t)/2, psi' by hand
        dpsi = {"vp": -2 / t**3, "ve": -2 / t**3, "linear": -2 * (1 - t) / t**3}[schedule]
        return -np.asarray(dpsi) / 2
    return {"x0": np.ones_like(a2), "eps": a2 / s2, "v": (a2 + s2) ** 2 / s2, "score": a2 / s2**2}[weighting]


def ref_integrands(weighting, schedule, sigma2):
    def lam(t):
        return ref_lambda(weighting, schedule, t)

    def lam_g(t):
        alpha, sigma = ref_alpha_sigma(schedule, t)
        return lam(t) / (alpha**2 / sigma**2 * sigma2 + 1)

    return lam, lam_g


def ref_m_star_over_n(*, c, sigma2, weighting, schedule, steps=25, continuous=False, t_min=0.001, t_max=0.999):
    lam, lam_g = ref_integrands(weighting, schedule, sigma2)
    if continuous:
        points = np.geomspace(t_min, t_max, 12)[1:-1]  # plain t with breakpoints (not the library's log t)
        first = integrate.quad(lambda t: float(lam(t)), t_min, t_max, points=points, limit=400, epsabs=0, epsrel=1e-13)[
            0
        ]
        second = integrate.quad(
            lambda t: float(lam_g(t)), t_min, t_max, points=points, limit=400, epsabs=0, epsrel=1e-13
        )[0]
    else:
        t = 0.999 - 0.998 * np.arange(steps + 1) / steps
        first, second = np.mean(lam(t)), np.mean(lam_g(t))
    return 1 - second / (c * first)


settings_common = st.fixed_dictionaries(
    {
        "c": st.floats(0.5, 3.0),
        "sigma2": st.floats(0.05, 20.0),
        "weighting": st.sampled_from(WEIGHTINGS),
        "schedule": st.sampled_from(SCHEDULES),
    }
)


@given(settings_common, st.integers(1, 200), st.integers(1, 10_000))
def test_discrete_matches_independent_float(setting, steps, n):
    result = numerics.crossover(n, steps=steps, **setting)
    expected = ref_m_star_over_n(steps=steps, **setting)
    # float64 sums of <= 201 terms: relative error ~1e-14 on each mean; M*/N is within [0, 1]-ish
    assert result.m_star_over_n == pytest.approx(expected, abs=1e-12, rel=1e-12)
    assert result.m_star == pytest.approx(n * expected, rel=1e-12, abs=1e-9)


@settings(max_examples=25)
@given(settings_common, st.floats(0.001, 0.5), st.floats(0.01, 0.5))
def test_continuous_matches_independent_quadrature(setting, t_min, width):
    t_max = min(1.0, t_min + width)
    result = numerics.crossover(100, continuous=True, t_min=t_min, t_max=t_max, **setting)
    expected = ref_m_star_over_n(continuous=True, t_min=t_min, t_max=t_max, **setting)
    # both quadratures ask for relative 1e-12 / 1e-13 on each integral: M*/N error <= ~3e-12 * (1 - M*/N)
    assert result.m_star_over_n == pytest.approx(expected, abs=1e-10)
    assert result.quad_relerr < 1e-9


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_float_agrees_with_exact_theory(schedule, weighting):
    got = numerics.crossover(200, c=1.5, sigma2=0.5, weighting=weighting, schedule=schedule)
    exact = theory.crossover_exact(c="3/2", sigma2="1/2", weighting=weighting, schedule=schedule)
    assert exact.exact
    assert got.m_star_over_n == pytest.approx(float(exact.m_star_over_n), abs=1e-13)
    assert got.mean_weight == pytest.approx(float(exact.mean_weight), rel=1e-13)


@given(st.integers(0, 25), st.floats(0.5, 3.0), st.floats(0.05, 20.0), st.sampled_from(SCHEDULES), st.floats(1e-3, 1e3))
def test_weight_on_one_timestep_is_the_single_time_formula(index, c, sigma2, schedule, scale):
    weights = np.zeros(26)
    weights[index] = scale
    result = numerics.crossover(200, c=c, sigma2=sigma2, weights=weights, schedule=schedule)
    t = 0.999 - 0.998 * index / 25
    alpha, sigma = ref_alpha_sigma(schedule, t)
    psi = alpha**2 / sigma**2
    assert result.m_star_over_n == pytest.approx(1 - 1 / (c * (psi * sigma2 + 1)), abs=1e-13)
    assert result.weighting == "user" and result.weights[index] == scale


@given(settings_common, st.floats(1.05, 3.0))
def test_monotone_in_c_and_sigma2(setting, factor):
    base = numerics.crossover(1000, **setting)
    bigger_c = numerics.crossover(1000, **{**setting, "c": setting["c"] * factor})
    bigger_s = numerics.crossover(1000, **{**setting, "sigma2": setting["sigma2"] * factor})
    assert bigger_c.m_star > base.m_star
    assert bigger_s.m_star > base.m_star


@pytest.mark.parametrize("weighting", ["x0", "eps", "v", "score"])
def test_continuous_vs_fine_grid_euler_maclaurin(weighting):
    """A fine grid mean equals the continuous mean up to the Euler–Maclaurin terms.

    With h = (b - a)/L and the L+1 grid points (both ends included):
      h sum_l f(t_l) = I + (h/2)(f(a) + f(b)) + (h^2/12)(f'(b) - f'(a)) + R,
      |R| <= (b - a) h^4 max|f''''| / 720.
    The tolerance is |R| / (h (L+1)) (max|f''''| from 10^4 log-spaced points, times 2 for safety),
    plus 1e-11 relative for the continuous quadrature (asked 1e-12) and 1e-13 for the float sum.
    """
    steps, a, b = 100_000, 0.001, 0.999
    h = (b - a) / steps
    t = sp.Symbol("t", positive=True)
    psi = (1 - t**2) / t**2  # VP
    lam = {"x0": sp.Integer(1), "eps": psi, "v": psi + 1, "score": (1 - t**2) / t**4}[weighting]
    grid = numerics.crossover(1, weighting=weighting, steps=steps)
    cont = numerics.crossover(1, weighting=weighting, continuous=True, t_min=a, t_max=b)
    dense = np.geomspace(a, b, 10_000)
    pairs = (
        (lam, grid.mean_weight, cont.mean_weight),
        (lam / (psi + 1), grid.mean_weight_generalizing, cont.mean_weight_generalizing),
    )
    for f_sym, grid_mean, cont_mean in pairs:
        f = sp.lambdify(t, f_sym)
        f1 = sp.lambdify(t, sp.diff(f_sym, t))
        f4 = sp.lambdify(t, sp.diff(f_sym, t, 4))
        integral = cont_mean * (b - a)
        predicted = (integral + h / 2 * (f(a) + f(b)) + h**2 / 12 * (f1(b) - f1(a))) / (h * (steps + 1))
        max_f4 = 2 * float(np.max(np.abs(np.broadcast_to(f4(dense), dense.shape))))
        tol = (b - a) * h**4 * max_f4 / 720 / (h * (steps + 1)) + 1e-11 * abs(cont_mean) + 1e-13 * abs(grid_mean)
        assert abs(grid_mean - predicted) <= tol
        if not sp.simplify(f_sym).is_number:  # the endpoint term is really seen (the check is not vacuous)
            assert abs(grid_mean - cont_mean) > 10 * tol


def test_vectorised_over_n():
    n = np.array([[10, 20, 30], [100, 200, 300]])
    result = numerics.crossover(n, weighting="eps", d=50)
    assert result.m_star.shape == (2, 3)
    np.testing.assert_allclose(result.m_star, n * result.m_star_over_n, rtol=1e-15)
    scalar = numerics.crossover(200)
    assert isinstance(scalar.m_star, float)
    losses = result.excess_loss_pmem(np.array([[5], [50]]))
    assert losses.shape == (2, 3)


def test_losses_from_theorems():
    r = numerics.crossover(200, c=2, sigma2=1.5, d=50)
    gen = 50 * 1.5 * r.mean_weight_generalizing
    assert r.excess_loss_generalizing() == pytest.approx(gen, rel=1e-15)
    assert r.excess_loss_pmem(100) == pytest.approx(2 * 0.5 * 50 * 1.5 * r.mean_weight, rel=1e-15)
    assert r.loss_gap(r.m_star) == pytest.approx(0, abs=1e-12 * gen)
    assert r.loss_gap(r.m_star - 1) > 0 > r.loss_gap(r.m_star + 1)  # below M*: x_* wins
    assert r.excess_loss_pmem(10, d=100) == pytest.approx(2 * r.excess_loss_pmem(10), rel=1e-15)


def test_negative_m_star_reported_and_clipped():
    r = numerics.crossover(200, c=0.2)  # C below Theorem 3.2's range
    assert r.m_star < 0 and r.m_star_clipped == 0.0
    assert r.m_star_over_n == pytest.approx(
        ref_m_star_over_n(c=0.2, sigma2=1, weighting="x0", schedule="vp"), abs=1e-13
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 0},
        {"n": -5},
        {"n": float("nan")},
        {"n": [10, 0]},
        {"n": []},
        {"n": "abc"},
        {"c": 0},
        {"c": -1},
        {"c": float("inf")},
        {"sigma2": 0},
        {"sigma2": -2},
        {"steps": 0},
        {"steps": 2.5},
        {"steps": True},
        {"continuous": True, "t_min": 0.5, "t_max": 0.5},
        {"continuous": True, "t_min": 0.0},
        {"continuous": True, "t_max": 1.2},
        {"continuous": True, "t_min": 0.6, "t_max": 0.4},
        {"weights": [1.0] * 25},
        {"weights": [0.0] * 26},
        {"weights": [-1.0] + [1.0] * 25},
        {"weights": [float("nan")] * 26},
        {"weights": [1.0] * 26, "continuous": True},
        {"weighting": "bogus"},
        {"schedule": "cosine"},
        {"d": 0},
    ],
)
def test_bad_input(kwargs):
    kwargs = {"n": 200, **kwargs}
    with pytest.raises(InvalidInputError):
        numerics.crossover(kwargs.pop("n"), **kwargs)


def test_loss_inputs_validated():
    r = numerics.crossover(200)
    with pytest.raises(InvalidInputError):
        r.excess_loss_generalizing()  # no d
    with pytest.raises(InvalidInputError):
        r.excess_loss_pmem(201, d=5)
    with pytest.raises(InvalidInputError):
        r.excess_loss_pmem(-1, d=5)
