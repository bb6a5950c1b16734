"""Lemmas D.1 and D.2 (deterministic): Hypothesis over adversarial inputs, both sides recomputed in
high precision with mpmath (independent of the log-space implementation under test)."""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlab.verification import Budget, get_claim, run_claim
from memlab.verification._softmax_sparsity import lemma_d1_log_sides, lemma_d2_log_sides

mpmath.mp.dps = 60

P_VALUES = st.sampled_from([1.0, 1.5, 2.0, 3.0, 10.0, math.inf])
TEMPERATURES = st.one_of(st.floats(1e-300, 1e-6), st.floats(1e-6, 1e6), st.floats(1e6, 1e300))


@st.composite
def vectors(draw):
    """Adversarial v: ties (at the maximum or elsewhere), huge gaps, equal non-maximal entries, n = 1, 2, ..."""
    n = draw(st.integers(1, 12))
    kind = draw(st.sampled_from(["random", "tie_max", "ties", "huge_gap", "equal_others", "near_tie"]))
    v = np.array(draw(st.lists(st.floats(-1e3, 1e3), min_size=n, max_size=n)), dtype=np.float64)
    if kind == "tie_max" and n >= 2:
        v[np.argsort(v)[-2]] = v.max()
    elif kind == "ties":
        v = np.round(v / 100) * 100
    elif kind == "huge_gap":
        v[draw(st.integers(0, n - 1))] = v.max() + draw(st.floats(1e3, 1e12))
    elif kind == "equal_others":
        v[:] = 0.0
        v[draw(st.integers(0, n - 1))] = draw(st.floats(1e-6, 1e2))
    elif kind == "near_tie" and n >= 2:
        v[np.argsort(v)[-2]] = np.nextafter(v.max(), -np.inf)
    return v


def _mp_norm(entries, p):
    if math.isinf(p):
        return max(abs(e) for e in entries)
    return mpmath.power(mpmath.fsum(mpmath.power(abs(e), p) for e in entries), 1 / mpmath.mpf(p))


def _mp_weights(values, temperature):
    """exp((v_i - max v)/T) in mpmath (unbounded exponent range: no underflow)."""
    vals = [mpmath.mpf(x) / mpmath.mpf(temperature) for x in values]
    top = max(vals)
    return [mpmath.exp(x - top) for x in vals]


def _mp_le(lhs, rhs):
    """lhs <= rhs, up to a relative 1e-9 (the float64 inputs are exact; mpmath is at 60 digits)."""
    return lhs <= rhs * (1 + mpmath.mpf("1e-9")) + mpmath.mpf("1e-300000")


@settings(max_examples=150)
@given(v=vectors(), temperature=TEMPERATURES, p=P_VALUES)
def test_lemma_d1_holds_on_adversarial_inputs(v, temperature, p):
    n, k = v.size, int(np.argmax(v))
    w = _mp_weights(v, temperature)
    z = mpmath.fsum(w)
    # entries of softmax − e_k; 1 − s_k is written as Σ_{i≠k} s_i (no cancellation at 60 digits)
    entries = [w[i] / z for i in range(n) if i != k] + [mpmath.fsum(w[i] for i in range(n) if i != k) / z]
    lhs = _mp_norm(entries, p)
    gamma = min((mpmath.mpf(v[k]) - mpmath.mpf(v[i]) for i in range(n) if i != k), default=mpmath.inf)
    rhs = 2 * (n - 1) * mpmath.exp(-gamma / mpmath.mpf(temperature)) if n > 1 else mpmath.mpf(0)
    assert _mp_le(lhs, rhs)
    log_lhs, log_rhs = lemma_d1_log_sides(v, temperature, p)  # the suite's evaluation agrees
    if lhs > 0 and abs(float(mpmath.log(lhs))) < 700:
        assert log_lhs == pytest.approx(float(mpmath.log(lhs)), rel=1e-9, abs=1e-9)
    if rhs > 0 and abs(float(mpmath.log(rhs))) < 700:
        assert log_rhs == pytest.approx(float(mpmath.log(rhs)), rel=1e-9, abs=1e-9)


@settings(max_examples=150)
@given(v=vectors(), temperature=TEMPERATURES, p=P_VALUES, data=st.data())
def test_lemma_d2_holds_on_adversarial_inputs(v, temperature, p, data):
    n, k = v.size, int(np.argmax(v))
    others = [i for i in range(n) if i != k]
    extra = data.draw(st.lists(st.sampled_from(others), unique=True) if others else st.just([]))
    subset = sorted({k, *extra})
    outside = [i for i in range(n) if i not in subset]
    w = _mp_weights(v, temperature)
    z_in, z_out = mpmath.fsum(w[i] for i in subset), mpmath.fsum(w[i] for i in outside)
    # outside S: softmax_i; inside: w_l/Z_S − w_l/(Z_S + Z_out) = w_l Z_out / (Z_S (Z_S + Z_out)) exactly
    entries = [w[i] / (z_in + z_out) for i in outside] + [w[i] * z_out / (z_in * (z_in + z_out)) for i in subset]
    lhs = _mp_norm(entries, p)
    if not outside:
        assert lhs < mpmath.mpf("1e-50")
        return
    gamma_s = min(mpmath.mpf(v[k]) - mpmath.mpf(v[i]) for i in outside)
    factor = 1 if math.isinf(p) else mpmath.power(1 + len(subset), 1 / mpmath.mpf(p))
    rhs = factor * (n - len(subset)) * mpmath.exp(-gamma_s / mpmath.mpf(temperature))
    assert _mp_le(lhs, rhs)
    log_lhs, _ = lemma_d2_log_sides(v, subset, temperature, p)
    if lhs > 0 and abs(float(mpmath.log(lhs))) < 700:
        assert log_lhs == pytest.approx(float(mpmath.log(lhs)), rel=1e-8, abs=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", ["lemma-D.1", "lemma-D.2"])
def test_quick_checks_hold(claim_id):
    result = run_claim(get_claim(claim_id), budget=Budget("quick"), seed=0).result
    assert result.verdict == "holds" and result.details["violations"] == 0
    assert result.settings["families"]["ties_at_max"] > 0 and result.settings["families"]["tiny_T"] > 0


def test_a_false_variant_would_be_caught():
    # Power: with the bound's factor 2 dropped, D.1 is false (p = 1, all other entries equal, T -> 0).
    v = np.array([1.0, 0.0, 0.0])
    log_lhs, log_rhs = lemma_d1_log_sides(v, 0.05, 1.0)
    assert log_lhs > log_rhs - math.log(2.0)
