"""Proposition C.4: the exact coupon-collector probability, and the false statement's counterexample."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memlab.verification import Budget, get_claim, run_claim
from memlab.verification._coupon import coupon_bound, coupon_failure_probability, coupon_min_draws


def _brute_force(k, draws):
    bad = sum(1 for seq in itertools.product(range(k), repeat=draws) if min(seq.count(m) for m in range(k)) < 2)
    return bad / k**draws


def _dp_failure(k, draws):
    """Independent float DP over modes: ways to place `draws` labelled draws with every mode >= 2 times."""
    # f[j] = number of sequences of length j using the modes seen so far, each at least twice
    f = np.zeros(draws + 1)
    f[0] = 1.0
    for _ in range(k):
        g = np.zeros(draws + 1)
        for j in range(draws + 1):
            for c in range(2, j + 1):
                g[j] += math.comb(j, c) * f[j - c]
        f = g
    return 1.0 - f[draws] / k**draws


@pytest.mark.parametrize("k,draws", [(2, 3), (2, 5), (3, 6), (3, 8), (4, 9)])
def test_exact_formula_matches_enumeration(k, draws):
    assert float(coupon_failure_probability(k, draws)) == pytest.approx(_brute_force(k, draws), abs=1e-15)


@given(k=st.integers(2, 9), draws=st.integers(0, 60))
def test_exact_formula_matches_dp(k, draws):
    assert float(coupon_failure_probability(k, draws)) == pytest.approx(_dp_failure(k, draws), abs=1e-9)


def test_statement_as_given_is_reported_false_with_a_real_counterexample():
    record = run_claim(get_claim("prop-C.4"), budget=Budget("quick"), seed=0)
    result = record.result
    assert result.verdict == "fails"
    cx = result.counterexample
    k, d, ell = cx["K"], cx["d"], cx["ell"]
    assert ell >= (1 + math.log(d)) * k * math.log(k)  # admissible
    bound = k ** (-math.log(d)) * (1 + math.log(k) * math.log(d))
    assert _dp_failure(k, ell) > bound  # recomputed independently
    # and a non-degenerate one (ell >= 2K, where A is possible) also violates it
    big = [r for r in result.details["rows"] if r["violated"] and r["ell"] >= 2 * r["K"]]
    assert big
    r = max(big, key=lambda r: r["ratio"])
    assert _dp_failure(r["K"], r["ell"]) > coupon_bound(r["K"], r["d"])


def test_a_wrong_exact_probability_is_caught_by_the_monte_carlo_cross_check(monkeypatch):
    # The cross-check enters the verdict: an exact probability that is too small makes it 'error', not 'holds'.
    from memlab.verification import _coupon

    true_probability = _coupon.coupon_failure_probability
    monkeypatch.setattr(_coupon, "coupon_failure_probability", lambda k, draws: true_probability(k, draws) / 2)
    result = run_claim(get_claim("prop-C.4"), budget=Budget("quick"), seed=0, power=False).result
    assert result.verdict == "error"
    assert any(not c["consistent"] for c in result.details["monte_carlo_cross_check"])


def test_min_draws():
    assert coupon_min_draws(2, 2) == 3 and coupon_min_draws(12, 50) >= (1 + math.log(50)) * 12 * math.log(12)
