import numpy as np
import sympy as sp

from memlab import theory
from memlab.theory import ALPHA, LAMBDA, PSI, SIGMA, SIGMA2, C, D, E_t, M, N


def test_posterior_gain_is_eq11_coefficient():
    # eq. 11's coefficient on x for one component, sigma^2 = sigma_*^2 (eq. 11)
    assert sp.simplify(theory.derive_posterior_gain() - ALPHA * SIGMA2 / (ALPHA**2 * SIGMA2 + SIGMA**2)) == 0


def test_theorem_3_1_forms():
    derived = theory.excess_generalizing_alpha_sigma()
    assert sp.simplify(derived - D * SIGMA2 * SIGMA**2 / (ALPHA**2 * SIGMA2 + SIGMA**2)) == 0
    psi_form = theory.excess_generalizing()
    # SymPy's own simplification of the substituted form is already the psi form (structurally):
    assert psi_form == D * SIGMA2 / (PSI * SIGMA2 + 1)
    assert not psi_form.has(ALPHA) and not psi_form.has(SIGMA)


def test_theorem_3_1_is_the_posterior_mse_monte_carlo():
    """The excess is d x posterior MSE; checked by simulation (5 SE: failure probability < 1e-6)."""
    rng = np.random.default_rng(0)
    d, s2, alpha, sigma, reps = 3, 0.7, 0.6, 0.8, 200_000
    mu = rng.normal(size=d)
    x0 = mu + np.sqrt(s2) * rng.normal(size=(reps, d))
    x = alpha * x0 + sigma * rng.normal(size=(reps, d))
    gain = alpha * s2 / (alpha**2 * s2 + sigma**2)
    err = np.sum((gain * x + (1 - gain * alpha) * mu - x0) ** 2, axis=1)
    closed = float(theory.excess_generalizing_alpha_sigma().subs({D: d, SIGMA2: s2, ALPHA: alpha, SIGMA: sigma}))
    assert abs(err.mean() - closed) < 5 * err.std(ddof=1) / np.sqrt(reps)


def test_theorem_3_2_and_eq14():
    assert sp.simplify(theory.excess_pmem() - C * (1 - M / N) * D * SIGMA2) == 0
    expected = C * (1 - M / N) * D * SIGMA2 * E_t(LAMBDA) - D * SIGMA2 * E_t(LAMBDA / (PSI * SIGMA2 + 1))
    assert sp.simplify(theory.eq14_time_averaged() - expected) == 0
    assert (
        sp.simplify(theory.eq14_integrand() - LAMBDA * (C * (1 - M / N) * D * SIGMA2 - D * SIGMA2 / (PSI * SIGMA2 + 1)))
        == 0
    )


def test_m_star_solves_eq14_and_is_free_of_d():
    m_star = theory.m_star()
    e0, e1 = theory.MEAN_WEIGHT, theory.MEAN_WEIGHT_GENERALIZING
    assert sp.simplify(m_star - N * (1 - e1 / (C * e0))) == 0
    assert sp.simplify(theory.eq14_time_averaged().subs(M, m_star)) == 0
    assert D not in m_star.free_symbols and not m_star.has(sp.Symbol("K"))
    assert sp.simplify(theory.m_star_over_n() - (1 - e1 / (C * e0))) == 0
    # exact rationals survive substitution
    value = theory.m_star_over_n().subs({e0: sp.Rational(3, 2), e1: sp.Rational(1, 3), C: 2})
    assert value == sp.Rational(8, 9)


def test_time_average_linear_pulls_constants_out():
    expr = 3 * D * LAMBDA * PSI + 5 + LAMBDA / (PSI + 1)
    assert theory.time_average_linear(expr) == 3 * D * E_t(LAMBDA * PSI) + 5 + E_t(LAMBDA / (PSI + 1))


def test_printing():
    latex = theory.to_latex(theory.m_star())
    assert r"\sigma_*^2" in latex and r"\mathbb{E}_t" in latex
    assert "Eₜ" in sp.pretty(theory.m_star())
