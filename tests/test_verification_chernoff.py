"""Theorem C.1 checks: the transcribed generic bound is reported false with a real counterexample;
eqs. 17-19 hold (property tests against SciPy directly); the far-tail χ² helper against mpmath."""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, optimize, stats

from memlab.verification import Budget, get_claim, run_claim
from memlab.verification._chernoff import (
    chi2_log_chernoff_inf,
    chi2_log_tail,
    proof_step_counterexample,
    transcribed_failure_threshold,
)


def _run(claim_id):
    record = run_claim(get_claim(claim_id), budget=Budget("quick"), seed=0)
    assert not record.crashed, record.result.details.get("crash")
    return record.result


def test_generic_bound_as_transcribed_fails_with_a_genuine_counterexample():
    result = _run("thm-C.1-generic")
    assert result.verdict == "fails"
    cx = result.counterexample
    assert cx["law"] == "chi2" and cx["event"] == "X <= a"
    p, a = cx["p"], cx["a"]
    # Recompute independently: P(X <= a) by numerical integration of the χ² density, the infimum of
    # E[e^{tX}] e^{-ta} over t in (0, 1/2) by numerical integration of the MGF and a scalar minimiser.
    prob, _ = integrate.quad(lambda x: stats.chi2.pdf(x, p), 0, a)
    mgf = lambda t: integrate.quad(lambda x: math.exp(t * x + stats.chi2.logpdf(x, p)), 0, np.inf)[0]
    res = optimize.minimize_scalar(lambda t: mgf(t) * math.exp(-t * a), bounds=(1e-6, 0.49), method="bounded")
    assert prob > res.fun + 0.1  # a clear violation, not rounding
    # The smallest one reported is the smallest p on the grid.
    assert p == 1


def test_tightest_search_finds_eq19s_largest_ratio():
    # eq. 19 is loose everywhere: the largest P/bound (bound < 1) is at the edge where the bound reaches 1 and p is
    # large; there P -> P(|Z| >= sqrt(u/2)) with u = pε² = 8 log 2, i.e. 2Φ(-sqrt(4 log 2)) = 0.0961.
    result = _run("thm-C.1-eq19")
    assert result.verdict == "holds"
    assert result.measured["value"] == pytest.approx(2 * stats.norm.sf(math.sqrt(4 * math.log(2))), rel=0.01)
    assert result.power["detectable_relative_error"] == pytest.approx(1 - result.measured["value"], rel=1e-3)
    assert any("loose at every setting" in n for n in result.details["notes"])


@given(p=st.integers(1, 5000), eps=st.floats(1e-6, 1 - 1e-6))
def test_eq17_eq18_eq19_directly_with_scipy(p, eps):
    assert stats.chi2.cdf((1 - eps) * p, p) <= math.exp(0.5 * p * (eps + math.log1p(-eps))) * (1 + 1e-9)
    assert stats.chi2.sf((1 + eps) * p, p) <= math.exp(-0.5 * p * (eps - math.log1p(eps))) * (1 + 1e-9)
    two_sided = stats.chi2.cdf((1 - eps) * p, p) + stats.chi2.sf((1 + eps) * p, p)
    assert two_sided <= 2 * math.exp(-p * eps**2 / 8) * (1 + 1e-9)


@given(p=st.integers(1, 200), r=st.floats(0.05, 20))
def test_closed_form_chernoff_infimum_matches_numerical_minimisation(p, r):
    a = r * p
    upper = optimize.minimize_scalar(
        lambda t: -0.5 * p * math.log1p(-2 * t) - t * a,
        bounds=(1e-12, 0.5 - 1e-9),
        method="bounded",
        options={"xatol": 1e-13},
    ).fun
    assert chi2_log_chernoff_inf(p, a, side="upper") == pytest.approx(min(upper, 0.0), abs=1e-6)


@pytest.mark.parametrize(
    "x,p,upper", [(2e5, 1e5, True), (1e3, 1e5, False), (2000.0, 1.0, True), (40.0, 3.0, True), (0.01, 50.0, False)]
)
def test_far_tail_log_probabilities_match_mpmath(x, p, upper):
    mpmath.mp.dps = 50
    if upper:
        ref = mpmath.gammainc(mpmath.mpf(p) / 2, mpmath.mpf(x) / 2, mpmath.inf, regularized=True)
    else:
        ref = mpmath.gammainc(mpmath.mpf(p) / 2, 0, mpmath.mpf(x) / 2, regularized=True)
    assert float(chi2_log_tail(x, p, upper=upper)) == pytest.approx(float(mpmath.log(ref)), rel=1e-10)


def test_transcribed_threshold_and_proof_step():
    r1 = transcribed_failure_threshold(1)
    assert stats.chi2.cdf(1.01 * r1, 1) > math.exp(chi2_log_chernoff_inf(1, 1.01 * r1, side="upper"))
    assert stats.chi2.cdf(0.99 * r1, 1) < math.exp(chi2_log_chernoff_inf(1, 0.99 * r1, side="upper"))
    step = proof_step_counterexample()
    x = step["example_x"]
    assert math.log1p(x) - x > -(x**2) / 2 + x**3 / 6  # the proof's intermediate inequality is false here
