"""Proposition C.3: the Gram-coordinate sampler, the convex-hull distance, and the quick checks."""

import numpy as np
import pytest
from scipy import optimize

from memlab.verification import Budget, get_claim, run_claim
from memlab.verification._softmax_average import gaussian_points, hull_distance_sq, prop_c3_statistics


def test_bartlett_points_have_the_gram_law_of_gaussian_points():
    rng = np.random.default_rng(1)
    n, d, reps = 4, 30, 20000
    pts = gaussian_points(rng, reps=reps, n=n, d=d)
    assert pts.shape == (reps, n, n)
    gram = np.einsum("rik,rjk->rij", pts, pts)
    direct = rng.standard_normal((reps, n, d))
    gram_direct = np.einsum("rik,rjk->rij", direct, direct)
    # E G_ii = d, Var G_ii = 2d; E G_ij = 0, Var G_ij = d (i != j): compare means within 5 SE
    for g in (gram, gram_direct):
        assert abs(g[:, 2, 2].mean() - d) < 5 * np.sqrt(2 * d / reps)
        assert abs(g[:, 0, 3].mean()) < 5 * np.sqrt(d / reps)
        assert abs(g[:, 0, 3].var() - d) < 5 * d * np.sqrt(2 / reps)


def test_hull_distance_matches_a_generic_constrained_minimiser():
    rng = np.random.default_rng(2)
    for m, k in ((2, 3), (5, 4), (8, 8)):
        others, target = rng.standard_normal((m, k)), rng.standard_normal(k) * 2
        value, weights = hull_distance_sq(others, target)
        assert weights.min() >= 0 and weights.sum() == pytest.approx(1.0)
        res = optimize.minimize(
            lambda w, others=others, target=target: np.sum((w @ others - target) ** 2),
            np.full(m, 1 / m),
            method="SLSQP",
            bounds=[(0, 1)] * m,
            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
            options={"ftol": 1e-14, "maxiter": 500},
        )
        assert value <= res.fun + 1e-6
        assert value == pytest.approx(res.fun, rel=1e-4, abs=1e-8)


def test_adversarial_event_contains_the_fixed_weight_events():
    rng = np.random.default_rng(3)
    pts = gaussian_points(rng, reps=400, n=6, d=8)  # small d: violations are frequent
    s = prop_c3_statistics(pts, d=8, eps=0.2, rng=rng)
    assert s["adversarial"].mean() > 0
    assert np.all(s["adversarial"] >= s["uniform"]) and np.all(s["adversarial"] >= s["random"])


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", ["prop-C.3", "prop-C.3-proof-rate"])
def test_quick_checks_hold(claim_id):
    record = run_claim(get_claim(claim_id), budget=Budget("quick"), seed=0)
    assert not record.crashed and record.result.verdict == "holds"
    assert record.result.settings["tried"] > 50
