import numpy as np
import pytest
import sympy as sp

from memlab import InvalidInputError, theory

T = theory.T


def test_cached_and_correct():
    expr = (1 - T**2) / (T**2 * theory.SIGMA2 + 1)
    before = theory.numeric_function_cache_info()
    f1 = theory.numeric_function(expr, (T, theory.SIGMA2))
    rebuilt = (1 - T**2) / (T**2 * theory.SIGMA2 + 1)  # a new, structurally equal expression
    f2 = theory.numeric_function(rebuilt, (T, theory.SIGMA2))
    after = theory.numeric_function_cache_info()
    assert f1 is f2 and after.hits >= before.hits + 1
    t = np.array([0.1, 0.5])
    np.testing.assert_allclose(f1(t, 2.0), (1 - t**2) / (2 * t**2 + 1), rtol=1e-15)


def test_assumptions_are_part_of_the_key():
    plain = sp.Symbol("t")
    assert theory.numeric_function(plain**2, plain) is not theory.numeric_function(T**2, T)


def test_jax_backend_matches_numpy():
    import jax.numpy as jnp

    expr = theory.weighting("score", "vp")
    f_np = theory.numeric_function(expr, T)
    f_jax = theory.numeric_function(expr, T, "jax")
    t = np.linspace(0.01, 0.99, 7)
    np.testing.assert_allclose(np.asarray(f_jax(jnp.asarray(t))), f_np(t), rtol=1e-12)


def test_bad_backend():
    with pytest.raises(InvalidInputError):
        theory.numeric_function(T, T, "torch")
