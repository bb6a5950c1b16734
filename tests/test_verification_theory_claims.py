"""App. H.4 and eq. 14 -> M*: the numeric Woodbury helper, the plain M* evaluation, the quick checks."""

import math

import numpy as np
import pytest

from memlab.numerics import schedule_coefficients, timestep_grid
from memlab.verification import Budget, get_claim, run_claim
from memlab.verification._theory_claims import mstar_plain, woodbury_numeric_errors


def test_woodbury_formulas_agree_with_dense_linear_algebra():
    rng = np.random.default_rng(0)
    row = woodbury_numeric_errors(rng, c=3, d_pixels=9, alpha=0.8, sigma_t=0.6, sigma_c=1.3)
    assert row["inverse_relative_error"] < 1e-12 and row["logdet_abs_error"] < 1e-11 and row["gram_error"] < 1e-12


def test_mstar_plain_limits():
    # x0 weighting on a one-point "grid" (steps=1 gives t in {0.999, 0.001}): hand-computed value
    t = timestep_grid(1)
    _, _, psi = schedule_coefficients(t)
    expected = 200 * (1 - np.mean(1 / (psi + 1)) / 2)
    assert mstar_plain(200, c=2, sigma2=1, weighting="x0", schedule="vp", steps=1) == pytest.approx(expected)
    # VP: alpha^2 + sigma^2 = 1, so the v-weighting is 1/sigma^2 = psi + 1
    lam_v = (1 / t**2)
    expected_v = 100 * (1 - np.mean(lam_v / (psi + 1)) / (1.5 * np.mean(lam_v)))
    assert mstar_plain(100, c=1.5, sigma2=1, weighting="v", schedule="vp", steps=1) == pytest.approx(expected_v)
    assert math.isfinite(mstar_plain(50, c=1, sigma2=2, weighting="elbo", schedule="linear"))


def test_eq14_check_holds():
    result = run_claim(get_claim("eq-14-mstar"), budget=Budget("quick"), seed=0).result
    assert result.verdict == "holds", result.summary
    assert result.measured["symbolic_agrees"] and result.measured["back_substitution"] == "0"


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", ["app-H.4-inverse", "app-H.4-logdet"])
def test_woodbury_checks_hold_and_have_power(claim_id):
    result = run_claim(get_claim(claim_id), budget=Budget("quick"), seed=0).result
    assert result.verdict == "holds"
    assert result.details["negative_control"]["holds"] is False
