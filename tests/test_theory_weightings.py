from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from memlab import InvalidInputError, theory

a, s = sp.symbols("alpha_t sigma_t", positive=True)


@pytest.mark.parametrize(
    "name, expected",
    [  # written from the derivations in eq. 5 (lambda relative to the x0-MSE), not from the code
        ("x0", sp.Integer(1)),
        ("eps", a**2 / s**2),
        ("v", (a**2 + s**2) ** 2 / s**2),
        ("score", a**2 / s**4),
    ],
)
def test_derived_factor_matches_hand_derivation(name, expected):
    derived = theory.derive_weighting_factor(name).subs(
        {sp.Symbol("alpha_t", positive=True): a, sp.Symbol("sigma_t", positive=True): s}
    )
    assert sp.simplify(derived - expected) == 0


def _targets(name, x, x0_est, alpha, sigma):
    eps = (x - alpha * x0_est) / sigma
    return {"x0": x0_est, "eps": eps, "v": alpha * eps - sigma * x0_est, "score": (alpha * x0_est - x) / sigma**2}[name]


@given(
    st.sampled_from(["x0", "eps", "v", "score"]),
    st.floats(0.01, 0.99),
    st.sampled_from(["vp", "ve", "linear"]),
    st.integers(0, 2**32 - 1),
)
def test_weighting_is_the_mse_ratio_numerically(name, t, schedule, seed):
    """Plain NumPy: ||target(x_hat) - target(x0)||^2 / ||x_hat - x0||^2 equals lambda(t)."""
    alpha = {"vp": np.sqrt(1 - t * t), "ve": 1.0, "linear": 1 - t}[schedule]
    sigma = t
    rng = np.random.default_rng(seed)
    x0, eps, x_hat = rng.normal(size=(3, 7))
    x = alpha * x0 + sigma * eps
    ratio = np.sum((_targets(name, x, x_hat, alpha, sigma) - _targets(name, x, x0, alpha, sigma)) ** 2) / np.sum(
        (x_hat - x0) ** 2
    )
    lam = float(theory.weighting(name, schedule).subs(theory.T, t))
    assert ratio == pytest.approx(lam, rel=1e-9)


def test_vp_special_forms():
    t = theory.T
    psi = theory.get_schedule("vp").psi
    assert sp.simplify(theory.weighting("v", "vp") - (psi + 1)) == 0
    assert sp.simplify(theory.weighting("eps", "vp") - psi) == 0
    assert sp.simplify(theory.weighting("elbo", "vp") - 1 / t**3) == 0  # -psi'/2 with psi = 1/t^2 - 1
    for name in theory.WEIGHTING_NAMES:
        assert theory.weighting(name, "linear").is_rational_function(t)


def test_unknown_weighting():
    with pytest.raises(InvalidInputError):
        theory.weighting("eps2")


def test_grid_weights_exact_and_validated():
    w = theory.grid_weights([1, Fraction(1, 3), "3/10", 0.3, np.float64(0.5), np.int64(2)], steps=5)
    assert w.values == (1, sp.Rational(1, 3), sp.Rational(3, 10), sp.Rational(3, 10), sp.Rational(1, 2), 2)
    assert w.as_floats()[3] == 0.3
    bad = [
        [1.0] * 5,  # wrong length
        [1.0] * 7,
        [1.0] * 5 + [float("nan")],
        [1.0] * 5 + [float("inf")],
        [1.0] * 5 + [-0.1],
        [0] * 6,
        ["x"] + [1] * 5,
        [True] + [1] * 5,
        "1,2,3,4,5,6",
        np.ones((2, 3)),
    ]
    for values in bad:
        with pytest.raises(InvalidInputError):
            theory.grid_weights(values, steps=5)
    with pytest.raises(InvalidInputError):
        theory.grid_weights([1, 1], steps=0)
